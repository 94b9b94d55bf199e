"""A token bucket for the scheduler's `Scheduled` Events, so that a burst of binds is not doubled by Events.

Each Event is one more write through the API and the store: at one per bind, a backlog of
thousands of pods costs as many Event writes as binds. Like kube-scheduler, whose recorder is
rate-limited, the runner records at most `rate` Scheduled Events per second (bursts of up to
`burst`) and drops the rest; the pod's PodScheduled condition (written by the bind itself)
says where it went either way. `dropped` counts what was left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class EventBudget:
    def __init__(self, rate: float = 5.0, burst: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("need rate > 0 and burst >= 1")
        self.rate, self.burst = rate, float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self.dropped = 0

    def take(self) -> bool:
        """True if one more Event may be recorded now (and count it), else False (and count a drop)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self.dropped += 1
        return False
