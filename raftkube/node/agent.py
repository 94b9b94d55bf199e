"""The node agent: registers its Node, renews its Lease, runs the pods bound to it through a
`Runtime`, reports their status, and serves their logs.

    agent = Agent(AgentConfig(node="n1"), HollowRuntime("n1"), client)
    await agent.start()     # adopt sandboxes, register, watch pods, start workers
    ...
    await agent.stop()      # stops working; containers keep running (a new agent adopts them)

Start order: the runtime's sandboxes are listed first (their IPs re-reserved), then pods bound
to the node are listed and watched (fieldSelector spec.nodeName); each pod gets a `PodWorker`
that adopts its sandbox as it is (a healthy container is not restarted). Sandboxes labelled
with this node that match no pod after the initial list are orphans and are removed. A relist
of the runtime every `relist_period` seconds pokes the workers whose containers changed (a
container that exited). Released local-path volumes of the node are removed (node/local_volumes.py).
The agent never closes the client or the runtime it was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from typing import Any

import httpx

from ..client import ApiClient, ApiError, Informer
from ..client.events import EventRecorder
from .backoff import Backoff
from .config import AgentConfig
from .context import AgentContext
from .env import referenced_objects
from .heartbeat import Heartbeat
from .ip_alloc import IpAllocator
from .local_volumes import LocalVolumeReaper
from .log_server import LogServer, LogServerTLS, build_app
from .node_status import NodeStatusLoop, register
from .object_watches import ObjectWatches
from .pod_worker import PodWorker
from .runtime import Runtime, SandboxState
from .stats import StatsSampler
from .volumes import remove_pod_dir

log = logging.getLogger(__name__)
Obj = dict[str, Any]
POD = ("v1", "Pod")


async def runtime_version(runtime: Runtime) -> str:
    """The runtime's `version` (attribute, method or coroutine), else the runtime's class name."""
    value: Any = getattr(runtime, "version", None)
    if callable(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return str(value) if value else f"{type(runtime).__name__.lower()}://unknown"


def _signature(sandbox: SandboxState) -> tuple[tuple[str, str, str], ...]:
    return tuple(sorted((c.name, c.id, c.status) for c in sandbox.containers))


class Agent:
    def __init__(self, config: AgentConfig, runtime: Runtime, client: ApiClient) -> None:
        self.config, self.runtime, self.client = config, runtime, client
        self.workers: dict[str, PodWorker] = {}
        self.node: Obj | None = None
        self.heartbeat: Heartbeat | None = None
        self.status_loop: NodeStatusLoop | None = None
        self.informer: Informer | None = None
        self.reaper: LocalVolumeReaper | None = None
        self.log_server: LogServer | None = None
        self.stats: StatsSampler | None = None  # resource usage for /stats/summary (with the log server)
        self.ctx: AgentContext | None = None
        self.orphans_removed = 0
        self._adopted: dict[str, SandboxState] = {}
        self._seen: dict[str, tuple[tuple[str, str, str], ...]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._recorder: EventRecorder | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.config
        await self.runtime.start()
        version = await runtime_version(self.runtime)
        if cfg.events:
            self._recorder = EventRecorder(self.client, "kubelet")
        self.ctx = AgentContext(cfg, self.client, self.runtime, IpAllocator(cfg.pod_cidr),
                                Backoff(cfg.backoff_base, cfg.backoff_max, cfg.backoff_reset),
                                httpx.AsyncClient(verify=False, follow_redirects=False),
                                ObjectWatches(self.client, on_change=self._object_changed),
                                self._recorder)
        loop = asyncio.get_running_loop()
        if self._recorder is not None:
            self._tasks.append(loop.create_task(self._recorder.run(), name=f"events-{cfg.node}"))
        if cfg.port:
            if not (cfg.tls_cert and cfg.tls_key and cfg.client_ca_file):
                raise ValueError("the log server needs --tls-cert, --tls-key and --client-ca-file (TLS only)")
            self.stats = StatsSampler(cfg.node, self.runtime, self._sandboxes, cfg.stats_period)
            self.stats.start()
            app = build_app(self.runtime, self.lookup, self.sandbox_of, self.stats.summary)
            self.log_server = LogServer(app, cfg.address, cfg.port,
                                        LogServerTLS(cfg.tls_cert, cfg.tls_key, cfg.client_ca_file))
            await self.log_server.start()
        self.node = await self._register(version)
        self.heartbeat = Heartbeat(self.client, cfg.node, self.node["metadata"]["uid"], cfg.lease_duration)
        await self.heartbeat.renew()
        self._tasks.append(loop.create_task(self.heartbeat.run(cfg.heartbeat), name=f"lease-{cfg.node}"))
        self.status_loop = NodeStatusLoop(self.client, cfg, version, self.node)
        self._tasks.append(loop.create_task(self.status_loop.run(cfg.status_period), name=f"node-{cfg.node}"))
        for sandbox in await self.runtime.list_sandboxes():
            self._adopted[sandbox.uid] = sandbox
            self._seen[sandbox.uid] = _signature(sandbox)
            if sandbox.pod_ip != cfg.address:
                self.ctx.ips.reserve(sandbox.uid, sandbox.pod_ip)
        self.informer = Informer(self.client, POD, None, field_selector=f"spec.nodeName={cfg.node}",
                                 name=f"pods-{cfg.node}")
        self.informer.add_handlers(on_add=self._upsert, on_update=lambda old, new: self._upsert(new),
                                   on_delete=self._deleted)
        self.informer.start()
        await self.informer.wait_synced()
        for uid in list(self._adopted):  # not claimed by any pod of the initial list
            await self._remove_orphan(uid)
        self._tasks.append(loop.create_task(self._relist_loop(), name=f"relist-{cfg.node}"))
        self.reaper = LocalVolumeReaper(self.client, cfg.node, cfg.storage_dir)
        self._tasks.append(loop.create_task(self.reaper.run(), name=f"local-volumes-{cfg.node}"))

    async def _register(self, version: str, attempts: int = 30) -> Obj:
        """Register the Node, retrying while the API is unreachable (bounded: about a minute)."""
        for attempt in range(attempts):
            try:
                return await register(self.client, self.config, version)
            except ApiError as exc:
                if attempt == attempts - 1:
                    raise
                log.warning("node %s: registration failed (%s); retrying", self.config.node, exc)
                await asyncio.sleep(min(0.5 * 2 ** attempt, 2.0))
        raise AssertionError("unreachable")

    async def stop(self) -> None:
        """Stop every loop and worker; the containers keep running."""
        if self.informer is not None:
            await self.informer.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await asyncio.gather(*(w.stop() for w in self.workers.values()))
        self.workers.clear()
        if self.log_server is not None:
            await self.log_server.stop()
        if self.stats is not None:
            await self.stats.stop()
        if self._recorder is not None:
            await self._recorder.flush(1.0)
        if self.ctx is not None:
            await self.ctx.objects.close()
            await self.ctx.http.aclose()

    # -- pods -----------------------------------------------------------------------------------
    def _upsert(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") != self.config.node or self.ctx is None:
            return
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        worker = PodWorker(self.ctx, pod, self._adopted.pop(uid, None))
        self.workers[uid] = worker
        worker.start()
        task = worker._task
        if task is not None:
            task.add_done_callback(lambda _t, uid=uid, w=worker: self._worker_done(uid, w))

    def _worker_done(self, uid: str, worker: PodWorker) -> None:
        if self.workers.get(uid) is worker and worker.finished:
            del self.workers[uid]
            self._seen.pop(uid, None)

    def _object_changed(self, namespace: str, kind: str, name: str) -> None:
        """A ConfigMap, Secret or Service the node watches changed: its pods sync now (volumes, env)."""
        for worker in self.workers.values():
            if worker.pod["metadata"].get("namespace") == namespace and (kind, name) in referenced_objects(worker.pod):
                worker.poke()

    def _deleted(self, pod: Obj) -> None:
        worker = self.workers.get(pod["metadata"]["uid"])
        if worker is not None:
            worker.update(None)

    async def _remove_orphan(self, uid: str) -> None:
        sandbox = self._adopted.pop(uid, None)
        log.info("node %s: removing orphan sandbox %s (%s/%s)", self.config.node, uid,
                 sandbox.namespace if sandbox else "?", sandbox.name if sandbox else "?")
        await self.runtime.remove_sandbox(uid, 0.0)
        remove_pod_dir(self.config.pod_dir(uid))
        if self.ctx is not None:
            self.ctx.ips.release(uid)
        self._seen.pop(uid, None)
        self.orphans_removed += 1

    async def _relist_loop(self) -> None:
        for _ in range(10**9):  # bounded in principle; ends by cancellation
            await asyncio.sleep(self.config.relist_period)
            try:
                await self.relist()
            except Exception as exc:  # a runtime hiccup must not end the loop
                log.warning("node %s: runtime relist failed: %s: %s", self.config.node, type(exc).__name__, exc)

    async def relist(self) -> None:
        """Poke workers whose containers changed; remove sandboxes no pod of this node claims."""
        sandboxes = await self.runtime.list_sandboxes()
        known = {p["metadata"]["uid"] for p in self.informer.cache.list()} if self.informer else set()
        for sandbox in sandboxes:
            signature = _signature(sandbox)
            worker = self.workers.get(sandbox.uid)
            if worker is None and sandbox.uid not in known:
                self._adopted[sandbox.uid] = sandbox
                await self._remove_orphan(sandbox.uid)
                continue
            if self._seen.get(sandbox.uid) != signature:
                self._seen[sandbox.uid] = signature
                if worker is not None:
                    worker.poke()

    def _sandboxes(self) -> list[SandboxState]:
        return [w.sandbox for w in self.workers.values() if w.sandbox is not None]

    def sandbox_of(self, namespace: str, name: str) -> SandboxState | None:
        """The sandbox of a pod of this node (for exec, attach and port-forward), None if it has none yet."""
        for worker in self.workers.values():
            meta = worker.pod["metadata"]
            if meta.get("namespace") == namespace and meta.get("name") == name:
                return worker.sandbox
        return None

    def lookup(self, namespace: str, name: str) -> tuple[str, list[str]] | None:
        """(uid, container names) of a pod of this node, for the log server."""
        for worker in self.workers.values():
            meta = worker.pod["metadata"]
            if meta.get("namespace") == namespace and meta.get("name") == name:
                spec = worker.pod.get("spec") or {}
                names = [c["name"] for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or [])]
                return worker.uid, names
        return None
