"""pods/{name}/exec, /attach and /portforward: the API server checks the request and relays the websocket
to the agent of the pod's node, as kube-apiserver proxies these to the kubelet.

A websocket upgrade (GET, authorized as `create` on the subresource, see app.py) is checked here
(pod, node, container, command), then the agent's `/exec|/attach/{ns}/{pod}/{container}` or
`/portForward/{ns}/{pod}` is dialled over the same mutual TLS as logs (pod_logs.py) with the
subprotocols the client offered; the agent's choice is accepted towards the client and messages
are copied both ways unchanged until either side closes. The agent speaks the protocols
(node/remotecommand.py: v5/v4.channel.k8s.io; node/port_forward.py: SPDY/3.1+portforward.k8s.io).
A refusal (by these checks or the agent) is an HTTP answer to the upgrade: kubectl then retries
with an SPDY upgrade (POST), which is answered with the same error (so it prints Kubernetes'
`unable to upgrade connection: container not found ("c")`) or, when nothing is wrong, a 400 saying
that only WebSockets are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from .errors import APIError, bad_request, unavailable
from .pod_logs import CONNECT_TIMEOUT, KubeletClientTLS, agent_address, choose_container
from .resources import by_kind
from .storage import ObjectStorage

Obj = dict[str, Any]
STREAM_SUBRESOURCES = ("exec", "attach", "portforward")
AGENT_PATHS = {"exec": "exec", "attach": "attach", "portforward": "portForward"}
# towards the agent the client's subprotocols travel in headers: the websockets client refuses names that are
# not RFC 6455 tokens, as kubectl's `SPDY/3.1+portforward.k8s.io`
OFFERED_HEADER, CHOSEN_HEADER = "X-Raftkube-Stream-Protocols", "X-Raftkube-Stream-Protocol"
log = logging.getLogger(__name__)


class StreamRefused(Exception):
    """A refusal to answer instead of the upgrade: an API Status, or the kubelet-style plain text."""

    def __init__(self, code: int, message: str, status: APIError | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def response(self) -> Response:
        if self.status is not None:
            return Response(json.dumps(self.status.status()), status_code=self.code, media_type="application/json")
        return PlainTextResponse(self.message, status_code=self.code)


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def _container_running(pod: Obj, container: str) -> bool:
    statuses = ((pod.get("status") or {}).get("containerStatuses") or [])
    return any(s.get("name") == container and "running" in (s.get("state") or {}) for s in statuses)


def check_request(pod: Obj, sub: str, query: dict[str, list[str]]) -> str | None:
    """The container the request is for (None for port-forward); raises StreamRefused as Kubernetes answers."""
    name = pod["metadata"]["name"]
    try:
        if not (pod.get("spec") or {}).get("nodeName"):
            raise bad_request(f"pod {name} does not have a host assigned")
        if sub == "portforward":
            for port in query.get("ports", []):
                if not port.isdigit() or not 1 <= int(port) <= 65535:
                    raise bad_request(f"ports: Invalid value: {port!r}: must be in the range 1 to 65535")
            return None
        container = choose_container(pod, (query.get("container") or [None])[0])
        if sub == "exec" and not query.get("command"):
            raise bad_request("you must specify at least 1 command")
        flags = [_truthy((query.get(k) or [""])[0]) for k in ("stdin", "stdout", "stderr")]
        if not any(flags):
            raise bad_request("you must specify at least 1 of stdin, stdout, stderr")
    except APIError as err:
        raise StreamRefused(err.code, err.message, err) from None
    if not _container_running(pod, container):
        raise StreamRefused(404, f'container not found ("{container}")')
    return container


class PodStreams:
    def __init__(self, storage: ObjectStorage, kubelet: KubeletClientTLS | None) -> None:
        self.storage = storage
        self.kubelet = kubelet
        self._ssl = kubelet.ssl_context() if kubelet is not None else None

    async def _agent_url(self, pod: Obj, sub: str, container: str | None, raw_query: str) -> str:
        if self._ssl is None:
            raise StreamRefused(503, "", unavailable(
                "this API server has no client certificate for the agents "
                "(--kubelet-client-cert, --kubelet-client-key, --kubelet-certificate-authority)"))
        nodes = by_kind("v1", "Node")
        assert nodes is not None
        try:
            node = await self.storage.get(nodes, None, pod["spec"]["nodeName"])
            address = agent_address(node)
        except APIError as err:
            raise StreamRefused(err.code, err.message, err) from None
        meta = pod["metadata"]
        path = f"/{AGENT_PATHS[sub]}/{quote(meta['namespace'])}/{quote(meta['name'])}"
        if container is not None:
            path += f"/{quote(container)}"
        return f"wss://{address}{path}" + (f"?{raw_query}" if raw_query else "")

    async def _pod(self, namespace: str, name: str) -> Obj:
        pods = by_kind("v1", "Pod")
        assert pods is not None
        try:
            return await self.storage.get(pods, namespace, name)
        except APIError as err:
            raise StreamRefused(err.code, err.message, err) from None

    async def handle_http(self, request: Request, pod: Obj, sub: str) -> Response:
        """A request without a websocket upgrade (kubectl's SPDY fallback): the check's error, or 400."""
        query = {k: request.query_params.getlist(k) for k in request.query_params}
        try:
            check_request(pod, sub, query)
        except StreamRefused as refusal:
            return refusal.response()
        raise bad_request(f"pods/{sub} is served over WebSockets only (v5.channel.k8s.io, v4.channel.k8s.io, "
                          f"SPDY/3.1+portforward.k8s.io); upgrade with a websocket handshake")

    async def handle_websocket(self, ws: WebSocket, namespace: str, name: str, sub: str,
                               stage: Callable[[str, int], None] = lambda name, code: None) -> None:
        """Relay the stream; `stage(name, code)` marks ResponseStarted (101) and ResponseComplete for the
        audit log, each before the client can see it."""
        query = {k: ws.query_params.getlist(k) for k in ws.query_params}
        offered = list(ws.scope.get("subprotocols") or [])
        try:
            pod = await self._pod(namespace, name)
            container = check_request(pod, sub, query)
            url = await self._agent_url(pod, sub, container, ws.scope.get("query_string", b"").decode("latin-1"))
            upstream = await self._dial(url, offered, pod)
        except StreamRefused as refusal:
            stage("ResponseComplete", refusal.code)
            await ws.send_denial_response(refusal.response())
            return
        try:
            chosen = upstream.response.headers.get(CHOSEN_HEADER) if upstream.response is not None else None
            stage("ResponseStarted", 101)
            await ws.accept(subprotocol=chosen)
            await relay(ws, upstream)
        finally:
            await upstream.close()
            stage("ResponseComplete", 101)

    async def _dial(self, url: str, offered: list[str], pod: Obj) -> ClientConnection:
        node = pod["spec"]["nodeName"]
        try:
            return await connect(url, ssl=self._ssl, additional_headers={OFFERED_HEADER: ", ".join(offered)},
                                 open_timeout=CONNECT_TIMEOUT, max_size=None, compression=None)
        except InvalidStatus as exc:
            body = exc.response.body.decode(errors="replace").strip() if exc.response.body else ""
            code = exc.response.status_code
            raise StreamRefused(code if 400 <= code < 600 else 502,
                                body or f"the agent of node {node} answered {code}") from None
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise StreamRefused(503, "", unavailable(f"cannot reach the agent of node {node}: {exc}")) from None


async def _copy_client(ws: WebSocket, upstream: ClientConnection) -> None:
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("bytes") is not None:
            await upstream.send(message["bytes"])
        elif message.get("text") is not None:
            await upstream.send(message["text"])


async def relay(ws: WebSocket, upstream: ClientConnection) -> None:
    """Copy messages both ways until one side closes; the other side is then closed too."""

    async def client_to_agent() -> None:
        with contextlib.suppress(ConnectionClosed, WebSocketDisconnect):
            await _copy_client(ws, upstream)

    async def agent_to_client() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in upstream:
                if isinstance(message, bytes):
                    await ws.send_bytes(message)
                else:
                    await ws.send_text(message)

    tasks = [asyncio.ensure_future(client_to_agent()), asyncio.ensure_future(agent_to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await ws.close(upstream.close_code or 1000)
