"""Write batching: the commands submitted in one asyncio loop iteration go into one log entry.

Under many concurrent writers, most of a leader's cost per write was per *log entry*:
PySyncObj's pickling, encryption and send of each entry, a tick wake-up per command, one
callback and one loop-bridge post per command. `WriteBatcher.submit` queues the encoded
command and schedules one flush with `call_soon`; the flush sends everything queued since
as a single `batch` command (or the command itself when it is alone, so a lone writer's
latency is unchanged). The state machine applies each command of a batch in order as if it
were its own entry (own revision, own request-id dedupe, own result); the callback of the
batch settles every caller's future with its own result, in one loop-bridge post.

A batch is bounded in commands and bytes (an entry must stay far below PySyncObj's 4 MiB
AppendEntries limit). A caller cancelled before the flush is simply left out: its command
was never submitted. One timer per batch turns a batch that is not known applied within the
request timeout into `OutcomeUnknown` for each of its callers.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from pysyncobj import FAIL_REASON

from .errors import OutcomeUnknown, StoreError, Unavailable, error_from_wire
from .loop_bridge import LoopBridge
from .mvcc import Outcome
from .raft_node import encode_batch

MAX_BATCH_COMMANDS = 256
MAX_BATCH_BYTES = 1024 * 1024
Callback = Callable[[Any, int], None]
Submit = Callable[[bytes, Callback], None]

_NOT_APPLIED = {FAIL_REASON.QUEUE_FULL, FAIL_REASON.MISSING_LEADER, FAIL_REASON.NOT_LEADER,
                FAIL_REASON.REQUEST_DENIED, FAIL_REASON.DISCARDED}


class WriteBatcher:
    def __init__(self, loop: asyncio.AbstractEventLoop, bridge: LoopBridge, submit: Submit, timeout: float) -> None:
        self._loop = loop
        self._bridge = bridge
        self._submit = submit
        self._timeout = timeout
        self._blobs: list[bytes] = []
        self._futures: list[asyncio.Future[Outcome]] = []
        self.entries = 0  # log entries submitted (batches and lone commands)
        self.commands = 0

    def submit(self, blob: bytes) -> asyncio.Future[Outcome]:
        """Queue one encoded command; the future resolves with its own result once applied here."""
        future: asyncio.Future[Outcome] = self._loop.create_future()
        if not self._blobs:
            self._loop.call_soon(self._flush)
        self._blobs.append(blob)
        self._futures.append(future)
        return future

    def _flush(self) -> None:
        blobs, futures = self._blobs, self._futures
        self._blobs, self._futures = [], []
        group_blobs: list[bytes] = []
        group_futures: list[asyncio.Future[Outcome]] = []
        size = 0
        for blob, future in zip(blobs, futures, strict=True):
            if future.done():  # the caller gave up before its command was submitted
                continue
            if group_blobs and (len(group_blobs) >= MAX_BATCH_COMMANDS or size + len(blob) > MAX_BATCH_BYTES):
                self._send(group_blobs, group_futures)
                group_blobs, group_futures, size = [], [], 0
            group_blobs.append(blob)
            group_futures.append(future)
            size += len(blob)
        if group_blobs:
            self._send(group_blobs, group_futures)

    def _send(self, blobs: list[bytes], futures: list[asyncio.Future[Outcome]]) -> None:
        bridge = self._bridge
        timer = self._loop.call_later(self._timeout, _expire, futures, self._timeout)
        self.entries += 1
        self.commands += len(blobs)
        if len(blobs) == 1:
            future = futures[0]

            def done_one(result: Any, reason: int) -> None:
                bridge.post(_settle_one, future, timer, result, reason)
            self._submit(blobs[0], done_one)
            return

        def done_batch(result: Any, reason: int) -> None:
            bridge.post(_settle_batch, futures, timer, result, reason)
        self._submit(encode_batch(blobs), done_batch)


def _settle_one(future: asyncio.Future[Outcome], timer: asyncio.TimerHandle, result: Any, reason: int) -> None:
    timer.cancel()
    settle(future, result, reason)


def _settle_batch(futures: list[asyncio.Future[Outcome]], timer: asyncio.TimerHandle, result: Any,
                  reason: int) -> None:
    timer.cancel()
    if reason == FAIL_REASON.SUCCESS and isinstance(result, list) and len(result) == len(futures):
        for future, one in zip(futures, result, strict=True):
            settle(future, one, reason)
        return
    for future in futures:  # a failed entry (or an error for the whole batch) is every caller's
        settle(future, result, reason)


def _expire(futures: list[asyncio.Future[Outcome]], timeout: float) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(OutcomeUnknown(f"no commit within {timeout} s (no quorum, or a slow cluster); "
                                                "the command may still apply"))


def settle(future: asyncio.Future[Any], result: Any, reason: int) -> None:
    """Resolve `future` from a PySyncObj callback's (result, fail reason)."""
    if future.done():
        return
    if reason == FAIL_REASON.SUCCESS:
        if isinstance(result, StoreError):
            future.set_exception(error_from_wire(result.to_wire()))
        else:
            future.set_result(result)
    elif reason in _NOT_APPLIED:
        future.set_exception(Unavailable(f"not applied: no leader could take the command (reason {reason})"))
    else:
        future.set_exception(OutcomeUnknown(f"leader changed before the command was known committed (reason {reason})"))
