"""The remote-command websocket protocols kubectl and the official clients speak for exec and attach
(k8s.io/apimachinery's wsstream, `v5.channel.k8s.io` and `v4.channel.k8s.io`), on a runtime session.

Every message is binary; its first byte is the channel: 0 stdin (client to server), 1 stdout,
2 stderr, 3 error (server to client: one metav1.Status, `Success`, or `Failure` with reason
`NonZeroExitCode` and the exit code as the `ExitCode` cause's message, which kubectl turns into
its own exit code), 4 resize (client to server: JSON `{"Width": w, "Height": h}`). v5 adds 255,
close: `[255, 0]` from the client closes the command's stdin. With a tty stderr is merged into
stdout. After the command ends and its status is sent, the websocket is closed normally.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from .runtime import StreamSession

V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
PROTOCOLS = (V5, V4)
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
log = logging.getLogger(__name__)


def choose_protocol(offered: list[str], supported: tuple[str, ...] = PROTOCOLS) -> str | None:
    """The first protocol the client offered that we speak (the client lists its preference first)."""
    return next((p for p in offered if p in supported), None)


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    """The Status written on the error channel, in the kubelet's wording."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command {_go_list(command)}, "
                       f"exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def error_status(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError", "code": 500}


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


async def serve(ws: WebSocket, session: StreamSession, command: list[str], protocol: str, tty: bool) -> None:
    """Relay between an accepted websocket and the session until the command ends, then send its status."""

    async def pump_output() -> None:
        async for stream, data in session.output():
            if data:
                await ws.send_bytes(bytes([STDOUT if tty else stream]) + data)

    async def pump_input() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            data = message.get("bytes") or (message.get("text") or "").encode()
            if not data:
                continue
            channel, payload = data[0], data[1:]
            if channel == STDIN and payload:
                await session.write(payload)
            elif channel == RESIZE and payload:
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    size = json.loads(payload)
                    await session.resize(int(size["Width"]), int(size["Height"]))
            elif channel == CLOSE and protocol == V5 and payload[:1] == bytes([STDIN]):
                await session.close_stdin()

    output = asyncio.ensure_future(pump_output())
    reader = asyncio.ensure_future(pump_input())
    try:
        await asyncio.wait([output, reader], return_when=asyncio.FIRST_COMPLETED)
        if not output.done():  # the client went away (or failed): abandon the command
            return
        status = exit_status(await session.wait(), command)
        await ws.send_bytes(bytes([ERROR]) + json.dumps(status).encode())
        with contextlib.suppress(Exception):
            await ws.close(1000)
    except (WebSocketDisconnect, ConnectionError):
        pass
    except Exception as exc:  # the runtime failed mid-session: say so on the error channel
        log.warning("exec session failed: %s", exc)
        with contextlib.suppress(Exception):
            await ws.send_bytes(bytes([ERROR]) + json.dumps(error_status(str(exc))).encode())
            await ws.close(1011)
    finally:
        await session.close()
        for task in (output, reader):
            task.cancel()
        for task in (output, reader):
            with contextlib.suppress(BaseException):
                await task
