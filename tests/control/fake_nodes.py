"""The fake node agents of the tests and of the chaos runner's fallback: the test plays the node agents
(and, where it wants, the scheduler).

    nodes = FakeNodes(client, ["n1", "n2"], labels={"pool": "a"})
    await nodes.register()      # Node objects, Ready=True, and their Leases in kube-node-lease
    nodes.start()               # renews the Leases every `renew_every` s and finishes graceful pod deletions
    nodes.stop_renewing("n1")   # n1 "dies": its Lease goes stale, its terminating pods stay
    await set_pod_status(client, pod, phase="Running", ready=True, ip="10.0.0.7")
    await bind(client, pod, "n2")
    kubelet = Kubelet(client, "ns", nodes)   # pods bound to a live node turn Running and Ready
    await kubelet.start()       # (nodes=None: every active pod of the namespace, bound or not)
    await nodes.stop()

Every write retries a conflict from a fresh read (bounded); nothing here sleeps except the
heartbeat period of the background task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from raftkube.client import AlreadyExists, ApiClient, ApiError, Conflict, Informer, NotFound
from raftkube.control.podutil import is_active, is_ready

Obj = dict[str, Any]
NODE = ("v1", "Node")
POD = ("v1", "Pod")
LEASE = ("coordination.k8s.io/v1", "Lease")
LEASE_NAMESPACE = "kube-node-lease"
ATTEMPTS = 20


def _now(micro: bool = False) -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def node_body(name: str, labels: dict[str, str] | None = None) -> Obj:
    now = _now()
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  **(labels or {})}},
            "spec": {},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "fake node is ready", "lastHeartbeatTime": now,
                                       "lastTransitionTime": now}],
                       "addresses": [{"type": "Hostname", "address": name}]}}


class FakeNodes:
    def __init__(self, client: ApiClient, names: Iterable[str], labels: dict[str, str] | None = None,
                 renew_every: float = 1.0) -> None:
        self.client = client
        self.names = list(names)
        self.labels = labels or {}
        self.renew_every = renew_every
        self.alive = set(self.names)
        self.uids: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def register(self) -> None:
        """Create (or reuse) each Node, Ready, and its Lease owned by it."""
        for name in self.names:
            try:
                node = await self.client.create(NODE, node_body(name, self.labels))
            except AlreadyExists:
                node = await self.client.get(NODE, name)
            self.uids[name] = node["metadata"]["uid"]
            await self.renew(name)

    async def renew(self, name: str) -> None:
        lease: Obj = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                      "metadata": {"name": name, "namespace": LEASE_NAMESPACE, "ownerReferences": [
                          {"apiVersion": "v1", "kind": "Node", "name": name, "uid": self.uids[name]}]},
                      "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": _now(True)}}
        for _ in range(ATTEMPTS):
            try:
                current = await self.client.get(LEASE, name, LEASE_NAMESPACE)
            except NotFound:
                try:
                    await self.client.create(LEASE, lease, LEASE_NAMESPACE)
                    return
                except AlreadyExists:
                    continue
            current["spec"] = {**(current.get("spec") or {}), "renewTime": _now(True)}
            try:
                await self.client.update(LEASE, current, LEASE_NAMESPACE)
                return
            except Conflict:
                continue

    def stop_renewing(self, name: str) -> None:
        self.alive.discard(name)

    def resume_renewing(self, name: str) -> None:
        self.alive.add(name)

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self._task

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        for _ in range(1_000_000):  # bounded in principle; ends with stop()
            if self._stopping.is_set():
                return
            try:
                await asyncio.gather(*(self.renew(n) for n in sorted(self.alive)))
                await self.finish_deletions()
            except ApiError:
                pass  # a replica failing over: the next beat tries again
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.renew_every)

    async def finish_deletions(self) -> None:
        """What a node agent does for a pod deleted gracefully: stop it, then delete it for good."""
        pods = (await self.client.list(POD, None)).get("items") or []
        for pod in pods:
            meta, node = pod["metadata"], (pod.get("spec") or {}).get("nodeName")
            if meta.get("deletionTimestamp") and node in self.alive:
                with contextlib.suppress(NotFound, Conflict):
                    await self.client.delete(POD, meta["name"], meta["namespace"], grace_period_seconds=0,
                                             preconditions={"uid": meta["uid"]})


async def set_pod_status(client: ApiClient, pod: Obj, *, phase: str = "Running", ready: bool = True,
                         ip: str | None = None) -> Obj:
    """Post a pod status as its node agent would (retrying conflicts on a fresh read)."""
    meta = pod["metadata"]
    for _ in range(ATTEMPTS):
        current = await client.get(POD, meta["name"], meta["namespace"])
        now = _now()
        flag = "True" if ready else "False"
        status: Obj = {**(current.get("status") or {}), "phase": phase, "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": flag, "lastTransitionTime": now},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]}
        if ip:
            status.update(podIP=ip, podIPs=[{"ip": ip}], hostIP="192.168.0.1")
        if phase in ("Running", "Succeeded", "Failed"):
            status.setdefault("startTime", now)
        try:
            return await client.update_status(POD, {**current, "status": status})
        except Conflict:
            continue
    raise AssertionError(f"could not update the status of pod {meta['name']}")


async def bind(client: ApiClient, pod: Obj, node: str) -> None:
    """Bind a pod to a node through pods/binding, as a scheduler does."""
    meta = pod["metadata"]
    body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
    await client.request("POST", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/binding", body=body)


def image_of(pod: Obj) -> str:
    return str(pod["spec"]["containers"][0]["image"])


class Kubelet:
    """The pod half of the fake node agents: an active pod of `namespace` (None: every namespace) bound to a
    live node of `nodes` turns Running and Ready; with `nodes=None` every active pod does, bound or not (the
    test plays scheduler and kubelet in one). `hold = (image, n)` starts at most n pods of that image until
    `release()`."""

    def __init__(self, client: ApiClient, namespace: str | None, nodes: FakeNodes | None = None) -> None:
        self.client, self.nodes = client, nodes
        self.informer = Informer(client, POD, namespace)
        self.informer.add_handlers(on_add=self._seen, on_update=lambda old, new: self._seen(new))
        self.hold: tuple[str, int] | None = None
        self.started: Counter[str] = Counter()
        self._busy: set[str] = set()
        self._done: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.informer.start()
        assert await self.informer.wait_synced(30), "kubelet informer not synced"

    def _seen(self, pod: Obj) -> None:
        uid, node = pod["metadata"]["uid"], pod["spec"].get("nodeName")
        off_node = self.nodes is not None and (not node or node not in self.nodes.alive)
        if off_node or not is_active(pod) or is_ready(pod) or uid in self._busy:
            return
        image = image_of(pod)
        if uid not in self._done:
            if self.hold is not None and image == self.hold[0] and self.started[image] >= self.hold[1]:
                return
            self.started[image] += 1
            self._done.add(uid)
        self._busy.add(uid)
        task = asyncio.get_running_loop().create_task(self._start(pod))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self, pod: Obj) -> None:
        try:
            await set_pod_status(self.client, pod, ip=f"10.{len(self._done) // 250}.{len(self._done) % 250}.1")
        except (ApiError, AssertionError):
            pass  # gone, or a replica failing over: the next event retries
        finally:
            self._busy.discard(pod["metadata"]["uid"])

    def release(self) -> None:
        self.hold = None
        for pod in self.informer.cache.list():
            self._seen(pod)

    async def stop(self) -> None:
        await self.informer.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
