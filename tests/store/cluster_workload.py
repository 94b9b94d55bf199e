"""Helpers for the store's process-level tests: writers, durability checks, watch recorder.

`Workload` runs writer tasks (one HttpClient each, all endpoints, each starting on a different
replica) that put fresh keys once each and record what was acknowledged and what failed.
`check_replicas` proves every acknowledged write is on every replica with its value and
revision, applied at most once. `WatchRecorder` keeps what one `HttpClient.watch` delivered.
Every wait here is a bounded poll.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from raftkube.local.store_cluster import LocalCluster
from raftkube.store.errors import OutcomeUnknown, StoreError, Unavailable
from raftkube.store.http_client import HttpClient
from raftkube.store.types import Event, KeyValue, prefix_end

POLL = 0.02


@dataclass(frozen=True)
class Write:
    """One put of a fresh key: acknowledged (revision > 0) or failed (error code)."""

    key: bytes
    value: bytes
    sent: float
    done: float
    revision: int = 0
    error: str = ""


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `predicate` until true; return the seconds waited, or raise TimeoutError."""
    start = time.monotonic()
    deadline = start + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not reached within {timeout} s")
        await asyncio.sleep(POLL)
    return time.monotonic() - start


def rotated(endpoints: list[str], first: int) -> list[str]:
    """The endpoints starting with endpoints[first] (HttpClient tries them in this order)."""
    first %= len(endpoints)
    return endpoints[first:] + endpoints[:first]


@dataclass
class Workload:
    """Writer tasks putting `<prefix>w<i>/<n>` keys, each key written once, until stopped."""

    endpoints: list[str]
    prefix: bytes
    writers: int = 6
    token: str = ""  # the store port's token (LocalCluster.store_token)
    deadline: float = 15.0
    request_timeout: float = 10.0
    pause: float = 0.0
    acked: list[Write] = field(default_factory=list)
    failed: list[Write] = field(default_factory=list)  # Unavailable / OutcomeUnknown: outcome to check
    unexpected: list[Write] = field(default_factory=list)  # any other error
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _clients: list[HttpClient] = field(default_factory=list)

    def start(self) -> Workload:
        for i in range(self.writers):
            client = HttpClient(rotated(self.endpoints, i), token=self.token, deadline=self.deadline,
                                request_timeout=self.request_timeout)
            self._clients.append(client)
            self._tasks.append(asyncio.create_task(self._writer(i, client)))
        return self

    async def _writer(self, wid: int, client: HttpClient) -> None:
        seq = 0
        while not self._stopping.is_set():
            seq += 1
            key = self.prefix + b"w%02d/%07d" % (wid, seq)
            value = b"%d:%d:%s" % (wid, seq, uuid.uuid4().hex[:12].encode())
            sent = time.monotonic()
            try:
                revision, _ = await client.put(key, value)
            except (Unavailable, OutcomeUnknown) as err:
                self.failed.append(Write(key, value, sent, time.monotonic(), error=err.code))
                continue
            except StoreError as err:
                self.unexpected.append(Write(key, value, sent, time.monotonic(), error=f"{err.code}: {err.message}"))
                continue
            self.acked.append(Write(key, value, sent, time.monotonic(), revision))
            if self.pause:
                await asyncio.sleep(self.pause)

    def acked_sent_after(self, t: float) -> int:
        return sum(1 for w in self.acked if w.sent >= t)

    async def wait_acked(self, count: int, sent_after: float = 0.0, timeout: float = 30.0) -> float:
        """Wait until `count` writes sent at or after `sent_after` are acknowledged."""
        return await wait_until(lambda: self.acked_sent_after(sent_after) >= count, timeout,
                                f"{count} acknowledged writes sent after {sent_after:.3f}")

    async def stop(self) -> None:
        self._stopping.set()
        _, pending = await asyncio.wait(self._tasks, timeout=self.deadline + self.request_timeout + 5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in self._clients:
            await client.close()

    def written(self) -> dict[bytes, bytes]:
        """key -> value of every put attempted (acknowledged or not)."""
        return {w.key: w.value for w in (*self.acked, *self.failed, *self.unexpected)}

    def max_revision(self) -> int:
        return max((w.revision for w in self.acked), default=0)


def ack_gap(acked: list[Write], event: float, after: float = 10.0) -> tuple[float, float]:
    """(largest interval between consecutive acks spanning or following `event` (for `after` s),
    seconds from `event` to the first ack of a write sent after it)."""
    times = sorted(w.done for w in acked)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b >= event and a <= event + after]
    first_after = min((w.done for w in acked if w.sent >= event), default=float("nan"))
    return max(gaps, default=float("nan")), first_after - event


# ------------------------------------------------------------------ checks
async def digests(endpoints: list[str], token: str) -> list[dict[str, object] | None]:
    async with httpx.AsyncClient(timeout=1.0, headers={"authorization": f"Bearer {token}"}) as http:
        async def one(endpoint: str) -> dict[str, object] | None:
            try:
                response = await http.get(endpoint + "/v1/digest")
                return response.json() if response.status_code == 200 else None
            except httpx.HTTPError:
                return None
        return list(await asyncio.gather(*(one(e) for e in endpoints)))


async def wait_converged(cluster: LocalCluster, indexes: list[int], min_revision: int = 0,
                         timeout: float = 30.0) -> dict[str, object]:
    """Wait until the replicas report the same digest at a revision >= min_revision; return it."""
    endpoints = [cluster.replicas[i].url for i in indexes]
    deadline = time.monotonic() + timeout
    seen: list[dict[str, object] | None] = []
    while time.monotonic() < deadline:
        seen = await digests(endpoints, cluster.store_token)
        first = seen[0]
        if first is not None and all(s == first for s in seen) and int(first["revision"]) >= min_revision:  # type: ignore[call-overload]
            return first
        await asyncio.sleep(0.05)
    raise AssertionError(f"replicas {indexes} did not converge at revision >= {min_revision} within {timeout} s: "
                         f"{seen}")


async def read_replica(endpoint: str, prefix: bytes, token: str) -> dict[bytes, KeyValue]:
    """Every key under `prefix` in one replica's local state (a serializable read, no failover)."""
    client = HttpClient([endpoint], token=token, deadline=5.0)
    try:
        result = await client.get_prefix(prefix, serializable=True)
    finally:
        await client.close()
    assert not result.more
    return {kv.key: kv for kv in result.kvs}


def problems_in(kvs: dict[bytes, KeyValue], load: Workload) -> list[str]:
    """What is wrong with one replica's keys: lost, altered or doubly applied writes, strangers."""
    found: list[str] = []
    for w in load.acked:
        kv = kvs.get(w.key)
        if kv is None:
            found.append(f"acknowledged {w.key!r} (revision {w.revision}) missing")
        elif (kv.value, kv.mod_revision, kv.version) != (w.value, w.revision, 1):
            found.append(f"{w.key!r}: acknowledged value {w.value!r} at revision {w.revision}, "
                         f"found {kv.value!r} at revision {kv.mod_revision} version {kv.version}")
    written = load.written()
    for key, kv in kvs.items():
        if key not in written:
            found.append(f"{key!r} was never written")
        elif kv.value != written[key] or kv.version != 1:
            found.append(f"{key!r}: found {kv.value!r} version {kv.version}, written once as {written[key]!r}")
    return found


async def check_replicas(cluster: LocalCluster, indexes: list[int], load: Workload,
                         timeout: float = 30.0) -> dict[str, object]:
    """Wait for the replicas to agree, then check every acknowledged write on each of them."""
    agreed = await wait_converged(cluster, indexes, load.max_revision(), timeout)
    for i in indexes:
        kvs = await read_replica(cluster.replicas[i].url, load.prefix, cluster.store_token)
        found = problems_in(kvs, load)
        assert not found, f"replica {cluster.replicas[i].name}: {len(found)} problems, first: {found[:5]}"
    return agreed


def links(cluster: LocalCluster) -> str:
    """Peer links each running replica reports connected, e.g. "s1 2/2, s2 1/2" (for printing)."""
    parts = []
    for i, replica in enumerate(cluster.replicas):
        status = cluster.status(i) if replica.running else None
        if status is not None:
            peers = [m for m in status["members"] if not m["self"]]
            parts.append(f"{replica.name} {sum(m['connected'] for m in peers)}/{len(peers)}")
    return ", ".join(parts)


def grep_logs(cluster: LocalCluster, needle: str) -> dict[str, list[str]]:
    """Lines containing `needle` in each replica's log file."""
    hits: dict[str, list[str]] = {}
    for replica in cluster.replicas:
        path = os.path.join(cluster.base_dir, f"{replica.name}.log")
        if not os.path.exists(path):
            continue
        with open(path, errors="replace") as f:
            lines = [line.rstrip() for line in f if needle in line]
        if lines:
            hits[replica.name] = lines
    return hits


# ------------------------------------------------------------------ watches
@dataclass
class WatchRecorder:
    """Runs `HttpClient.watch` on a prefix and records every event and the revision reached."""

    endpoints: list[str]
    prefix: bytes
    start_revision: int
    token: str = ""
    deadline: float = 15.0
    events: list[Event] = field(default_factory=list)
    revision: int = 0  # every matching event up to this revision has been delivered
    error: BaseException | None = None
    _client: HttpClient | None = None
    _task: asyncio.Task[None] | None = None

    def start(self) -> WatchRecorder:
        self._client = HttpClient(self.endpoints, token=self.token, deadline=self.deadline)
        self._task = asyncio.create_task(self._run(self._client))
        return self

    async def _run(self, client: HttpClient) -> None:
        try:
            async for response in client.watch(self.prefix, prefix_end(self.prefix), self.start_revision):
                self.events.extend(response.events)
                self.revision = max(self.revision, response.revision)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # kept for the test to report
            self.error = exc

    async def wait_revision(self, revision: int, timeout: float = 20.0) -> float:
        def reached() -> bool:
            if self.error is not None:
                raise AssertionError(f"watch failed: {self.error!r}")
            return self.revision >= revision
        return await wait_until(reached, timeout, f"watch delivery up to revision {revision}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client is not None:
            await self._client.close()


def watch_problems(recorder: WatchRecorder, final: dict[bytes, KeyValue], load: Workload) -> list[str]:
    """Compare what a watch delivered with the final state and the acknowledged writes."""
    found: list[str] = []
    revisions = [e.revision for e in recorder.events]
    for a, b in zip(revisions, revisions[1:], strict=False):
        if b <= a:
            found.append(f"revision {b} delivered after {a}")
    expected = sorted(kv.mod_revision for kv in final.values() if kv.mod_revision >= recorder.start_revision)
    if revisions != expected:
        missing = sorted(set(expected) - set(revisions))
        extra = sorted(set(revisions) - set(expected))
        found.append(f"delivered {len(revisions)} events, expected {len(expected)}: missing revisions "
                     f"{missing[:10]}, unexpected {extra[:10]}")
    by_revision = {e.revision: e for e in recorder.events}
    for w in load.acked:
        if w.revision < recorder.start_revision:
            continue
        event = by_revision.get(w.revision)
        if event is None:
            found.append(f"acknowledged write at revision {w.revision} not delivered")
        elif (event.type, event.kv.key, event.kv.value) != ("PUT", w.key, w.value):
            found.append(f"revision {w.revision}: delivered {event.type} {event.kv.key!r}={event.kv.value!r}, "
                         f"acknowledged PUT {w.key!r}={w.value!r}")
    return found


async def call_bounded(coro: Awaitable[object], limit: float) -> tuple[object | BaseException, float]:
    """Await `coro` for at most `limit` seconds: (its result or its exception, seconds taken)."""
    start = time.monotonic()
    try:
        result: object | BaseException = await asyncio.wait_for(coro, limit)
    except Exception as exc:  # the caller asserts on which error it was
        result = exc
    return result, time.monotonic() - start
