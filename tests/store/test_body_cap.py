"""The store's HTTP port refuses an oversized body before reading it: a declared Content-Length over
the cap is answered 413 at once, a chunked body once it passes the cap, and the connection is closed."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import msgpack
import pytest
import uvicorn

from raftkube.local.store_cluster import free_port
from raftkube.store import ReplicaConfig, StoreReplica
from raftkube.store.http_protocol import CoalescingHttpToolsProtocol
from raftkube.store.http_server import MAX_BODY_BYTES, build_app

TOKEN = "sesame"


@pytest.fixture
async def port() -> AsyncIterator[int]:
    replica = StoreReplica(ReplicaConfig(f"127.0.0.1:{free_port()}", [], password=secrets.token_urlsafe(16)))
    await replica.start()
    await replica.wait_ready(30)
    number = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(replica, TOKEN), host="127.0.0.1", port=number,
                                           log_level="warning", lifespan="off", http=CoalescingHttpToolsProtocol))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield number
    server.should_exit = True
    await task
    await replica.stop()


async def answer_then_eof(reader: asyncio.StreamReader) -> tuple[bytes, dict[str, object]]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.lower().split(b"\r\n")
    length = int(next(line.split(b":")[1] for line in lines if line.startswith(b"content-length")))
    body = msgpack.unpackb(await reader.readexactly(length), raw=False)
    assert await asyncio.wait_for(reader.read(), 10) == b""  # the server closed the connection
    return head, body


@pytest.mark.parametrize("path", ["/v1/execute", "/v1/range"])
async def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_sent(port: int, path: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    declared = 400 * 1024 * 1024
    writer.write(f"POST {path} HTTP/1.1\r\nhost: store\r\nauthorization: Bearer {TOKEN}\r\n"
                 f"content-type: application/msgpack\r\ncontent-length: {declared}\r\n\r\n".encode())
    await writer.drain()  # not one byte of the body
    head, body = await answer_then_eof(reader)
    assert head.startswith(b"HTTP/1.1 413") and b"connection: close" in head.lower()
    assert body["error"] == "too_large" and body["details"]["field"] == "body"
    assert f"{declared} bytes" in body["message"] and str(MAX_BODY_BYTES) in body["message"]
    writer.close()


async def test_a_chunked_body_is_cut_off_at_the_cap_and_the_connection_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST /v1/execute HTTP/1.1\r\nhost: store\r\nauthorization: Bearer {TOKEN}\r\n"
                 "transfer-encoding: chunked\r\n\r\n".encode())
    chunk = b"\0" * 65536
    answered = asyncio.create_task(answer_then_eof(reader))
    sent = 0
    while not answered.done() and sent < 64 * MAX_BODY_BYTES:
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sent += len(chunk)
        try:
            await asyncio.wait_for(writer.drain(), 5)
        except (ConnectionError, TimeoutError):
            break
        await asyncio.sleep(0)
    head, body = await answered
    assert head.startswith(b"HTTP/1.1 413") and body["error"] == "too_large"
    assert sent < 8 * MAX_BODY_BYTES  # cut off near the cap, not after reading everything
    writer.close()
