"""The service proxy against the in-process API server (the tests write Services and Endpoints themselves, no
controllers; the pods are small asyncio TCP servers): the data-path tests again on uvloop, whose transports
differ from asyncio's in ways a proxy meets."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

import pytest

from raftkube.client import ApiClient
from raftkube.node.service_proxy import ServiceProxy
from tests.api.inproc import TOKEN, InProcessAPI
from tests.node.service_proxy import test_forwarding as forwarding
from tests.node.service_proxy import test_streams as streams
from tests.node.service_proxy.support import (
    NAMESPACE,
    SERVICE,
    WAIT,
    Pods,
)

# ------------------------------------------------------------------ the same on uvloop
# uvloop's transports differ from asyncio's in ways a proxy meets (e.g. an accepted transport starts
# reading after connection_made even if that paused it): the data-path tests run on it too.
ON_UVLOOP = [forwarding.test_cluster_ip_port_forwards_to_the_endpoint,
             forwarding.test_connections_spread_round_robin_over_three_backends,
             forwarding.test_a_service_without_ready_endpoints_closes_connections_at_once,
             forwarding.test_a_refusing_backend_is_skipped, streams.test_a_large_payload_goes_both_ways_intact,
             streams.test_half_close_in_both_directions,
             streams.test_a_backend_that_does_not_read_pauses_the_client_and_buffers_stay_bounded]


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
