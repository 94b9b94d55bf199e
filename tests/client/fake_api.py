"""An in-memory fake of just enough of the Kubernetes REST contract, served through httpx.MockTransport.

Endpoints are hosts (`https://a`, `https://b`, ...); faults are queued per host. Watches stream
newline-separated events with BOOKMARKs and an ERROR 410 for versions older than `compacted`,
and stay open until `end_watches()` (clean end) or `break_watches()` (ReadError); with
`end_when_caught_up` they end as soon as they have sent everything.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

import httpx
import jsonpatch
import yaml

from raftkube.api.resources import Resource, find

Obj = dict[str, Any]


def status(code: int, reason: str, message: str, **details: Any) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code, **({"details": details} if details else {})}


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


@dataclass
class Event:
    rev: int
    res: Resource
    namespace: str | None
    type: str
    obj: Obj


class FakeApi:
    def __init__(self, hosts: tuple[str, ...] = ("a", "b", "c"), token: str | None = "t0k") -> None:
        self.hosts, self.token = hosts, token
        self.objects: dict[tuple[str, str | None, str], Obj] = {}  # (plural, ns, name)
        self.rev = 100
        self.history: list[Event] = []
        self.compacted = 0  # watches from a version below this get 410
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.down: set[str] = set()
        self.requests: list[tuple[str, str, str, dict[str, str]]] = []  # host, method, path, params
        self.bodies: list[tuple[str, str, Any]] = []  # method, content-type, body of writes
        self.tables = True
        self.expire_continue = False
        self.watch_410_http = False
        self.end_when_caught_up = False
        self.watch_rewind = 0  # one-shot: the next watch starts this many events early (duplicates)
        self.open_watches = 0
        self.after_list: Callable[[], Any] | None = None  # one-shot hook run after a list is answered
        self._end_gen = self._break_gen = 0
        self._signal: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def urls(self) -> list[str]:
        return [f"https://{h}" for h in self.hosts]

    # -- test helpers -----------------------------------------------------------------------------

    def fail(self, host: str, *kinds: str) -> None:
        """Queue faults for the next requests to `host`: connect, read, read-after (a write applied,
        then the answer lost), 500, 503, 429, or pass (no fault for that request)."""
        self.faults[host].extend(kinds)

    def seed(self, obj: Obj) -> Obj:
        res = self._res_of(obj)
        return self._create(res, obj["metadata"].get("namespace") if res.namespaced else None, copy.deepcopy(obj))

    def put(self, obj: Obj) -> Obj:
        res = self._res_of(obj)
        meta = obj["metadata"]
        key = (res.plural, meta.get("namespace") if res.namespaced else None, meta["name"])
        return self._store(res, key, copy.deepcopy(obj), "MODIFIED")

    def remove(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        res = next(r for r in self._all() if r.kind == kind and r.api_version == api_version)
        self._delete(res, (res.plural, namespace if res.namespaced else None, name))

    def end_watches(self) -> None:
        self._end_gen += 1
        self._notify()

    def break_watches(self) -> None:
        self._break_gen += 1
        self._notify()

    def compact(self) -> None:
        self.compacted = self.rev + 1

    # -- plumbing ---------------------------------------------------------------------------------

    @staticmethod
    def _all() -> list[Resource]:
        from raftkube.api.resources import RESOURCES
        return list(RESOURCES)

    def _res_of(self, obj: Obj) -> Resource:
        return next(r for r in self._all() if r.kind == obj["kind"] and r.api_version == obj["apiVersion"])

    def _event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._signal is None or self._signal[0] is not loop:
            self._signal = (loop, asyncio.Event())
        return self._signal[1]

    def _notify(self) -> None:
        if self._signal is not None:
            self._signal[1].set()
            self._signal = None

    def _store(self, res: Resource, key: tuple[str, str | None, str], obj: Obj, kind: str) -> Obj:
        self.rev += 1
        obj["metadata"]["resourceVersion"] = str(self.rev)
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        self.objects[key] = obj
        self.history.append(Event(self.rev, res, key[1], kind, copy.deepcopy(obj)))
        self._notify()
        return obj

    def _create(self, res: Resource, namespace: str | None, obj: Obj) -> Obj:
        meta = obj.setdefault("metadata", {})
        if namespace:
            meta["namespace"] = namespace
        meta.setdefault("uid", f"uid-{meta.get('name')}-{self.rev + 1}")
        meta.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
        return self._store(res, (res.plural, namespace, meta["name"]), obj, "ADDED")

    def _delete(self, res: Resource, key: tuple[str, str | None, str]) -> Obj:
        obj = self.objects.pop(key)
        self.rev += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rev)
        self.history.append(Event(self.rev, res, key[1], "DELETED", obj))
        self._notify()
        return obj

    @staticmethod
    def _json(code: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(code, json=body, headers=headers)

    # -- the REST contract ------------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        params = dict(request.url.params)
        self.requests.append((host, request.method, request.url.path, params))
        if host in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        fault = self.faults[host].popleft() if self.faults[host] else None
        if fault == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if fault == "read":
            raise httpx.ReadError("connection reset", request=request)
        if fault in ("500", "503"):
            return self._json(int(fault), status(int(fault), "InternalError" if fault == "500" else
                                                 "ServiceUnavailable", "store unavailable"))
        if fault == "429":
            return self._json(429, status(429, "TooManyRequests", "slow down"), {"Retry-After": "1"})
        if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
            return self._json(401, status(401, "Unauthorized", "Unauthorized"))
        response = await self._route(request, params)
        if fault == "read-after":
            raise httpx.ReadError("connection reset after the write", request=request)
        return response

    def _parse(self, path: str) -> tuple[Resource, str | None, str | None, str | None] | None:
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        res = find(group, version, rest[0])
        if res is None:
            return None
        return res, namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None

    async def _route(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        if request.url.path == "/apis/example.com/v1":
            return self._json(200, {"kind": "APIResourceList", "groupVersion": "example.com/v1", "resources": [
                {"name": "widgets", "singularName": "widget", "namespaced": True, "kind": "Widget"}]})
        parsed = self._parse(request.url.path)
        if parsed is None:
            return self._json(404, status(404, "NotFound", "the server could not find the requested resource"))
        res, namespace, name, sub = parsed
        method = request.method
        body: Any = None
        if request.content:
            ctype = request.headers.get("content-type", "")
            body = yaml.safe_load(request.content) if "yaml" in ctype else json.loads(request.content)
            self.bodies.append((method, ctype, body))
        if method == "GET" and name is None:
            if params.get("watch") in ("1", "true"):
                return await self._watch(res, namespace, params, request)
            return self._list(res, namespace, params, request)
        if method == "POST" and name is None:
            key = (res.plural, namespace, (body.get("metadata") or {}).get("name"))
            if not key[2]:
                return self._json(422, status(422, "Invalid", f"{res.kind} \"\" is invalid: metadata.name: Required "
                                              "value", causes=[{"field": "metadata.name", "message": "Required value",
                                                                "reason": "FieldValueRequired"}]))
            if key in self.objects:
                return self._json(409, status(409, "AlreadyExists", f'{res.plural} "{key[2]}" already exists'))
            return self._json(201, self._create(res, namespace, body))
        key = (res.plural, namespace, name or "")
        current = self.objects.get(key)
        if current is None and not (method == "PATCH" and "apply-patch" in request.headers.get("content-type", "")):
            return self._json(404, status(404, "NotFound", f'{res.group_resource} "{name}" not found',
                                          name=name, kind=res.plural))
        if method == "PATCH" and current is None:
            return self._json(201, self._create(res, namespace, body))
        assert current is not None
        if method == "GET":
            if "as=Table" in request.headers.get("accept", "") and self.tables:
                return self._json(200, self._table(res, [current]))
            return self._json(200, current)
        if method == "PUT":
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                return self._json(409, status(409, "Conflict", f'Operation cannot be fulfilled on {res.plural} '
                                              f'"{name}": the object has been modified'))
            new = copy.deepcopy(current)
            if sub == "status":
                new["status"] = body.get("status")
            else:
                new = {**body, "status": current.get("status")} if "status" in current else dict(body)
                new["metadata"] = {**current["metadata"], **body.get("metadata", {})}
            return self._json(200, self._store(res, key, new, "MODIFIED"))
        if method == "PATCH":
            ctype = request.headers.get("content-type", "")
            if "json-patch" in ctype:
                new = jsonpatch.apply_patch(current, body)
            else:
                new = merge_patch(current, body)
            new["metadata"].pop("resourceVersion", None)
            return self._json(200, self._store(res, key, new, "MODIFIED"))
        if method == "DELETE":
            pre = (body or {}).get("preconditions") or {}
            for field, have in (("uid", current["metadata"].get("uid")),
                                ("resourceVersion", current["metadata"]["resourceVersion"])):
                if pre.get(field) and pre[field] != have:
                    return self._json(409, status(409, "Conflict", f"Precondition failed: {field}"))
            self._delete(res, key)
            return self._json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                                    "details": {"name": name, "kind": res.plural}})
        return self._json(405, status(405, "MethodNotAllowed", "no"))

    def _matches(self, obj: Obj, namespace: str | None, params: dict[str, str]) -> bool:
        meta = obj.get("metadata") or {}
        if namespace and meta.get("namespace") != namespace:
            return False
        for term in filter(None, params.get("labelSelector", "").split(",")):
            k, _, v = term.partition("=")
            if (meta.get("labels") or {}).get(k) != v:
                return False
        fields = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
                  "spec.nodeName": (obj.get("spec") or {}).get("nodeName"),
                  "involvedObject.name": (obj.get("involvedObject") or {}).get("name")}
        for term in filter(None, params.get("fieldSelector", "").split(",")):
            k, _, v = term.partition("=")
            if fields.get(k) != v:
                return False
        return True

    def _table(self, res: Resource, objs: list[Obj]) -> Obj:
        pods = res.kind == "Pod"
        cols = [{"name": "Name", "type": "string", "format": "name", "priority": 0}]
        if pods:
            cols += [{"name": "Status", "type": "string", "priority": 0},
                     {"name": "Node", "type": "string", "priority": 1}]
        cols.append({"name": "Age", "type": "string", "priority": 0})
        rows = []
        for obj in objs:
            meta = obj["metadata"]
            cells: list[Any] = [meta["name"]]
            if pods:
                cells += [(obj.get("status") or {}).get("phase", "Pending"), (obj.get("spec") or {}).get("nodeName")]
            cells.append("5m")
            partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
            rows.append({"cells": cells, "object": partial})
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(self.rev)},
                "columnDefinitions": cols, "rows": rows}

    def _list(self, res: Resource, namespace: str | None, params: dict[str, str],
              request: httpx.Request) -> httpx.Response:
        items = sorted((o for (p, _, _), o in self.objects.items() if p == res.plural
                        and self._matches(o, namespace, params)),
                       key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))
        rv, start = str(self.rev), 0
        if params.get("continue"):
            if self.expire_continue:
                return self._json(410, status(410, "Expired", "The provided continue parameter is too old"))
            token = json.loads(base64.b64decode(params["continue"]))
            rv, start = token["rv"], token["start"]
        limit = int(params.get("limit") or 0)
        page = items[start:start + limit] if limit else items[start:]
        meta: Obj = {"resourceVersion": rv}
        if limit and start + limit < len(items):
            meta["continue"] = base64.b64encode(json.dumps({"rv": rv, "start": start + limit}).encode()).decode()
        hook, self.after_list = self.after_list, None
        if hook is not None:
            hook()
        if "as=Table" in request.headers.get("accept", "") and self.tables:
            table = self._table(res, page)
            table["metadata"] = meta
            return self._json(200, table)
        return self._json(200, {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta,
                                "items": copy.deepcopy(page)})

    async def _watch(self, res: Resource, namespace: str | None, params: dict[str, str],
                     request: httpx.Request) -> httpx.Response:
        rv = params.get("resourceVersion")
        since = int(rv) if rv else None
        if since is not None and since < self.compacted and self.watch_410_http:
            return self._json(410, status(410, "Expired", f"too old resource version: {since}"))
        table = "as=Table" in request.headers.get("accept", "") and self.tables
        rewind, self.watch_rewind = self.watch_rewind, 0
        return httpx.Response(200, headers={"content-type": "application/json"},
                              content=self._stream(res, namespace, params, since, table, rewind, request))

    async def _stream(self, res: Resource, namespace: str | None, params: dict[str, str], since: int | None,
                      table: bool, rewind: int, request: httpx.Request) -> AsyncIterator[bytes]:
        def line(kind: str, obj: Obj) -> bytes:
            if table and kind != "BOOKMARK":
                obj = self._table(res, [obj])
            return json.dumps({"type": kind, "object": obj}).encode() + b"\n"

        if since is not None and since < self.compacted:
            yield line("ERROR", status(410, "Expired", f"too old resource version: {since} ({self.compacted})"))
            return
        end_gen, break_gen = self._end_gen, self._break_gen
        self.open_watches += 1
        try:
            if since is None:
                for (plural, _, _), obj in list(self.objects.items()):
                    if plural == res.plural and self._matches(obj, namespace, params):
                        yield line("ADDED", copy.deepcopy(obj))
                since = self.rev
            relevant = [e for e in self.history if e.res == res]
            if rewind:
                earlier = [e for e in relevant if e.rev <= since]
                since = earlier[-rewind].rev - 1 if len(earlier) >= rewind else since
            for _ in range(10_000):
                upto = self.rev
                for ev in [e for e in self.history if since < e.rev <= upto and e.res == res]:
                    if self._matches(ev.obj, namespace, params):
                        yield line(ev.type, copy.deepcopy(ev.obj))
                since = upto
                if params.get("allowWatchBookmarks") == "true":
                    yield line("BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version,
                                            "metadata": {"resourceVersion": str(upto)}})
                if self.end_when_caught_up:
                    return
                signal = self._event()
                if self.rev == since and self._end_gen == end_gen and self._break_gen == break_gen:
                    await signal.wait()
                if self._break_gen != break_gen:
                    raise httpx.ReadError("watch connection reset", request=request)
                if self._end_gen != end_gen:
                    return
        finally:
            self.open_watches -= 1
