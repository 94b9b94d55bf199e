"""The scheduling queue: active pods by priority, pods backing off, and pods that fit nowhere.

- active: a heap by (priority descending, arrival order); `pop` hands out one at a time.
- backoff: pods whose last attempt failed wait `initial * 2**(attempts-1)` (capped) before
  they are active again.
- unschedulable: pods no node could take. They wait for a cluster change (`move_all`: a node
  added or changed, a pod deleted) and are retried anyway after `unschedulable_timeout`; a
  pod still in its backoff window goes to backoff rather than straight to active.
A failure of an attempt that overlapped a `move_all` goes to backoff, not unschedulable, so
the change it might have needed is never missed (Kubernetes' "move request cycle").
Time comes from an injectable clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Clock = Callable[[], float]


def key_of(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def spec_changed(old: Obj, new: Obj) -> bool:
    """A change that can make an unschedulable pod schedulable (not our own status writes)."""
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") != new.get("spec") or old_meta.get("labels") != new_meta.get("labels")
            or old_meta.get("annotations") != new_meta.get("annotations"))


class QueueClosed(Exception):
    """The queue was closed (the scheduler stopped leading)."""


@dataclass
class QueuedPod:
    key: str
    pod: Obj
    seq: int
    attempts: int = 0
    last_attempt: float | None = None
    popped_cycle: int = -1

    @property
    def priority(self) -> int:
        return int((self.pod.get("spec") or {}).get("priority") or 0)


class SchedulingQueue:
    def __init__(self, clock: Clock = time.monotonic, initial_backoff: float = 0.5, max_backoff: float = 10.0,
                 unschedulable_timeout: float = 30.0) -> None:
        self._clock = clock
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.unschedulable_timeout = unschedulable_timeout
        self._pods: dict[str, QueuedPod] = {}  # every pod the queue holds, wherever it is
        self._active: list[tuple[int, int, str]] = []
        self._in_active: set[str] = set()
        self._backoff: list[tuple[float, int, str]] = []
        self._backoff_at: dict[str, float] = {}
        self._unschedulable: dict[str, float] = {}  # key -> since
        self._in_flight: set[str] = set()
        self._seq = itertools.count()
        self._changed = asyncio.Event()
        self.move_cycle = 0
        self._closed = False

    # ------------------------------------------------------------------ state
    def __len__(self) -> int:
        return len(self._pods)

    def __contains__(self, key: object) -> bool:
        return key in self._pods

    @property
    def active(self) -> int:
        return len(self._in_active)

    @property
    def backing_off(self) -> int:
        return len(self._backoff_at)

    @property
    def unschedulable(self) -> int:
        return len(self._unschedulable)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def get(self, key: str) -> QueuedPod | None:
        return self._pods.get(key)

    def backoff_duration(self, attempts: int) -> float:
        if attempts <= 0:
            return 0.0
        return float(min(self.initial_backoff * 2.0 ** min(attempts - 1, 32), self.max_backoff))

    # ------------------------------------------------------------------ informer side
    def add(self, pod: Obj) -> None:
        """A pod that needs a node (new or changed)."""
        key = key_of(pod)
        queued = self._pods.get(key)
        if queued is None:
            self._pods[key] = queued = QueuedPod(key, pod, next(self._seq))
            self._activate(queued)
            return
        old, queued.pod = queued.pod, pod
        if key in self._unschedulable and spec_changed(old, pod):
            del self._unschedulable[key]
            self._requeue(queued)

    def delete(self, key: str) -> None:
        """The pod is gone or no longer ours to schedule (bound, deleted); heaps drop it lazily."""
        self._pods.pop(key, None)
        self._in_active.discard(key)
        self._backoff_at.pop(key, None)
        self._unschedulable.pop(key, None)
        self._in_flight.discard(key)

    def move_all(self, predicate: Callable[[QueuedPod], bool] | None = None) -> int:
        """The cluster changed: unschedulable pods (those `predicate` accepts) get another try."""
        self.move_cycle += 1
        moved = 0
        for key in list(self._unschedulable):
            queued = self._pods[key]
            if predicate is None or predicate(queued):
                del self._unschedulable[key]
                self._requeue(queued)
                moved += 1
        return moved

    # ------------------------------------------------------------------ scheduler side
    def pop_nowait(self) -> QueuedPod | None:
        self._flush()
        while self._active:
            _, _, key = heapq.heappop(self._active)
            if key not in self._in_active:
                continue  # deleted or moved since it was pushed
            self._in_active.discard(key)
            queued = self._pods[key]
            queued.attempts += 1
            queued.last_attempt = self._clock()
            queued.popped_cycle = self.move_cycle
            self._in_flight.add(key)
            return queued
        return None

    async def pop(self) -> QueuedPod:
        """The next pod to schedule; it is in flight until `done`, `unschedulable` or `retry`."""
        for _ in range(1_000_000_000):  # bounded in principle; each pass waits for a change or a due time
            if self._closed:
                raise QueueClosed
            self._changed.clear()
            queued = self.pop_nowait()
            if queued is not None:
                return queued
            try:
                await asyncio.wait_for(self._changed.wait(), self._due_in())
            except TimeoutError:
                pass
        raise QueueClosed

    def done(self, key: str) -> None:
        """Bound (or dropped for good): the queue forgets the pod."""
        self.delete(key)

    def mark_unschedulable(self, key: str) -> None:
        """No node fits; wait for a cluster change (or the timeout)."""
        queued = self._pods.get(key)
        self._in_flight.discard(key)
        if queued is None:
            return
        if self.move_cycle > queued.popped_cycle:
            self._to_backoff(queued)  # the cluster changed while we decided: try again soon
        else:
            self._unschedulable.pop(key, None)
            self._unschedulable[key] = self._clock()

    def retry(self, key: str) -> None:
        """The attempt failed for a reason other than fit (a bind error): back off and try again."""
        queued = self._pods.get(key)
        self._in_flight.discard(key)
        if queued is not None:
            self._to_backoff(queued)

    def close(self) -> None:
        self._closed = True
        self._changed.set()

    # ------------------------------------------------------------------ internals
    def _activate(self, queued: QueuedPod) -> None:
        if queued.key in self._in_active or queued.key in self._in_flight:
            return
        self._backoff_at.pop(queued.key, None)
        self._in_active.add(queued.key)
        heapq.heappush(self._active, (-queued.priority, queued.seq, queued.key))
        self._changed.set()

    def _to_backoff(self, queued: QueuedPod) -> None:
        ready_at = (queued.last_attempt or self._clock()) + self.backoff_duration(queued.attempts)
        if ready_at <= self._clock():
            self._activate(queued)
            return
        self._backoff_at[queued.key] = ready_at
        heapq.heappush(self._backoff, (ready_at, queued.seq, queued.key))
        self._changed.set()

    def _requeue(self, queued: QueuedPod) -> None:
        """Active now, or backoff if its last attempt was too recent."""
        if queued.key in self._in_flight:
            return
        self._to_backoff(queued)

    def _flush(self) -> None:
        now = self._clock()
        while self._backoff and self._backoff[0][0] <= now:
            ready_at, _, key = heapq.heappop(self._backoff)
            if self._backoff_at.get(key) == ready_at:
                del self._backoff_at[key]
                self._activate(self._pods[key])
        while self._unschedulable:  # insertion order is time order: the oldest come first
            key, since = next(iter(self._unschedulable.items()))
            if since + self.unschedulable_timeout > now:
                break
            del self._unschedulable[key]
            self._activate(self._pods[key])

    def _due_in(self) -> float | None:
        """Seconds until a backoff ends or an unschedulable pod times out (None: nothing pending)."""
        now = self._clock()
        times = []
        if self._backoff:
            times.append(self._backoff[0][0])
        if self._unschedulable:
            times.append(next(iter(self._unschedulable.values())) + self.unschedulable_timeout)
        return max(0.0, min(times) - now) if times else None
