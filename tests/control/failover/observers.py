"""What the failover tests record and play: the history of a Lease, pod creations seen by a watcher,
the test's kubelet and node farm, rollout helpers and the controller-manager log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from raftkube.client import (
    ApiClient,
    ApiError,
    Informer,
)
from raftkube.control import deployment_util as du
from raftkube.control.deployment_status import rollout_message
from raftkube.control.podutil import is_active, is_ready, is_terminating
from raftkube.control.runtime import controller_of
from raftkube.local.control_plane import LocalControlPlane
from raftkube.machinery.times import parse_rfc3339
from tests.control.failover.cluster_access import (
    CM_CONFIG,
    CM_LEASE,
    DEPLOYMENT,
    EVENT,
    LEASE,
    MAX_SURGE,
    MAX_UNAVAILABLE,
    NAMESPACE,
    NODE,
    POD,
    RS,
    SYSTEM,
    TEST_LABEL,
    V1,
    Obj,
    eventually,
    idempotent,
)
from tests.control.fake_nodes import FakeNodes, Kubelet, image_of


# ---------------------------------------------------------------------------------------- the Lease
@dataclass
class LeaseRecord:
    revision: int
    seen_at: float  # time.monotonic() when this process received it
    holder: str
    acquire_time: str | None
    renew_time: str | None
    transitions: int


class LeaseHistory:
    """Every version of the controller-manager Lease from `start()` on, in revision order."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.records: list[LeaseRecord] = []
        self.error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        lease = await eventually(lambda: self.client.get(LEASE, CM_LEASE, SYSTEM), "the Lease", timeout=60)
        self._add(lease)
        self._task = asyncio.create_task(self._watch(lease["metadata"]["resourceVersion"]))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self, rv: str) -> None:
        try:
            async for kind, obj in self.client.watch(LEASE, SYSTEM, resource_version=rv):
                if kind in ("ADDED", "MODIFIED") and obj["metadata"]["name"] == CM_LEASE:
                    self._add(obj)
        except ApiError as err:  # checked by `handovers`: a gap in the history would hide a holder
            self.error = err

    def _add(self, lease: Obj) -> None:
        spec = lease.get("spec") or {}
        self.records.append(LeaseRecord(int(lease["metadata"]["resourceVersion"]), time.monotonic(),
                                        spec.get("holderIdentity") or "", spec.get("acquireTime"),
                                        spec.get("renewTime"), int(spec.get("leaseTransitions") or 0)))

    @property
    def holder(self) -> str:
        return self.records[-1].holder

    async def wait(self, check: Callable[[LeaseRecord], bool], what: str, timeout: float = 30.0) -> LeaseRecord:
        return await eventually(lambda: next((r for r in self.records if check(r)), None), what, timeout, 0.01)

    def holder_at(self, revision: int) -> str | None:
        """Who held the Lease at store revision `revision` (None before the history starts)."""
        held = [r.holder for r in self.records if r.revision < revision]
        return held[-1] if held else None

    def handovers(self) -> list[tuple[LeaseRecord, LeaseRecord, float]]:
        """(last record of the old holder, first of the new, the wall-clock gap between the old holder's
        last renewal and the new one's acquisition) for every change of holder; asserts that each
        is a real handover: the transition count goes up by one, and the new holder acquired only
        after the old one's renew deadline had passed (so the two never acted at once)."""
        assert self.error is None, f"the Lease watch broke: {self.error}"
        result = []
        for before, after in zip(self.records, self.records[1:], strict=False):
            assert after.revision > before.revision
            if after.holder == before.holder or not after.holder:
                continue
            gap = (parse_rfc3339(after.acquire_time) or 0.0) - (parse_rfc3339(before.renew_time) or 0.0)
            result.append((before, after, gap))
            if not before.holder:
                continue  # released cleanly: no renew deadline to wait for
            assert after.transitions == before.transitions + 1, (before, after)
            assert gap >= CM_CONFIG.renew_deadline, (
                f"{after.holder} acquired the Lease {gap:.3f} s after {before.holder}'s last renewal, "
                f"within its renew deadline ({CM_CONFIG.renew_deadline} s): both could act at once; "
                f"old holder's last record {before}, new holder's first {after}")
        return result


# ---------------------------------------------------------------------------------------- the pods
@dataclass
class Action:
    revision: int
    seen_at: float
    verb: str  # "create" or "delete"
    name: str


class PodWatcher:
    """Samples (active, ready) pods of a namespace at every event, in revision order, and notes each
    pod created or deleted (what the controllers write) with its revision."""

    def __init__(self, client: ApiClient, namespace: str) -> None:
        self.informer = Informer(client, POD, namespace)
        self.informer.add_handlers(on_add=self._added, on_update=self._updated, on_delete=self._deleted)
        self.bounds: tuple[int, int] | None = None  # (most active, least ready) while checking
        self.samples: list[tuple[int, int]] = []
        self.violations: list[str] = []
        self.actions: list[Action] = []

    async def start(self) -> None:
        self.informer.start()
        assert await self.informer.wait_synced(30), "pod informer not synced"

    def _valid(self) -> bool:
        return self.informer.has_synced and self.informer.relists == 1  # a relist's deltas are not store states

    def _note(self, verb: str, pod: Obj) -> None:
        if self._valid():
            meta = pod["metadata"]
            self.actions.append(Action(int(meta["resourceVersion"]), time.monotonic(), verb, meta["name"]))

    def _added(self, pod: Obj) -> None:
        self._note("create", pod)
        self._sample()

    def _updated(self, old: Obj, new: Obj) -> None:
        if is_terminating(new) and not is_terminating(old):
            self._note("delete", new)
        self._sample()

    def _deleted(self, pod: Obj) -> None:
        if not is_terminating(pod):
            self._note("delete", pod)  # an unbound pod deleted at once
        self._sample()

    def _sample(self) -> None:
        if not self._valid():
            return
        active = [p for p in self.informer.cache.list() if is_active(p)]
        ready = sum(1 for p in active if is_ready(p))
        if self.bounds is None:
            return
        self.samples.append((len(active), ready))
        most, least = self.bounds
        if len(active) > most or ready < least:
            self.violations.append(f"{len(active)} active pods ({ready} ready) outside <= {most}, ready >= {least}")

    def active(self) -> list[Obj]:
        return [p for p in self.informer.cache.list() if is_active(p)]


@contextlib.asynccontextmanager
async def node_farm(api: ApiClient, name: str, count: int) -> AsyncIterator[tuple[FakeNodes, Kubelet]]:
    """A namespace `name`, `count` live fake nodes labelled for it and their kubelet; all removed after."""
    await api.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    nodes = FakeNodes(api, [f"{name}-n{i}" for i in range(count)], labels={TEST_LABEL: name})
    await nodes.register()
    nodes.start()
    kubelet = Kubelet(api, name, nodes)
    try:
        await kubelet.start()
        yield nodes, kubelet
    finally:
        await kubelet.stop()
        with contextlib.suppress(ApiError):
            await api.delete(NAMESPACE, name)
        await nodes.stop()
        for node in nodes.names:
            with contextlib.suppress(ApiError):
                await api.delete(NODE, node)


def pod_template(test: str, app: str, image: str) -> Obj:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"nodeSelector": {TEST_LABEL: test},
                     "containers": [{"name": "app", "image": image,
                                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}


def deployment(test: str, name: str, replicas: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": MAX_SURGE, "maxUnavailable": MAX_UNAVAILABLE}},
                     "template": pod_template(test, name, V1)}}


async def rolled_out(api: ApiClient, namespace: str, name: str, generation: int, timeout: float = 60.0) -> Obj:
    """The Deployment once its status says generation `generation` is fully rolled out and ready."""
    async def done() -> Obj | None:
        d = await api.get(DEPLOYMENT, name, namespace)
        status, want = d.get("status") or {}, du.spec_replicas(d)
        complete = (int(status.get("observedGeneration") or 0) >= generation and rollout_message(d)[1]
                    and status.get("replicas") == status.get("updatedReplicas") == status.get("readyReplicas")
                    == status.get("availableReplicas") == want and not status.get("unavailableReplicas"))
        return d if complete else None
    return await eventually(done, f"deployment {namespace}/{name} generation {generation} rolled out", timeout)


async def set_image(api: ApiClient, namespace: str, name: str, image: str) -> int:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    changed = await idempotent(lambda: api.patch(DEPLOYMENT, name, patch, namespace, patch_type="strategic"),
                               f"image {image}")
    return int(changed["metadata"]["generation"])


async def check_converged(api: ApiClient, watcher: PodWatcher, namespace: str, d: Obj, image: str) -> None:
    """Exactly spec.replicas active pods, all Ready, all of the newest ReplicaSet (which has `image`);
    the older sets scaled to 0; no two ReplicaSets for one template."""
    want = du.spec_replicas(d)
    sets = [rs for rs in (await api.list(RS, namespace)).get("items") or []
            if (controller_of(rs) or {}).get("uid") == d["metadata"]["uid"]]
    newest = [rs for rs in sets if rs["spec"]["template"]["spec"]["containers"][0]["image"] == image]
    assert len(newest) == 1, [rs["metadata"]["name"] for rs in sets]
    assert du.spec_replicas(newest[0]) == want
    assert all(du.spec_replicas(rs) == 0 for rs in sets if rs is not newest[0])
    pods = [p for p in (await api.list(POD, namespace)).get("items") or [] if is_active(p)]
    assert len(pods) == want, f"{len(pods)} active pods for {want} replicas"
    assert all(is_ready(p) and image_of(p) == image for p in pods)
    assert {(controller_of(p) or {}).get("uid") for p in pods} == {newest[0]["metadata"]["uid"]}
    assert len(watcher.active()) == want


async def pod_creators(api: ApiClient, namespace: str) -> dict[str, str]:
    """Pod name -> the replica that created it, from the ReplicaSet controller's SuccessfulCreate
    events, where the events name their instance (reportingInstance or source.host)."""
    creators = {}
    for event in (await api.list(EVENT, namespace)).get("items") or []:
        instance = event.get("reportingInstance") or (event.get("source") or {}).get("host")
        if event.get("reason") == "SuccessfulCreate" and instance:
            creators[str(event.get("message", "")).removeprefix("Created pod: ")] = instance
    return creators


def log_size(plane: LocalControlPlane, i: int) -> int:
    path = os.path.join(plane.base_dir, f"{plane.replicas[i].name}.log")
    return os.path.getsize(path) if os.path.exists(path) else 0


def log_since(plane: LocalControlPlane, i: int, offset: int) -> str:
    with open(os.path.join(plane.base_dir, f"{plane.replicas[i].name}.log"), "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")
