"""Expectations: what a controller has asked for and not yet seen in its informer (client-go's design).

After creating N pods for a key, the controller expects N add events before it plans again;
otherwise a cache that lags behind its own writes would make it create them twice. An
expectation that is not met within `ttl` seconds (an event lost, a write that failed
silently) expires, so a controller never waits forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Expected:
    creates: int
    deletes: int
    since: float


class Expectations:
    def __init__(self, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._pending: dict[str, _Expected] = {}

    def expect(self, key: str, creates: int = 0, deletes: int = 0) -> None:
        current = self._pending.get(key)
        if current is None or self._done(current):
            self._pending[key] = _Expected(creates, deletes, self._clock())
        else:
            current.creates += creates
            current.deletes += deletes

    def created(self, key: str) -> None:
        if key in self._pending:
            self._pending[key].creates -= 1

    def deleted(self, key: str) -> None:
        if key in self._pending:
            self._pending[key].deletes -= 1

    def _done(self, expected: _Expected) -> bool:
        return expected.creates <= 0 and expected.deletes <= 0

    def satisfied(self, key: str) -> bool:
        expected = self._pending.get(key)
        if expected is None or self._done(expected):
            return True
        return self._clock() - expected.since > self.ttl

    def forget(self, key: str) -> None:
        self._pending.pop(key, None)
