"""How many binds may be in flight: up to a maximum, fewer while the API server answers slowly.

An additive-increase / multiplicative-decrease window (TCP's rule): a bind answered within
`target` seconds widens the window by 1/window (one slot per window's worth of fast answers);
a slower answer narrows it by `decrease`, at most once per `target`. On an idle API server
the window stays at the maximum; on a saturated one it shrinks until the answers are fast
again, so the scheduler's own Lease renewals, queued behind its binds on the same server,
still arrive within the renew deadline (the runner derives `target` from its election's
timings). A small window costs no throughput once the API server is busy: the answers only
come back later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class BindWindow:
    def __init__(self, maximum: int = 64, minimum: int = 4, target: float = 0.5, decrease: float = 0.7,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        self.maximum, self.minimum, self.target, self.decrease = maximum, minimum, target, decrease
        self._clock = clock
        self.size = float(maximum)
        self.in_flight = 0
        self._last_decrease = float("-inf")
        self._changed = asyncio.Event()

    @property
    def limit(self) -> int:
        return max(self.minimum, min(self.maximum, int(self.size)))

    async def acquire(self) -> None:
        for _ in range(1_000_000_000):  # bounded in principle; each pass waits for a release
            if self.in_flight < self.limit:
                self.in_flight += 1
                return
            self._changed.clear()
            await self._changed.wait()

    def release(self, latency: float | None = None) -> None:
        """A slot is free again; `latency`: how long the API took to answer (None: no answer)."""
        self.in_flight = max(0, self.in_flight - 1)
        if latency is not None:
            self.observe(latency)
        self._changed.set()

    def observe(self, latency: float) -> None:
        now = self._clock()
        if latency > self.target:
            if now - self._last_decrease >= self.target:
                self.size = max(float(self.minimum), self.size * self.decrease)
                self._last_decrease = now
        else:
            self.size = min(float(self.maximum), self.size + 1.0 / max(self.size, 1.0))
