"""Settings of one store replica and the PySyncObj tuning they turn into.

Defaults follow measurements on 2-core machines (see ../shared/PYSYNCOBJ.md and
docs/benchmarks.md): unbatched AppendEntries (sub-millisecond commits; our group commit
batches the msyncs), 0.3-0.7 s elections instead of 0.4-1.4 s, links never dropped for
idleness (a dropped link cost a whole election round), failed links retried every 0.3 s
(not 5 s: two followers with no link between them cannot elect), a leader that steps down before a
follower can start an election, log compaction every 50,000 entries in a forked child, and
AppendEntries batches big enough that no entry is ever split (PySyncObj's split is broken).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pysyncobj import SyncObjConf

from ..secure_files import private_dir
from .quota import DEFAULT_QUOTA_BYTES

# PySyncObj splits an entry at least this big into chunks and its reassembly is broken (it
# tests the command's length, not the pickled entry's, so the last chunk is marked early and
# unpickling fails). Every entry fits under 4 MiB (requests are at most 2 MiB), so no entry is
# ever chunked. peer_guard's frame limit derives from this.
APPEND_ENTRIES_BATCH_BYTES = 4 * 1024 * 1024
SNAPSHOT_CHUNK_BYTES = 64 * 1024  # a snapshot goes to a lagging follower in chunks of this size


class MissingClusterSecret(ValueError):
    """A replica was configured without the secret that authenticates its Raft peers."""


@dataclass
class RaftTuning:
    election_timeout_min: float = 0.3
    election_timeout_max: float = 0.7
    heartbeat_period: float = 0.05
    leader_fallback_timeout: float = 0.25
    connection_timeout: float = 1000.0
    connection_retry: float = 0.3  # PySyncObj's 5 s left survivors of a leader kill unlinked and unable to elect
    compaction_min_entries: int = 50_000
    compaction_min_time: float = 600.0
    tick_period: float = 0.05
    bind_retry: float = 0.25  # seconds between attempts to listen on the Raft address
    bind_attempts: int = 20  # then start-up fails (PySyncObj alone would retry silently for ever)

    def set_timing(self, heartbeat_ms: int | None, election_ms: int | None) -> None:
        """etcd's --heartbeat-interval and --election-timeout (milliseconds). As etcd, a follower waits
        a random time in [election, 2 × election) before it campaigns; a leader that heard from no
        majority for 0.8 × election steps down (so it is gone before a new one can be elected)."""
        if heartbeat_ms is not None:
            self.heartbeat_period = heartbeat_ms / 1000
            self.tick_period = min(self.tick_period, self.heartbeat_period)
        if election_ms is not None:
            self.election_timeout_min, self.election_timeout_max = election_ms / 1000, 2 * election_ms / 1000
            self.leader_fallback_timeout = 0.8 * election_ms / 1000
        if self.election_timeout_min < 5 * self.heartbeat_period:
            raise ValueError(f"--election-timeout ({self.election_timeout_min * 1000:.0f} ms) must be at least 5 × "
                             f"--heartbeat-interval ({self.heartbeat_period * 1000:.0f} ms)")


@dataclass
class ReplicaConfig:
    """One replica: `raft_addr` is host:port for peers, `peers` the other replicas' raft_addr."""

    raft_addr: str
    peers: list[str]
    data_dir: str | None = None  # None: in memory only (tests of the state machine)
    password: str | None = None  # the cluster secret; required (peers are authenticated and encrypted)
    tuning: RaftTuning = field(default_factory=RaftTuning)
    history_keep_revisions: int = 100_000  # auto-compaction keeps this many revisions
    quota_backend_bytes: int = DEFAULT_QUOTA_BYTES  # the leader replicates it into the state machine (quota.py)
    watch_buffer_events: int = 10_000
    progress_interval: float = 1.0
    request_timeout: float = 5.0

    def syncobj_conf(self, on_ready: object = None) -> SyncObjConf:
        if not self.password:
            raise MissingClusterSecret("a cluster secret is required (ReplicaConfig.password; "
                                       "on the command line --cluster-secret-file): the Raft port "
                                       "accepts only authenticated peers")
        t = self.tuning
        journal = dump = None
        if self.data_dir is not None:
            private_dir(self.data_dir)  # 0700: the journal and snapshots hold every object
            journal = os.path.join(self.data_dir, "raft.journal")
            dump = os.path.join(self.data_dir, "raft.snapshot")
        return SyncObjConf(
            appendEntriesUseBatch=False,
            raftMinTimeout=t.election_timeout_min,
            raftMaxTimeout=t.election_timeout_max,
            appendEntriesPeriod=t.heartbeat_period,
            leaderFallbackTimeout=t.leader_fallback_timeout,
            connectionTimeout=t.connection_timeout,
            connectionRetryTime=t.connection_retry,
            autoTickPeriod=t.tick_period,
            bindRetryTime=t.bind_retry,
            maxBindRetries=t.bind_attempts,
            logCompactionMinEntries=t.compaction_min_entries,
            logCompactionMinTime=t.compaction_min_time,
            journalFile=journal,
            fullDumpFile=dump,
            useFork=True,
            dynamicMembershipChange=True,
            bindAddress=self.raft_addr,  # PySyncObj alone listens on 0.0.0.0 (every interface) at the port
            password=self.password,
            commandsWaitLeader=True,
            onReady=on_ready,
            appendEntriesBatchSizeBytes=APPEND_ENTRIES_BATCH_BYTES,
            logCompactionBatchSize=SNAPSHOT_CHUNK_BYTES,
        )
