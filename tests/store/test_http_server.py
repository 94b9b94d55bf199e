"""The replica's HTTP port: the fast /v1/execute path answers like the rest; one socket write per response."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgpack
import pytest

from raftkube.local.store_cluster import free_port
from raftkube.store import ReplicaConfig, StoreReplica
from raftkube.store.http_protocol import CoalescingTransport
from raftkube.store.http_server import MAX_BODY_BYTES, BodyTooLarge, MissingToken, build_app, read_capped

MSGPACK = {"content-type": "application/msgpack"}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    replica = StoreReplica(ReplicaConfig(f"127.0.0.1:{free_port()}", [], data_dir=None,
                                           password=secrets.token_urlsafe(16)))
    await replica.start()
    await replica.wait_ready(30)
    transport = httpx.ASGITransport(app=build_app(replica, token="sesame"))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://store",
                                 headers={"authorization": "Bearer sesame", **MSGPACK}) as client:
        yield client
    await replica.stop()


async def post(client: httpx.AsyncClient, body: Any, **headers: str) -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, bytes) else msgpack.packb(body, use_bin_type=True)
    response = await client.post("/v1/execute", content=raw, headers=headers)
    assert response.headers["content-type"] == "application/msgpack"
    return response.status_code, msgpack.unpackb(response.content, raw=False)


async def test_execute_puts_and_concurrent_puts_get_their_own_revisions(http: httpx.AsyncClient) -> None:
    def put(key: bytes) -> dict[str, Any]:
        return {"t": "txn", "rid": key, "cmp": [], "ok": [["put", key, b"v", 0, False]], "fail": []}
    status, body = await post(http, put(b"first"))
    assert status == 200 and body["txn"]["succeeded"] is True
    answers = await asyncio.gather(*[post(http, put(b"k%02d" % i)) for i in range(20)])
    revisions = sorted(b["txn"]["revision"] for _, b in answers)
    assert revisions == list(range(body["txn"]["revision"] + 1, body["txn"]["revision"] + 21))
    status, again = await post(http, put(b"first"))  # the same request id: the first outcome again
    assert (status, again) == (200, body)


@pytest.mark.parametrize("raw, status, error, field", [
    (b"\xc1", 400, "invalid", "body"),
    ([1, 2], 400, "invalid", "body"),
    ({"t": "txn", "bogus": 1}, 400, "invalid", "bogus"),
    ({"t": "batch", "cmds": [{"t": "noop"}]}, 400, "invalid", "cmds"),
    ({"t": "batch"}, 400, "invalid", "t"),
    ({"t": "noop"}, 400, "invalid", "t"),
    (b"\x80" + b"\0" * MAX_BODY_BYTES, 413, "too_large", "body"),
])
async def test_execute_refuses_bad_bodies_in_msgpack(http: httpx.AsyncClient, raw: Any, status: int, error: str,
                                                     field: str) -> None:
    got, body = await post(http, raw)
    assert got == status and body["error"] == error
    assert body["details"]["field"] == field


async def test_execute_needs_the_token_and_other_methods_still_route(http: httpx.AsyncClient) -> None:
    status, body = await post(http, {"t": "noop"}, authorization="Bearer wrong")
    assert status == 401 and body["error"] == "unauthorized"
    assert (await http.get("/v1/execute")).status_code == 405
    assert (await http.get("/v1/status")).json()["state"] == "leader"


def test_the_app_is_not_built_without_a_token() -> None:
    with pytest.raises(MissingToken):
        build_app(None, None)  # type: ignore[arg-type]
    with pytest.raises(MissingToken):
        build_app(None, "")  # type: ignore[arg-type]


@pytest.mark.parametrize("path, method", [("/v1/range", "POST"), ("/v1/watch", "POST"), ("/v1/status", "GET"),
                                          ("/v1/digest", "GET"), ("/v1/members", "POST"), ("/v1/leases", "POST"),
                                          ("/v1/execute", "POST")])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "sesame", "Basic sesame"])
async def test_every_route_but_healthz_refuses_a_missing_or_wrong_token(http: httpx.AsyncClient, path: str,
                                                                        method: str,
                                                                        authorization: str | None) -> None:
    def without_token(method: str, path: str, body: bytes | None = None) -> httpx.Request:
        request = http.build_request(method, path, content=body)
        del request.headers["authorization"]
        if authorization is not None:
            request.headers["authorization"] = authorization
        return request
    body = msgpack.packb({"add": "127.0.0.1:1"} if path == "/v1/members" else {})
    response = await http.send(without_token(method, path, body if method == "POST" else None))
    assert response.status_code == 401
    assert msgpack.unpackb(response.content)["error"] == "unauthorized"
    assert (await http.send(without_token("GET", "/healthz"))).status_code == 200


async def test_a_body_over_the_cap_is_refused_without_reading_the_rest() -> None:
    sent = {"n": 0}

    async def receive() -> dict[str, Any]:  # an endless body of 1 MiB chunks
        sent["n"] += 1
        return {"type": "http.request", "body": b"\0" * (1 << 20), "more_body": True}
    with pytest.raises(BodyTooLarge):
        await read_capped(receive)
    assert sent["n"] == MAX_BODY_BYTES // (1 << 20) + 1


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_coalescing_transport_sends_one_write_per_loop_turn_and_flushes_on_close() -> None:
    inner = RecordingTransport()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert inner.writes == []
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"last")
    transport.close()
    assert inner.writes[-1] == b"last" and inner.closed
    transport.write(b"after close")
    await asyncio.sleep(0)
    assert inner.writes[-1] == b"last"  # nothing is written to a closed transport
    assert transport.get_extra_info("peername") == "info:peername"
