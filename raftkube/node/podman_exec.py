"""Interactive exec and attach sessions on Podman's REST API (what `kubectl exec -i/-t` needs).

podman-py's `exec_run` collects the output only once the command ends and cannot feed stdin, so
this speaks the libpod API itself over the service's unix socket:
`POST /libpod/containers/{id}/exec` creates the session (Cmd, AttachStdin/Stdout/Stderr, Tty),
`POST /libpod/exec/{id}/start` hijacks the connection (`Upgrade: tcp`) and carries stdin one way
and the output the other, `POST /libpod/exec/{id}/resize` sets the terminal size, and
`GET /libpod/exec/{id}/json` gives the exit code once `Running` is false. Without a tty the
output is multiplexed as Docker does (8-byte headers: stream 1 stdout or 2 stderr, 3 zero
bytes, big-endian length); with a tty it is the raw terminal stream. Closing stdin half-closes
the socket. Attach (`POST /libpod/containers/{id}/attach`) uses the same stream and reports the
container's own exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from .runtime import RuntimeError_

API = "/v4.0.0/libpod"
STDOUT, STDERR = 1, 2
EXIT_POLL_SECONDS, EXIT_POLL_TRIES = 0.05, 200  # the session's state lags its stream's end by a moment


async def _request(socket_path: str, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    """One plain HTTP/1.1 request on the socket (Connection: close), the whole answer read."""
    reader, writer = await asyncio.open_unix_connection(socket_path)
    try:
        payload = json.dumps(body).encode() if body is not None else b""
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: podman\r\nConnection: close\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload)
        await writer.drain()
        status, headers = await _read_head(reader)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return status, await _read_chunked(reader)
        length = headers.get("content-length")
        return status, (await reader.readexactly(int(length)) if length else await reader.read())
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return status, headers


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = b""
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return out
        out += await reader.readexactly(size)
        await reader.readline()


def _error_message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message") or body.decode(errors="replace"))
    except (ValueError, AttributeError):
        return body.decode(errors="replace").strip()


class PodmanStreamSession:
    """An exec (or attach) session: write stdin, read (stream, bytes), resize, then its exit code."""

    def __init__(self, socket_path: str, container_id: str, exec_id: str | None, tty: bool) -> None:
        self.socket_path, self.container_id, self.exec_id, self.tty = socket_path, container_id, exec_id, tty
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def start(self, stdin: bool, stdout: bool, stderr: bool) -> None:
        if self.exec_id is not None:
            path, body = f"{API}/exec/{self.exec_id}/start", json.dumps({"Detach": False, "Tty": self.tty}).encode()
        else:
            query = f"stream=true&stdin={str(stdin).lower()}&stdout={str(stdout).lower()}&stderr={str(stderr).lower()}"
            path, body = f"{API}/containers/{self.container_id}/attach?{query}", b""
        reader, writer = await asyncio.open_unix_connection(self.socket_path)
        writer.write(f"POST {path} HTTP/1.1\r\nHost: podman\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        status, _ = await _read_head(reader)
        if status not in (101, 200):
            message = _error_message(await reader.read(65536))
            writer.close()
            raise RuntimeError_("ExecError", message or f"podman answered {status}")
        self._reader, self._writer = reader, writer

    async def write(self, data: bytes) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)
            await self._writer.drain()

    async def close_stdin(self) -> None:
        if self._writer is not None and self._writer.can_write_eof():
            with contextlib.suppress(OSError):
                self._writer.write_eof()

    async def resize(self, width: int, height: int) -> None:
        if not self.tty:
            return
        target = f"exec/{self.exec_id}" if self.exec_id is not None else f"containers/{self.container_id}"
        with contextlib.suppress(OSError):
            await _request(self.socket_path, "POST", f"{API}/{target}/resize?h={height}&w={width}")

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        reader = self._reader
        if reader is None:
            return
        try:
            if self.tty:
                while chunk := await reader.read(32768):
                    yield STDOUT, chunk
                return
            while True:
                header = await reader.readexactly(8)
                size = int.from_bytes(header[4:8], "big")
                data = await reader.readexactly(size) if size else b""
                yield (STDERR if header[0] == STDERR else STDOUT), data
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    async def wait(self) -> int:
        """The exit code (the command's, or the container's for attach)."""
        path = f"{API}/exec/{self.exec_id}/json" if self.exec_id else f"{API}/containers/{self.container_id}/json"
        for _ in range(EXIT_POLL_TRIES):
            status, body = await _request(self.socket_path, "GET", path)
            if status != 200:
                raise RuntimeError_("ExecError", _error_message(body))
            info = json.loads(body)
            state = info.get("State") if self.exec_id is None else info
            if not state.get("Running"):
                return int(state.get("ExitCode") or 0)
            if self.exec_id is None:
                return 0  # attach ended (detached or stream closed) with the container still running
            await asyncio.sleep(EXIT_POLL_SECONDS)
        raise RuntimeError_("ExecError", "the exec session did not report its exit code")

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()


async def open_exec(socket_path: str, container_id: str, command: list[str], *, stdin: bool, stdout: bool,
                    stderr: bool, tty: bool) -> PodmanStreamSession:
    body = {"Cmd": command, "AttachStdin": stdin, "AttachStdout": stdout, "AttachStderr": stderr, "Tty": tty}
    status, answer = await _request(socket_path, "POST", f"{API}/containers/{container_id}/exec", body)
    if status == 404:
        raise RuntimeError_("ContainerNotFound", _error_message(answer))
    if status not in (200, 201):
        raise RuntimeError_("ExecError", _error_message(answer))
    session = PodmanStreamSession(socket_path, container_id, json.loads(answer)["Id"], tty)
    await session.start(stdin, stdout, stderr)
    return session


async def open_attach(socket_path: str, container_id: str, *, stdin: bool, stdout: bool, stderr: bool,
                      tty: bool) -> PodmanStreamSession:
    session = PodmanStreamSession(socket_path, container_id, None, tty)
    await session.start(stdin, stdout, stderr)
    return session


async def container_stats(socket_path: str, container_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Container id -> (cumulative CPU ns, memory bytes) from `GET /libpod/containers/stats?stream=false`."""
    if not container_ids:
        return {}
    query = "&".join(f"containers={cid}" for cid in container_ids)
    status, body = await _request(socket_path, "GET", f"{API}/containers/stats?stream=false&{query}")
    if status != 200:
        raise RuntimeError_("StatsError", _error_message(body))
    out = {}
    for entry in json.loads(body).get("Stats") or []:
        out[str(entry.get("ContainerID"))] = (int(entry.get("CPUNano") or 0), int(entry.get("MemUsage") or 0))
    return out
