"""The agent's HTTP endpoint, as a kubelet's: `GET /containerLogs/{namespace}/{pod}/{container}`
(query: follow, previous, tailLines, timestamps) streams the container's output from the runtime;
`GET /healthz`. The API server proxies `pods/{name}/log` here (Node InternalIP + daemonEndpoints
port); a missing pod or container is a 404 that says which.

TLS only, as a kubelet's port with client-certificate auth: the serving certificate names the
node's IP (`--tls-cert/--tls-key`), the TLS handshake refuses a client without a certificate
from `--client-ca-file`, and a client whose certificate's CN is not `system:apiserver` (the
API server's `apiserver-kubelet-client`) gets 403 on every route but /healthz. The CN is read
from the connection's peer certificate by `PeerNameProtocol`, uvicorn's httptools protocol that
adds it to each request's scope (`peer_common_name`)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..api.ws_protocol import TLSWebSocketProtocol
from ..api.x509_auth import client_certificate_user
from ..pki import APISERVER_KUBELET_CLIENT
from .runtime import Runtime, RuntimeError_
from .stream_server import SandboxLookup, stream_routes

# (namespace, pod name) -> (pod uid, names of its containers and init containers), or None
PodLookup = Callable[[str, str], tuple[str, list[str]] | None]


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


def build_app(runtime: Runtime, lookup: PodLookup, sandboxes: SandboxLookup | None = None,
              summary: Callable[[], dict[str, Any]] | None = None) -> Starlette:
    """The log routes; the exec/attach/port-forward websockets when `sandboxes` finds pods' sandboxes;
    `GET /stats/summary` (node/stats.py) when `summary` gives the resource usage."""
    async def container_logs(request: Request) -> Response:
        namespace, pod, container = (request.path_params[k] for k in ("namespace", "pod", "container"))
        found = lookup(namespace, pod)
        if found is None:
            return PlainTextResponse(f"pod {namespace}/{pod} is not on this node\n", status_code=404)
        uid, names = found
        if container not in names:
            return PlainTextResponse(f"container {container} is not valid for pod {pod} "
                                     f"(containers: {', '.join(names)})\n", status_code=404)
        tail_text = request.query_params.get("tailLines")
        try:
            tail = int(tail_text) if tail_text else None
        except ValueError:
            return PlainTextResponse(f"tailLines must be an integer, not {tail_text!r}\n", status_code=400)
        chunks = runtime.logs(uid, container, previous=_flag(request, "previous"), follow=_flag(request, "follow"),
                              tail_lines=tail, timestamps=_flag(request, "timestamps"))
        try:
            first = await anext(chunks, b"")
        except RuntimeError_ as exc:
            code = 404 if exc.reason == "NotFound" else 500
            return PlainTextResponse(f"{exc.message}\n", status_code=code)

        async def stream() -> AsyncIterator[bytes]:
            async with contextlib.aclosing(chunks):  # type: ignore[type-var]
                if first:
                    yield first
                async for chunk in chunks:
                    yield chunk
        return StreamingResponse(stream(), media_type="text/plain")

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def stats_summary(request: Request) -> Response:
        assert summary is not None
        return JSONResponse(summary())

    routes: list[BaseRoute] = [Route("/containerLogs/{namespace}/{pod}/{container}", container_logs),
                               Route("/healthz", healthz)]
    if summary is not None:
        routes.append(Route("/stats/summary", stats_summary))
    return Starlette(routes=routes + (stream_routes(runtime, sandboxes) if sandboxes is not None else []))


@dataclass(frozen=True)
class LogServerTLS:
    """The log server's serving certificate (for the node's IP) and the CA its clients' certificates come from."""

    cert: str
    key: str
    client_ca_file: str


def peer_common_name(peercert: Any) -> str | None:
    """The subject CN of a verified peer certificate (`SSLSocket.getpeercert()`'s dict)."""
    for rdn in (peercert or {}).get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None


class PeerNameProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, adding the TLS client certificate's CN to each request's scope."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["peer_common_name"] = peer_common_name(self.transport.get_extra_info("peercert"))  # type: ignore[typeddict-unknown-key]


def only_apiserver(app: ASGIApp) -> ASGIApp:
    """403 for any client but the API server (its certificate's CN), except /healthz; websockets too."""
    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # (its CN comes from the certificate ws_protocol keeps in the scope)
            user = client_certificate_user(scope)
            if user is None or user.name != APISERVER_KUBELET_CLIENT:
                await WebSocket(scope, receive, send).send_denial_response(PlainTextResponse(
                    "forbidden: only the API server may open streams on this node\n", status_code=403))
                return
        elif scope["type"] == "http" and scope.get("path") != "/healthz" \
                and scope.get("peer_common_name") != APISERVER_KUBELET_CLIENT:
            who = scope.get("peer_common_name") or "a client without a certificate name"
            await PlainTextResponse(f"forbidden: {who} may not read logs from this node\n",
                                    status_code=403)(scope, receive, send)
            return
        await app(scope, receive, send)
    return guarded


class LogServer:
    """uvicorn serving `build_app` on host:port over mutual TLS, in a task of the running loop."""

    def __init__(self, app: Starlette, host: str, port: int, tls: LogServerTLS) -> None:
        self.server = uvicorn.Server(uvicorn.Config(only_apiserver(app), host=host, port=port, log_level="warning",
                                                    lifespan="off", access_log=False, http=PeerNameProtocol,
                                                    ws=TLSWebSocketProtocol,
                                                    ssl_certfile=tls.cert, ssl_keyfile=tls.key,
                                                    ssl_ca_certs=tls.client_ca_file, ssl_cert_reqs=ssl.CERT_REQUIRED))
        self.server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 30.0) -> None:
        self._task = asyncio.get_running_loop().create_task(self.server.serve())
        deadline = asyncio.get_running_loop().time() + timeout
        for _ in range(int(timeout / 0.02) + 1):  # uvicorn has no "started" event to await
            if self.server.started:
                return
            if self._task.done():
                try:
                    self._task.result()
                except SystemExit as exc:  # uvicorn exits when it cannot bind
                    raise OSError(f"log server could not listen on {self.server.config.host}:"
                                  f"{self.server.config.port}") from exc
                raise OSError("log server stopped at start")
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        raise TimeoutError("log server did not start")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception, SystemExit, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5)
