"""The service proxy against the in-process API server (the tests write Services and Endpoints themselves, no
controllers; the pods are small asyncio TCP servers): cluster IP and node port forwarding, round robin,
following endpoint changes, services without ready endpoints, refusing backends, named target ports, two
proxies on one node port."""

from __future__ import annotations

import asyncio
import socket

import pytest

from raftkube.client import ApiClient
from raftkube.node.proxy_table import Backend, Listener
from raftkube.node.service_proxy import ServiceProxy
from tests.node.service_proxy.support import (
    SERVICE,
    WAIT,
    Pods,
    _pod_ips,
    ask,
    cluster_listener,
    create_service,
    has,
    write_endpoints,
)


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
