"""The API port's connection limits: half-open connections closed after the head timeout while real
requests are still served, a trickling body cut off, an oversized head refused, a connection cap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn

from raftkube.api.connection_guard import guarded_protocol
from raftkube.local.store_cluster import free_port

HEAD_TIMEOUT = 1.0
DEADLINE = 30.0  # a bound on waiting for an event, never a timing assertion


async def hello(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the whole body
        message = await receive()  # type: ignore[operator]
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


@pytest.fixture
async def port(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    max_connections, head_timeout = getattr(request, "param", (1000, HEAD_TIMEOUT))
    number = free_port()
    protocol = guarded_protocol(head_timeout=head_timeout, body_timeout=head_timeout, max_head_bytes=16 * 1024,
                                max_connections=max_connections)
    server = uvicorn.Server(uvicorn.Config(hello, host="127.0.0.1", port=number, log_level="error", lifespan="off",
                                           http=protocol, backlog=1024))
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield number
    server.should_exit = True
    await task


async def real_request(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /version HTTP/1.1\r\nhost: api\r\nconnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), DEADLINE)
    writer.close()
    return answer


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), DEADLINE) == b""
    except ConnectionResetError:
        return True


async def test_half_open_connections_are_closed_after_the_head_timeout_and_real_requests_still_served(
        port: int) -> None:
    held = []
    for _ in range(200):  # each sends part of a request head, then nothing
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/v1/pods HTTP/1.1\r\nhost: ")
        held.append((reader, writer))
    await asyncio.gather(*(w.drain() for _, w in held))
    answer = await real_request(port)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok")
    assert all(await asyncio.gather(*(closed_by_server(r) for r, _ in held)))
    for _, writer in held:
        writer.close()


async def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await closed_by_server(reader)
    writer.close()


async def test_a_kept_alive_connection_may_idle_but_not_stall_in_its_next_head(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nhost: api\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"ok"), DEADLINE)
    assert head.startswith(b"HTTP/1.1 200")
    writer.write(b"GET / HTTP/1.1\r\nhost")  # the next request's head, never finished
    assert await closed_by_server(reader)
    writer.close()


async def test_a_trickling_body_is_cut_off(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST / HTTP/1.1\r\nhost: api\r\ncontent-length: 100000\r\n\r\n")
    closed = asyncio.create_task(closed_by_server(reader))
    for _ in range(int(DEADLINE / 0.05)):  # one byte at a time until the server hangs up
        if closed.done():
            break
        writer.write(b"x")
        await asyncio.sleep(0.05)
    assert await closed
    writer.close()


async def test_a_head_over_the_cap_is_refused(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nhost: api\r\n" + b"x-filler: " + b"a" * 32 * 1024)
    assert await closed_by_server(reader)
    writer.close()


@pytest.mark.parametrize("port", [(20, 10 * DEADLINE)], indirect=True)  # no head timeout within the test
async def test_connections_over_the_cap_are_closed_at_once(port: int) -> None:
    held = []
    for _ in range(20):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        held.append((reader, writer))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await closed_by_server(reader)  # the 21st
    writer.close()
    assert not any(r.at_eof() for r, _ in held)
    for _, writer in held:
        writer.close()
