"""Hands work from PySyncObj's tick thread to an asyncio loop, one wake-up per batch.

`call_soon_threadsafe` writes to the loop's self-pipe on every call; under thousands of
commits a second that is most of the cost. `LoopBridge.post` queues the call and wakes the
loop only when the queue was empty, so one wake-up drains everything queued since.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable


class LoopBridge:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            self._pending.append((fn, args))
            if len(self._pending) > 1:
                return
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: the replica is shutting down
            pass

    def _drain(self) -> None:
        with self._lock:
            items, self._pending = self._pending, []
        for fn, args in items:
            fn(*args)
