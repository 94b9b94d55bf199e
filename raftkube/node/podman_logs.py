"""A container's log stream from the Podman API as an async iterator of chunks.

podman-py is synchronous, so one thread reads the multiplexed log frames (`podman.api.stream_frames`)
and hands them to the event loop through a small bounded queue. When the consumer stops (cancel,
`aclose`, or the stream ends) the HTTP connection is shut down, which wakes the reading thread even
when a followed container is silent, so no thread outlives its stream for long.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

from podman import api

_END = object()
QUEUE_CHUNKS = 64


def _shutdown(response: Any) -> None:
    """Close the streaming response, shutting its socket down first to wake a blocked reader."""
    with contextlib.suppress(Exception):
        response.raw.connection.sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()


async def stream_logs(client_api: Any, container_id: str, *, follow: bool, tail_lines: int | None,
                      timestamps: bool) -> AsyncIterator[bytes]:
    """Yield the container's stdout+stderr chunks; with `follow` until the container exits."""
    params = {
        "stdout": True, "stderr": True, "follow": follow, "timestamps": timestamps,
        "tail": "all" if tail_lines is None else str(max(0, tail_lines)),
    }
    response = await asyncio.to_thread(
        client_api.get, f"/containers/{container_id}/logs", params=params, stream=True)
    response.raise_for_status()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(QUEUE_CHUNKS)
    stopped = threading.Event()

    def put(item: object) -> bool:
        if stopped.is_set():
            return False
        try:
            future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        except RuntimeError:  # the loop is closed
            return False
        while not stopped.is_set() and not loop.is_closed():  # a slow consumer holds us here (back-pressure)
            try:
                future.result(timeout=1.0)
                return True
            except concurrent.futures.TimeoutError:
                continue
            except Exception:  # noqa: BLE001 - the put was cancelled: stop reading
                return False
        future.cancel()
        return False

    def pump() -> None:
        try:
            for frame in api.stream_frames(response):
                if frame and not put(bytes(frame)):
                    return
        except Exception as exc:  # noqa: BLE001 - handed to the consumer unless it stopped already
            if not stopped.is_set():
                put(exc)
                return
        put(_END)

    reader = threading.Thread(target=pump, name=f"podman-logs-{container_id[:12]}", daemon=True)
    reader.start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            assert isinstance(item, bytes)
            yield item
    finally:
        stopped.set()
        _shutdown(response)
        while not queue.empty():  # let a reader blocked on a full queue finish its put and see `stopped`
            queue.get_nowait()
