"""REST verbs on a resource path: get, list, watch, create, update, patch, delete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from . import request_body as rb
from .admission_chain import AdmissionChain
from .deletes import Deleter
from .errors import APIError, bad_request, method_not_allowed, unsupported_media_type
from .patch import PATCH_TYPES
from .pod_logs import KubeletClientTLS
from .representation import render_list, render_object
from .router import Target
from .selectors import parse_field_selector, parse_label_selector
from .storage import ObjectStorage, parse_resource_version
from .subresources import Subresources
from .token_request import TokenRequests
from .watch_cache import ListReads, check_list_options
from .watch_stream import WatchRequest, watch_lines
from .writes import WriteOptions, Writer

Obj = dict[str, Any]


def _header_text(text: str) -> str:
    """Warning text as an HTTP header may carry it: ASCII, with quotes, backslashes and the rest escaped."""
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    escaped = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in escaped)
    return escaped.replace('"', '\\"')


def json_response(body: Any, status: int = 200, warnings: list[str] | None = None) -> Response:
    headers = {}
    if warnings:
        headers["Warning"] = ", ".join(f'299 - "{_header_text(w)}"' for w in warnings)
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json",
                    headers=headers)


STREAM_LIST_ABOVE = 500  # longer lists are encoded item by item (see stream_json)


def stream_json(body: Obj) -> Iterator[bytes]:
    """Encode a list body a few items at a time, so no single call holds the GIL for long.

    One `json.dumps` of a 10,000-pod list (20 MB) holds the GIL for most of a second and
    starves the Raft thread of this process into elections; many small encodes do not.
    """
    field = "rows" if "rows" in body else "items"
    head = {k: v for k, v in body.items() if k != field}
    yield json.dumps(head, separators=(",", ":"))[:-1].encode() + f',"{field}":['.encode()
    items = body[field]
    for start in range(0, len(items), 50):
        chunk = ",".join(json.dumps(item, separators=(",", ":")) for item in items[start:start + 50])
        yield (("," if start else "") + chunk).encode()
    yield b"]}"


def write_options(request: Request, default_manager: str | None = None) -> WriteOptions:
    return WriteOptions(field_validation=rb.field_validation(request), dry_run=rb.dry_run(request),
                        manager=rb.field_manager(request, default_manager), force=rb.bool_param(request, "force"),
                        user=request.scope.get("user"))


class ResourceAPI:
    def __init__(self, storage: ObjectStorage, kubelet: KubeletClientTLS | None = None,
                 admission: AdmissionChain | None = None, tokens: TokenRequests | None = None,
                 reads: ListReads | None = None) -> None:
        self.storage = storage
        self.reads = reads or ListReads(storage)  # lists and watches (from the watch cache when it has one)
        self.writer = Writer(storage, admission)
        self.deleter = Deleter(storage, admission)
        self.subresources = Subresources(storage, self.writer, kubelet, tokens)

    async def handle(self, request: Request, target: Target) -> Response:
        if target.subresource:
            return await self.subresources.handle(request, target)
        method = request.method
        if target.name is None:
            if method == "GET":
                if rb.bool_param(request, "watch"):
                    return self.watch(request, target)
                return await self.list(request, target)
            if method == "POST":
                return await self.create(request, target)
            if method == "DELETE":
                return await self.delete_collection(request, target)
        else:
            if method == "GET":
                return await self.get(request, target)
            if method == "PUT":
                return await self.update(request, target)
            if method == "PATCH":
                return await self.patch(request, target)
            if method == "DELETE":
                return await self.delete(request, target)
        raise method_not_allowed(f"{method} is not supported on {request.url.path}")

    # ------------------------------------------------------------------ reads
    async def get(self, request: Request, target: Target) -> Response:
        serializable = request.query_params.get("resourceVersion") == "0"
        obj = await self.storage.get(target.resource, target.namespace, target.name or "", serializable)
        accept = request.headers.get("accept", "")
        return json_response(render_object(target.resource, accept, obj,
                                           request.query_params.get("includeObject", "Metadata")))

    async def list(self, request: Request, target: Target) -> Response:
        resource = target.resource
        labels = parse_label_selector(request.query_params.get("labelSelector"))
        fields = parse_field_selector(request.query_params.get("fieldSelector"), resource.kind)
        limit = rb.int_param(request, "limit")
        resource_version = request.query_params.get("resourceVersion")
        match = request.query_params.get("resourceVersionMatch")
        check_list_options(resource_version, match, is_watch=False)
        name = fields.exact_name()
        if name is not None and (target.namespace is not None or not resource.namespaced):
            found = await self.storage.get_or_none(resource, target.namespace, name)
            revision = (await self.storage.store.range(b"/", count_only=True)).revision
            items = [found] if found is not None and fields.matches(found) and labels.matches(
                found["metadata"].get("labels")) else []
            listed_rv, token = revision, ""
        else:
            listed = await self.reads.list(resource, target.namespace, None if labels.empty else labels,
                                           fields if fields.requirements else None, limit,
                                           request.query_params.get("continue", ""), resource_version, match)
            items, listed_rv, token = listed.items, listed.resource_version, listed.continue_token
        meta: Obj = {"resourceVersion": str(listed_rv)}
        if token:
            meta["continue"] = token
        accept = request.headers.get("accept", "")
        body = render_list(resource, accept, items, meta, request.query_params.get("includeObject", "Metadata"))
        if len(items) > STREAM_LIST_ABOVE:
            return StreamingResponse(stream_json(body), media_type="application/json")
        return json_response(body)

    def watch(self, request: Request, target: Target) -> Response:
        q = request.query_params
        send_initial = q.get("sendInitialEvents", "").lower() == "true"
        bookmarks = rb.bool_param(request, "allowWatchBookmarks")
        if send_initial and not bookmarks:
            raise APIError(422, "Invalid", "sendInitialEvents requires allowWatchBookmarks=true")
        check_list_options(q.get("resourceVersion"), q.get("resourceVersionMatch"), is_watch=True)
        rv = parse_resource_version(q.get("resourceVersion"))
        if send_initial and rv:
            raise APIError(422, "Invalid", "sendInitialEvents needs resourceVersion unset or 0 here")
        req = WatchRequest(target.resource, target.namespace, rv, parse_label_selector(q.get("labelSelector")),
                           parse_field_selector(q.get("fieldSelector"), target.resource.kind), bookmarks,
                           rb.int_param(request, "timeoutSeconds"), send_initial, request.headers.get("accept", ""),
                           q.get("includeObject", "Metadata"))
        return StreamingResponse(watch_lines(self.reads, req), media_type="application/json",
                                 headers={"Transfer-Encoding": "chunked"})

    # ----------------------------------------------------------------- writes
    async def create(self, request: Request, target: Target) -> Response:
        opts = write_options(request)
        obj = await self.writer.create(target, await rb.read_object(request), opts)
        return json_response(obj, 201, opts.warnings)

    async def update(self, request: Request, target: Target) -> Response:
        opts = write_options(request)
        obj = await self.writer.update(target, await rb.read_object(request), opts)
        return json_response(obj, 200, opts.warnings)

    async def patch(self, request: Request, target: Target) -> Response:
        content_type = rb.media_type(request)
        if content_type not in PATCH_TYPES:  # before anything is looked up
            raise unsupported_media_type(content_type)
        opts = write_options(request)
        if content_type == "application/apply-patch+yaml" and not request.query_params.get("fieldManager"):
            raise bad_request("fieldManager is required for apply patch")
        obj, created = await self.writer.patch(target, content_type, await rb.read_raw(request), opts)
        return json_response(obj, 201 if created else 200, opts.warnings)

    async def delete(self, request: Request, target: Target) -> Response:
        raw = await rb.read_raw(request)
        body = rb.decode_body(raw, rb.media_type(request)) if raw.strip() else None
        options = rb.delete_options(request, body)
        obj = await self.deleter.delete(target, options, rb.dry_run(request), request.scope.get("user"))
        return json_response(obj, 200)

    async def delete_collection(self, request: Request, target: Target) -> Response:
        raw = await rb.read_raw(request)
        body = rb.decode_body(raw, rb.media_type(request)) if raw.strip() else None
        options = rb.delete_options(request, body)
        labels = parse_label_selector(request.query_params.get("labelSelector"))
        fields = parse_field_selector(request.query_params.get("fieldSelector"), target.resource.kind)
        items = await self.deleter.delete_collection(target, labels, fields, options, rb.dry_run(request),
                                                    request.scope.get("user"))
        resource = target.resource
        return json_response({"kind": resource.list_kind, "apiVersion": resource.api_version,
                              "metadata": {}, "items": items})
