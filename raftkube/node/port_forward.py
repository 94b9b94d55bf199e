"""The agent's side of `kubectl port-forward`: the portforward.k8s.io protocol on SPDY/3, tunnelled in
the websocket the API server relays (subprotocol `SPDY/3.1+portforward.k8s.io`, kubectl 1.32's default).

For each local connection kubectl opens two SPDY streams with the same `requestID` header: an error
stream, then a data stream, both naming the pod's `port`. Each is answered with a SYN_REPLY; the
data stream dials the pod's port and copies both ways (a FIN from the client half-closes the pod
connection; the pod's EOF is a FIN back). Whatever went wrong is written on the error stream, which
is closed (FIN) when the data stream ends; kubectl prints it as `an error occurred forwarding L -> R`.
PINGs are answered. The pod's port is reached through `dial`, so traffic stays on the pod's address.
`serve_channels` speaks the other websocket form (v4.channel.k8s.io with `?ports=`), the Python client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.websockets import WebSocket

from . import spdy

PROTOCOL = "portforward.k8s.io"
TUNNEL_PROTOCOL = "SPDY/3.1+" + PROTOCOL
Dial = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
log = logging.getLogger(__name__)


@dataclass
class _Pair:
    error_stream: int | None = None
    data_stream: int | None = None
    port: int = 0
    writer: asyncio.StreamWriter | None = None
    task: asyncio.Task[None] | None = None
    errors: list[str] = field(default_factory=list)
    pending: list[bytes] = field(default_factory=list)  # client data that came before the pod's port answered
    client_done: bool = False  # the client's FIN came


class PortForwardSession:
    def __init__(self, ws: WebSocket, dial: Dial, pod: str) -> None:
        self.ws, self.dial, self.pod = ws, dial, pod
        self.codec = spdy.HeaderCodec()
        self.reader = spdy.FrameReader(self.codec)
        self.pairs: dict[str, _Pair] = {}
        self.by_stream: dict[int, _Pair] = {}
        self._send_lock = asyncio.Lock()

    async def send(self, frame: bytes) -> None:
        async with self._send_lock:
            await self.ws.send_bytes(frame)

    async def run(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                for frame in self.reader.feed(message.get("bytes") or b""):
                    if not await self._handle(frame):
                        return
        except (spdy.ProtocolError, ConnectionError) as exc:
            log.info("port-forward to %s ended: %s", self.pod, exc)
        finally:
            for pair in self.pairs.values():
                if pair.task is not None:
                    pair.task.cancel()
                if pair.writer is not None:
                    pair.writer.close()

    async def _handle(self, frame: spdy.Frame) -> bool:
        if not frame.control:
            pair = self.by_stream.get(frame.stream_id)
            if pair is not None and frame.stream_id == pair.data_stream:
                pair.client_done = pair.client_done or frame.fin
                if pair.writer is None:
                    pair.pending.append(frame.data)
                else:
                    await _to_pod(pair, frame.data)
            return True
        if frame.type == spdy.SYN_STREAM:
            await self._new_stream(frame)
        elif frame.type == spdy.PING:
            await self.send(spdy.ping(frame.ping_id))
        elif frame.type == spdy.RST_STREAM:
            pair = self.by_stream.get(frame.stream_id)
            if pair is not None and frame.stream_id == pair.data_stream and pair.writer is not None:
                pair.writer.close()
        elif frame.type == spdy.GOAWAY:
            return False
        return True

    async def _new_stream(self, frame: spdy.Frame) -> None:
        await self.send(spdy.syn_reply(self.codec, frame.stream_id))
        kind, request = frame.headers.get("streamtype", ""), frame.headers.get("requestid", "")
        pair = self.pairs.setdefault(request, _Pair())
        self.by_stream[frame.stream_id] = pair
        try:
            pair.port = int(frame.headers.get("port", ""))
            if not 1 <= pair.port <= 65535:
                raise ValueError
        except ValueError:
            pair.errors.append(f"invalid port {frame.headers.get('port', '')!r}: must be in 1-65535")
        if kind == "error":
            pair.error_stream = frame.stream_id
        elif kind == "data":
            pair.data_stream = frame.stream_id
            pair.task = asyncio.ensure_future(self._forward(pair))
        else:
            await self.send(spdy.rst_stream(frame.stream_id, 1))  # PROTOCOL_ERROR: unknown stream type

    async def _forward(self, pair: _Pair) -> None:
        assert pair.data_stream is not None
        try:
            if not pair.errors:
                try:
                    reader, pair.writer = await self.dial(pair.port)
                except OSError as exc:
                    pair.errors.append(f"error forwarding port {pair.port} to pod {self.pod}: {exc}")
                else:
                    await _to_pod(pair, b"".join(pair.pending))
                    pair.pending.clear()
                    while chunk := await reader.read(spdy.MAX_DATA_CHUNK):
                        await self.send(spdy.data_frame(pair.data_stream, chunk))
            await self.send(spdy.data_frame(pair.data_stream, b"", fin=True))
        except (ConnectionError, OSError) as exc:
            pair.errors.append(f"error forwarding port {pair.port} to pod {self.pod}: {exc}")
        finally:
            if pair.writer is not None:
                pair.writer.close()
            if pair.error_stream is not None:
                with contextlib.suppress(Exception):
                    message = "\n".join(pair.errors).encode()
                    if message:
                        await self.send(spdy.data_frame(pair.error_stream, message))
                    await self.send(spdy.data_frame(pair.error_stream, b"", fin=True))


async def _to_pod(pair: _Pair, data: bytes) -> None:
    assert pair.writer is not None
    if data:
        pair.writer.write(data)
        await pair.writer.drain()
    if pair.client_done and pair.writer.can_write_eof():
        with contextlib.suppress(OSError):
            pair.writer.write_eof()


CHANNEL_PROTOCOLS = ("v4.channel.k8s.io", "v5.channel.k8s.io")  # what the Python client offers


async def serve_channels(ws: WebSocket, dial: Dial, pod: str, ports: list[int]) -> None:
    """The kubelet's websocket port-forward (the official Python client's): port i has data channel 2i and
    error channel 2i+1, each announced by a first frame holding the port (2 bytes, little-endian); client
    data comes on the data channel; the socket closes when every port's connection has ended."""
    lock = asyncio.Lock()
    writers: dict[int, asyncio.StreamWriter] = {}

    async def send(channel: int, data: bytes) -> None:
        async with lock:
            await ws.send_bytes(bytes([channel]) + data)

    readers: dict[int, asyncio.StreamReader] = {}
    failures: dict[int, str] = {}
    for i, port in enumerate(ports):  # dialled before the announcement: client data may follow it at once
        try:
            readers[i], writers[i] = await dial(port)
        except OSError as exc:
            failures[i] = f"error forwarding port {port} to pod {pod}: {exc}"
    for i, port in enumerate(ports):
        await send(2 * i, port.to_bytes(2, "little"))
        await send(2 * i + 1, port.to_bytes(2, "little"))

    async def pump(i: int, port: int) -> None:
        if i in failures:
            await send(2 * i + 1, failures[i].encode())
            return
        try:
            while chunk := await readers[i].read(MAX_CHANNEL_CHUNK):
                await send(2 * i, chunk)
        except (ConnectionError, OSError) as exc:
            await send(2 * i + 1, f"error forwarding port {port} to pod {pod}: {exc}".encode())

    async def from_client() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes") or b""
            if len(data) > 1 and data[0] % 2 == 0 and data[0] // 2 in writers:
                writer = writers[data[0] // 2]
                writer.write(data[1:])
                await writer.drain()

    pumps = asyncio.ensure_future(asyncio.gather(*(pump(i, p) for i, p in enumerate(ports))))
    reading = asyncio.ensure_future(from_client())
    try:
        await asyncio.wait([pumps, reading], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumps, reading):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for writer in writers.values():
            writer.close()
        with contextlib.suppress(Exception):
            await ws.close(1000)


MAX_CHANNEL_CHUNK = 32 * 1024
