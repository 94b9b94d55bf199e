"""The stores the stateful tests drive: the bare `KVStateMachine`, `StoreReplica`s through
`LocalClient`, replica processes through `HttpClient`; their watches; the event loop runner."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from raftkube.store import (
    Event,
    HttpClient,
    LeaseInfo,
    LocalClient,
    RangeResult,
    StoreClient,
    StoreError,
    StoreReplica,
)
from raftkube.store.errors import error_from_wire
from raftkube.store.mvcc import KVStateMachine, Outcome
from raftkube.store.past_reads import range_at
from raftkube.store.watch_hub import WatchResponse
from tests.store.kv_model import in_range, strip_prev

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
