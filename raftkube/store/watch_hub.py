"""Fans applied events out to local watchers, in revision order, with no gaps.

Runs on the replica's asyncio loop. Events arrive from the tick thread through the
`LoopBridge`, in apply order. A new watcher is first served from the state machine's
history (from its start revision up to what the hub has delivered) and then from live
events, so there is neither a gap nor a duplicate between the two. Each watcher's buffer is
bounded: one that falls too far behind is cut off with `WatchCancelled` (it resumes from the
revision after its last event), never silently skipped. Idle watchers get periodic progress
notifications carrying the current revision.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Callable

from .errors import CompactedError, StoreError, WatchCancelled
from .mvcc import key_matches
from .types import Event

HistoryReader = Callable[[int, bytes, bytes], list[Event]]
SnapshotReader = Callable[[int], tuple[list[Event], int]]
BACKFILL_CHUNK = 1000


@dataclass(slots=True)
class WatchResponse:
    events: list[Event]
    revision: int
    progress: bool = False


@dataclass(eq=False)
class Watcher:
    id: int
    key: bytes
    end: bytes
    start_revision: int
    prev_kv: bool
    queue: asyncio.Queue[WatchResponse | StoreError] = field(default_factory=asyncio.Queue)
    pending_events: int = 0
    active_since_progress: bool = False
    closed: bool = False
    _on_close: Callable[[Watcher], None] | None = None

    def __aiter__(self) -> Watcher:
        return self

    async def __anext__(self) -> WatchResponse:
        item = await self.queue.get()
        if isinstance(item, StoreError):
            self.closed = True
            raise item
        self.pending_events -= len(item.events)
        return item

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._on_close is not None:
                self._on_close(self)

    def _push(self, response: WatchResponse) -> None:
        self.pending_events += len(response.events)
        self.active_since_progress = True
        self.queue.put_nowait(response)

    def _select(self, events: list[Event]) -> list[Event]:
        chosen = [e for e in events if e.revision >= self.start_revision and key_matches(e.kv.key, self.key, self.end)]
        if not self.prev_kv:
            chosen = [Event(e.type, e.kv, None) if e.prev_kv is not None else e for e in chosen]
        return chosen


class WatchHub:
    def __init__(self, read_history: HistoryReader, read_snapshot: SnapshotReader, revision: int,
                 max_pending_events: int = 10_000, progress_interval: float = 1.0) -> None:
        self._read_history = read_history
        self._read_snapshot = read_snapshot
        self.revision = revision
        self.max_pending_events = max_pending_events
        self.progress_interval = progress_interval
        self._watchers: dict[int, Watcher] = {}
        self._ids = itertools.count(1)

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)

    def watch(self, key: bytes, end: bytes = b"", start_revision: int = 0, prev_kv: bool = False) -> Watcher:
        """Register a watcher; raises CompactedError if start_revision is no longer held."""
        start = start_revision if start_revision > 0 else self.revision + 1
        backlog: list[Event] = []
        if start <= self.revision:
            backlog = [e for e in self._read_history(start, key, end) if e.revision <= self.revision]
        watcher = Watcher(next(self._ids), key, end, start, prev_kv, _on_close=self._remove)
        for i in range(0, len(backlog), BACKFILL_CHUNK):
            watcher._push(WatchResponse(watcher._select(backlog[i:i + BACKFILL_CHUNK]), self.revision))
        watcher.pending_events = 0  # the backlog does not count against the live buffer
        self._watchers[watcher.id] = watcher
        return watcher

    def _remove(self, watcher: Watcher) -> None:
        self._watchers.pop(watcher.id, None)

    def _cancel(self, watcher: Watcher, error: StoreError) -> None:
        self._watchers.pop(watcher.id, None)
        watcher.queue.put_nowait(error)

    def publish(self, events: list[Event]) -> None:
        events = [e for e in events if e.revision > self.revision]
        if not events:
            return
        self.revision = events[-1].revision
        for watcher in list(self._watchers.values()):
            chosen = watcher._select(events)
            if not chosen:
                continue
            if watcher.pending_events + len(chosen) > self.max_pending_events:
                self._cancel(watcher, WatchCancelled(
                    f"watcher fell more than {self.max_pending_events} events behind; "
                    f"resume from revision {chosen[0].revision}", resume_revision=chosen[0].revision))
                continue
            watcher._push(WatchResponse(chosen, self.revision))

    def resync(self) -> None:
        """After a snapshot replaced the state, deliver what it holds beyond our revision."""
        try:
            events, revision = self._read_snapshot(self.revision + 1)
        except CompactedError as err:
            for watcher in list(self._watchers.values()):
                self._cancel(watcher, err)
            _, revision = self._read_snapshot(0)
            events = []
        self.publish(events)
        self.revision = max(self.revision, revision)

    def send_progress(self) -> None:
        for watcher in self._watchers.values():
            if not watcher.active_since_progress:
                watcher.queue.put_nowait(WatchResponse([], self.revision, progress=True))
            watcher.active_since_progress = False

    async def run_progress(self) -> None:
        while True:
            await asyncio.sleep(self.progress_interval)
            self.send_progress()

    def close(self) -> None:
        for watcher in list(self._watchers.values()):
            self._cancel(watcher, WatchCancelled("the replica is shutting down"))
