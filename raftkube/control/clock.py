"""The clocks controllers read time from (never the store): the real one, one running `speed` times
faster (so an end-to-end test sees a minute's schedule in a second), and a manual one for tests.

A controller asks `now()` for the time and `real_delay(seconds)` for how long, in real seconds,
to wait until `seconds` of its clock have passed (its work queue's delays are real time)."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds."""

    def real_delay(self, seconds: float) -> float:
        """Real seconds until `seconds` of this clock have passed."""


class RealClock:
    def now(self) -> float:
        return time.time()

    def real_delay(self, seconds: float) -> float:
        return seconds


class ScaledClock:
    """Time since `origin` (epoch seconds, default: when made) passes `speed` times faster."""

    def __init__(self, speed: float, origin: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, not {speed}")
        self.speed = speed
        self.origin = time.time() if origin is None else origin

    def now(self) -> float:
        return self.origin + (time.time() - self.origin) * self.speed

    def real_delay(self, seconds: float) -> float:
        return seconds / self.speed


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: float) -> None:
        self.moment = start

    def now(self) -> float:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += seconds

    def real_delay(self, seconds: float) -> float:
        return seconds
