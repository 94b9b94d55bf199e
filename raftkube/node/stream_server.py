"""The agent's streaming endpoints, as a kubelet's: `/exec/{ns}/{pod}/{container}`,
`/attach/{ns}/{pod}/{container}` (query: command (repeated), stdin, stdout, stderr, tty) and
`/portForward/{ns}/{pod}` (kubectl's SPDY tunnel, or the channel protocol with `?ports=` as
the Python client uses it), all websockets, served beside the logs on the log server's mutual-TLS
port (only the API server's certificate gets in: log_server.only_apiserver). The API server relays
kubectl's websocket here unchanged; exec/attach speak node/remotecommand.py's channel protocols
on a runtime session, port-forward node/port_forward.py's SPDY tunnel, dialling the pod's address
(its loopback pod IP, where the pod's ports are published; the node's address for host-network pods).
The client's subprotocols come in a header (the API server's websocket client cannot offer
non-token names) and the choice goes back in one. A refusal is an HTTP answer to the upgrade with
the kubelet's wording (`pod does not exist`, `container not found ("c")`), which the API server
passes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from ..api.pod_streams import CHOSEN_HEADER, OFFERED_HEADER
from . import port_forward, remotecommand
from .runtime import Runtime, RuntimeError_, SandboxState, StreamSession

# (namespace, pod name) -> the pod's sandbox on this node, or None
SandboxLookup = Callable[[str, str], SandboxState | None]
DIAL_TIMEOUT = 5.0


def offered_protocols(ws: WebSocket) -> list[str]:
    """The client's subprotocols, as the API server forwards them (pod_streams.OFFERED_HEADER)."""
    return [p.strip() for p in ws.headers.get(OFFERED_HEADER, "").split(",") if p.strip()]


async def accept(ws: WebSocket, protocol: str) -> None:
    await ws.accept(headers=[(CHOSEN_HEADER.lower().encode(), protocol.encode())])


def _flag(ws: WebSocket, name: str) -> bool:
    return ws.query_params.get(name, "").lower() in ("1", "true")


def stream_routes(runtime: Runtime, sandboxes: SandboxLookup) -> list[WebSocketRoute]:
    async def refuse(ws: WebSocket, code: int, message: str) -> None:
        await ws.send_denial_response(PlainTextResponse(message, status_code=code))

    async def remote_command(ws: WebSocket, attach: bool) -> None:
        namespace, pod, container = (ws.path_params[k] for k in ("namespace", "pod", "container"))
        sandbox = sandboxes(namespace, pod)
        protocol = remotecommand.choose_protocol(offered_protocols(ws))
        if sandbox is None:
            return await refuse(ws, 404, "pod does not exist")
        if protocol is None:
            return await refuse(ws, 400, f"no supported protocol: use one of {', '.join(remotecommand.PROTOCOLS)}")
        command = ws.query_params.getlist("command")
        if not attach and not command:
            return await refuse(ws, 400, "you must specify at least 1 command")
        stdin, stdout, stderr, tty = (_flag(ws, k) for k in ("stdin", "stdout", "stderr", "tty"))
        try:
            session: StreamSession
            if attach:
                session = await runtime.open_attach(sandbox, container, stdin=stdin, stdout=stdout,
                                                    stderr=stderr and not tty, tty=tty)
            else:
                session = await runtime.open_exec(sandbox, container, command, stdin=stdin, stdout=stdout,
                                                  stderr=stderr and not tty, tty=tty)
        except RuntimeError_ as exc:
            return await refuse(ws, 404 if exc.reason == "ContainerNotFound" else 500, exc.message)
        await accept(ws, protocol)
        await remotecommand.serve(ws, session, command, protocol, tty)

    async def exec_endpoint(ws: WebSocket) -> None:
        await remote_command(ws, attach=False)

    async def attach_endpoint(ws: WebSocket) -> None:
        await remote_command(ws, attach=True)

    async def port_forward_endpoint(ws: WebSocket) -> None:
        namespace, pod = ws.path_params["namespace"], ws.path_params["pod"]
        sandbox = sandboxes(namespace, pod)
        if sandbox is None:
            return await refuse(ws, 404, "pod does not exist")
        offered, address = offered_protocols(ws), sandbox.pod_ip

        async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await asyncio.wait_for(asyncio.open_connection(address, port), DIAL_TIMEOUT)

        if port_forward.TUNNEL_PROTOCOL in offered:
            await accept(ws, port_forward.TUNNEL_PROTOCOL)
            await port_forward.PortForwardSession(ws, dial, f"{namespace}/{pod}").run()
            return
        channels = next((p for p in port_forward.CHANNEL_PROTOCOLS if p in offered), None)
        ports = [int(p) for p in ",".join(ws.query_params.getlist("ports")).split(",") if p.strip().isdigit()]
        if channels is None:
            return await refuse(ws, 400, f"no supported protocol: use {port_forward.TUNNEL_PROTOCOL} or "
                                         f"{port_forward.CHANNEL_PROTOCOLS[0]}")
        if not ports or not all(1 <= p <= 65535 for p in ports):
            return await refuse(ws, 400, "query parameter \"port\" is required")
        await accept(ws, channels)
        await port_forward.serve_channels(ws, dial, f"{namespace}/{pod}", ports)

    return [WebSocketRoute("/exec/{namespace}/{pod}/{container}", exec_endpoint),
            WebSocketRoute("/attach/{namespace}/{pod}/{container}", attach_endpoint),
            WebSocketRoute("/portForward/{namespace}/{pod}", port_forward_endpoint)]
