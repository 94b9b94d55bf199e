"""Long garbage-collection pauses, logged: a full (generation 2) pass over a replica holding
thousands of objects' decoded forms stops the whole process, the Raft tick thread with it (the
collector holds the GIL), and a pause longer than the election timeout costs a leader change.

    pauses = GcPauses(threshold=0.1)
    pauses.install()      # a WARNING per pass over `threshold` seconds; `pauses.longest`, `.count`

Kept in the process, never in the replicated state machine (it reads the wall-independent
perf counter only for the log line).
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

log = logging.getLogger("raftkube.gc")


class GcPauses:
    def __init__(self, threshold: float = 0.1) -> None:
        self.threshold = threshold
        self.count = 0  # passes over the threshold
        self.longest = 0.0
        self._started: float | None = None

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        if self._started is None:
            return
        took, self._started = time.perf_counter() - self._started, None
        if took < self.threshold:
            return
        self.count += 1
        self.longest = max(self.longest, took)
        log.warning("garbage collection of generation %d took %.3f s (%d objects collected)",
                    info.get("generation", -1), took, info.get("collected", 0))
