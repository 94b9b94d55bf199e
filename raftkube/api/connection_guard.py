"""Connection-level limits uvicorn lacks: a header-read timeout, a body-read timeout, a head size cap
and a cap on open connections (Go's http.Server ReadHeaderTimeout/ReadTimeout/MaxHeaderBytes).

uvicorn (0.55, httptools) offers `timeout_keep_alive` (armed only after a response, so a
connection that never completes its first request head stays open for ever), `limit_concurrency`
(answered with a 503 only once a head is complete, so half-open connections still pile up) and,
for h11 only, `h11_max_incomplete_event_size`. `guarded_protocol` returns an HttpToolsProtocol
subclass that closes a connection
- that has not sent a complete request head `head_timeout` seconds after it opened, or after the
  first byte of its next request;
- whose request body is not complete `body_timeout` seconds after its head (a trickling body);
- whose head grows past `max_head_bytes` before it is complete;
- that arrives while `max_connections` are already open (closed at once).
A request being answered (a watch streaming for an hour) is never cut by these timers.

It also hands a TLS client's verified certificate to the app (the ASGI TLS extension, for
raftkube/api/x509_auth.py). Pass it to `uvicorn.Config(http=guarded_protocol(...))`.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .x509_auth import add_to_scope, peer_chain

HEAD_TIMEOUT = 10.0  # seconds for a request line and headers: generous for any client, short for a holder
BODY_TIMEOUT = 60.0  # seconds for a body (at most 3 MiB) after its head: kube-apiserver's request timeout
MAX_HEAD_BYTES = 64 * 1024  # Go's DefaultMaxHeaderBytes is 1 MiB; no Kubernetes client sends a head near this
MAX_CONNECTIONS = 4000  # above the watch cap (2,000: one connection each) plus in-flight requests


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    head_timeout = HEAD_TIMEOUT
    body_timeout = BODY_TIMEOUT
    max_head_bytes = MAX_HEAD_BYTES
    max_connections = MAX_CONNECTIONS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._guard: asyncio.TimerHandle | None = None
        self._awaiting_head = True
        self._head_bytes = 0
        super().connection_made(transport)
        self._client_chain = peer_chain(transport)  # the handshake is done: a client certificate is verified
        if len(self.connections) > self.max_connections:
            self.logger.warning("refused a connection: %d connections open, the limit", len(self.connections) - 1)
            transport.abort()
            return
        self._arm(self.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._awaiting_head and self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
            self.logger.info("closed a connection: request head over %d bytes", self.max_head_bytes)
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        add_to_scope(self.scope, self._client_chain)
        if self._guard is None:  # the first bytes of a later request on a kept-alive connection
            self._arm(self.head_timeout)

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._arm(self.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._awaiting_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._guard = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
            self._guard = None

    def _expired(self) -> None:
        self._guard = None
        if not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(head_timeout: float = HEAD_TIMEOUT, body_timeout: float = BODY_TIMEOUT,
                     max_head_bytes: int = MAX_HEAD_BYTES, max_connections: int = MAX_CONNECTIONS) -> type:
    """The protocol class with these limits (uvicorn builds one instance per connection)."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {
        "head_timeout": head_timeout, "body_timeout": body_timeout, "max_head_bytes": max_head_bytes,
        "max_connections": max_connections})
