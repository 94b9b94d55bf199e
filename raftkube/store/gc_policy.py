"""The garbage collector of a long-running process (replica, agent): its thresholds, and its long
pauses logged.

A full (generation 2) pass walks every tracked object: in a replica holding 1,000 nodes' and
3,000 pods' decoded forms (watch cache, informers) that took 0.4-0.9 s, and CPython started one
every 2-5 s, each finding next to nothing (0-500 objects), because objects replaced on every
update (Leases, pod and node status) count towards the "25 % new long-lived objects" trigger.
The collector holds the GIL: the Raft tick thread stopped with everything else, and a pause
near the election timeout cost a leader change.

`server_thresholds()` sets the thresholds to (50,000, 20, 100): young collections, which find
the short-lived cycles (asyncio's, exceptions'), come every 50,000 net new objects and cost
what the young objects cost; full passes come at most every 100,000,000 net new objects
(rarely: hours at that load) instead of every 70,000. Garbage in cycles that outlived two young
collections waits until then: memory, not correctness (the refcounts free everything else).

    settle_server_process()   # at the end of start-up: freeze, server_thresholds(), a GcPauses log
    pauses = GcPauses(threshold=0.25)
    pauses.install()      # a WARNING per pass over `threshold` seconds; `pauses.longest`, `.count`

Never inside the replicated state machine (it reads the perf counter only for the log line).
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

log = logging.getLogger("raftkube.gc")
SERVER_THRESHOLDS = (50_000, 20, 100)


def server_thresholds() -> None:
    gc.set_threshold(*SERVER_THRESHOLDS)


def settle_server_process() -> GcPauses:
    """For a server process once start-up is done: what start-up built lives for the whole run, so it
    is exempted from every later pass (`gc.freeze()`: a replica's ~50,000 start-up objects made each
    full pass 25-30 ms); then the server thresholds, and a pause log installed (returned)."""
    gc.collect()
    gc.freeze()
    server_thresholds()
    pauses = GcPauses()
    pauses.install()
    return pauses


class GcPauses:
    def __init__(self, threshold: float = 0.25) -> None:
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
