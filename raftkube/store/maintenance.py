"""Leader-only housekeeping: expire leases and compact history, each as a committed command.

The state machine never reads a clock. The leader keeps, outside it, a deadline per lease
(reset whenever the lease's renewal count changes, and for every lease when this replica
becomes leader, as etcd does), and submits `expire` with the renewal counts it saw: a
keep-alive that commits first wins, because `expire` only removes a lease whose count still
matches. Auto-compaction submits `compact` when the history holds more than
`history_keep_revisions` revisions, or more than PRESSURE_KEEP_REVISIONS while the store's
logical size is near its quota (so deleted objects free their space). The leader also
replicates its configured quota when the applied one differs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from .errors import StoreError
from .quota import PRESSURE_FRACTION, PRESSURE_KEEP_REVISIONS

if TYPE_CHECKING:
    from .replica import StoreReplica

log = logging.getLogger(__name__)


class LeaseDeadlines:
    """lease id -> (renewals seen, deadline); decides which leases are due."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[int, float]] = {}

    def reset(self) -> None:
        self._seen.clear()

    def due(self, leases: dict[int, tuple[int, int]], now: float) -> list[list[int]]:
        expired = []
        for lease_id, (ttl, renewals) in leases.items():
            seen = self._seen.get(lease_id)
            if seen is None or seen[0] != renewals:
                self._seen[lease_id] = (renewals, now + ttl)
            elif now >= seen[1]:
                expired.append([lease_id, renewals])
        for gone in set(self._seen) - set(leases):
            del self._seen[gone]
        return expired


class Maintenance:
    def __init__(self, replica: StoreReplica, period: float = 0.1) -> None:
        self.replica = replica
        self.period = period
        self.deadlines = LeaseDeadlines()
        self._was_leader = False

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.tick()
            except StoreError as err:
                log.info("maintenance command not applied: %s", err)

    async def tick(self) -> None:
        leader = self.replica.is_leader()
        if leader and not self._was_leader:
            self.deadlines.reset()
        self._was_leader = leader
        if not leader:
            return
        leases, revision, compacted, size, quota = self.replica.read_local(
            lambda sm: (sm.lease_renewals(), sm.revision, sm.compact_revision, sm.size_bytes, sm.quota_bytes))
        wanted_quota = self.replica.config.quota_backend_bytes
        if quota != wanted_quota:
            await self.replica.execute({"t": "quota", "bytes": wanted_quota})
        expired = self.deadlines.due(leases, time.monotonic())
        if expired:
            await self.replica.execute({"t": "expire", "leases": expired})
        keep = self.replica.config.history_keep_revisions
        slack = keep // 10
        if size >= wanted_quota * PRESSURE_FRACTION:
            keep, slack = min(keep, PRESSURE_KEEP_REVISIONS), 0
        if revision - compacted > keep + slack:
            await self.replica.execute({"t": "compact", "rev": revision - keep})
