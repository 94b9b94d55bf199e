"""The replica's HTTP port (starlette): the store's calls as msgpack over HTTP.

POST /v1/execute   a write command (txn, grant, keepalive, revoke, compact)
POST /v1/range     {key, range_end, limit, keys_only, count_only, serializable, revision}
POST /v1/leases    {serializable}
POST /v1/watch     {key, range_end, start_revision, prev_kv} -> a stream of msgpack maps:
                   first {"created": true, "start_revision": n}, then watch responses,
                   ending with an error map if the server cuts the watch off
GET  /v1/status    JSON status (leader, term, indexes, members)
GET  /v1/digest    JSON {revision, digest}: a hash of this replica's whole state (serializable)
GET  /v1/snapshot  the whole key space at one linearizable revision, a stream of msgpack records
                   (`backup_state`): what `raftkube store snapshot save` writes to a file
POST /v1/members   {"add": "host:port"} or {"remove": "host:port"}
GET  /healthz      200 once the replica has caught up, else 503

Every route but GET /healthz needs `Authorization: Bearer <token>` (compared in constant time;
401 otherwise): the port can read every Secret and change the Raft membership, so the app
refuses to be built without a token (fail closed). A body whose Content-Length is over
MAX_BODY_BYTES is refused (413) before any of it is read; any other body is read in chunks and
refused as soon as it passes the cap, never buffered past it. A 413 closes the connection
(`connection: close`), so the server stops reading the rest of the body at once.
Errors are msgpack maps {"error", "message", "details"} with a 4xx/5xx status.

POST /v1/execute, the hot write path, is answered by a plain ASGI function in front of
starlette (same checks, same answers): starlette's middleware, routing and Request/Response
objects were about half of a leader's CPU per write under many concurrent writers.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, MutableMapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .backup_state import capture, encode
from .errors import InvalidRequest, StoreError
from .replica import StoreReplica
from .wire import CONTENT_TYPE, outcome_to_wire, pack, range_to_wire, unpack, watch_response_to_wire

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 2 * 1024 * 1024
Handler = Callable[[Request], Awaitable[Response]]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
EXECUTE_FIELDS = {"t", "rid", "cmp", "ok", "fail", "ttl", "id", "rev"}
INTERNAL_COMMANDS = ("expire", "noop", "batch", "quota")
_MSGPACK_HEADERS = [(b"content-type", CONTENT_TYPE.encode())]


def _reply(obj: Any, status: int = 200) -> Response:
    return Response(pack(obj), status_code=status, media_type=CONTENT_TYPE)


def _error(err: StoreError) -> Response:
    return _reply(err.to_wire(), err.http_status)


class BodyTooLarge(StoreError):
    code = "too_large"
    http_status = 413

    def __init__(self, declared: int | None = None) -> None:
        size = f"is {declared} bytes" if declared is not None else "is"
        super().__init__(f"body: {size} over the store's request limit of {MAX_BODY_BYTES} bytes", field="body")


_CLOSE = (b"connection", b"close")


def check_declared_length(headers: list[tuple[bytes, bytes]]) -> None:
    """Refuse (BodyTooLarge) a request whose Content-Length is over the cap, before reading its body."""
    for name, value in headers:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if text.isdigit() and int(text) > MAX_BODY_BYTES:
                raise BodyTooLarge(int(text))


async def read_capped(receive: Receive) -> bytes | None:
    """The request body from ASGI `receive`, refused (BodyTooLarge) once over MAX_BODY_BYTES;
    None when the client went away."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge()
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    return _decode_body(await read_capped(request.receive) or b"", allowed)


def _decode_body(raw: bytes, allowed: set[str]) -> dict[str, Any]:
    try:
        body = unpack(raw) if raw else {}
    except Exception as exc:
        raise InvalidRequest("body", f"is not valid msgpack ({exc.__class__.__name__})") from None
    if not isinstance(body, dict):
        raise InvalidRequest("body", "must be a msgpack map")
    unknown = set(body) - allowed
    if unknown:
        raise InvalidRequest(str(sorted(map(str, unknown))[0]), "unknown field")
    return body


def _authorized(token: str, given: str) -> bool:
    return given.startswith("Bearer ") and hmac.compare_digest(given.removeprefix("Bearer ").encode(), token.encode())


_UNAUTHORIZED = {"error": "unauthorized", "message": "a valid bearer token is required"}


async def _execute_command(replica: StoreReplica, raw: bytes) -> bytes:
    cmd = _decode_body(raw, EXECUTE_FIELDS)
    if cmd.get("t") in INTERNAL_COMMANDS:
        raise InvalidRequest("t", "is internal to the store")
    return pack(outcome_to_wire(await replica.execute(cmd)))


def fast_execute(replica: StoreReplica, token: str) -> ASGIApp:
    """POST /v1/execute as a bare ASGI app: the body in, one msgpack answer out."""
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        status, body = 200, b""
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), "")
        if not _authorized(token, given):
            status, body = 401, pack(_UNAUTHORIZED)
        else:
            try:
                check_declared_length(scope["headers"])
                raw = await read_capped(receive)
                if raw is None:
                    return
                body = await _execute_command(replica, raw)
            except StoreError as err:
                status, body = err.http_status, pack(err.to_wire())
            except Exception as exc:  # a bug: still answer in the protocol's own shape
                log.exception("internal error on /v1/execute")
                err = StoreError(f"internal error: {exc.__class__.__name__}: {exc}")
                status, body = err.http_status, pack(err.to_wire())
        headers = [*_MSGPACK_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status,
                    "headers": headers + [_CLOSE] if status == 413 else headers})
        await send({"type": "http.response.body", "body": body})
    return app


class MissingToken(ValueError):
    """The store's HTTP port was asked for without a client token."""


def build_app(replica: StoreReplica, token: str | None) -> ASGIApp:
    if not token:
        raise MissingToken("the store's HTTP port needs a client token (--store-token-file / --token-file)")
    def guarded(handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            if not _authorized(token, request.headers.get("authorization", "")):
                return _reply(_UNAUTHORIZED, 401)
            try:
                check_declared_length(request.scope["headers"])
                return await handler(request)
            except StoreError as err:
                response = _error(err)
                if err.http_status == 413:
                    response.headers["connection"] = "close"  # stop reading the rest of the body
                return response
            except Exception as exc:  # a bug: still answer in the protocol's own shape
                log.exception("internal error on %s", request.url.path)
                return _error(StoreError(f"internal error: {exc.__class__.__name__}: {exc}"))
        return run

    async def execute(request: Request) -> Response:  # reached only through routes other than the fast path
        return Response(await _execute_command(replica, await read_capped(request.receive) or b""),
                        media_type=CONTENT_TYPE)

    async def range_(request: Request) -> Response:
        b = await _body(request, {"key", "range_end", "limit", "keys_only", "count_only", "serializable", "revision"})
        result = await replica.range(b.get("key"), b.get("range_end", b""), b.get("limit", 0),  # type: ignore[arg-type]
                                     bool(b.get("keys_only")), bool(b.get("count_only")), bool(b.get("serializable")),
                                     b.get("revision", 0))  # type: ignore[arg-type]
        return _reply(range_to_wire(result))

    async def leases(request: Request) -> Response:
        b = await _body(request, {"serializable"})
        found = await replica.leases(bool(b.get("serializable")))
        return _reply({"leases": [[x.id, x.ttl, x.keys] for x in found]})

    async def watch(request: Request) -> Response:
        b = await _body(request, {"key", "range_end", "start_revision", "prev_kv"})
        watcher = replica.watch(b.get("key"), b.get("range_end", b""), b.get("start_revision", 0),  # type: ignore[arg-type]
                                bool(b.get("prev_kv")))

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield pack({"created": True, "start_revision": watcher.start_revision})
                async for response in watcher:
                    yield pack(watch_response_to_wire(response))
            except StoreError as err:
                yield pack(err.to_wire())
            finally:
                watcher.close()

        return StreamingResponse(stream(), media_type=CONTENT_TYPE)

    async def status(request: Request) -> Response:
        return JSONResponse(replica.status())

    async def digest(request: Request) -> Response:
        revision, value = replica.read_local(lambda sm: (sm.revision, sm.digest()))
        return JSONResponse({"revision": revision, "digest": value})

    async def snapshot(request: Request) -> Response:
        await replica.barrier()  # a linearizable read point: everything committed before the call
        return StreamingResponse(encode(replica.read_local(capture)), media_type=CONTENT_TYPE)

    async def members(request: Request) -> Response:
        b = await _body(request, {"add", "remove"})
        if "add" in b:
            await replica.add_member(b["add"])
        elif "remove" in b:
            await replica.remove_member(b["remove"])
        else:
            raise InvalidRequest("add", "give add or remove")
        return _reply({"ok": True})

    async def health(request: Request) -> Response:
        ready = replica.status().get("ready", False)
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    slow = Starlette(routes=[
        Route("/v1/execute", guarded(execute), methods=["POST"]),
        Route("/v1/range", guarded(range_), methods=["POST"]),
        Route("/v1/leases", guarded(leases), methods=["POST"]),
        Route("/v1/watch", guarded(watch), methods=["POST"]),
        Route("/v1/status", guarded(status), methods=["GET"]),
        Route("/v1/digest", guarded(digest), methods=["GET"]),
        Route("/v1/snapshot", guarded(snapshot), methods=["GET"]),
        Route("/v1/members", guarded(members), methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ])
    fast = fast_execute(replica, token)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/execute" and scope["method"] == "POST":
            await fast(scope, receive, send)
        else:
            await slow(scope, receive, send)
    return app
