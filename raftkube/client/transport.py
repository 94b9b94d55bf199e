"""The HTTP transport under `ApiClient`: httpx's API on aiohttp's connections (httpx-aiohttp).

Why not httpx's own transport: on this code's hot paths (a scheduler binding thousands of pods,
controllers creating them) httpcore over anyio's TLS stream cost ~2.2 ms of CPU per small
request against ~0.7 ms on aiohttp's connections (whose TLS runs in uvloop's C code), measured
for a whole bind (client, API server and store in one process) in docs/benchmarks.md.

What this module adds to `httpx_aiohttp.AiohttpTransport`: errors sorted by whether the request
may have reached the server, because `raftkube.client.failover` retries a write elsewhere only
when it certainly did not. The library maps every aiohttp connection error, including a server
that disconnects after reading the request, to `httpx.ConnectTimeout` ("never sent"); here only
a failed connect or a connect/pool timeout stays "never sent", and anything later (disconnect,
reset, read timeout, a malformed answer) becomes `httpx.ReadError`/`ReadTimeout`/
`RemoteProtocolError` — also while a body is read.

And one thing it takes away: aiohttp resends a PUT or DELETE once, by itself, when a reused
connection drops after the request went out (RFC 9112 lets a client retry idempotent requests;
aiohttp has no public switch for it, aio-libs/aiohttp#10790). For this API that resend is wrong:
a compare-and-swap PUT applied by the first send answers 409 to the second, and if the second
cannot connect (the server died after acting) the write looks "never sent" and failover tries
another endpoint. Found by the chaos checker as a non-linearizable register history after a
leader kill. The session is made with that retry off, as aiohttp's own test client does.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


def _sorted_error(exc: BaseException) -> httpx.TransportError:
    """The httpx error for an aiohttp failure (`exc` itself, or the httpx error the library made of it)."""
    cause = exc.__cause__ if isinstance(exc, httpx.TransportError) and exc.__cause__ is not None else exc
    message = f"{type(cause).__name__}: {cause}"
    if isinstance(cause, aiohttp.ClientConnectorError):  # refused, unreachable, TLS handshake refused
        return httpx.ConnectError(message)
    if isinstance(cause, aiohttp.ConnectionTimeoutError):  # connecting or waiting for a pooled connection
        return httpx.ConnectTimeout(message)
    if isinstance(cause, aiohttp.SocketTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(cause, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)):
        return httpx.ReadError(message)  # the request may have been read and acted on
    if isinstance(cause, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message)
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return exc
    return httpx.RemoteProtocolError(message)


@contextlib.contextmanager
def _sorting_errors() -> Iterator[None]:
    try:
        yield
    except (httpx.TransportError, aiohttp.ClientError) as exc:
        raise _sorted_error(exc) from exc


class _SortedErrorStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _sorting_errors():
            async for chunk in self._inner:
                yield chunk

    async def aclose(self) -> None:
        with _sorting_errors():
            await self._inner.aclose()


class ApiTransport(AiohttpTransport):
    """`AiohttpTransport` whose errors say whether the request may have been sent, and which never
    resends a request by itself (see the module doc)."""

    def get_client(self) -> aiohttp.ClientSession:
        session = super().get_client()
        if not hasattr(session, "_retry_connection"):  # aiohttp changed: the resend must be checked again
            raise RuntimeError("aiohttp.ClientSession has no _retry_connection: cannot turn its resend off")
        session._retry_connection = False
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _sorting_errors():
            response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _SortedErrorStream(response.stream)
        return response


PERIODIC_KEEPALIVE = 25.0  # idle seconds for clients of periodic callers (agents): under the API server's 30 s


def api_transport(verify: object, max_connections: int, keepalive_expiry: float = 5.0) -> httpx.AsyncBaseTransport:
    """The transport for `ApiClient`: at most `max_connections` connections, idle ones closed after
    `keepalive_expiry` s (well before the API server's 30 s, so a reused connection is rarely one the
    server is closing). A client whose requests come every few seconds (a node's Lease) wants it
    longer than that period: else every request pays a new TLS handshake, on the server too."""
    limits = httpx.Limits(max_connections=max_connections, keepalive_expiry=keepalive_expiry)
    return ApiTransport(verify=verify, limits=limits)  # type: ignore[arg-type]
