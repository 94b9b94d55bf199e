"""The ingress controller: an HTTP and HTTPS reverse proxy on this machine for the Ingresses of its class.

    controller = IngressController(api, IngressSettings(http_port=8080, https_port=8443, data_dir="..."))
    await controller.start()     # informers synced, listeners bound, statuses written
    await controller.stop()

It follows IngressClasses, Ingresses, Services, Endpoints and kubernetes.io/tls Secrets with informers;
any change rebuilds the routing table (`ingress_routes.build_table`) and sets `status.loadBalancer.ingress`
of every Ingress it serves to its address (with the ports it listens on). A request is routed by its Host
header (HTTP) or server name (HTTPS: TLS terminated with the Secret the Ingress names for that host,
`ingress_tls`) and path, and proxied to the next ready endpoint of the backend Service (round-robin),
with `X-Forwarded-For/-Host/-Proto`; the Host header is passed on unchanged. No route: 404; a backend
without ready endpoints: 503; an endpoint that refuses or fails: 502.

The listeners are an ingress's public entry point, as any ingress controller's: they serve only what
Ingress objects expose and bind `address` (127.0.0.1 by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from ..client import ApiClient, ApiError, Informer
from .ingress_routes import IngressTable, Route, build_table
from .ingress_tls import IngressTls

log = logging.getLogger(__name__)
Obj = dict[str, Any]
INGRESS, INGRESS_CLASS = ("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1", "IngressClass")
SERVICE, ENDPOINTS, SECRET = ("v1", "Service"), ("v1", "Endpoints"), ("v1", "Secret")
CONTROLLER_NAME = "raftkube.io/ingress-controller"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "host", "content-length"})
BACKEND_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5, sock_read=60)


@dataclass
class IngressSettings:
    data_dir: str
    address: str = "127.0.0.1"
    http_port: int = 8080  # 0: any free port (tests; `ports` tells which)
    https_port: int = 8443
    controller: str = CONTROLLER_NAME
    status_address: str = ""  # written to Ingress status (default: `address`)


class IngressController:
    def __init__(self, api: ApiClient, settings: IngressSettings) -> None:
        self.api, self.settings = api, settings
        self.informers = {ref: Informer(api, ref, None, name=f"ingress-{ref[1].lower()}")
                          for ref in (INGRESS_CLASS, INGRESS, SERVICE, ENDPOINTS)}
        self.informers[SECRET] = Informer(api, SECRET, None, field_selector="type=kubernetes.io/tls",
                                          name="ingress-secrets")
        self.tls = IngressTls(settings.data_dir)
        self.table = IngressTable()
        self.ports: dict[str, int] = {}
        self._dirty = asyncio.Event()
        self._next: dict[tuple[str, str, str], int] = {}
        self._runners: list[web.BaseRunner] = []
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        for informer in self.informers.values():
            informer.add_handlers(on_add=self._mark, on_update=self._mark, on_delete=self._mark)

    def _mark(self, *_objs: Any) -> None:
        self._dirty.set()

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self, timeout: float = 60.0) -> None:
        for informer in self.informers.values():
            informer.start()
        for informer in self.informers.values():
            if not await informer.wait_synced(timeout):
                raise TimeoutError(f"ingress controller: the {informer.name} informer did not sync in {timeout}s")
        self._session = aiohttp.ClientSession(timeout=BACKEND_TIMEOUT, auto_decompress=False)
        self._rebuild()
        server = web.Server(self._handle)
        for scheme, port in (("http", self.settings.http_port), ("https", self.settings.https_port)):
            runner = web.ServerRunner(server, handle_signals=False)
            await runner.setup()
            context = self.tls.server_context(self._secret_for) if scheme == "https" else None
            site = web.TCPSite(runner, self.settings.address, port, ssl_context=context, reuse_address=True)
            await site.start()
            self._runners.append(runner)
            self.ports[scheme] = int(runner.addresses[0][1])
            log.info("ingress: %s on %s:%s", scheme, self.settings.address, self.ports[scheme])
        await self._write_statuses()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ingress-controller")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        if self._session is not None:
            await self._session.close()
        for informer in self.informers.values():
            await informer.stop()

    async def _run(self) -> None:
        for _ in range(10**15):  # bounded in principle; ends by cancellation (stop)
            await self._dirty.wait()
            self._dirty.clear()
            try:
                self._rebuild()
                await self._write_statuses()
            except Exception:  # the next change tries again
                log.exception("ingress: reconcile failed")

    def _rebuild(self) -> None:
        lists = {ref: informer.cache.list() for ref, informer in self.informers.items()}
        self.table = build_table(lists[INGRESS_CLASS], lists[INGRESS], lists[SERVICE], lists[ENDPOINTS],
                                 self.settings.controller)

    def _secret_for(self, server_name: str) -> Obj | None:
        found = self.table.secret_for(server_name)
        return self.informers[SECRET].cache.get_by_name(found[1], found[0]) if found else None

    # -- status -----------------------------------------------------------------------------------
    def wanted_status(self) -> list[Obj]:
        address = self.settings.status_address or self.settings.address
        ports = [{"port": port, "protocol": "TCP"} for port in sorted(self.ports.values())]
        return [{"ip": address, "ports": ports}]

    async def _write_statuses(self) -> None:
        wanted = self.wanted_status()
        for ingress in self.table.ingresses:
            load_balancer = (ingress.get("status") or {}).get("loadBalancer") or {}
            if load_balancer.get("ingress") == wanted:
                continue
            meta = ingress["metadata"]
            body = {**ingress, "status": {"loadBalancer": {"ingress": wanted}}}
            try:
                await self.api.update_status(INGRESS, body, meta["namespace"])
            except ApiError as exc:  # a conflict: the informer brings the new version, and another try
                log.info("ingress %s/%s: status not written (%s)", meta["namespace"], meta["name"], exc)

    # -- proxying ---------------------------------------------------------------------------------
    def _pick(self, route: Route) -> list[tuple[str, int]]:
        key = (route.namespace, route.service, route.port)
        start = self._next.get(key, 0) % len(route.backends)
        self._next[key] = start + 1
        return [route.backends[(start + i) % len(route.backends)] for i in range(min(3, len(route.backends)))]

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        route = self.table.match(host, request.path)
        if route is None:
            return web.Response(status=404, text="default backend - 404\n")
        if not route.backends:
            return web.Response(status=503, text=f"no ready endpoints for service {route.namespace}/{route.service}\n")
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = host
        peer = request.remote or ""
        forwarded = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else peer
        headers["X-Forwarded-Host"] = host
        headers["X-Forwarded-Proto"] = request.scheme
        body = await request.read() if request.body_exists else None
        for ip, port in self._pick(route):
            url = f"http://{ip}:{port}{request.rel_url}"
            try:
                upstream = await self._session.request(request.method, url, headers=headers, data=body,
                                                       allow_redirects=False)
            except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, TimeoutError) as exc:
                log.info("ingress: %s failed (%s), trying the next endpoint", url, exc)
                continue
            async with upstream:  # from here on the answer is this endpoint's, whatever happens
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for name, value in upstream.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        response.headers.add(name, value)
                await response.prepare(request)
                async for chunk in upstream.content.iter_chunked(65536):
                    await response.write(chunk)
                await response.write_eof()
                return response
        return web.Response(status=502, text="bad gateway: no endpoint answered\n")
