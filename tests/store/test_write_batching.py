"""Write batching: a batch entry applies like its commands one by one; the batcher's splitting and cancellation."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import msgpack
import pytest
from pysyncobj import FAIL_REASON

from raftkube.store.batcher import MAX_BATCH_BYTES, MAX_BATCH_COMMANDS, WriteBatcher
from raftkube.store.errors import InvalidRequest, OutcomeUnknown, Unavailable
from raftkube.store.loop_bridge import LoopBridge
from raftkube.store.mvcc import KVStateMachine
from raftkube.store.raft_node import encode_batch, encode_command
from raftkube.store.types import TxnResult
from raftkube.store.validation import check_command


def put_cmd(key: bytes, value: bytes, rid: bytes | None = None) -> dict[str, Any]:
    return {"t": "txn", "rid": rid, "cmp": [], "ok": [["put", key, value, 0, False]], "fail": []}


def test_a_batch_applies_each_command_as_its_own_revision_in_order() -> None:
    cmds = [put_cmd(b"k%d" % i, b"v%d" % i, b"r%d" % i) for i in range(5)]
    batched, one_by_one = KVStateMachine(), KVStateMachine()
    applied = batched.apply(msgpack.unpackb(encode_batch([encode_command(c) for c in cmds]), raw=False))
    singles = [one_by_one.apply(c) for c in cmds]
    assert applied.result == [s.result for s in singles]
    assert [r.revision for r in applied.result] == [2, 3, 4, 5, 6]  # type: ignore[union-attr]
    assert [e.kv.mod_revision for e in applied.events] == [2, 3, 4, 5, 6]
    assert applied.events == [e for s in singles for e in s.events]
    assert batched.digest() == one_by_one.digest()


def test_a_bad_or_repeated_command_in_a_batch_fails_alone() -> None:
    sm = KVStateMachine()
    first = sm.apply(put_cmd(b"a", b"1", b"rid-a")).result
    cmds = [put_cmd(b"b", b"2"), {"t": "txn", "ok": [["put", b"", b"x", 0, False]]}, put_cmd(b"a", b"again", b"rid-a"),
            {"t": "noop"}, put_cmd(b"d", b"4")]
    results = sm.apply({"t": "batch", "cmds": cmds}).result
    assert isinstance(results, list) and len(results) == 5
    assert isinstance(results[0], TxnResult) and results[0].revision == 3
    assert isinstance(results[1], InvalidRequest)
    assert results[2] == first  # the request id was seen: the first outcome, nothing applied
    assert results[3] == {"revision": 3}
    assert isinstance(results[4], TxnResult) and results[4].revision == 4
    assert [kv.key for kv in sm.range(b"a", b"z").kvs] == [b"a", b"b", b"d"]
    assert sm.range(b"a").kvs[0].value == b"1"


@pytest.mark.parametrize("cmd", [{"t": "batch", "cmds": []}, {"t": "batch"}, {"t": "batch", "cmds": "x"},
                                 {"t": "batch", "cmds": [{"t": "batch", "cmds": [{"t": "noop"}]}]}])
def test_malformed_batches_are_refused_whole(cmd: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        check_command(cmd)
    result = KVStateMachine().apply(cmd).result
    assert isinstance(result, InvalidRequest)


class FakeRaft:
    """Stands in for the consumer: records submitted entries; `answer` runs their callbacks."""

    def __init__(self) -> None:
        self.entries: list[tuple[bytes, Callable[[Any, int], None]]] = []

    def submit(self, blob: bytes, done: Callable[[Any, int], None]) -> None:
        self.entries.append((blob, done))

    def answer(self, reason: int = FAIL_REASON.SUCCESS) -> None:
        for blob, done in self.entries:
            cmd = msgpack.unpackb(blob, raw=False)
            if cmd["t"] == "batch":
                done([c["ok"][0][1] for c in cmd["cmds"]], reason)
            else:
                done(cmd["ok"][0][1], reason)
        self.entries = []


async def test_the_batcher_sends_one_entry_per_loop_iteration_and_gives_each_caller_its_result() -> None:
    raft = FakeRaft()
    batcher = WriteBatcher(asyncio.get_running_loop(), LoopBridge(asyncio.get_running_loop()), raft.submit, 5.0)
    futures = [batcher.submit(encode_command(put_cmd(b"k%d" % i, b"v"))) for i in range(10)]
    await asyncio.sleep(0)  # the flush runs on the loop's next turn
    assert len(raft.entries) == 1
    lone = batcher.submit(encode_command(put_cmd(b"alone", b"v")))
    await asyncio.sleep(0)
    assert len(raft.entries) == 2 and msgpack.unpackb(raft.entries[1][0], raw=False)["t"] == "txn"
    raft.answer()
    assert await asyncio.gather(*futures, lone) == [b"k%d" % i for i in range(10)] + [b"alone"]
    assert (batcher.entries, batcher.commands) == (2, 11)


async def test_the_batcher_splits_by_count_and_size_and_leaves_out_cancelled_callers() -> None:
    raft = FakeRaft()
    batcher = WriteBatcher(asyncio.get_running_loop(), LoopBridge(asyncio.get_running_loop()), raft.submit, 5.0)
    many = [batcher.submit(encode_command(put_cmd(b"n%d" % i, b"v"))) for i in range(MAX_BATCH_COMMANDS + 1)]
    big = b"x" * (MAX_BATCH_BYTES // 2)
    bigs = [batcher.submit(encode_command(put_cmd(b"b%d" % i, big))) for i in range(3)]
    gone = batcher.submit(encode_command(put_cmd(b"gone", b"v")))
    gone.cancel()
    await asyncio.sleep(0)
    sizes = [len(msgpack.unpackb(b, raw=False).get("cmds", [None])) for b, _ in raft.entries]
    assert sizes == [MAX_BATCH_COMMANDS, 2, 1, 1]  # 256 | 1 small + 1 big | 1 big | 1 big
    assert all(len(b) <= MAX_BATCH_BYTES + 1024 for b, _ in raft.entries)
    assert b"gone" not in b"".join(b for b, _ in raft.entries)
    raft.answer()
    assert len(await asyncio.gather(*many, *bigs)) == MAX_BATCH_COMMANDS + 4


async def test_a_failed_batch_fails_every_caller_and_a_silent_one_times_out() -> None:
    loop = asyncio.get_running_loop()
    raft = FakeRaft()
    batcher = WriteBatcher(loop, LoopBridge(loop), raft.submit, 0.05)
    refused = [batcher.submit(encode_command(put_cmd(b"r%d" % i, b"v"))) for i in range(3)]
    await asyncio.sleep(0)
    raft.answer(FAIL_REASON.NOT_LEADER)
    for future in refused:
        with pytest.raises(Unavailable):
            await future
    silent = [batcher.submit(encode_command(put_cmd(b"s%d" % i, b"v"))) for i in range(3)]
    for future in silent:
        with pytest.raises(OutcomeUnknown):
            await future
