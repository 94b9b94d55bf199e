"""The async Kubernetes REST client every raftkube component uses (httpx, several endpoints).

    async with ApiClient.from_kubeconfig() as api:
        pod = await api.get(("v1", "Pod"), "web-0", "default")
        async for kind, obj in api.watch(POD, "default", resource_version=rv):
            ...

Resources are named by a `raftkube.api.resources.Resource` or an `(apiVersion, kind)` pair
(kinds outside the built-in table are found through discovery). Namespaces: `list`/`watch`
with `namespace=None` span all namespaces; other calls fall back to the body's
`metadata.namespace`, then the client's default namespace. Errors are the typed exceptions
of `raftkube.client.errors`; failover and retry rules are in `raftkube.client.failover`.
The kubeconfig format (servers in a `raftkube.io/endpoints` cluster extension) is described
in `raftkube.client.kubeconfig`.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from typing import Any, AsyncGenerator, AsyncIterator, Awaitable, Callable

import httpx

from ..api.resources import Resource
from .errors import ApiError, ApiUnavailable, Expired, ServerError, TooManyRequests
from .failover import Failover, RetryPolicy
from .kubeconfig import load_kubeconfig
from .refs import Obj, ResourceLike, collection_path, object_path, ref_of, resource_from_discovery, table_lookup
from .transport import api_transport
from .watch import WatchStreamBroken, event_resource_version, iter_events

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PATCH_TYPES = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
               "strategic": "application/strategic-merge-patch+json", "apply": "application/apply-patch+yaml"}


class ApiClient:
    def __init__(self, endpoints: list[str] | str, token: str | None = None, ca_file: str | None = None, *,
                 ca_data: str | None = None, insecure: bool = False, namespace: str = "default",
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 30.0,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 user_agent: str = "raftkube-client/0.1", watch_reconnects: int = 10,
                 max_connections: int = 256, keepalive_expiry: float = 5.0) -> None:
        if isinstance(endpoints, str):
            endpoints = endpoints.split(",")
        headers = {"accept": "application/json", "user-agent": user_agent}
        if token:
            headers["authorization"] = f"Bearer {token}"
        verify: ssl.SSLContext | bool = False if insecure else True
        if not insecure and (ca_file or ca_data):
            verify = ssl.create_default_context(cafile=ca_file, cadata=ca_data)
        # aiohttp's connections under httpx's API (see .transport): a third of httpx's own CPU per request
        self.http = httpx.AsyncClient(headers=headers, transport=transport or api_transport(verify, max_connections,
                                                                                           keepalive_expiry),
                                      timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)))
        self.failover = Failover(list(endpoints), self.http, retry, sleep=sleep)
        self.namespace = namespace
        self.ca_pem = ca_data or _read_text(ca_file)  # the CA it trusts (published in-cluster by a controller)
        self.timeout = timeout
        self.watch_reconnects = watch_reconnects
        self._sleep = sleep
        self._discovered: dict[tuple[str, str], Resource] = {}

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, context: str | None = None, **kwargs: Any) -> ApiClient:
        """A client for the kubeconfig's current (or given) context; kwargs go to the constructor."""
        cfg = load_kubeconfig(path, context)
        kwargs.setdefault("namespace", cfg.namespace or "default")
        return cls(cfg.endpoints, cfg.token, cfg.ca_file, ca_data=cfg.ca_data, insecure=cfg.insecure, **kwargs)

    @property
    def endpoints(self) -> list[str]:
        return list(self.failover.endpoints)

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing ------------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                      content_type: str = "application/json", accept: str | None = None) -> Any:
        """Any call (e.g. `/version`, discovery, subresources); returns the decoded JSON answer (or text)."""
        headers: dict[str, str] = {}
        content: bytes | None = None
        if body is not None:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["content-type"] = content_type
        if accept:
            headers["accept"] = accept
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        response = await self.failover.send(method, path, params=clean or None, content=content, headers=headers)
        if not response.content:
            return None
        if "json" in response.headers.get("content-type", "application/json"):
            return response.json()
        return response.text

    async def resolve(self, ref: ResourceLike) -> Resource:
        """The Resource for `ref`: the built-in table first, then the server's discovery document."""
        found = table_lookup(ref)
        if found is not None:
            return found
        assert isinstance(ref, tuple)
        if ref not in self._discovered:
            api_version, kind = ref
            path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            found = resource_from_discovery(api_version, kind, await self.request("GET", path) or {})
            if found is None:
                raise ValueError(f"the server does not serve kind {kind!r} in {api_version!r}")
            self._discovered[ref] = found
        return self._discovered[ref]

    def _namespace(self, res: Resource, namespace: str | None, body: Obj | None = None) -> str | None:
        if not res.namespaced:
            return None
        return namespace or ((body or {}).get("metadata") or {}).get("namespace") or self.namespace

    @staticmethod
    def _write_params(field_manager: str | None, dry_run: bool) -> dict[str, Any]:
        return {"fieldManager": field_manager, "dryRun": "All" if dry_run else None}

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, ref: ResourceLike, name: str, namespace: str | None = None, *, table: bool = False,
                  subresource: str | None = None) -> Obj:
        res = await self.resolve(ref)
        path = object_path(res, self._namespace(res, namespace), name, subresource)
        return _obj(await self.request("GET", path, accept=TABLE_ACCEPT if table else None))

    async def list_pages(self, ref: ResourceLike, namespace: str | None = None, *, label_selector: str | None = None,
                         field_selector: str | None = None, limit: int | None = 500,
                         resource_version: str | None = None, table: bool = False) -> AsyncIterator[Obj]:
        """Each page of a chunked list (`limit` per page), following `metadata.continue`."""
        res = await self.resolve(ref)
        path = collection_path(res, namespace if res.namespaced else None)
        params: dict[str, Any] = {"labelSelector": label_selector or None, "fieldSelector": field_selector or None,
                                  "limit": limit or None, "resourceVersion": resource_version}
        for _ in range(1_000_000):  # bounded: a continue token never repeats
            page = _obj(await self.request("GET", path, params=params, accept=TABLE_ACCEPT if table else None))
            yield page
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            params = {**params, "continue": token, "resourceVersion": None}

    async def list(self, ref: ResourceLike, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None, limit: int | None = 500, resource_version: str | None = None,
                   table: bool = False) -> Obj:
        """All items (or Table rows) as one list; its resourceVersion is the first page's.

        If a continue token expires half-way (410), the list restarts once without chunking,
        as client-go's pager does.
        """
        kwargs: dict[str, Any] = {"label_selector": label_selector, "field_selector": field_selector,
                                  "resource_version": resource_version, "table": table}
        try:
            return await self._collect(self.list_pages(ref, namespace, limit=limit, **kwargs), table)
        except Expired:
            if not limit:
                raise
            return await self._collect(self.list_pages(ref, namespace, limit=None, **kwargs), table)

    @staticmethod
    async def _collect(pages: AsyncIterator[Obj], table: bool) -> Obj:
        out: Obj | None = None
        field = "rows" if table else "items"
        async for page in pages:
            if out is None:
                out = dict(page)
                out["metadata"] = {k: v for k, v in (page.get("metadata") or {}).items() if k != "continue"}
                field = "rows" if page.get("kind") == "Table" else "items"
                out[field] = list(page.get(field) or [])
            else:
                out[field].extend(page.get(field) or [])
        assert out is not None
        return out

    # -- writes --------------------------------------------------------------------------------

    async def create(self, ref: ResourceLike | None, body: Obj, namespace: str | None = None, *,
                     field_manager: str | None = None, dry_run: bool = False) -> Obj:
        """POST; `ref` None takes the resource from the body's apiVersion/kind. Never retried once sent."""
        res = await self.resolve(ref or ref_of(body))
        path = collection_path(res, self._namespace(res, namespace, body))
        return _obj(await self.request("POST", path, body=body, params=self._write_params(field_manager, dry_run)))

    async def update(self, ref: ResourceLike | None, body: Obj, namespace: str | None = None, *,
                     field_manager: str | None = None, dry_run: bool = False) -> Obj:
        """PUT the whole object; compare-and-swap when the body carries metadata.resourceVersion."""
        return await self._put(ref, body, namespace, None, field_manager, dry_run)

    async def update_status(self, ref: ResourceLike | None, body: Obj, namespace: str | None = None, *,
                            field_manager: str | None = None) -> Obj:
        return await self._put(ref, body, namespace, "status", field_manager, False)

    async def _put(self, ref: ResourceLike | None, body: Obj, namespace: str | None, subresource: str | None,
                   field_manager: str | None, dry_run: bool) -> Obj:
        res = await self.resolve(ref or ref_of(body))
        name = (body.get("metadata") or {}).get("name", "")
        path = object_path(res, self._namespace(res, namespace, body), name, subresource)
        return _obj(await self.request("PUT", path, body=body, params=self._write_params(field_manager, dry_run)))

    async def patch(self, ref: ResourceLike, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None, field_manager: str | None = None,
                    force: bool | None = None, dry_run: bool = False) -> Obj:
        """PATCH; `patch_type` is merge, json, strategic, apply (or a full content type)."""
        res = await self.resolve(ref)
        content_type = PATCH_TYPES.get(patch_type, patch_type)
        if content_type == PATCH_TYPES["apply"] and not field_manager:
            raise ValueError("a server-side apply needs a field_manager")
        params = self._write_params(field_manager, dry_run)
        params["force"] = None if force is None else ("true" if force else "false")
        path = object_path(res, self._namespace(res, namespace, patch if isinstance(patch, dict) else None),
                           name, subresource)
        return _obj(await self.request("PATCH", path, body=patch, content_type=content_type, params=params))

    async def delete(self, ref: ResourceLike, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None, preconditions: dict[str, str] | None = None,
                     grace_period_seconds: int | None = None, dry_run: bool = False) -> Obj:
        """DELETE with a DeleteOptions body; returns the Status or the object (if finalizers keep it)."""
        res = await self.resolve(ref)
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = preconditions
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if dry_run:
            options["dryRun"] = ["All"]
        path = object_path(res, self._namespace(res, namespace), name)
        return _obj(await self.request("DELETE", path, body=options))

    # -- watch ---------------------------------------------------------------------------------

    async def watch(self, ref: ResourceLike, namespace: str | None = None, *, resource_version: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None,
                    allow_bookmarks: bool = True, timeout_seconds: int | None = None, follow: bool = True,
                    table: bool = False) -> AsyncGenerator[tuple[str, Obj], None]:
        """(type, object) events from `resource_version`; BOOKMARKs are yielded too.

        With `follow`, a stream that ends or breaks is reopened (on the next endpoint if need
        be) from the last resourceVersion seen, so nothing is skipped; more than
        `watch_reconnects` failures in a row raise ApiUnavailable. Without `follow`, one stream
        is read to its end and a break raises ApiUnavailable. An ERROR event raises its typed
        error: `Expired` (410) means the version is gone and the caller must relist.
        """
        res = await self.resolve(ref)
        path = collection_path(res, namespace if res.namespaced else None)
        rv = resource_version
        read_timeout = None if timeout_seconds is None else timeout_seconds + self.timeout
        timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 3.0), read=read_timeout)
        failures = 0
        for _ in range(1_000_000_000):  # bounded in principle: a caller stops reading long before
            params = {"watch": "1", "resourceVersion": rv or None, "labelSelector": label_selector or None,
                      "fieldSelector": field_selector or None, "timeoutSeconds": timeout_seconds,
                      "allowWatchBookmarks": "true" if allow_bookmarks else None}
            headers = {"accept": TABLE_ACCEPT if table else "application/json"}
            response = await self.failover.send("GET", path, params={k: v for k, v in params.items() if v is not None},
                                                headers=headers, timeout=timeout, stream=True)
            opened, got_event = time.monotonic(), False
            try:
                async for kind, obj in iter_events(response):
                    got_event = True
                    rv = event_resource_version(obj) or rv
                    yield kind, obj
            except (httpx.TransportError, WatchStreamBroken) as exc:
                self.failover.demote_url(str(response.request.url))
                failures = 0 if got_event else failures + 1
                if not follow or failures > self.watch_reconnects:
                    raise ApiUnavailable(message=f"watch on {path} broke: {type(exc).__name__}: {exc}") from exc
            except (ServerError, TooManyRequests):  # an ERROR event the server may not repeat: resume
                failures = 0 if got_event else failures + 1
                if not follow or failures > self.watch_reconnects:
                    raise
            else:
                if not follow:
                    return
                # a stream that ends at once with nothing in it counts as a failure (backoff, limit)
                quiet = not got_event and time.monotonic() - opened < 1.0
                failures = failures + 1 if quiet else 0
                if failures > self.watch_reconnects:
                    raise ApiUnavailable(message=f"watch on {path} keeps ending at once without events")
            finally:
                await response.aclose()
            if failures:
                await self._sleep(min(0.05 * 2 ** failures, 2.0))


    async def logs(self, name: str, namespace: str | None = None, *, container: str | None = None,
                   follow: bool = False, previous: bool = False, tail_lines: int | None = None,
                   timestamps: bool = False) -> AsyncGenerator[bytes, None]:
        """A pod's container log as chunks of bytes (pods/log, served by the pod's node agent)."""
        path = f"/api/v1/namespaces/{namespace or self.namespace}/pods/{name}/log"
        params = {"container": container, "follow": "true" if follow else None,
                  "previous": "true" if previous else None, "tailLines": tail_lines,
                  "timestamps": "true" if timestamps else None}
        timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 3.0), read=None if follow else self.timeout)
        response = await self.failover.send("GET", path, params={k: v for k, v in params.items() if v is not None},
                                            headers={"accept": "*/*"}, timeout=timeout, stream=True)
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        finally:
            await response.aclose()


def _read_text(path: str | None) -> str | None:
    if not path:
        return None
    with open(path) as f:
        return f.read()


def _obj(answer: Any) -> Obj:
    """An answer that must be a JSON object (a server that sends anything else is broken)."""
    if not isinstance(answer, dict):
        raise ApiError(code=500, reason="InternalError", message=f"expected a JSON object, got {str(answer)[:200]!r}")
    return answer
