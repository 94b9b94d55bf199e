"""ApiClient's real transport (aiohttp under httpx) against scripted servers on 127.0.0.1.

What is checked: a request that never reached a server moves on to the next endpoint, even
a write; a write the server may have read (it hangs up before answering, mid-answer, or
answers too late) is `OutcomeUnknown` and is never sent to another endpoint; a read in the
same spot is retried elsewhere; a watch stream hands over each event as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from raftkube.client import ApiClient
from raftkube.client.errors import OutcomeUnknown

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
CM = ("v1", "ConfigMap")
BOUND = 10.0  # seconds: the most any step may wait (a hang fails the test; nothing is timed)


class ScriptedServer:
    """An HTTP/1.1 server that runs `script` per connection and counts the requests it read."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[str] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await self.script(reader, writer)
        writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> str:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                       if line.lower().startswith("content-length:")), 0)
        if length:
            await reader.readexactly(length)
        self.requests.append(head.split("\r\n", 1)[0])
        return head


@contextlib.asynccontextmanager
async def serving(script_of: Callable[[ScriptedServer], Script]) -> AsyncIterator[ScriptedServer]:
    holder = ScriptedServer(lambda r, w: asyncio.sleep(0))
    holder.script = script_of(holder)
    holder.server = await asyncio.start_server(holder._serve, "127.0.0.1", 0)
    try:
        yield holder
    finally:
        holder.server.close()


def answer(status: int, body: object, extra: bytes = b"") -> bytes:
    data = json.dumps(body).encode()
    return (f"HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n"
            .encode() + data + extra)


def config_map(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default",
                                                                     "resourceVersion": "7"}}


def answers_ok(server: ScriptedServer) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(100):
            await server.read_request(reader)
            writer.write(answer(201, config_map("made")))
            await writer.drain()
    return script


def hangs_up_after_reading(server: ScriptedServer) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
    return script


def hangs_up_mid_answer(server: ScriptedServer) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"ki")
        await writer.drain()
    return script


def answers_too_late(server: ScriptedServer) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        await asyncio.wait_for(reader.read(), BOUND)  # no answer until the client gives up and hangs up
    return script


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_a_write_that_never_left_moves_on_to_the_next_endpoint() -> None:
    async with serving(answers_ok) as good:
        api = ApiClient([closed_port(), good.url], timeout=BOUND)
        try:
            made = await asyncio.wait_for(api.create(CM, config_map("x"), "default"), BOUND)
        finally:
            await api.close()
        assert made["metadata"]["name"] == "made"
        assert good.requests == ["POST /api/v1/namespaces/default/configmaps HTTP/1.1"]


@pytest.mark.parametrize("script", [hangs_up_after_reading, hangs_up_mid_answer, answers_too_late],
                         ids=["hang-up", "hang-up-mid-answer", "too-late"])
async def test_a_write_the_server_may_have_read_is_unknown_and_not_resent(script: Callable[[ScriptedServer], Script]
                                                                         ) -> None:
    async with serving(script) as flaky, serving(answers_ok) as good:
        api = ApiClient([flaky.url, good.url], timeout=0.5)
        try:
            with pytest.raises(OutcomeUnknown):
                await asyncio.wait_for(api.create(CM, config_map("x"), "default"), BOUND)
        finally:
            await api.close()
        assert flaky.requests == ["POST /api/v1/namespaces/default/configmaps HTTP/1.1"]
        assert good.requests == []  # never sent twice


def answers_once_then_hangs_up(server: ScriptedServer) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(answer(200, config_map("read")))
        await writer.drain()
        await server.read_request(reader)  # the next request on this kept-alive connection: read, never answered
    return script


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_an_idempotent_write_on_a_reused_connection_is_not_resent(method: str) -> None:
    """aiohttp resends a PUT or DELETE once by itself when a reused connection drops; a CAS applied by
    the first send would then answer 409 to the second, and a write applied by a server that then
    died would look never sent. Here the first server would answer the resent copy: it must not get one."""
    async with serving(answers_once_then_hangs_up) as flaky, serving(answers_ok) as good:
        api = ApiClient([flaky.url, good.url], timeout=BOUND)
        try:
            await asyncio.wait_for(api.get(CM, "x", "default"), BOUND)  # opens the connection the write reuses
            with pytest.raises(OutcomeUnknown):
                write = (api.update(CM, config_map("x"), "default") if method == "PUT"
                         else api.delete(CM, "x", "default"))
                await asyncio.wait_for(write, BOUND)
        finally:
            await api.close()
        assert [line.split()[0] for line in flaky.requests] == ["GET", method]
        assert good.requests == []


async def test_a_read_whose_answer_was_lost_is_retried_on_another_endpoint() -> None:
    async with serving(hangs_up_mid_answer) as flaky, serving(answers_ok) as good:
        api = ApiClient([flaky.url, good.url], timeout=BOUND)
        try:
            got = await asyncio.wait_for(api.get(CM, "x", "default"), BOUND)
        finally:
            await api.close()
        assert got["metadata"]["name"] == "made"
        assert len(flaky.requests) == 1 and len(good.requests) == 1


async def test_a_watch_hands_over_each_event_as_it_arrives() -> None:
    second_wanted = asyncio.Event()

    def streams_two_events(server: ScriptedServer) -> Script:
        async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
            for name in ("first", "second"):
                line = json.dumps({"type": "ADDED", "object": config_map(name)}).encode() + b"\n"
                writer.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                await writer.drain()
                await asyncio.wait_for(second_wanted.wait(), BOUND)  # the client must have had "first"
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        return script

    async with serving(streams_two_events) as server:
        api = ApiClient([server.url], timeout=BOUND)
        seen: list[str] = []
        try:
            events = api.watch(CM, "default", resource_version="1", follow=False)
            async for kind, obj in events:
                assert kind == "ADDED"
                seen.append(obj["metadata"]["name"])
                second_wanted.set()
                if len(seen) == 2:
                    break
            await events.aclose()
        finally:
            await api.close()
        assert seen == ["first", "second"]
