"""Container restart back-off (CrashLoopBackOff): base, doubling, up to a cap; reset after a good run.

Kubernetes' kubelet uses 10 s doubling up to 300 s; raftkube defaults to 1 s up to 60 s (both
configurable) so that a crashing pod comes back sooner on a test machine. Each exit of a
container (seen by its container id) is counted once: the delay before the next start is the
previous delay doubled, or the base again when the container had run `reset_after` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Entry:
    delay: float
    until: float  # the earliest start time (epoch seconds)
    exit_id: str


class Backoff:
    def __init__(self, base: float = 1.0, cap: float = 60.0, reset_after: float = 60.0) -> None:
        self.base, self.cap, self.reset_after = base, cap, reset_after
        self._entries: dict[tuple[str, str], _Entry] = {}

    def record_exit(self, key: tuple[str, str], exit_id: str, started_at: float | None, finished_at: float) -> float:
        """Note that container instance `exit_id` exited at `finished_at`; returns the back-off
        delay before its replacement may start. Idempotent per exit_id."""
        entry = self._entries.get(key)
        if entry is not None and entry.exit_id == exit_id:
            return entry.delay
        ran = finished_at - started_at if started_at is not None else 0.0
        if entry is None or ran >= self.reset_after:
            delay = self.base
        else:
            delay = min(entry.delay * 2, self.cap)
        self._entries[key] = _Entry(delay, finished_at + delay, exit_id)
        return delay

    def remaining(self, key: tuple[str, str], now: float) -> float:
        """Seconds still to wait before the next start (0 when free to start)."""
        entry = self._entries.get(key)
        return 0.0 if entry is None else max(entry.until - now, 0.0)

    def delay(self, key: tuple[str, str]) -> float:
        entry = self._entries.get(key)
        return 0.0 if entry is None else entry.delay

    def forget_pod(self, uid: str) -> None:
        for key in [k for k in self._entries if k[0] == uid]:
            del self._entries[key]
