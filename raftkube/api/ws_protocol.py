"""uvicorn's websocket protocol, keeping the TLS client certificate in the scope as the HTTP one does.

uvicorn hands an upgraded connection to a new websocket protocol object that builds its own
scope, so the verified client certificate that connection_guard (API server) and the agent's
log server put in HTTP scopes would be lost. This subclass adds it (x509_auth's `tls` extension)
to every websocket scope. It also lets through subprotocol names that are not RFC 6455 tokens:
kubectl's port-forward offers `SPDY/3.1+portforward.k8s.io` (gorilla/websocket does not check),
which the websockets library's handshake would refuse with a 400; the app still picks the
subprotocol from the scope's list. Pass it to `uvicorn.Config(ws=TLSWebSocketProtocol)`.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from .x509_auth import add_to_scope, peer_chain


def _leave_subprotocol_to_the_app(headers: Any) -> None:
    return None  # (uvicorn adds the app's choice to the answer when the app accepts)


class TLSWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        self.conn.process_subprotocol = _leave_subprotocol_to_the_app  # type: ignore[method-assign]
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # (None when the handshake was refused before a scope was built)
            add_to_scope(scope, peer_chain(self.transport))  # type: ignore[arg-type]
