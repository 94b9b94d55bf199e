"""The service proxy against the in-process API server (the tests write Services and Endpoints themselves, no
controllers; the pods are small asyncio TCP servers): large payloads both ways, half close in both directions,
a backend that does not read pauses the client with bounded buffers."""

from __future__ import annotations

import asyncio
import hashlib
import random

from raftkube.client import ApiClient
from raftkube.node.service_proxy import HIGH_WATER, ServiceProxy
from tests.node.service_proxy.support import (
    WAIT,
    Pods,
    cluster_listener,
    create_service,
    eventually,
    has,
    write_endpoints,
)


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
