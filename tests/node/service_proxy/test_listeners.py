"""The service proxy against the in-process API server (the tests write Services and Endpoints themselves, no
controllers; the pods are small asyncio TCP servers): a taken port is logged and bound on a later change; stop
closes listeners and open connections."""

from __future__ import annotations

import asyncio

import pytest

from raftkube.client import ApiClient
from raftkube.node.proxy_table import Listener
from raftkube.node.service_proxy import ServiceProxy
from tests.node.service_proxy.support import (
    WAIT,
    Pods,
    ask,
    block_a_node_port,
    cluster_listener,
    create_service,
    has,
    write_endpoints,
)


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
