"""One informer handler and its own queue (client-go's processorListener).

The informer hands each notification to every listener without waiting: a listener keeps its
notifications in order in an unbounded queue and calls its handler from its own task, so a
slow or stuck handler delays only itself, never the informer's cache or the other handlers.
A sync marker in the queue tells when the handler has seen everything of the first list.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
Handler = Callable[..., Any]
_SYNCED = "synced"


@dataclass
class Handlers:
    on_add: Handler | None = None
    on_update: Handler | None = None
    on_delete: Handler | None = None


class Listener:
    def __init__(self, handlers: Handlers, informer_name: str) -> None:
        self.handlers = handlers
        self.informer_name = informer_name
        self.synced = asyncio.Event()  # the handler has been handed the first list
        self._queue: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def notify(self, which: str, *args: Any) -> None:
        self._queue.put_nowait((which, args))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"listener-{self.informer_name}")

    def mark_synced(self) -> None:
        self.notify(_SYNCED)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            which, args = await self._queue.get()
            if which == _SYNCED:
                self.synced.set()
                continue
            await self._invoke(which, args)

    async def _invoke(self, which: str, args: tuple[Any, ...]) -> None:
        fn = getattr(self.handlers, which)
        if fn is None:
            return
        try:
            result = fn(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:  # a handler's failure must not stop its listener
            log.exception("informer %s: %s handler failed", self.informer_name, which)
