"""A client-go style rate-limited work queue for controllers (asyncio, one event loop).

- fair and stingy: keys come out in the order they were added; a key added again before it is
  taken is queued once; a key added while a worker holds it is queued again after `done`.
- `add_after(key, delay)`: the key enters the queue once `delay` seconds have passed.
- `add_rate_limited(key)`: `add_after` with the delay the rate limiter decides: by default the
  larger of a per-key exponential backoff (5 ms doubling up to 1000 s, reset by `forget`) and
  an overall token bucket (10 per second, bursts of 100).
- `shutdown()`: `get()` hands out what is still queued, then raises `ShutDown`.
Time comes from an injectable `clock` (monotonic seconds), so tests drive it by hand.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from typing import Callable, Generic, Hashable, Protocol, TypeVar

T = TypeVar("T", bound=Hashable)
Clock = Callable[[], float]


class ShutDown(Exception):
    """The queue was shut down and is empty."""


class QueueEmpty(Exception):
    pass


class RateLimiter(Protocol):
    def when(self, item: Hashable) -> float: ...
    def forget(self, item: Hashable) -> None: ...
    def num_requeues(self, item: Hashable) -> int: ...


class ItemExponentialRateLimiter:
    """base * 2**failures per item, capped at max_delay."""

    def __init__(self, base: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base, self.max_delay = base, max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        if failures >= 64:
            return self.max_delay
        return float(min(self.base * 2.0 ** failures, self.max_delay))

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class TokenBucketRateLimiter:
    """An overall limit: `qps` tokens a second, at most `burst` saved; each `when` reserves one."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock = time.monotonic) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("qps must be > 0 and burst >= 1")
        self.qps, self.burst, self._clock = qps, burst, clock
        self._tokens = float(burst)
        self._last = clock()

    def when(self, item: Hashable) -> float:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of the limiters asks for (each of them records the request)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_rate_limiter(clock: Clock = time.monotonic, *, base: float = 0.005, max_delay: float = 1000.0,
                         qps: float = 10.0, burst: int = 100) -> MaxOfRateLimiter:
    return MaxOfRateLimiter(ItemExponentialRateLimiter(base, max_delay), TokenBucketRateLimiter(qps, burst, clock))


class WorkQueue(Generic[T]):
    def __init__(self, rate_limiter: RateLimiter | None = None, *, clock: Clock = time.monotonic,
                 name: str = "") -> None:
        self.name = name
        self._clock = clock
        self.rate_limiter: RateLimiter = rate_limiter or default_rate_limiter(clock)
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._waiting: list[tuple[float, int, T]] = []  # heap of (ready_at, seq, item)
        self._ready_at: dict[T, float] = {}  # earliest time each waiting item is due
        self._seq = itertools.count()
        self._changed = asyncio.Event()
        self._shutting_down = False

    def __len__(self) -> int:
        """Items ready to be taken (not the ones waiting for their delay or being processed)."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    @property
    def waiting(self) -> int:
        return len(self._ready_at)

    def processing(self) -> set[T]:
        return set(self._processing)

    def add(self, item: T) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item not in self._processing:
            self._queue.append(item)
            self._changed.set()

    def add_after(self, item: T, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready_at = self._clock() + delay
        if item in self._ready_at and self._ready_at[item] <= ready_at:
            return  # already due earlier
        self._ready_at[item] = ready_at
        heapq.heappush(self._waiting, (ready_at, next(self._seq), item))
        self._changed.set()

    def add_rate_limited(self, item: T) -> None:
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """The item succeeded: its backoff starts again from the base delay."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)

    def done(self, item: T) -> None:
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._changed.set()

    def shutdown(self) -> None:
        self._shutting_down = True
        self._changed.set()

    def _promote(self) -> float | None:
        """Move due items into the queue; seconds until the next one is due (None: nothing waits)."""
        now = self._clock()
        while self._waiting:
            ready_at, _, item = self._waiting[0]
            if self._ready_at.get(item) != ready_at:
                heapq.heappop(self._waiting)  # superseded by an earlier add_after
                continue
            if ready_at > now:
                return ready_at - now
            heapq.heappop(self._waiting)
            del self._ready_at[item]
            self.add(item)
        return None

    def get_nowait(self) -> T:
        """The next ready item (now marked as processing); QueueEmpty or ShutDown if none."""
        self._promote()
        if self._queue:
            item = self._queue.popleft()
            self._processing.add(item)
            self._dirty.discard(item)
            return item
        if self._shutting_down:
            raise ShutDown(self.name)
        raise QueueEmpty(self.name)

    async def get(self) -> T:
        """Wait for the next item; after `shutdown` the queued ones are still handed out, then ShutDown."""
        for _ in range(1_000_000_000):  # bounded in principle; every pass waits for a change or a due item
            self._changed.clear()
            try:
                return self.get_nowait()
            except QueueEmpty:
                pass
            if self._shutting_down:
                raise ShutDown(self.name)
            due_in = self._promote()
            try:
                await asyncio.wait_for(self._changed.wait(), due_in)
            except TimeoutError:
                pass
        raise ShutDown(self.name)

    def wake(self) -> None:
        """Make waiting `get`s look again (after a test advances its fake clock)."""
        self._changed.set()
