"""Hypothesis stateful tests of the replicated store against an independent model (kv_model).

One rule-based state machine drives random puts, deletes (single key and range), txns with
compares, leases, compactions, watches, limited ranges, request retries and invalid requests,
and compares every answer (results, revisions, create/mod revisions, versions, leases,
errors, watch events) with `KVModel`. It runs against four targets:

  (a) the bare `KVStateMachine` (a fresh one per example, many examples),
  (b) one `StoreReplica` with a data dir, through `LocalClient`,
  (c) three in-process replicas in one event loop, each call to a random replica,
  (d) three replica processes (`LocalCluster`) through `HttpClient`.

(b)-(d) keep one store per test function. Each example works under a fresh key prefix and
starts its model from the store's current revision and compact revision (nothing else writes
meanwhile and leases get a TTL of an hour), so revisions are predicted and compared exactly.
The event loop is driven with `run_until_complete` between steps; Raft runs in its threads.
Only (a) shrinks a failure (each shrink step on a replica costs real commits): a bug in the
state machine shows up there shrunk, one of the replica layers shows as the failing sequence.
A few plain tests at the end pin down the store bugs the machine found.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from raftkube.local.store_cluster import LocalCluster, free_port
from raftkube.store import (
    Compare,
    DeleteOp,
    Event,
    HttpClient,
    InvalidRequest,
    KeyValue,
    LeaseInfo,
    LocalClient,
    PutOp,
    RaftTuning,
    RangeOp,
    RangeResult,
    ReplicaConfig,
    StoreClient,
    StoreError,
    StoreReplica,
    TxnResult,
    prefix_end,
)
from raftkube.store.client import new_request_id
from raftkube.store.errors import error_from_wire
from raftkube.store.mvcc import KVStateMachine, Outcome
from raftkube.store.past_reads import range_at
from raftkube.store.types import RequestOp, txn_result_from_wire, txn_result_to_wire
from raftkube.store.watch_hub import WatchResponse

from .kv_model import KVModel, in_range, same_error, strip_prev

T = TypeVar("T")

KEYS = [b"a", b"a\xff", b"ab", b"b", b"ba", b"c", b"d"]
VALUES = [b"", b"x", b"y", b"zz", b"\x00\xff"]
PREFIXES = [b"", b"a", b"b", b"a\xff"]
NO_SUCH_LEASE = 999_999_999
TTLS = [3600, 7200, 86400]  # nothing expires while a test runs
MAX_VALUE = 1536 * 1024  # 1.5 MiB, the documented request limit
MAX_WATCHES = 4
CALL_TIMEOUT = 30.0
WATCH_TIMEOUT = 15.0


# --------------------------------------------------------------------------- event loop
class Runner:
    """An event loop driven from the test thread, one coroutine at a time."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, aw: Awaitable[T], timeout: float = CALL_TIMEOUT) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(aw, timeout))

    def close(self) -> None:
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.wait(pending))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


# ------------------------------------------------------------------------------ watches
class WatchHandle:
    """Events a watch delivered so far, and the error that ended it, if any."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.error: StoreError | None = None
        self.header = 0  # highest response revision seen: every event up to it has arrived
        self.problems: list[str] = []

    @property
    def established(self) -> bool:
        return True

    async def settle(self, revision: int, expected: int, complete: bool) -> None:
        """Wait until the watch has delivered everything up to `revision` (complete) or `expected` events."""

    async def close(self) -> None:
        return None


class VirtualWatch(WatchHandle):
    """A watch on the bare state machine: its history from `start`, then what each apply returns."""

    def __init__(self, sm: KVStateMachine, key: bytes, end: bytes, start: int, prev_kv: bool) -> None:
        super().__init__()
        self.key, self.end, self.start, self.prev_kv = key, end, start, prev_kv
        try:
            self.feed(sm.events_since(start, key, end))
        except StoreError as err:
            self.error = err

    def feed(self, events: list[Event]) -> None:
        if self.error is not None:
            return
        chosen = [e for e in events if e.revision >= self.start and in_range(e.kv.key, self.key, self.end)]
        self.events.extend(chosen if self.prev_kv else strip_prev(chosen))


class StreamWatch(WatchHandle):
    """A real watch stream, pumped by a task into `events`."""

    def __init__(self, stream: AsyncIterator[WatchResponse]) -> None:
        super().__init__()
        self.stream = stream
        self.ended = False
        self.responses = 0
        self.changed = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._pump())

    @property
    def established(self) -> bool:
        return self.responses > 0 or self.error is not None or self.ended

    async def _pump(self) -> None:
        try:
            async for response in self.stream:
                self.responses += 1
                revisions = [e.revision for e in response.events]
                if response.progress and response.events:
                    self.problems.append(f"progress response with events: {response}")
                if revisions and (revisions != sorted(revisions) or revisions[-1] > response.revision):
                    self.problems.append(f"response events out of order or past its revision: {response}")
                self.events.extend(response.events)
                self.header = max(self.header, response.revision)
                self.changed.set()
        except StoreError as err:
            self.error = err
        finally:
            self.ended = True
            self.changed.set()

    async def wait_for(self, done: Callable[[], bool], what: str) -> None:
        async def wait() -> None:
            while not done():
                self.changed.clear()
                await self.changed.wait()
        try:
            await asyncio.wait_for(wait(), WATCH_TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"watch did not deliver {what} within {WATCH_TIMEOUT} s: header {self.header}, "
                                 f"{len(self.events)} events {self.events}, error {self.error!r}") from None

    async def settle(self, revision: int, expected: int, complete: bool) -> None:
        if complete:
            await self.wait_for(lambda: self.ended or self.header >= revision, f"revision {revision}")
        else:
            await self.wait_for(lambda: self.ended or len(self.events) >= expected, f"{expected} events")

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, StoreError):
            await self.task
        aclose = getattr(self.stream, "aclose", None)
        if aclose is not None:
            await aclose()


# ------------------------------------------------------------------------------ targets
class DirectClient(StoreClient):
    """The StoreClient API straight on a KVStateMachine: no Raft, reads not validated."""

    def __init__(self, sm: KVStateMachine, on_events: Callable[[list[Event]], None]) -> None:
        self.sm = sm
        self.on_events = on_events

    async def execute(self, cmd: dict[str, Any]) -> Outcome:
        applied = self.sm.apply(cmd)
        self.on_events(applied.events)
        if isinstance(applied.result, StoreError):
            raise error_from_wire(applied.result.to_wire())
        return applied.result

    async def range(self, key: bytes, end: bytes = b"", limit: int = 0, keys_only: bool = False,
                    count_only: bool = False, serializable: bool = False, revision: int = 0) -> RangeResult:
        if revision:
            return range_at(self.sm, revision, key, end, limit, keys_only, count_only)
        return self.sm.range(key, end, limit, keys_only, count_only)

    async def leases(self, serializable: bool = False) -> list[LeaseInfo]:
        return self.sm.lease_list()

    def watch(self, key: bytes, end: bytes = b"", start_revision: int = 0,
              prev_kv: bool = False) -> AsyncIterator[WatchResponse]:
        raise NotImplementedError("watches on the bare state machine are VirtualWatch")

    async def status(self) -> dict[str, Any]:
        return {"revision": self.sm.revision, "compact_revision": self.sm.compact_revision}

    async def add_member(self, raft_addr: str) -> None:
        raise NotImplementedError

    async def remove_member(self, raft_addr: str) -> None:
        raise NotImplementedError


class Target:
    """A store under test, reached through one StoreClient per replica."""

    label = "target"
    fresh = False  # a new, empty store for every example
    streams = True  # real watch streams (else VirtualWatch)
    fast_progress = True  # watchers get progress notifications within a few tens of ms
    validates_reads = True  # range/watch arguments are checked (not on the bare state machine)
    internal_commands = False  # `expire` may be sent
    serializable_reads = False  # a serializable read on the replica of the last write is current
    start_now = False  # a watch with start_revision 0 can be opened at a known revision

    def __init__(self, clients: list[StoreClient]) -> None:
        self.clients = clients

    def client(self, via: int) -> StoreClient:
        return self.clients[via % len(self.clients)]

    def take_events(self) -> list[Event] | None:
        """The events of the last command applied (bare state machine only)."""
        return None

    async def open_watch(self, via: int, key: bytes, end: bytes, start: int, prev_kv: bool) -> WatchHandle:
        return StreamWatch(self.client(via).watch(key, end, start, prev_kv))

    async def check_replicas_agree(self, revision: int) -> None:
        return None


class MachineTarget(Target):
    label = "state-machine"
    fresh = True
    streams = False
    validates_reads = False
    internal_commands = True

    def __init__(self) -> None:
        self.sm = KVStateMachine()
        self.last_events: list[Event] = []
        self.watches: list[VirtualWatch] = []
        super().__init__([DirectClient(self.sm, self._applied)])

    def _applied(self, events: list[Event]) -> None:
        self.last_events = events
        for w in self.watches:
            w.feed(events)

    def take_events(self) -> list[Event] | None:
        events, self.last_events = self.last_events, []
        return events

    async def open_watch(self, via: int, key: bytes, end: bytes, start: int, prev_kv: bool) -> WatchHandle:
        w = VirtualWatch(self.sm, key, end, self.sm.revision + 1 if start == 0 else start, prev_kv)
        self.watches.append(w)
        return w


class ReplicaTarget(Target):
    """StoreReplicas in this process and loop, through LocalClient."""

    serializable_reads = True
    start_now = True

    def __init__(self, replicas: list[StoreReplica]) -> None:
        self.replicas = replicas
        self.label = f"{len(replicas)}-replica"
        super().__init__([LocalClient(r) for r in replicas])

    async def open_watch(self, via: int, key: bytes, end: bytes, start: int, prev_kv: bool) -> WatchHandle:
        client = self.client(via)
        replica = self.replicas[via % len(self.replicas)]
        hub = replica.hub
        assert hub is not None
        if start == 0:
            await client.range(b"/")  # a read barrier: the hub has published every committed write
        before = hub.watcher_count
        w = StreamWatch(client.watch(key, end, start, prev_kv))
        for _ in range(10):  # the pump task registers the watch on its first step
            if hub.watcher_count > before or w.ended:
                break
            await asyncio.sleep(0)
        assert hub.watcher_count > before or w.ended, "watch not registered"
        return w

    async def check_replicas_agree(self, revision: int) -> None:
        states = []
        for replica, client in zip(self.replicas, self.clients, strict=True):
            await client.range(b"/")
            states.append(replica.read_local(lambda sm: (sm.revision, sm.digest())))
        assert all(s == (revision, states[0][1]) for s in states), f"replicas disagree at {revision}: {states}"


class HttpTarget(Target):
    label = "http-cluster"
    fast_progress = False  # the replica processes send progress once a second

    def __init__(self, endpoints: list[str], token: str) -> None:
        self.endpoints = endpoints
        n = len(endpoints)
        # client i prefers replica i and fails over to the others
        self.http = [HttpClient([endpoints[(i + j) % n] for j in range(n)], token=token) for i in range(n)]
        super().__init__(list(self.http))

    async def check_replicas_agree(self, revision: int) -> None:
        states: list[tuple[int, str]] = []
        for _ in range(20):
            states = []
            for client, endpoint in zip(self.http, self.endpoints, strict=True):
                await client.range(b"/")
                d = await client.digest_of(endpoint)
                states.append((d["revision"], d["digest"]))
            if all(s == (revision, states[0][1]) for s in states):
                return
        raise AssertionError(f"replicas disagree at {revision}: {states}")

    async def close(self) -> None:
        for client in self.http:
            await client.close()


@dataclass
class Shared:
    """What carries over between the examples of one test function."""

    runner: Runner
    make_target: Callable[[], Target]
    examples: int = 0
    last_auto_lease: int = 0


# ---------------------------------------------------------------------------- strategies
keys = st.sampled_from(KEYS)
values = st.sampled_from(VALUES)
vias = st.integers(0, 2)
lease_picks = st.one_of(st.none(), st.integers(0, 7))  # None: no lease; else an index into known ids
range_specs = st.one_of(
    st.tuples(st.just("key"), keys),
    st.tuples(st.just("prefix"), st.sampled_from(PREFIXES)),
    st.tuples(st.just("interval"), keys, keys),
    st.tuples(st.just("from"), keys),
)
watch_specs = st.one_of(st.just(("prefix", b"")), range_specs)  # half of the watches see every key
compares = st.tuples(keys, st.sampled_from(["version", "create", "mod", "value", "lease"]),
                     st.sampled_from(["=", "!=", "<", ">"]), st.sampled_from(["actual", "zero", "revision"]),
                     st.integers(-1, 1), values)
put_ops = st.tuples(st.just("put"), keys, values, lease_picks, st.booleans())
del_ops = st.tuples(st.just("del"), range_specs, st.booleans())
range_ops = st.tuples(st.just("range"), range_specs, st.integers(0, 3), st.booleans(), st.booleans())
request_ops = st.lists(st.one_of(put_ops, del_ops, range_ops), max_size=4)

INVALID_EXEC = [
    "put-empty-key", "put-str-key", "put-oversize-value", "put-str-value", "put-negative-lease", "put-bool-lease",
    "put-int-prev-kv", "second-op-bad", "fail-negative-limit", "del-str-range-end", "range-bool-keys-only",
    "cmp-bad-target", "cmp-bad-op", "cmp-value-int-operand", "cmp-mod-bytes-operand", "cmp-negative-operand",
    "cmp-empty-key", "unknown-op", "op-wrong-arity", "too-many-ops", "cmp-not-list", "unknown-field",
    "unknown-command", "rid-too-long", "grant-zero-ttl", "grant-str-ttl", "grant-huge-ttl", "grant-negative-id",
    "keepalive-zero-id", "revoke-str-id", "compact-zero", "compact-str",
    "command-list-t", "cmp-list-target", "cmp-list-op",
    "api-put-empty-key", "api-put-str-value", "api-delete-empty-key", "api-grant-zero-ttl", "api-compact-zero",
]
INVALID_READ = ["range-empty-key", "range-str-key", "range-str-end", "range-negative-limit", "range-bool-limit",
                "range-negative-revision", "range-str-revision"]
INVALID_WATCH = ["watch-empty-key", "watch-str-key", "watch-str-end", "watch-negative-start"]


# ------------------------------------------------------------------------ state machine
@dataclass
class OpenWatch:
    handle: WatchHandle
    key: bytes
    end: bytes
    start: int  # first revision delivered
    prev_kv: bool
    via: int


@dataclass
class LastWrite:
    """A write sent with its own request id, and the answer it got: a retry must get the same."""

    cmd: dict[str, Any]
    result: Any
    error: StoreError | None


class StoreMachine(RuleBasedStateMachine):
    shared: ClassVar[Shared]

    def __init__(self) -> None:
        super().__init__()
        sh = self.shared
        sh.examples += 1
        self.example = sh.examples
        self.t = sh.make_target()
        self.P = b"/t%06d/" % self.example
        self.lease_base = 0 if self.t.fresh else 1_000_000 + 10 * self.example
        revision, compact = self.run(self._current())
        self.m = KVModel(revision, compact, 0 if self.t.fresh else sh.last_auto_lease, exact_lease_ids=self.t.fresh)
        self.base_revision = revision
        self.watches: list[OpenWatch] = []
        self.last_write: LastWrite | None = None
        self.last_writer = 0

    async def _current(self) -> tuple[int, int]:
        client = self.t.client(0)
        revision = (await client.range(b"/")).revision
        status = await client.status()
        assert status["revision"] == revision, f"status {status} after a read at revision {revision}"
        return revision, status["compact_revision"]

    # ------------------------------------------------------------------ helpers
    def run(self, aw: Awaitable[T]) -> T:
        return self.shared.runner.run(aw)

    def call(self, aw: Coroutine[Any, Any, T]) -> tuple[T | None, StoreError | None]:
        try:
            return self.run(aw), None
        except StoreError as err:
            return None, err

    def span(self, spec: tuple[Any, ...]) -> tuple[bytes, bytes]:
        kind = spec[0]
        if kind == "key":
            return self.P + spec[1], b""
        if kind == "prefix":
            return self.P + spec[1], prefix_end(self.P + spec[1])
        if kind == "interval":
            return self.P + spec[1], self.P + spec[2]
        return self.P + spec[1], b"\0"

    def past_revision(self, offset: int) -> int:
        """A revision still held, preferably one of this example's (earlier ones saw none of its keys)."""
        m = self.m
        low = max(m.compact_revision, self.base_revision)
        return low + offset % (m.revision - low + 1)

    def lease_for(self, pick: int | None) -> int:
        if pick is None:
            return 0
        choices = sorted(self.m.known_leases) + [NO_SUCH_LEASE]
        return choices[pick % len(choices)]

    def compare_of(self, c: tuple[Any, ...]) -> Compare:
        suffix, target, op, mode, delta, value = c
        key = self.P + suffix
        entry = self.m.kv.get(key)
        if target == "value":
            return Compare(key, "value", op, entry.value if mode == "actual" and entry is not None else value)
        actual = 0 if entry is None else getattr(entry, target)
        operand = {"actual": actual + delta, "zero": 0, "revision": self.m.revision + delta}[mode]
        return Compare(key, target, op, max(0, operand))

    def op_of(self, o: tuple[Any, ...]) -> RequestOp:
        if o[0] == "put":
            return PutOp(self.P + o[1], o[2], self.lease_for(o[3]), o[4])
        if o[0] == "del":
            key, end = self.span(o[1])
            return DeleteOp(key, end, o[2])
        key, end = self.span(o[1])
        return RangeOp(key, end, o[2], o[3], o[4])

    def expect(self, what: str, got: Any, err: StoreError | None, expected: Any) -> None:
        if isinstance(expected, StoreError):
            assert err is not None, f"{what}: answered {got!r}, expected {type(expected).__name__}({expected})"
            problem = same_error(err, expected)
            assert problem is None, f"{what}: {problem}"
        else:
            assert err is None, f"{what}: raised {type(err).__name__}({err}), expected {expected!r}"
            assert got == expected, f"{what}:\n  store {got!r}\n  model {expected!r}"

    def applied(self, via: int, events: list[Event]) -> None:
        """A command went through the log via `via` and produced `events`."""
        self.last_writer = via % len(self.t.clients)
        store_events = self.t.take_events()
        if store_events is not None:
            assert store_events == events, f"events of the apply:\n  store {store_events}\n  model {events}"

    def execute(self, via: int, cmd: dict[str, Any]) -> tuple[Any, StoreError | None]:
        got, err = self.call(self.t.client(via).execute(cmd))
        if "rid" in cmd:
            self.last_write = LastWrite(cmd, got, err)
        return got, err

    def check_revision_unchanged(self, via: int, what: str) -> None:
        store_events = self.t.take_events()
        assert not store_events, f"{what} produced events {store_events}"
        got = self.run(self.t.client(via).range(self.P, prefix_end(self.P)))
        assert got == self.m.range(self.P, prefix_end(self.P)), f"{what} changed the store: {got}"

    # -------------------------------------------------------------------- writes
    @rule(key=keys, value=values, lease=lease_picks, prev_kv=st.booleans(), via=vias)
    def put(self, key: bytes, value: bytes, lease: int | None, prev_kv: bool, via: int) -> None:
        k, lease_id = self.P + key, self.lease_for(lease)
        expected, events = self.m.txn([], [PutOp(k, value, lease_id, prev_kv)], [])
        got, err = self.call(self.t.client(via).put(k, value, lease_id, prev_kv))
        if isinstance(expected, TxnResult):
            expected_answer: Any = (expected.revision, expected.responses[0])
        else:
            expected_answer = expected
        self.expect(f"put({k!r}, {value!r}, lease={lease_id})", got, err, expected_answer)
        self.applied(via, events)

    @rule(key=keys, value=values, lease=lease_picks, prev_kv=st.booleans(), via=vias)
    def put_more(self, key: bytes, value: bytes, lease: int | None, prev_kv: bool, via: int) -> None:
        self.put(key, value, lease, prev_kv, via)

    @rule(spec=range_specs, prev_kv=st.booleans(), via=vias)
    def delete(self, spec: tuple[Any, ...], prev_kv: bool, via: int) -> None:
        key, end = self.span(spec)
        expected, events = self.m.txn([], [DeleteOp(key, end, prev_kv)], [])
        assert isinstance(expected, TxnResult)
        got, err = self.call(self.t.client(via).delete(key, end, prev_kv))
        self.expect(f"delete({key!r}, {end!r})", got, err, (expected.revision, expected.responses[0]))
        self.applied(via, events)

    @rule(cmps=st.lists(compares, max_size=3), ok=request_ops, fail=request_ops, raw=st.booleans(), via=vias)
    def txn(self, cmps: list[tuple[Any, ...]], ok: list[tuple[Any, ...]], fail: list[tuple[Any, ...]],
            raw: bool, via: int) -> None:
        compares_ = [self.compare_of(c) for c in cmps]
        success = [self.op_of(o) for o in ok]
        failure = [self.op_of(o) for o in fail]
        what = f"txn({compares_}, {success}, {failure})"
        expected, events = self.m.txn(compares_, success, failure)
        if raw:
            got, err = self.execute(via, {"t": "txn", "rid": new_request_id(), "cmp": [c.to_wire() for c in compares_],
                                          "ok": [o.to_wire() for o in success],
                                          "fail": [o.to_wire() for o in failure]})
        else:
            got, err = self.call(self.t.client(via).txn(compares_, success, failure))
        self.expect(what, got, err, expected)
        self.applied(via, events)

    @rule(cmps=st.lists(compares, max_size=3), ok=request_ops, fail=request_ops, raw=st.booleans(), via=vias)
    def txn_more(self, cmps: list[tuple[Any, ...]], ok: list[tuple[Any, ...]], fail: list[tuple[Any, ...]],
                 raw: bool, via: int) -> None:
        self.txn(cmps, ok, fail, raw, via)

    # -------------------------------------------------------------------- reads
    @rule(kind=st.sampled_from(["range", "range", "at", "get", "prefix", "all", "leases"]), spec=range_specs,
          limit=st.integers(0, 3), keys_only=st.booleans(), count_only=st.booleans(), serializable=st.booleans(),
          when=st.sampled_from(["past", "past", "current", "compacted", "future"]), offset=st.integers(0, 50),
          via=vias)
    def read(self, kind: str, spec: tuple[Any, ...], limit: int, keys_only: bool, count_only: bool,
             serializable: bool, when: str, offset: int, via: int) -> None:
        c = self.t.client(via)
        key, end = self.span(spec)
        if kind == "at":  # a read at a past revision
            m = self.m
            revision = {"past": self.past_revision(offset),
                        "current": m.revision, "compacted": 1 + offset % m.compact_revision,
                        "future": m.revision + 1 + offset % 2}[when]
            if when == "compacted" and m.compact_revision == 1:
                revision = m.revision
            got, err = self.call(c.range(key, end, limit, keys_only, count_only, revision=revision))
            self.expect(f"range [{key!r}, {end!r}) limit={limit} at revision {revision}", got, err,
                        m.range_at(revision, key, end, limit, keys_only, count_only))
            return
        if kind == "range":
            # a serializable read is current only on the replica that applied the last write
            serializable = serializable and self.t.serializable_reads and via % len(self.t.clients) == self.last_writer
            got: Any = self.run(c.range(key, end, limit, keys_only, count_only, serializable))
            expected: Any = self.m.range(key, end, limit, keys_only, count_only)
        elif kind == "get":
            got, expected = self.run(c.get(key)), self.m.get(key)
        elif kind == "prefix":
            got, expected = self.run(c.get_prefix(key, limit)), self.m.range(key, prefix_end(key), limit)
        elif kind == "all":
            got, expected = self.run(c.range(self.P, prefix_end(self.P))), self.m.range(self.P, prefix_end(self.P))
        else:
            got = sorted(self.run(c.leases()), key=lambda x: x.id)
            if not self.t.fresh:  # other examples' leases may still be there
                got = [x for x in got if x.id in self.m.known_leases]
            expected = self.m.lease_infos()
        assert got == expected, f"{kind} [{key!r}, {end!r}) limit={limit}:\n  store {got}\n  model {expected}"

    @invariant()
    def bare_state_matches(self) -> None:
        if not isinstance(self.t, MachineTarget):
            return
        sm = self.t.sm
        assert (sm.revision, sm.compact_revision) == (self.m.revision, self.m.compact_revision)
        got = [KeyValue(k, *v) for k, v in sm.kv.items()]
        expected = [self.m.kv[k].to_kv(k) for k in sorted(self.m.kv)]
        assert got == expected, f"state:\n  store {got}\n  model {expected}"
        assert sorted(sm.lease_list(), key=lambda x: x.id) == self.m.lease_infos()

    # ------------------------------------------------------------------- leases
    @rule(ttl=st.sampled_from(TTLS), wanted=st.one_of(st.just(0), st.integers(1, 6)), raw=st.booleans(),
          via=vias)
    def grant(self, ttl: int, wanted: int, raw: bool, via: int) -> None:
        lease_id = self.lease_base + wanted if wanted else 0
        if raw:
            got, err = self.execute(via, {"t": "grant", "rid": new_request_id(), "ttl": ttl, "id": lease_id})
        else:
            got, err = self.call(self.t.client(via).lease_grant(ttl, lease_id))
        assert wanted or err is None, f"grant(ttl={ttl}) raised {err!r}"
        assigned = got.id if isinstance(got, LeaseInfo) else 0
        self.expect(f"grant(ttl={ttl}, id={lease_id})", got, err, self.m.grant(ttl, lease_id, assigned))
        self.applied(via, [])

    @rule(pick=st.integers(0, 7), raw=st.booleans(), via=vias)
    def keepalive(self, pick: int, raw: bool, via: int) -> None:
        lease_id = self.lease_for(pick)
        if raw:
            got, err = self.execute(via, {"t": "keepalive", "rid": new_request_id(), "id": lease_id})
        else:
            got, err = self.call(self.t.client(via).lease_keepalive(lease_id))
        self.expect(f"keepalive({lease_id})", got, err, self.m.keepalive(lease_id))
        self.applied(via, [])

    @rule(pick=st.integers(0, 7), raw=st.booleans(), via=vias)
    def revoke(self, pick: int, raw: bool, via: int) -> None:
        lease_id = self.lease_for(pick)
        expected, events = self.m.revoke(lease_id)
        if raw:
            got, err = self.execute(via, {"t": "revoke", "rid": new_request_id(), "id": lease_id})
        else:
            got, err = self.call(self.t.client(via).lease_revoke(lease_id))
            expected = expected["revision"] if isinstance(expected, dict) else expected
        self.expect(f"revoke({lease_id})", got, err, expected)
        self.applied(via, events)

    @precondition(lambda self: self.t.internal_commands)
    @rule(pairs=st.lists(st.tuples(st.integers(0, 7), st.integers(-1, 1)), max_size=4))
    def expire(self, pairs: list[tuple[int, int]]) -> None:
        """The leader's expiry command, with current or stale renewal counts (and repeats)."""
        leases: list[tuple[int, int]] = []
        for pick, delta in pairs:
            lease_id = self.lease_for(pick)
            lease = self.m.leases.get(lease_id)
            leases.append((lease_id, max(0, (0 if lease is None else lease.renewals) + delta)))
        expected, events = self.m.expire(leases)
        got, err = self.call(self.t.client(0).execute({"t": "expire", "leases": [list(p) for p in leases]}))
        self.expect(f"expire({leases})", got, err, expected)
        self.applied(0, events)

    # --------------------------------------------------------------- compaction
    @rule(mode=st.sampled_from(["past", "current", "compacted", "future"]), offset=st.integers(0, 50),
          raw=st.booleans(), via=vias)
    def compact(self, mode: str, offset: int, raw: bool, via: int) -> None:
        m = self.m
        if mode == "past":
            rev = max(self.past_revision(offset), m.compact_revision + 1)
        elif mode == "current":
            rev = m.revision
        elif mode == "compacted":
            rev = 1 + offset % m.compact_revision
        else:
            rev = m.revision + 1 + offset % 3
        if isinstance(self.t, HttpTarget):  # a watch request may still be on its way: let it arrive first
            for w in self.watches:
                if w.start < rev and not w.handle.established:
                    assert isinstance(w.handle, StreamWatch)
                    self.run(w.handle.wait_for(lambda h=w.handle: h.established, "a first response"))
        expected = m.compact(rev)
        if raw:
            got, err = self.execute(via, {"t": "compact", "rid": new_request_id(), "rev": rev})
            if isinstance(expected, int):
                expected = {"revision": m.revision, "compact_revision": rev}
        else:
            got, err = self.call(self.t.client(via).compact(rev))
        self.expect(f"compact({rev})", got, err, expected)
        self.applied(via, [])

    # ------------------------------------------------------------------- retries
    @precondition(lambda self: self.last_write is not None)
    @rule(via=vias)
    def retry_last_write(self, via: int) -> None:
        """The same request id again (a retry after an unknown outcome): same answer, applied once."""
        last = self.last_write
        assert last is not None
        got, err = self.call(self.t.client(via).execute(last.cmd))
        what = f"retry of {last.cmd.get('t')} {last.cmd}"
        if last.error is not None:
            self.expect(what, got, err, last.error)
        else:
            self.expect(what, got, err, last.result)
        self.applied(via, [])
        self.check_revision_unchanged(via, what)

    # ------------------------------------------------------------------- watches
    @precondition(lambda self: len(self.watches) < MAX_WATCHES)
    @rule(spec=watch_specs, mode=st.sampled_from(["now", "now0", "past", "past", "compacted", "future"]),
          offset=st.integers(0, 50), prev_kv=st.booleans(), via=vias)
    def open_watch(self, spec: tuple[Any, ...], mode: str, offset: int, prev_kv: bool, via: int) -> None:
        m = self.m
        key, end = self.span(spec)
        if mode == "now0" and (self.t.start_now or not self.t.streams):
            start = 0
        elif mode in ("now", "now0"):
            start = m.revision + 1
        elif mode == "past":
            start = self.past_revision(offset)
        elif mode == "compacted" and m.compact_revision > 1:
            start = 1 + offset % (m.compact_revision - 1)
        else:
            start = m.revision + 1 + offset % 3
        handle = self.run(self.t.open_watch(via, key, end, start, prev_kv))
        error = m.watch_error(start)
        if error is not None:
            if isinstance(handle, StreamWatch):
                self.run(handle.wait_for(lambda: handle.ended, "its error"))
            assert handle.error is not None, f"watch from compacted revision {start}: no error, {handle.events}"
            problem = same_error(handle.error, error)
            assert problem is None, f"watch from {start}: {problem}"
            self.run(handle.close())
            return
        self.watches.append(OpenWatch(handle, key, end, m.watch_start(start), prev_kv, via))

    def check(self, w: OpenWatch, complete: bool) -> None:
        expected = self.m.watch_events(w.start, w.key, w.end, w.prev_kv)
        self.run(w.handle.settle(self.m.revision, len(expected), complete))
        h = w.handle
        what = f"watch [{w.key!r}, {w.end!r}) from {w.start} prev_kv={w.prev_kv} via {w.via}"
        assert h.error is None, f"{what} ended with {h.error!r}"
        assert not h.problems, f"{what}: {h.problems}"
        assert h.events == expected, f"{what}:\n  store {h.events}\n  model {expected}"

    @precondition(lambda self: self.watches)
    @rule(i=st.integers(0, MAX_WATCHES - 1))
    def check_watch(self, i: int) -> None:
        self.check(self.watches[i % len(self.watches)], self.t.fast_progress)

    @precondition(lambda self: self.watches)
    @rule(i=st.integers(0, MAX_WATCHES - 1))
    def close_watch(self, i: int) -> None:
        w = self.watches.pop(i % len(self.watches))
        self.check(w, self.t.fast_progress)
        self.run(w.handle.close())

    # ------------------------------------------------------------- bad requests
    def invalid_exec(self, name: str, via: int) -> tuple[Coroutine[Any, Any, Any], str]:
        c = self.t.client(via)
        k = self.P + b"a"
        put = PutOp(k, b"v").to_wire()

        def txn(ok: list[Any] | None = None, fail: list[Any] | None = None, cmp: Any = None,
                **extra: Any) -> Coroutine[Any, Any, Any]:
            return c.execute({"t": "txn", "rid": new_request_id(), "cmp": [] if cmp is None else cmp,
                              "ok": ok or [], "fail": fail or [], **extra})

        def cmd(**fields: Any) -> Coroutine[Any, Any, Any]:
            return c.execute({"rid": new_request_id(), **fields})

        cases: dict[str, Callable[[], tuple[Coroutine[Any, Any, Any], str]]] = {
            "put-empty-key": lambda: (txn([["put", b"", b"v", 0, False]]), "ok[0].key"),
            "put-str-key": lambda: (txn([["put", "k", b"v", 0, False]]), "ok[0].key"),
            "put-oversize-value": lambda: (txn([["put", k, b"x" * (MAX_VALUE + 1), 0, False]]), "ok[0].value"),
            "put-str-value": lambda: (txn([["put", k, "v", 0, False]]), "ok[0].value"),
            "put-negative-lease": lambda: (txn([["put", k, b"v", -1, False]]), "ok[0].lease"),
            "put-bool-lease": lambda: (txn([["put", k, b"v", True, False]]), "ok[0].lease"),
            "put-int-prev-kv": lambda: (txn([["put", k, b"v", 0, 1]]), "ok[0].prev_kv"),
            "second-op-bad": lambda: (txn([put, ["del", b"", b"", False]]), "ok[1].key"),
            "fail-negative-limit": lambda: (txn(fail=[["range", k, b"", -1, False, False]]), "fail[0].limit"),
            "del-str-range-end": lambda: (txn([["del", k, "z", False]]), "ok[0].range_end"),
            "range-bool-keys-only": lambda: (txn([["range", k, b"", 0, 1, False]]), "ok[0].keys_only"),
            "cmp-bad-target": lambda: (txn(cmp=[["cmp", k, "size", "=", 0]]), "cmp[0].target"),
            "cmp-bad-op": lambda: (txn(cmp=[["cmp", k, "mod", "<=", 0]]), "cmp[0].op"),
            "cmp-value-int-operand": lambda: (txn(cmp=[["cmp", k, "value", "=", 1]]), "cmp[0].operand"),
            "cmp-mod-bytes-operand": lambda: (txn(cmp=[["cmp", k, "mod", "=", b"1"]]), "cmp[0].operand"),
            "cmp-negative-operand": lambda: (txn([put], cmp=[["cmp", k, "version", ">", -1]]), "cmp[0].operand"),
            "cmp-empty-key": lambda: (txn(cmp=[["cmp", b"", "mod", "=", 0]]), "cmp[0].key"),
            "unknown-op": lambda: (txn([["get", k]]), "ok[0][0]"),
            "op-wrong-arity": lambda: (txn([["put", k, b"v"]]), "ok[0]"),
            "too-many-ops": lambda: (txn([put] * 129), "txn"),
            "cmp-not-list": lambda: (txn(cmp="x"), "cmp"),
            "unknown-field": lambda: (txn([put], extra=1), "extra"),
            "command-list-t": lambda: (cmd(t=["txn"]), "t"),
            "cmp-list-target": lambda: (txn(cmp=[["cmp", k, ["mod"], "=", 0]]), "cmp[0].target"),
            "cmp-list-op": lambda: (txn(cmp=[["cmp", k, "mod", ["="], 0]]), "cmp[0].op"),
            "unknown-command": lambda: (cmd(t="get"), "t"),
            "rid-too-long": lambda: (c.execute({"t": "txn", "rid": b"r" * 65, "cmp": [], "ok": [put], "fail": []}),
                                     "rid"),
            "grant-zero-ttl": lambda: (cmd(t="grant", ttl=0, id=0), "ttl"),
            "grant-str-ttl": lambda: (cmd(t="grant", ttl="60", id=0), "ttl"),
            "grant-huge-ttl": lambda: (cmd(t="grant", ttl=10 * 365 * 24 * 3600 + 1, id=0), "ttl"),
            "grant-negative-id": lambda: (cmd(t="grant", ttl=60, id=-5), "id"),
            "keepalive-zero-id": lambda: (cmd(t="keepalive", id=0), "id"),
            "revoke-str-id": lambda: (cmd(t="revoke", id="1"), "id"),
            "compact-zero": lambda: (cmd(t="compact", rev=0), "rev"),
            "compact-str": lambda: (cmd(t="compact", rev="1"), "rev"),
            "api-put-empty-key": lambda: (c.put(b"", b"v"), "ok[0].key"),
            "api-put-str-value": lambda: (c.put(k, "v"), "ok[0].value"),  # type: ignore[arg-type]
            "api-delete-empty-key": lambda: (c.delete(b""), "ok[0].key"),
            "api-grant-zero-ttl": lambda: (c.lease_grant(0), "ttl"),
            "api-compact-zero": lambda: (c.compact(0), "rev"),
            "range-empty-key": lambda: (c.range(b""), "key"),
            "range-str-key": lambda: (c.range("k"), "key"),  # type: ignore[arg-type]
            "range-str-end": lambda: (c.range(k, "z"), "range_end"),  # type: ignore[arg-type]
            "range-negative-limit": lambda: (c.range(k, prefix_end(k), -1), "limit"),
            "range-bool-limit": lambda: (c.range(k, prefix_end(k), True), "limit"),
            "range-negative-revision": lambda: (c.range(k, revision=-1), "revision"),
            "range-str-revision": lambda: (c.range(k, revision="1"), "revision"),  # type: ignore[arg-type]
        }
        return cases[name]()

    @rule(name=st.sampled_from(INVALID_EXEC + INVALID_READ + INVALID_WATCH), via=vias)
    def invalid_request(self, name: str, via: int) -> None:
        """Malformed input: InvalidRequest naming the field, and nothing written."""
        if name in INVALID_WATCH:
            if self.t.streams:
                self.invalid_watch(name, via)
            return
        if name in INVALID_READ and not self.t.validates_reads:
            return
        aw, field = self.invalid_exec(name, via)
        got, err = self.call(aw)
        self.expect(f"invalid request {name}", got, err, InvalidRequest(field, "..."))
        self.check_revision_unchanged(via, f"invalid request {name}")

    def invalid_watch(self, name: str, via: int) -> None:
        k = self.P + b"a"
        args, field = {
            "watch-empty-key": ((b"", b"", 0), "key"),
            "watch-str-key": (("k", b"", 0), "key"),
            "watch-str-end": ((k, "z", 0), "range_end"),
            "watch-negative-start": ((k, b"", -1), "start_revision"),
        }[name]
        handle = self.run(self.t.open_watch(via, *args, False))  # type: ignore[arg-type]
        assert isinstance(handle, StreamWatch)
        self.run(handle.wait_for(lambda: handle.ended, "its error"))
        self.expect(f"invalid watch {name}", handle.events, handle.error, InvalidRequest(field, "..."))
        self.run(handle.close())

    # ------------------------------------------------------------------ teardown
    def teardown(self) -> None:
        failing = sys.exc_info()[0] is not None
        try:
            if not failing:
                for w in self.watches:
                    self.check(w, complete=True)
                self.run(self.t.check_replicas_agree(self.m.revision))
        finally:
            with contextlib.suppress(Exception):
                for w in self.watches:
                    self.run(w.handle.close())
            self.watches.clear()
            if not self.t.fresh:  # leave no live lease behind
                for lease_id in sorted(self.m.leases):
                    got, err = self.call(self.t.client(0).lease_revoke(lease_id))
                    expected, _ = self.m.revoke(lease_id)
                    if not failing:
                        assert isinstance(expected, dict)
                        self.expect(f"cleanup revoke({lease_id})", got, err, expected["revision"])
            self.shared.last_auto_lease = self.m.last_auto_lease


# ------------------------------------------------------------- bugs found by the machine
def test_expire_naming_a_lease_twice_revokes_it_once() -> None:
    """A repeated id in `expire` must not crash apply half-way (keys deleted, revision not bumped)."""
    sm = KVStateMachine()
    lease = sm.apply({"t": "grant", "ttl": 60}).result
    assert isinstance(lease, LeaseInfo)
    sm.apply({"t": "txn", "ok": [PutOp(b"k", b"v", lease.id).to_wire()]})
    applied = sm.apply({"t": "expire", "leases": [[lease.id, 0], [lease.id, 0]]})
    assert applied.result == {"revision": 3, "expired": 1}
    assert [(e.type, e.kv.key, e.revision) for e in applied.events] == [("DELETE", b"k", 3)]
    assert sm.revision == 3 and not sm.kv and not sm.leases


def test_range_in_txn_reports_the_revision_it_read_at() -> None:
    """Same answer in-process and over the wire: a read before the txn's first write saw the old
    revision, a read after it saw the new one (etcd's rule)."""
    sm = KVStateMachine()
    result = sm.apply({"t": "txn", "ok": [RangeOp(b"k").to_wire(), PutOp(b"k", b"v").to_wire(),
                                          RangeOp(b"k").to_wire()]}).result
    assert isinstance(result, TxnResult) and result.revision == 2
    for answer in (result, txn_result_from_wire(txn_result_to_wire(result))):
        before, _, after = answer.responses
        assert isinstance(before, RangeResult) and isinstance(after, RangeResult)
        assert (before.kvs, before.revision) == ([], 1)
        assert after.revision == 2 == after.kvs[0].mod_revision


def test_fields_of_unhashable_type_are_invalid_requests() -> None:
    """A list where a name is expected is InvalidRequest(field), not a TypeError out of apply."""
    sm = KVStateMachine()
    for cmd, field in [({"t": ["txn"]}, "t"),
                       ({"t": "txn", "cmp": [["cmp", b"k", ["mod"], "=", 0]]}, "cmp[0].target"),
                       ({"t": "txn", "cmp": [["cmp", b"k", "mod", ["="], 0]]}, "cmp[0].op")]:
        result = sm.apply(cmd).result
        assert isinstance(result, InvalidRequest) and result.field == field, (cmd, result)
    assert sm.revision == 1


# ------------------------------------------------------------------------- entry points
def run_machine(label: str, shared: Shared, max_examples: int, steps: int, shrink: bool = True) -> None:
    machine = type(f"StoreMachine_{label}", (StoreMachine,), {"shared": shared})
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target] + ([Phase.shrink] if shrink else [])
    run_state_machine_as_test(machine, settings=settings(
        max_examples=max_examples, stateful_step_count=steps, deadline=None, database=None, phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))


def start_replicas(runner: Runner, base: Path, n: int) -> list[StoreReplica]:
    addrs = [f"127.0.0.1:{free_port()}" for _ in range(n)]
    secret = secrets.token_urlsafe(16)
    # One replica alone commits a command only on its next tick (50 ms by default): tick it often.
    # Three in one busy process: slower elections, so that a starved heartbeat does not change the
    # leader under a test that is not about failover.
    tuning = RaftTuning(tick_period=0.002) if n == 1 else RaftTuning(
        election_timeout_min=1.0, election_timeout_max=2.0, leader_fallback_timeout=0.8)
    replicas = [StoreReplica(ReplicaConfig(a, [p for p in addrs if p != a], data_dir=str(base / f"r{i}"),
                                           password=secret, progress_interval=0.02, tuning=tuning))
                for i, a in enumerate(addrs)]

    async def start() -> None:
        for r in replicas:
            await r.start()
        for r in replicas:
            await r.wait_ready(20)
    runner.run(start())
    return replicas


def stop_replicas(runner: Runner, replicas: list[StoreReplica]) -> None:
    async def stop() -> None:
        for r in replicas:
            await r.stop()
    runner.run(stop())


# PySyncObj's tick threads draw election timeouts from the global `random` while hypothesis draws
RAFT_THREADS_USE_RANDOM = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies:hypothesis.errors.HypothesisDeprecationWarning")


def test_state_machine_direct() -> None:
    """(a) A fresh KVStateMachine per example; every apply's events checked too; shrinks failures."""
    runner = Runner()
    try:
        run_machine("direct", Shared(runner, MachineTarget), max_examples=200, steps=60)
    finally:
        runner.close()


@RAFT_THREADS_USE_RANDOM
def test_single_replica(tmp_path: Path) -> None:
    """(b) One StoreReplica with a journal, through LocalClient, shared by all examples."""
    runner = Runner()
    replicas = start_replicas(runner, tmp_path, 1)
    target = ReplicaTarget(replicas)
    try:
        run_machine("one_replica", Shared(runner, lambda: target), max_examples=50, steps=50, shrink=False)
    finally:
        stop_replicas(runner, replicas)
        runner.close()


@RAFT_THREADS_USE_RANDOM
def test_three_replicas_in_process(tmp_path: Path) -> None:
    """(c) Three StoreReplicas in one loop; each call to a random one (linearizable reads)."""
    runner = Runner()
    replicas = start_replicas(runner, tmp_path, 3)
    target = ReplicaTarget(replicas)
    try:
        run_machine("three_replicas", Shared(runner, lambda: target), max_examples=50, steps=50, shrink=False)
    finally:
        stop_replicas(runner, replicas)
        runner.close()


@pytest.mark.cluster
def test_three_replica_processes_over_http(tmp_path: Path) -> None:
    """(d) Three `raftkube store` processes, through HttpClients that prefer different replicas."""
    runner = Runner()
    cluster = LocalCluster(str(tmp_path)).start()
    target = HttpTarget(cluster.endpoints, cluster.store_token)
    try:
        run_machine("http_cluster", Shared(runner, lambda: target), max_examples=15, steps=40, shrink=False)
    finally:
        with contextlib.suppress(Exception):
            runner.run(target.close())
        cluster.close()
        runner.close()
