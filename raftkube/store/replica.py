"""One store replica as seen from asyncio: submit commands, read, watch, report status.

A write resolves when its command has been applied locally (so the caller reads its own
write on this replica); writes submitted in the same loop iteration share one log entry
(`batcher.py`), each still applied as its own revision with its own result. Linearizable
reads use Raft's ReadIndex (`read_index.py`): no log entry, one heartbeat round shared by
every read waiting at that moment. Serializable reads read the local state at once. The leader also
runs the maintenance loop (lease expiry, auto-compaction) in `maintenance.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any, Callable, TypeVar

from pysyncobj import SyncObjException

from .batcher import WriteBatcher, settle
from .config import ReplicaConfig
from .errors import InvalidRequest, OutcomeUnknown, Unavailable
from .loop_bridge import LoopBridge
from .maintenance import Maintenance
from .mvcc import Applied, KVStateMachine, Outcome
from .past_reads import range_at
from .raft_node import KVConsumer, RaftNode, encode_command
from .restore import RestoreRefused, check_restored_member
from .types import Event, LeaseInfo, RangeResult
from .validation import check_command, check_key, check_range_end
from .watch_hub import Watcher, WatchHub

T = TypeVar("T")
_STATE_NAMES = {0: "follower", 1: "candidate", 2: "leader"}
READ_RETRY_DELAY = 0.02  # seconds between attempts of a refused ReadIndex (a leader change under way)


class ReadRefused(Exception):
    """ReadIndex refused this attempt (not the leader, deposed, no leader): retry."""


def _post_read(bridge: LoopBridge, future: asyncio.Future[int], index: int | None, error: str | None) -> None:
    bridge.post(_settle_read, future, index, error)  # tick thread -> the loop


def _settle_read(future: asyncio.Future[int], index: int | None, error: str | None) -> None:
    if future.done():
        return
    if index is None:
        future.set_exception(ReadRefused(error or "refused"))
    else:
        future.set_result(index)


class CannotStart(RuntimeError):
    """The replica cannot start; the message says why and what to change."""


class CannotListen(CannotStart):
    """The replica could not listen on its Raft address (in use, or not an address of this host)."""


class StoreReplica:
    def __init__(self, config: ReplicaConfig) -> None:
        self.config = config
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bridge: LoopBridge | None = None
        self._consumer: KVConsumer | None = None
        self._batcher: WriteBatcher | None = None
        self.node: RaftNode | None = None
        self.hub: WatchHub | None = None
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        try:
            check_restored_member(self.config.data_dir, self.config.raft_addr)
        except RestoreRefused as exc:
            raise CannotStart(str(exc)) from None
        self._loop = asyncio.get_running_loop()
        self._bridge = LoopBridge(self._loop)
        self._consumer = KVConsumer(self._on_applied, self._on_snapshot_loaded)
        consumer = self._consumer
        self._batcher = WriteBatcher(self._loop, self._bridge, lambda blob, done: consumer.execute(blob, callback=done),
                                     self.config.request_timeout)
        self.hub = WatchHub(self._history, self._snapshot_events, self._consumer.sm.revision,
                            self.config.watch_buffer_events, self.config.progress_interval)
        conf = self.config.syncobj_conf(on_ready=lambda: self._bridge and self._bridge.post(self._ready.set))
        self.node = await asyncio.to_thread(RaftNode, self.config.raft_addr, self.config.peers, conf, self._consumer)
        await self._wait_listening()
        maintenance = Maintenance(self)
        self._tasks = [asyncio.create_task(self.hub.run_progress()), asyncio.create_task(maintenance.run())]

    async def _wait_listening(self) -> None:
        """Fail start-up when the Raft port cannot be bound: a replica that cannot listen is cut off
        from its peers for good, and PySyncObj would only keep retrying, silently."""
        assert self.node is not None
        try:
            await asyncio.to_thread(self.node.waitBinded)
        except SyncObjException:
            node, self.node = self.node, None
            await asyncio.to_thread(node.destroy_synchronous)
            t = self.config.tuning
            raise CannotListen(f"cannot listen on the Raft address {self.config.raft_addr}: in use by another "
                               f"process, or not an address of this host (tried {t.bind_attempts} times over "
                               f"{t.bind_attempts * t.bind_retry:.1f} s)") from None

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until this replica has applied everything the leader had committed at start."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.hub is not None:
            self.hub.close()
        if self.node is not None:
            node, self.node = self.node, None
            await asyncio.to_thread(node.destroy_synchronous)

    # ------------------------------------------------------ tick-thread hooks
    def _on_applied(self, applied: Applied) -> None:
        if self._bridge is not None and self.hub is not None:
            self._bridge.post(self.hub.publish, applied.events)

    def _on_snapshot_loaded(self) -> None:
        if self._bridge is not None and self.hub is not None:
            self._bridge.post(self.hub.resync)

    # ------------------------------------------------------------ state access
    @property
    def sm(self) -> KVStateMachine:
        assert self._consumer is not None, "replica not started"
        return self._consumer.sm

    def read_local(self, fn: Callable[[KVStateMachine], T]) -> T:
        """Run `fn` on the local state under the apply lock (a serializable read)."""
        assert self._consumer is not None, "replica not started"
        with self._consumer.lock:
            return fn(self._consumer.sm)

    def _history(self, start: int, key: bytes, end: bytes) -> list[Event]:
        return self.read_local(lambda sm: sm.events_since(start, key, end))

    def _snapshot_events(self, since: int) -> tuple[list[Event], int]:
        def read(sm: KVStateMachine) -> tuple[list[Event], int]:
            return ([] if since <= 0 else sm.events_since(since, b"\0", b"\0")), sm.revision
        return self.read_local(read)

    # ----------------------------------------------------------------- writes
    async def execute(self, cmd: dict[str, Any], timeout: float | None = None) -> Outcome:
        """Replicate a command; return its result once applied here, or raise StoreError.

        Commands submitted in the same loop iteration share one log entry (`batcher.py`).
        """
        check_command(cmd)
        if cmd["t"] == "batch":
            raise InvalidRequest("t", "is internal to the store")
        batcher = self._batcher
        if batcher is None or self.node is None:
            raise Unavailable("replica is not running")
        future = batcher.submit(encode_command(cmd))
        if timeout is None:
            return await future  # the batch's timer fails it with OutcomeUnknown after request_timeout
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise OutcomeUnknown(f"no commit within {timeout} s (no quorum, or a slow cluster); "
                                 "the command may still apply") from None

    async def barrier(self) -> None:
        """Return once everything committed before this call is applied on this replica.

        Raft's ReadIndex (`read_index.py`): the leader confirms its leadership with one heartbeat
        round shared by every read waiting at that moment, no log entry; a follower asks the
        leader for the index. A refused attempt (leader changing) is retried until the request
        timeout; then the read fails with Unavailable, never with a stale answer.
        """
        assert self._loop is not None and self._bridge is not None
        node = self.node
        if node is None:
            raise Unavailable("replica is not running")
        deadline = self._loop.time() + self.config.request_timeout
        bridge, loop = self._bridge, self._loop
        while True:
            future: asyncio.Future[int] = loop.create_future()
            node.read_index.request(functools.partial(_post_read, bridge, future))
            try:
                await asyncio.wait_for(future, max(0.0, deadline - loop.time()))
                return
            except TimeoutError:
                raise Unavailable(f"read index not confirmed within {self.config.request_timeout} s "
                                  "(no quorum, or no leader)") from None
            except ReadRefused as refused:
                if loop.time() + READ_RETRY_DELAY >= deadline:
                    raise Unavailable(f"linearizable read refused: {refused}") from None
                await asyncio.sleep(READ_RETRY_DELAY)  # a leader change under way: try again shortly

    # ------------------------------------------------------------------ reads
    async def range(self, key: bytes, end: bytes = b"", limit: int = 0, keys_only: bool = False,
                    count_only: bool = False, serializable: bool = False, revision: int = 0) -> RangeResult:
        """Keys in [key, end) at the current revision, or at a past `revision` (> 0)."""
        check_key(key)
        check_range_end(end, "range_end")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise InvalidRequest("limit", "must be a non-negative integer")
        if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
            raise InvalidRequest("revision", "must be a non-negative integer")
        if not serializable:
            await self.barrier()
        if revision:
            return self.read_local(lambda sm: range_at(sm, revision, key, end, limit, keys_only, count_only))
        return self.read_local(lambda sm: sm.range(key, end, limit, keys_only, count_only))

    async def leases(self, serializable: bool = False) -> list[LeaseInfo]:
        if not serializable:
            await self.barrier()
        return self.read_local(lambda sm: sm.lease_list())

    def watch(self, key: bytes, end: bytes = b"", start_revision: int = 0, prev_kv: bool = False) -> Watcher:
        check_key(key)
        check_range_end(end, "range_end")
        if not isinstance(start_revision, int) or start_revision < 0:
            raise InvalidRequest("start_revision", "must be a non-negative integer")
        assert self.hub is not None, "replica not started"
        return self.hub.watch(key, end, start_revision, prev_kv)

    # ------------------------------------------------------------- membership
    async def add_member(self, raft_addr: str) -> None:
        await self._membership("addNodeToCluster", raft_addr)

    async def remove_member(self, raft_addr: str) -> None:
        await self._membership("removeNodeFromCluster", raft_addr)

    async def _membership(self, method: str, raft_addr: str) -> None:
        if not isinstance(raft_addr, str) or raft_addr.count(":") != 1:
            raise InvalidRequest("member", "must be host:port")
        assert self.node is not None and self._loop is not None and self._bridge is not None
        future: asyncio.Future[Outcome] = self._loop.create_future()
        bridge = self._bridge
        getattr(self.node, method)(raft_addr, callback=lambda r, e: bridge.post(settle, future, r, e))
        try:
            await asyncio.wait_for(future, self.config.request_timeout)
        except TimeoutError:
            raise OutcomeUnknown(f"membership change not known committed within {self.config.request_timeout} s "
                                 "(no quorum, or this replica was removed)") from None

    # ----------------------------------------------------------------- status
    def is_leader(self) -> bool:
        return self.node is not None and self.node._isLeader()

    def status(self) -> dict[str, Any]:
        node = self.node
        if node is None:
            return {"state": "stopped"}
        raw = node.getStatus()
        members = [{"address": raw["self"].id, "self": True, "connected": True}]
        for key, value in raw.items():
            if key.startswith("partner_node_status_server_"):
                addr = key.removeprefix("partner_node_status_server_")
                members.append({"address": addr, "self": False, "connected": value == 2,
                                "match_index": raw.get("match_idx_server_" + addr)})
        leader = raw["leader"]
        revision, compact_revision, keys, size, quota = self.read_local(
            lambda sm: (sm.revision, sm.compact_revision, len(sm.kv), sm.size_bytes, sm.quota_bytes))
        return {
            "self": raw["self"].id, "state": _STATE_NAMES.get(raw["state"], str(raw["state"])),
            "leader": None if leader is None else leader.id, "term": raw["raft_term"],
            "commit_index": raw["commit_idx"], "applied_index": raw["last_applied"],
            "log_entries": raw["log_len"], "has_quorum": raw["has_quorum"], "members": members,
            "revision": revision, "compact_revision": compact_revision, "keys": keys,
            "size_bytes": size, "quota_bytes": quota,
            "journal_syncs": node.journal_syncs(),
            "write_entries": 0 if self._batcher is None else self._batcher.entries,
            "write_commands": 0 if self._batcher is None else self._batcher.commands,
            "watchers": 0 if self.hub is None else self.hub.watcher_count,
            "read_index_rounds": node.read_index.rounds,
            "ready": self._ready.is_set(),
        }

