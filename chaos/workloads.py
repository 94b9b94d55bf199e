"""Workloads that run while faults are injected; each records its operations into a History.

- `RegisterWorkload`: concurrent clients doing reads, writes and CAS increments on ~20 store keys
  through `HttpClient` (failover over all replicas, short deadlines).
- `SetWorkload`: adds of unique elements to a set (one key per element) plus a final read-set.
- `StoreWatchers`: one watch per replica on the chaos prefix, recording (revision, key, type).
- `ApiWorkload`: reads, unconditional updates and resourceVersion-CAS increments of ConfigMaps
  through `ApiClient`, recorded as register ops on key "ns/name" (value = data.value).

Outcomes: a value read or a write acknowledged is ``ok``; an error that proves the write did not
happen (store Unavailable, CAS compare failed, HTTP 4xx/503, no endpoint reached) is ``fail``;
anything else (timeouts, lost connections, 504, OutcomeUnknown) is ``info``. Every operation is
bounded by ``timeout`` (plus a little slack), so none can hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from typing import Any

from chaos.history import Definite, Recorder
from raftkube.client import AlreadyExists, ApiClient, ApiError, ApiUnavailable, NotFound, OutcomeUnknown
from raftkube.client.errors import ServerError
from raftkube.client.failover import RetryPolicy
from raftkube.store.errors import StoreError, Unavailable
from raftkube.store.http_client import HttpClient
from raftkube.store.types import Compare, PutOp, RangeOp

PREFIX = "/chaos/"
REG_PREFIX = PREFIX + "reg/"
SET_PREFIX = PREFIX + "set/"
CONFIGMAP = ("v1", "ConfigMap")
NAMESPACE = ("v1", "Namespace")


def _int(raw: bytes | None) -> int | None:
    return None if raw is None else int(raw.decode())


@dataclass
class Clients:
    """Shared knobs: op timeout, think time between ops, the RNG, and a stop event."""

    recorder: Recorder
    rng: random.Random
    timeout: float = 1.5
    think: float = 0.02
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    next_process: int = 0
    store_token: str | None = None  # bearer token of the store ports
    ca_file: str | None = None  # the CA of the API servers' certificates

    def process(self) -> int:
        self.next_process += 1
        return self.next_process - 1

    async def pause(self) -> None:
        await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.think)

    async def bounded(self, coro: Any) -> Any:
        return await asyncio.wait_for(coro, self.timeout + 1.0)


def store_client(endpoints: list[str], ctx: Clients) -> HttpClient:
    order = list(endpoints)
    ctx.rng.shuffle(order)
    return HttpClient(order, token=ctx.store_token, deadline=ctx.timeout, request_timeout=ctx.timeout)


class RegisterWorkload:
    """Reads, writes and CAS increments on `keys` registers under REG_PREFIX."""

    def __init__(self, ctx: Clients, endpoints: list[str], keys: int = 20, clients: int = 5) -> None:
        self.ctx, self.endpoints, self.clients = ctx, endpoints, clients
        self.keys = [f"{REG_PREFIX}k{i:02d}" for i in range(keys)]

    async def run(self) -> None:
        await asyncio.gather(*(self._client() for _ in range(self.clients)))

    async def _client(self) -> None:
        ctx = self.ctx
        client = store_client(self.endpoints, ctx)
        known: dict[str, int] = {}
        process = ctx.process()
        try:
            for _ in range(10_000_000):
                if ctx.stop.is_set():
                    return
                key = ctx.rng.choice(self.keys)
                roll = ctx.rng.random()
                if roll < 0.4:
                    done = await self.read(client, process, key, known)
                elif roll < 0.7:
                    done = await self.write(client, process, key, ctx.rng.randrange(10), known)
                else:
                    done = await self.cas(client, process, key, known)
                if done.type == "info":  # that op stays open forever: go on as a new process
                    process = ctx.process()
                await ctx.pause()
        finally:
            await client.close()

    async def read(self, client: HttpClient, process: int, key: str, known: dict[str, int] | None = None) -> Any:
        async with self.ctx.recorder.op(process, "read", key, None) as op:
            kv = await self.ctx.bounded(client.get(key.encode()))
            op.result = _int(kv.value if kv else None)
            if known is not None and op.result is not None:
                known[key] = op.result
        return op.completion

    async def write(self, client: HttpClient, process: int, key: str, value: int, known: dict[str, int]) -> Any:
        async with self.ctx.recorder.op(process, "write", key, value) as op:
            try:
                await self.ctx.bounded(client.put(key.encode(), str(value).encode()))
            except Unavailable as exc:
                raise Definite(str(exc)) from None
            op.result = value
            known[key] = value
        return op.completion

    async def cas(self, client: HttpClient, process: int, key: str, known: dict[str, int]) -> Any:
        expected = known.get(key, self.ctx.rng.randrange(10))
        async with self.ctx.recorder.op(process, "cas", key, [expected, expected + 1]) as op:
            try:
                result = await self.ctx.bounded(client.txn(
                    [Compare(key.encode(), "value", "=", str(expected).encode())],
                    [PutOp(key.encode(), str(expected + 1).encode())], [RangeOp(key.encode())]))
            except Unavailable as exc:
                raise Definite(str(exc)) from None
            if not result.succeeded:
                known.pop(key, None)
                raise Definite("compare failed")
            op.result = [expected, expected + 1]
            known[key] = expected + 1
        return op.completion

    async def final_reads(self, attempts: int = 10) -> None:
        """One successful read per key after the faults (retried a bounded number of times)."""
        client = store_client(self.endpoints, self.ctx)
        try:
            for key in self.keys:
                for _ in range(attempts):
                    if (await self.read(client, self.ctx.process(), key)).type == "ok":
                        break
        finally:
            await client.close()


class SetWorkload:
    """Adds unique integers to set `name` (key SET_PREFIX/name/<element>); `acknowledged` maps key -> revision."""

    def __init__(self, ctx: Clients, endpoints: list[str], name: str = "s0", clients: int = 2) -> None:
        self.ctx, self.endpoints, self.name, self.clients = ctx, endpoints, name, clients
        self.acknowledged: dict[str, int] = {}
        self._next = 0

    def element_key(self, element: int) -> str:
        return f"{SET_PREFIX}{self.name}/{element:08d}"

    async def run(self) -> None:
        await asyncio.gather(*(self._client() for _ in range(self.clients)))

    async def _client(self) -> None:
        ctx = self.ctx
        client = store_client(self.endpoints, ctx)
        process = ctx.process()
        try:
            for _ in range(10_000_000):
                if ctx.stop.is_set():
                    return
                element, self._next = self._next, self._next + 1
                async with ctx.recorder.op(process, "add", self.name, element) as op:
                    try:
                        revision, _ = await ctx.bounded(client.put(self.element_key(element).encode(), b"1"))
                    except Unavailable as exc:
                        raise Definite(str(exc)) from None
                    self.acknowledged[self.element_key(element)] = revision
                if op.completion is not None and op.completion.type == "info":
                    process = ctx.process()
                await ctx.pause()
        finally:
            await client.close()

    async def final_read(self, attempts: int = 10) -> bool:
        client = store_client(self.endpoints, self.ctx)
        prefix = f"{SET_PREFIX}{self.name}/".encode()
        try:
            for _ in range(attempts):
                async with self.ctx.recorder.op(self.ctx.process(), "read-set", self.name, None) as op:
                    result = await self.ctx.bounded(client.get_prefix(prefix))
                    op.result = sorted(int(kv.key[len(prefix):]) for kv in result.kvs)
                if op.completion is not None and op.completion.type == "ok":
                    return True
            return False
        finally:
            await client.close()


class StoreWatchers:
    """A watch per replica on PREFIX from revision 1; streams labelled "<replica>:<prefix>"."""

    def __init__(self, endpoints: dict[str, str], token: str | None = None, deadline: float = 3600.0) -> None:
        self.endpoints, self.token, self.deadline = endpoints, token, deadline
        self.streams: dict[str, list[tuple[int, str, str]]] = {f"{name}:{PREFIX}": [] for name in endpoints}
        self.errors: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._watch(name, url)) for name, url in self.endpoints.items()]

    def last_revision(self, name: str) -> int:
        stream = self.streams[f"{name}:{PREFIX}"]
        return stream[-1][0] if stream else 0

    async def _watch(self, name: str, url: str) -> None:
        stream = self.streams[f"{name}:{PREFIX}"]
        client = HttpClient([url], token=self.token, deadline=self.deadline, request_timeout=5.0)
        end = PREFIX[:-1] + chr(ord(PREFIX[-1]) + 1)
        try:
            for _ in range(1_000_000):
                start = stream[-1][0] + 1 if stream else 1
                try:
                    async for response in client.watch(PREFIX.encode(), end.encode(), start_revision=start):
                        for event in response.events:
                            stream.append((event.revision, event.kv.key.decode(), event.type))
                except StoreError as exc:  # e.g. compacted: note it and resume after what we have
                    self.errors.append(f"{name}: {exc.__class__.__name__}: {exc}")
                    await asyncio.sleep(0.2)
        finally:
            await client.close()

    async def wait_caught_up(self, revision: int, timeout: float = 15.0) -> bool:
        """Wait until every stream has delivered `revision` (the last acknowledged write's)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if all(self.last_revision(name) >= revision for name in self.endpoints):
                return True
            await asyncio.sleep(0.05)
        return False

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _definite_api_error(err: ApiError) -> bool:
    """An API error that proves a write was not applied."""
    if isinstance(err, (OutcomeUnknown,)):
        return False
    if isinstance(err, ApiUnavailable):
        return True  # never reached a server
    return 400 <= err.code < 500 or (isinstance(err, ServerError) and err.code == 503)


class ApiWorkload:
    """ConfigMaps `ns/cm-<i>` as registers: value = int(data.value), None while the ConfigMap does not exist."""

    def __init__(self, ctx: Clients, api_urls: list[str], token: str, objects: int = 5, clients: int = 2,
                 namespace: str = "chaos") -> None:
        self.ctx, self.urls, self.token, self.clients, self.namespace = ctx, api_urls, token, clients, namespace
        self.names = [f"cm-{i}" for i in range(objects)]

    def client(self) -> ApiClient:
        urls = list(self.urls)
        self.ctx.rng.shuffle(urls)
        return ApiClient(urls, self.token, self.ctx.ca_file, timeout=self.ctx.timeout,
                         retry=RetryPolicy(deadline=self.ctx.timeout, backoff_max=0.2))

    def key(self, name: str) -> str:
        return f"{self.namespace}/{name}"

    async def setup(self) -> None:
        """Create the namespace; the ConfigMaps are created by the first write of each (initially absent)."""
        async with self.client() as api:
            with contextlib.suppress(AlreadyExists):
                await api.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": self.namespace}})

    async def run(self) -> None:
        await asyncio.gather(*(self._client() for _ in range(self.clients)))

    async def _client(self) -> None:
        ctx = self.ctx
        process = ctx.process()
        async with self.client() as api:
            for _ in range(10_000_000):
                if ctx.stop.is_set():
                    return
                name = ctx.rng.choice(self.names)
                roll = ctx.rng.random()
                if roll < 0.4:
                    done, _obj = await self.read(api, process, name)
                elif roll < 0.7:
                    done = await self.write(api, process, name, ctx.rng.randrange(10))
                else:
                    done, obj = await self.read(api, process, name)
                    if done.type == "ok" and obj is not None:
                        done = await self.cas(api, process, name, obj)
                if done.type == "info":
                    process = ctx.process()
                await ctx.pause()

    async def read(self, api: ApiClient, process: int, name: str) -> tuple[Any, dict[str, Any] | None]:
        obj = None
        async with self.ctx.recorder.op(process, "read", self.key(name), None) as op:
            try:
                obj = await self.ctx.bounded(api.get(CONFIGMAP, name, self.namespace))
                op.result = int((obj.get("data") or {}).get("value", "0"))
            except NotFound:
                op.result = None
        return op.completion, obj

    async def write(self, api: ApiClient, process: int, name: str, value: int) -> Any:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": self.namespace},
                "data": {"value": str(value)}}
        async with self.ctx.recorder.op(process, "write", self.key(name), value) as op:
            try:
                try:
                    await self.ctx.bounded(api.update(CONFIGMAP, body, self.namespace))
                except NotFound:  # definitely not written: create it instead (AlreadyExists: not written either)
                    await self.ctx.bounded(api.create(CONFIGMAP, body, self.namespace))
            except ApiError as err:
                if _definite_api_error(err):
                    raise Definite(str(err)) from None
                raise
            op.result = value
        return op.completion

    async def cas(self, api: ApiClient, process: int, name: str, obj: dict[str, Any]) -> Any:
        """Increment conditionally on the resourceVersion just read (a Conflict = compare failed)."""
        value = int((obj.get("data") or {}).get("value", "0"))
        body = {**obj, "data": {"value": str(value + 1)}}
        async with self.ctx.recorder.op(process, "cas", self.key(name), [value, value + 1]) as op:
            try:
                await self.ctx.bounded(api.update(CONFIGMAP, body, self.namespace))
            except ApiError as err:
                if _definite_api_error(err):
                    raise Definite(str(err)) from None
                raise
            op.result = [value, value + 1]
        return op.completion

    async def final_reads(self, attempts: int = 10) -> None:
        async with self.client() as api:
            for name in self.names:
                for _ in range(attempts):
                    done, _obj = await self.read(api, self.ctx.process(), name)
                    if done.type == "ok":
                        break
