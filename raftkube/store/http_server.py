"""The replica's HTTP port (starlette): the store's calls as msgpack over HTTP.

POST /v1/execute   a write command (txn, grant, keepalive, revoke, compact)
POST /v1/range     {key, range_end, limit, keys_only, count_only, serializable, revision}
POST /v1/leases    {serializable}
POST /v1/watch     {key, range_end, start_revision, prev_kv} -> a stream of msgpack maps:
                   first {"created": true, "start_revision": n}, then watch responses,
                   ending with an error map if the server cuts the watch off
GET  /v1/status    JSON status (leader, term, indexes, members)
GET  /v1/digest    JSON {revision, digest}: a hash of this replica's whole state (serializable)
POST /v1/members   {"add": "host:port"} or {"remove": "host:port"}
GET  /healthz      200 once the replica has caught up, else 503

Errors are msgpack maps {"error", "message", "details"} with a 4xx/5xx status.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .errors import InvalidRequest, StoreError
from .replica import StoreReplica
from .wire import CONTENT_TYPE, outcome_to_wire, pack, range_to_wire, unpack, watch_response_to_wire

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 2 * 1024 * 1024
Handler = Callable[[Request], Awaitable[Response]]


def _reply(obj: Any, status: int = 200) -> Response:
    return Response(pack(obj), status_code=status, media_type=CONTENT_TYPE)


def _error(err: StoreError) -> Response:
    return _reply(err.to_wire(), err.http_status)


async def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequest("body", f"is {len(raw)} bytes, over the limit of {MAX_BODY_BYTES}")
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


def build_app(replica: StoreReplica, token: str | None = None) -> Starlette:
    def guarded(handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            if token is not None:
                given = request.headers.get("authorization", "").removeprefix("Bearer ")
                if not hmac.compare_digest(given.encode(), token.encode()):
                    return _reply({"error": "unauthorized", "message": "a valid bearer token is required"}, 401)
            try:
                return await handler(request)
            except StoreError as err:
                return _error(err)
            except Exception as exc:  # a bug: still answer in the protocol's own shape
                log.exception("internal error on %s", request.url.path)
                return _error(StoreError(f"internal error: {exc.__class__.__name__}: {exc}"))
        return run

    async def execute(request: Request) -> Response:
        cmd = await _body(request, {"t", "rid", "cmp", "ok", "fail", "ttl", "id", "rev"})
        if cmd.get("t") in ("expire", "noop"):
            raise InvalidRequest("t", "is internal to the store")
        return _reply(outcome_to_wire(await replica.execute(cmd)))

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

    return Starlette(routes=[
        Route("/v1/execute", guarded(execute), methods=["POST"]),
        Route("/v1/range", guarded(range_), methods=["POST"]),
        Route("/v1/leases", guarded(leases), methods=["POST"]),
        Route("/v1/watch", guarded(watch), methods=["POST"]),
        Route("/v1/status", guarded(status), methods=["GET"]),
        Route("/v1/digest", guarded(digest), methods=["GET"]),
        Route("/v1/members", guarded(members), methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ])
