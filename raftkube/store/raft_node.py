"""The PySyncObj node: the KV state machine as a replicated consumer, plus group commit.

`KVConsumer.execute(blob)` is the one replicated method: it decodes a msgpack command and
applies it to `KVStateMachine` under a lock that readers on other threads share.

`RaftNode` defers PySyncObj's AppendEntries sends (leader) and AppendEntries answers
(followers) to the end of the tick. There the leader sends its AppendEntries, then syncs
its journal (its own disk write overlaps the followers', as Raft allows), and a follower
syncs before it sends its answers: every entry a follower acknowledges is on its disk, and
the leader counts its own copy only when it decides commits at the start of a later tick,
after this sync returned, so a committed entry is on disk on a majority. One sync
(fdatasync) covers every entry of the tick.

`RaftNode.read_index` serves linearizable reads without log entries (`read_index.py`): its
peer messages go through `_on_message`, its work runs at the end of every tick.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import msgpack
from pysyncobj import SyncObj, SyncObjConf, SyncObjConsumer, replicated
from pysyncobj.monotonic import monotonic as monotonic_time

from . import durable_journal, peer_cipher, peer_guard
from .errors import InvalidRequest
from .mvcc import Applied, KVStateMachine
from .read_index import MESSAGE_TYPES, ReadIndex

durable_journal.install()
peer_cipher.install()
peer_guard.install()

AppliedHook = Callable[[Applied], None]


def encode_command(cmd: dict[str, Any]) -> bytes:
    return msgpack.packb(cmd, use_bin_type=True)


_packer = msgpack.Packer(use_bin_type=True)
_BATCH_HEAD = _packer.pack_map_header(2) + _packer.pack("t") + _packer.pack("batch") + _packer.pack("cmds")


def encode_batch(blobs: list[bytes]) -> bytes:
    """`{"t": "batch", "cmds": [...]}` from already encoded commands (no decode and re-encode)."""
    return _BATCH_HEAD + _packer.pack_array_header(len(blobs)) + b"".join(blobs)


class KVConsumer(SyncObjConsumer):
    """Holds the state machine; attributes set after `super().__init__` go into snapshots."""

    def __init__(self, on_applied: AppliedHook, on_snapshot_loaded: Callable[[], None]) -> None:
        self.lock = threading.RLock()
        self._on_applied = on_applied
        self._on_snapshot_loaded = on_snapshot_loaded
        super().__init__()
        self.sm = KVStateMachine()

    @replicated
    def execute(self, blob: bytes) -> Any:
        try:
            cmd = msgpack.unpackb(blob, raw=False)
        except Exception:  # a malformed entry gives the same error on every replica
            cmd = None
        with self.lock:
            applied = self.sm.apply(cmd) if cmd is not None else Applied(
                InvalidRequest("command", "not valid msgpack"), [])
        if applied.events:
            self._on_applied(applied)
        return applied.result

    def _deserialize(self, data: dict[str, Any]) -> None:
        with self.lock:
            super()._deserialize(data)
        self._on_snapshot_loaded()


class RaftNode(SyncObj):
    def __init__(self, self_addr: str, peers: list[str], conf: SyncObjConf, consumer: KVConsumer,
                 read_index_expiry: float = 10.0) -> None:
        self._append_entries_wanted = False
        self._pending_answers: list[tuple[Any, bool, int, bool]] = []
        self.read_index = ReadIndex(self, expiry=read_index_expiry)
        super().__init__(self_addr, peers, conf, consumers=[consumer])
        self.addOnTickCallback(self._group_commit)
        # (no attributes here: whatever is set after SyncObj.__init__ goes into snapshots)
        self._SyncObj__transport.setOnMessageReceivedCallback(self._on_message)

    def _on_message(self, node: Any, message: dict[str, Any]) -> None:
        """Keep a late acknowledgement from rewinding a follower's next index.

        PySyncObj sets nextIndex from every successful answer. Answers to earlier
        AppendEntries arrive after later ones were sent, so nextIndex went back and the
        leader re-sent entries the follower had (and had applied): wasted work, and the
        follower's "truncating already-applied log entries" warnings. Such an answer now
        only advances matchIndex; failures and resets still go to PySyncObj.
        ReadIndex's own messages go to `read_index`.
        """
        if message.get("type") in MESSAGE_TYPES:
            self.read_index.on_message(node, message)
            return
        if (message.get("type") == "next_node_idx" and message.get("success") and not message.get("reset")
                and self._isLeader()):
            acked_next = message["next_node_idx"]
            sent_next = self._SyncObj__raftNextIndex.get(node)
            if sent_next is not None and sent_next > acked_next:
                match = self._SyncObj__raftMatchIndex
                if match.get(node, 0) < acked_next - 1:
                    match[node] = acked_next - 1
                self._SyncObj__lastResponseTime[node] = monotonic_time()
                return
        SyncObj._SyncObj__onMessageReceived(self, node, message)

    # PySyncObj calls these through their mangled names; we defer them to the tick's end.
    def _SyncObj__sendAppendEntries(self) -> None:  # noqa: N802
        self._append_entries_wanted = True

    def _SyncObj__sendNextNodeIdx(self, node: Any, reset: bool = False, nextNodeIdx: int | None = None,  # noqa: N802,N803
                                  success: bool = False) -> None:
        if nextNodeIdx is None:
            nextNodeIdx = self._SyncObj__getCurrentLogIndex() + 1  # noqa: N806
        self._pending_answers.append((node, reset, nextNodeIdx, success))

    def _group_commit(self) -> None:
        if not self._SyncObj__otherNodes and self._SyncObj__raftCommitIndex < self._SyncObj__getCurrentLogIndex():
            self._SyncObj__pipeNotifier.notify()  # alone, nothing else would wake the next tick to commit
        if self._append_entries_wanted:  # the leader's own write overlaps the followers' (Raft §10.2.1)
            self._append_entries_wanted = False
            SyncObj._SyncObj__sendAppendEntries(self)
        journal = self._SyncObj__raftLog
        if isinstance(journal, durable_journal.DurableFileJournal):
            journal.sync()
        answers, self._pending_answers = self._pending_answers, []
        for node, reset, next_idx, success in answers:
            SyncObj._SyncObj__sendNextNodeIdx(self, node, reset=reset, nextNodeIdx=next_idx, success=success)
        self.read_index.on_tick()

    # ReadIndex's view of PySyncObj's state (read_index.RaftView); tick thread only, but ri_wake
    def ri_is_leader(self) -> bool:
        return bool(self._isLeader())

    def ri_term(self) -> int:
        return int(self._SyncObj__raftCurrentTerm)

    def ri_commit_index(self) -> int:
        return int(self._SyncObj__raftCommitIndex)

    def ri_term_committed(self) -> bool:
        noop = self._SyncObj__noopIDx  # the no-op PySyncObj appends when it becomes leader
        return noop is not None and self._SyncObj__raftCommitIndex >= noop

    def ri_applied_index(self) -> int:
        return int(self._SyncObj__raftLastApplied)

    def ri_leader(self) -> Any:
        return self._SyncObj__raftLeader

    def ri_voters(self) -> set[Any]:
        return set(self._SyncObj__otherNodes)

    def ri_send(self, node: Any, message: dict[str, Any]) -> None:
        self._SyncObj__transport.send(node, message)

    def ri_wake(self) -> None:
        self._SyncObj__pipeNotifier.notify()

    def journal_syncs(self) -> int:
        journal = self._SyncObj__raftLog
        return getattr(journal, "syncs", 0)
