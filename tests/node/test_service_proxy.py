"""The service proxy against the in-process API server: the tests write Services and Endpoints themselves
(no controllers) and the pods are small asyncio TCP servers on 127.98.x.y addresses."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import os
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from raftkube.client import ApiClient, NotFound
from raftkube.node.proxy_table import Backend, Listener, ProxyTable
from raftkube.node.service_proxy import HIGH_WATER, ServiceProxy
from tests.api.inproc import TOKEN, InProcessAPI, running_api

Obj = dict[str, Any]
SERVICE, ENDPOINTS, NAMESPACE = ("v1", "Service"), ("v1", "Endpoints"), ("v1", "Namespace")
WAIT = 10.0  # seconds: a bounded wait for anything (never a timing assertion)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
_pod_ips = iter(f"127.98.{200 + n // 250}.{1 + n % 250}" for n in range(10_000))


@pytest.fixture(scope="module")
def api() -> Iterator[InProcessAPI]:
    with running_api() as server:
        yield server


@pytest.fixture
async def client(api: InProcessAPI) -> AsyncIterator[ApiClient]:
    async with ApiClient(api.url, TOKEN) as client:
        yield client


@pytest.fixture
async def ns(client: ApiClient, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    name = request.node.name.replace("_", "-")[:50].strip("-") + f"-{os.getpid() % 1000}"
    await client.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    for service in (await client.list(SERVICE, name))["items"]:
        with contextlib.suppress(Exception):
            await client.delete(SERVICE, service["metadata"]["name"], name)


@pytest.fixture
async def proxy(client: ApiClient) -> AsyncIterator[ServiceProxy]:
    proxy = ServiceProxy(client)
    await proxy.start(timeout=WAIT)
    yield proxy
    await proxy.stop()


# ------------------------------------------------------------------ pods, services, endpoints
class Pods:
    """Small TCP servers on pod addresses, closed at the end of the test."""

    def __init__(self) -> None:
        self.servers: list[asyncio.Server] = []

    async def start(self, handler: Handler) -> Backend:
        ip = next(_pod_ips)
        server = await asyncio.start_server(handler, ip, 0)
        self.servers.append(server)
        return Backend(ip, server.sockets[0].getsockname()[1])

    async def whoami(self, name: str) -> Backend:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(name.encode())
            await writer.drain()
            writer.close()
        return await self.start(answer)

    async def echo(self) -> Backend:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for _ in range(100_000):
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            writer.close()
        return await self.start(echo)

    def close(self) -> None:
        for server in self.servers:
            server.close()


@pytest.fixture
async def pods() -> AsyncIterator[Pods]:
    pods = Pods()
    yield pods
    pods.close()


async def create_service(client: ApiClient, ns: str, name: str, ports: list[Obj], kind: str = "ClusterIP") -> Obj:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": kind, "ports": ports}}
    return await client.create(SERVICE, body, ns)


async def write_endpoints(client: ApiClient, ns: str, name: str,
                          backends: list[Backend] | dict[str, list[Backend]]) -> None:
    """Create or replace an Endpoints: one subset per backend (their ports differ), by port name."""
    by_name = backends if isinstance(backends, dict) else {"": backends}
    subsets = [{"addresses": [{"ip": b.ip}], "ports": [{"port": b.port, **({"name": port} if port else {})}]}
               for port, listed in by_name.items() for b in listed]
    body = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name}, "subsets": subsets}
    try:
        current = await client.get(ENDPOINTS, name, ns)
    except NotFound:
        await client.create(ENDPOINTS, body, ns)
        return
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    await client.update(ENDPOINTS, body, ns)


def cluster_listener(service: Obj, port_index: int = 0) -> Listener:
    port = service["spec"]["ports"][port_index]
    meta = service["metadata"]
    return Listener(service["spec"]["clusterIP"], port["port"], "TCP", meta["namespace"], meta["name"],
                    port.get("name") or "")


def has(listener: Listener, backends: list[Backend] | None = None) -> Callable[[ProxyTable], bool]:
    return lambda table: listener in table and (backends is None or set(table[listener]) == set(backends))


async def ask(address: str, port: int) -> bytes:
    """Connect, read until the server closes, return what it sent."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), WAIT)
    try:
        return await asyncio.wait_for(reader.read(), WAIT)
    finally:
        writer.close()


async def eventually(condition: Callable[[], bool]) -> None:
    """A bounded poll, for what no event announces (the proxy's connection count)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


# ------------------------------------------------------------------ tests
async def test_cluster_ip_port_forwards_to_the_endpoint(client: ApiClient, ns: str, pods: Pods,
                                                        proxy: ServiceProxy) -> None:
    backend = await pods.whoami("pod-a")
    service = await create_service(client, ns, "web", [{"port": 8080, "targetPort": 80}])
    await write_endpoints(client, ns, "web", [backend])
    listener = cluster_listener(service)
    assert listener.address.startswith("127.96.")
    await proxy.wait_for(has(listener, [backend]), WAIT)
    assert await ask(listener.address, 8080) == b"pod-a"
    assert proxy.stats.forwarded == 1


async def test_node_port_on_127_0_0_1_forwards(client: ApiClient, ns: str, pods: Pods, proxy: ServiceProxy) -> None:
    backend = await pods.whoami("pod-np")
    service = await create_service(client, ns, "np", [{"port": 8081}], kind="NodePort")
    node_port = service["spec"]["ports"][0]["nodePort"]
    await write_endpoints(client, ns, "np", [backend])
    node_listener = Listener("127.0.0.1", node_port, "TCP", ns, "np", "")
    await proxy.wait_for(lambda t: has(node_listener, [backend])(t) and has(cluster_listener(service), [backend])(t),
                         WAIT)
    assert await ask("127.0.0.1", node_port) == b"pod-np"
    assert await ask(service["spec"]["clusterIP"], 8081) == b"pod-np"


async def test_connections_spread_round_robin_over_three_backends(client: ApiClient, ns: str, pods: Pods,
                                                                 proxy: ServiceProxy) -> None:
    backends = [await pods.whoami(f"pod-{i}") for i in range(3)]
    service = await create_service(client, ns, "rr", [{"port": 8082}])
    await write_endpoints(client, ns, "rr", backends)
    await proxy.wait_for(has(cluster_listener(service), backends), WAIT)
    answers = [await ask(service["spec"]["clusterIP"], 8082) for _ in range(9)]
    assert sorted(answers) == sorted([b"pod-0", b"pod-1", b"pod-2"] * 3)
    assert all(len(set(answers[i:i + 3])) == 3 for i in range(7)), answers  # a strict rotation


async def test_endpoint_changes_are_followed(client: ApiClient, ns: str, pods: Pods, proxy: ServiceProxy) -> None:
    a, b, c = await pods.whoami("a"), await pods.whoami("b"), await pods.whoami("c")
    service = await create_service(client, ns, "moving", [{"port": 8083}])
    listener, ip = cluster_listener(service), service["spec"]["clusterIP"]
    await write_endpoints(client, ns, "moving", [a, b])
    await proxy.wait_for(has(listener, [a, b]), WAIT)
    assert {await ask(ip, 8083) for _ in range(4)} == {b"a", b"b"}
    await write_endpoints(client, ns, "moving", [b])
    await proxy.wait_for(has(listener, [b]), WAIT)
    assert {await ask(ip, 8083) for _ in range(4)} == {b"b"}
    await write_endpoints(client, ns, "moving", [b, c])
    await proxy.wait_for(has(listener, [b, c]), WAIT)
    assert {await ask(ip, 8083) for _ in range(4)} == {b"b", b"c"}


async def test_an_open_connection_keeps_its_backend_when_the_endpoints_change(
        client: ApiClient, ns: str, pods: Pods, proxy: ServiceProxy) -> None:
    old, new = await pods.echo(), await pods.whoami("new")
    service = await create_service(client, ns, "keep", [{"port": 8084}])
    listener, ip = cluster_listener(service), service["spec"]["clusterIP"]
    await write_endpoints(client, ns, "keep", [old])
    await proxy.wait_for(has(listener, [old]), WAIT)
    reader, writer = await asyncio.open_connection(ip, 8084)
    writer.write(b"before")
    assert await asyncio.wait_for(reader.readexactly(6), WAIT) == b"before"
    await write_endpoints(client, ns, "keep", [new])
    await proxy.wait_for(has(listener, [new]), WAIT)
    writer.write(b"after")
    assert await asyncio.wait_for(reader.readexactly(5), WAIT) == b"after"
    writer.close()
    assert await ask(ip, 8084) == b"new"


async def test_deleted_service_closes_its_listener(client: ApiClient, ns: str, pods: Pods,
                                                   proxy: ServiceProxy) -> None:
    backend = await pods.whoami("gone-soon")
    service = await create_service(client, ns, "gone", [{"port": 8085}], kind="NodePort")
    node_port = service["spec"]["ports"][0]["nodePort"]
    await write_endpoints(client, ns, "gone", [backend])
    listener = cluster_listener(service)
    await proxy.wait_for(has(listener, [backend]), WAIT)
    assert await ask(listener.address, 8085) == b"gone-soon"
    await client.delete(SERVICE, "gone", ns)
    await proxy.wait_for(lambda table: not any(known.service == "gone" for known in table), WAIT)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(listener.address, 8085)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", node_port)


async def test_a_service_without_ready_endpoints_closes_connections_at_once(
        client: ApiClient, ns: str, proxy: ServiceProxy) -> None:
    service = await create_service(client, ns, "empty", [{"port": 8086}])
    listener = cluster_listener(service)
    await proxy.wait_for(has(listener, []), WAIT)
    reader, writer = await asyncio.open_connection(listener.address, 8086)
    writer.write(b"hello?")
    try:
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
    except ConnectionResetError:
        pass  # a reset is as good a refusal as an EOF
    writer.close()
    assert proxy.stats.rejected == 1 and proxy.stats.forwarded == 0


async def test_a_refusing_backend_is_skipped(client: ApiClient, ns: str, pods: Pods, proxy: ServiceProxy) -> None:
    live = await pods.whoami("live")
    probe = socket.socket()
    probe.bind((next(_pod_ips), 0))
    dead = Backend(*probe.getsockname())
    probe.close()  # nothing listens there any more: connections are refused
    service = await create_service(client, ns, "flaky", [{"port": 8087}])
    await write_endpoints(client, ns, "flaky", [dead, live])
    await proxy.wait_for(has(cluster_listener(service), [dead, live]), WAIT)
    assert [await ask(service["spec"]["clusterIP"], 8087) for _ in range(4)] == [b"live"] * 4
    assert proxy.stats.connect_errors >= 2 and proxy.stats.failed == 0


async def test_named_target_ports_follow_the_endpoints_port_names(client: ApiClient, ns: str, pods: Pods,
                                                                  proxy: ServiceProxy) -> None:
    web, metrics = await pods.whoami("web-port"), await pods.whoami("metrics-port")
    service = await create_service(client, ns, "named", [{"name": "http", "port": 8088, "targetPort": "web"},
                                                         {"name": "metrics", "port": 9088, "targetPort": "prom"}])
    await write_endpoints(client, ns, "named", {"http": [web], "metrics": [metrics]})
    await proxy.wait_for(lambda t: has(cluster_listener(service, 0), [web])(t)
                         and has(cluster_listener(service, 1), [metrics])(t), WAIT)
    assert await ask(service["spec"]["clusterIP"], 8088) == b"web-port"
    assert await ask(service["spec"]["clusterIP"], 9088) == b"metrics-port"


async def test_two_proxies_serve_the_same_node_port(client: ApiClient, ns: str, pods: Pods,
                                                    proxy: ServiceProxy) -> None:
    backend = await pods.whoami("shared")
    service = await create_service(client, ns, "shared", [{"port": 8089}], kind="NodePort")
    node_port = service["spec"]["ports"][0]["nodePort"]
    await write_endpoints(client, ns, "shared", [backend])
    listener = Listener("127.0.0.1", node_port, "TCP", ns, "shared", "")
    second = ServiceProxy(client, name="proxy-2")
    await second.start(timeout=WAIT)
    try:
        for each in (proxy, second):
            await each.wait_for(has(listener, [backend]), WAIT)
        assert not proxy.bind_errors and not second.bind_errors
        # the kernel spreads connections over both listeners by a hash of the client's port
        assert [await ask("127.0.0.1", node_port) for _ in range(40)] == [b"shared"] * 40
        assert proxy.stats.forwarded > 0 and second.stats.forwarded > 0, (proxy.stats, second.stats)
        await proxy.stop()  # the other goes on alone
        assert [await ask("127.0.0.1", node_port) for _ in range(5)] == [b"shared"] * 5
    finally:
        await second.stop()


async def test_a_large_payload_goes_both_ways_intact(client: ApiClient, ns: str, pods: Pods,
                                                     proxy: ServiceProxy) -> None:
    backend = await pods.echo()
    service = await create_service(client, ns, "bulk", [{"port": 8090}])
    await write_endpoints(client, ns, "bulk", [backend])
    await proxy.wait_for(has(cluster_listener(service), [backend]), WAIT)
    payload = random.Random(7).randbytes(1 << 20)
    reader, writer = await asyncio.open_connection(service["spec"]["clusterIP"], 8090)

    async def send() -> None:
        for i in range(0, len(payload), 100_000):
            writer.write(payload[i:i + 100_000])
            await writer.drain()
        writer.write_eof()

    sending = asyncio.create_task(send())
    received = await asyncio.wait_for(reader.read(), WAIT * 3)
    await sending
    writer.close()
    assert len(received) == len(payload)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


async def test_half_close_in_both_directions(client: ApiClient, ns: str, pods: Pods, proxy: ServiceProxy) -> None:
    got_after_eof: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def count_then_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the client's EOF
        writer.write(f"got {len(data)}".encode())
        writer.close()

    async def speak_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello, then EOF")
        writer.write_eof()  # the server half-closes first and still reads
        got_after_eof.set_result(await reader.read())
        writer.close()

    counter, speaker = await pods.start(count_then_answer), await pods.start(speak_first)
    service = await create_service(client, ns, "half", [{"name": "count", "port": 8091},
                                                        {"name": "speak", "port": 8092}])
    await write_endpoints(client, ns, "half", {"count": [counter], "speak": [speaker]})
    await proxy.wait_for(lambda t: has(cluster_listener(service, 0), [counter])(t)
                         and has(cluster_listener(service, 1), [speaker])(t), WAIT)
    ip = service["spec"]["clusterIP"]

    reader, writer = await asyncio.open_connection(ip, 8091)  # client half-closes, then reads the answer
    writer.write(b"x" * 5000)
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), WAIT) == b"got 5000"
    writer.close()

    reader, writer = await asyncio.open_connection(ip, 8092)  # server half-closes, then reads the client's data
    assert await asyncio.wait_for(reader.read(), WAIT) == b"hello, then EOF"
    writer.write(b"still heard")
    writer.write_eof()
    assert await asyncio.wait_for(got_after_eof, WAIT) == b"still heard"
    writer.close()
    await eventually(lambda: proxy.open_connections == 0)  # both sides sent EOF: the pairs are closed


async def test_a_backend_that_does_not_read_pauses_the_client_and_buffers_stay_bounded(
        client: ApiClient, ns: str, pods: Pods, proxy: ServiceProxy) -> None:
    release, received = asyncio.Event(), asyncio.get_running_loop().create_future()

    async def slow_sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        received.set_result(len(await reader.read()))
        writer.close()

    backend = await pods.start(slow_sink)
    service = await create_service(client, ns, "slow", [{"port": 8096}])
    await write_endpoints(client, ns, "slow", [backend])
    await proxy.wait_for(has(cluster_listener(service), [backend]), WAIT)
    reader, writer = await asyncio.open_connection(service["spec"]["clusterIP"], 8096)
    size = 32 << 20
    writer.write(bytes(size))  # far more than the kernel buffers hold on the way
    await eventually(lambda: proxy.buffered_bytes >= HIGH_WATER)  # the proxy's buffer towards the backend is full
    peak = 0
    for _ in range(30):  # a short bounded watch: without flow control the buffer would grow by megabytes
        peak = max(peak, proxy.buffered_bytes)
        await asyncio.sleep(0.01)
    assert peak <= HIGH_WATER + 256 * 1024, peak
    assert writer.transport.get_write_buffer_size() > 0  # the client is held back instead
    release.set()
    writer.write_eof()
    assert await asyncio.wait_for(received, WAIT * 3) == size
    writer.close()


def block_a_node_port() -> socket.socket:
    """A listening socket without SO_REUSEPORT on 127.0.0.1, on a port of the nodePort range."""
    rng = random.Random()
    for _ in range(200):
        blocker = socket.socket()
        try:
            blocker.bind(("127.0.0.1", rng.randint(30000, 32767)))
        except OSError:
            blocker.close()
            continue
        blocker.listen()
        return blocker
    raise AssertionError("no free port in the nodePort range")


async def test_a_taken_port_is_logged_and_bound_on_a_later_change(
        client: ApiClient, ns: str, pods: Pods, proxy: ServiceProxy, caplog: pytest.LogCaptureFixture) -> None:
    backend = await pods.whoami("late")
    blocker = block_a_node_port()
    try:
        node_port = blocker.getsockname()[1]
        service = await create_service(client, ns, "late", [{"port": 8093, "nodePort": node_port}], kind="NodePort")
        await write_endpoints(client, ns, "late", [backend])
        listener = Listener("127.0.0.1", node_port, "TCP", ns, "late", "")
        await proxy.wait_for(lambda t: has(cluster_listener(service), [backend])(t) and listener in proxy.bind_errors,
                             WAIT)
        assert listener not in proxy.listeners
        assert "Address already in use" in proxy.bind_errors[listener]
        assert any("cannot bind" in r.getMessage() for r in caplog.records)
        assert await ask(service["spec"]["clusterIP"], 8093) == b"late"  # the rest works
        blocker.close()
        await write_endpoints(client, ns, "late", [backend, backend])  # any change retries the bind
        await proxy.wait_for(has(listener, [backend]), WAIT)
        assert not proxy.bind_errors
        assert await ask("127.0.0.1", node_port) == b"late"
    finally:
        blocker.close()


async def test_stop_closes_listeners_and_open_connections(client: ApiClient, ns: str, pods: Pods) -> None:
    backend = await pods.echo()
    service = await create_service(client, ns, "stopping", [{"port": 8095}])
    await write_endpoints(client, ns, "stopping", [backend])
    proxy = ServiceProxy(client)
    await proxy.start(timeout=WAIT)
    await proxy.wait_for(has(cluster_listener(service), [backend]), WAIT)
    reader, writer = await asyncio.open_connection(service["spec"]["clusterIP"], 8095)
    writer.write(b"ping")
    assert await asyncio.wait_for(reader.readexactly(4), WAIT) == b"ping"
    assert proxy.open_connections == 1
    await proxy.stop()
    try:
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
    except ConnectionResetError:
        pass
    writer.close()
    assert proxy.listeners == {} and proxy.open_connections == 0
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(service["spec"]["clusterIP"], 8095)


# ------------------------------------------------------------------ the same on uvloop
# uvloop's transports differ from asyncio's in ways a proxy meets (e.g. an accepted transport starts
# reading after connection_made even if that paused it): the data-path tests run on it too.
ON_UVLOOP = [test_cluster_ip_port_forwards_to_the_endpoint, test_connections_spread_round_robin_over_three_backends,
             test_a_service_without_ready_endpoints_closes_connections_at_once, test_a_refusing_backend_is_skipped,
             test_a_large_payload_goes_both_ways_intact, test_half_close_in_both_directions,
             test_a_backend_that_does_not_read_pauses_the_client_and_buffers_stay_bounded]


@pytest.mark.parametrize("check", ON_UVLOOP, ids=lambda f: f.__name__.removeprefix("test_")[:40])
def test_on_uvloop(api: InProcessAPI, check: Callable[..., Awaitable[None]]) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def run() -> None:
        async with ApiClient(api.url, TOKEN) as client:
            ns = "uv-" + check.__name__.removeprefix("test_").replace("_", "-")[:40].strip("-")
            await client.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            pods, proxy = Pods(), ServiceProxy(client)
            await proxy.start(timeout=WAIT)
            try:
                given = {"client": client, "ns": ns, "pods": pods, "proxy": proxy}
                await check(**{k: v for k, v in given.items() if k in inspect.signature(check).parameters})
            finally:
                await proxy.stop()
                pods.close()
                for service in (await client.list(SERVICE, ns))["items"]:
                    await client.delete(SERVICE, service["metadata"]["name"], ns)

    uvloop.run(run())
