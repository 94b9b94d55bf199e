"""The disruption controller: keeps each PodDisruptionBudget's status (Kubernetes' DisruptionController).

For a PDB, its pods (its namespace's pods its selector selects; a null selector selects none):
- expectedPods and desiredHealthy: with an integer minAvailable, the pods' count and minAvailable;
  with a percentage or maxUnavailable, the sum of the scale of the pods' controllers (a Deployment
  through its ReplicaSet, a ReplicaSet, a ReplicationController, or any owner with a scale
  subresource), desiredHealthy rounding the percentage up (a pod without a controller is the
  NoControllers event and SyncFailed);
- currentHealthy: Ready pods not being deleted nor recently evicted (status.disruptedPods, which
  the eviction API fills; an entry goes when its pod goes, or after two minutes);
- disruptionsAllowed: currentHealthy - desiredHealthy, never below 0, and 0 while expectedPods is 0;
- the DisruptionAllowed condition (SufficientPods / InsufficientPods / SyncFailed) and
  observedGeneration. Written conditionally on the PDB's resourceVersion.
"""

from __future__ import annotations

import math
from typing import Any

from ..api.kinds.selectors import matches
from ..client import ApiClient, ApiError, Conflict, NotFound
from ..client.events import EventRecorder
from ..client.refs import object_path
from ..machinery.times import parse_rfc3339, rfc3339
from .clock import Clock, RealClock
from .podutil import is_ready
from .runtime import Controller, SharedInformers, controller_of, key_of, on_change, split_key

Obj = dict[str, Any]
PDB = ("policy/v1", "PodDisruptionBudget")
POD = ("v1", "Pod")
RS, DEPLOY, RC = ("apps/v1", "ReplicaSet"), ("apps/v1", "Deployment"), ("v1", "ReplicationController")
DELETION_TIMEOUT = 120.0


class NoControllers(Exception):
    pass


def selected_pods(pdb: Obj, pods: list[Obj]) -> list[Obj]:
    selector = (pdb.get("spec") or {}).get("selector")
    if selector is None:
        return []
    return [p for p in pods if matches(selector, (p.get("metadata") or {}).get("labels"))]


def resolve(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString against `total` (Kubernetes' GetScaledValueFromIntOrPercent)."""
    if isinstance(value, int):
        return value
    fraction = int(str(value).rstrip("%")) * total / 100
    return math.ceil(fraction) if round_up else math.floor(fraction)


def disrupted(pdb: Obj, pods: list[Obj], now: float) -> tuple[dict[str, str], float | None]:
    """The disruptedPods entries still pending, and when the next of them expires."""
    by_name = {p["metadata"]["name"]: p for p in pods}
    keep: dict[str, str] = {}
    soonest: float | None = None
    for name, stamp in ((pdb.get("status") or {}).get("disruptedPods") or {}).items():
        pod, when = by_name.get(name), parse_rfc3339(stamp)
        if pod is None or pod["metadata"].get("deletionTimestamp") or when is None:
            continue
        expires = when + DELETION_TIMEOUT
        if expires < now:
            continue
        keep[name] = stamp
        soonest = expires if soonest is None else min(soonest, expires)
    return keep, soonest


def compute_status(pdb: Obj, pods: list[Obj], expected_scale: int | None, now: float) -> tuple[Obj, float | None]:
    """The new status (and when to look again). `expected_scale`: the controllers' scale, None when
    unknown (a pod without controller): then SyncFailed with nothing allowed."""
    spec, old = pdb.get("spec") or {}, pdb.get("status") or {}
    keep, recheck = disrupted(pdb, pods, now)
    healthy = sum(1 for p in pods if is_ready(p) and not p["metadata"].get("deletionTimestamp")
                  and p["metadata"]["name"] not in keep)
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    failed = False
    if isinstance(min_available, int) and max_unavailable is None:
        expected, desired = len(pods), min_available
    elif expected_scale is None:
        expected, desired, failed = 0, 0, True
    elif max_unavailable is not None:
        expected = expected_scale
        desired = max(expected - resolve(max_unavailable, expected, True), 0)
    elif min_available is not None:
        expected, desired = expected_scale, resolve(min_available, expected_scale, True)
    else:  # neither: Kubernetes counts nothing expected, so nothing is allowed
        expected, desired = 0, 0
    allowed = healthy - desired
    if expected <= 0 or allowed <= 0 or failed:
        allowed = 0
    if failed:
        reason, state = "SyncFailed", "False"
    elif allowed > 0:
        reason, state = "SufficientPods", "True"
    else:
        reason, state = "InsufficientPods", "False"
    generation = (pdb.get("metadata") or {}).get("generation", 1)
    previous = next((c for c in old.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
    changed = previous is None or previous.get("status") != state or previous.get("reason") != reason
    condition = {"type": "DisruptionAllowed", "status": state, "observedGeneration": generation,
                 "lastTransitionTime": rfc3339(now) if changed else previous.get("lastTransitionTime"),
                 "reason": reason, "message": ""}
    status: Obj = {"observedGeneration": generation, "disruptionsAllowed": allowed, "currentHealthy": healthy,
                   "desiredHealthy": desired, "expectedPods": expected, "conditions": [condition]}
    if keep:
        status["disruptedPods"] = keep
    return status, (None if recheck is None else max(recheck - now, 0.1))


class DisruptionController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder,
                 clock: Clock | None = None) -> None:
        self.client, self.recorder = client, recorder
        self.clock: Clock = clock or RealClock()
        self.pdbs = informers.get(*PDB)
        self.pods = informers.get(*POD)
        self.owners = {ref: informers.get(*ref) for ref in (RS, DEPLOY, RC)}
        self.controller = Controller("disruption", self.reconcile, workers=2)
        self.pdbs.add_handlers(**on_change(self.controller.enqueue))
        self.pods.add_handlers(**on_change(self._pod_changed))
        for informer in self.owners.values():  # a scale change moves expectedPods
            informer.add_handlers(on_update=lambda old, new: self._namespace(new))

    def _pod_changed(self, pod: Obj | None) -> None:
        pod = pod or {}
        namespace = (pod.get("metadata") or {}).get("namespace", "")
        for pdb in selected_pdbs(self.pdbs.cache.by_index("namespace", namespace), pod):
            self.controller.enqueue_key(key_of(pdb))

    def _namespace(self, obj: Obj) -> None:
        for pdb in self.pdbs.cache.by_index("namespace", (obj.get("metadata") or {}).get("namespace", "")):
            self.controller.enqueue_key(key_of(pdb))

    async def _scale_of(self, namespace: str, ref: Obj) -> tuple[str, int]:
        """(the uid of the controller whose scale counts, that scale): a Deployment for its ReplicaSets."""
        api_version, kind, name = ref.get("apiVersion", ""), ref.get("kind", ""), ref.get("name", "")
        informer = self.owners.get((api_version, kind))
        if informer is not None:
            owner = informer.cache.get_by_name(name, namespace)
            if owner is None:
                raise NoControllers(f"found no controllers for pod {name!r}")
            if (api_version, kind) == RS:
                parent = controller_of(owner)
                if parent is not None and (parent.get("apiVersion"), parent.get("kind")) == DEPLOY:
                    return await self._scale_of(namespace, parent)
            return owner["metadata"].get("uid", ""), int((owner.get("spec") or {}).get("replicas", 1))
        resource = await self.client.resolve((api_version, kind))
        scale = await self.client.request("GET", object_path(resource, namespace, name, "scale"))
        replicas = int(((scale if isinstance(scale, dict) else {}).get("spec") or {}).get("replicas", 0))
        return ref.get("uid", ""), replicas

    async def expected_scale(self, namespace: str, pods: list[Obj]) -> int:
        """The controllers' scales summed, each controller once (a Deployment mid-rollout has two ReplicaSets)."""
        scales: dict[str, int] = {}
        looked: set[str] = set()
        for pod in pods:
            ref = controller_of(pod)
            if ref is None:
                raise NoControllers(f'found no controller ref for pod "{pod["metadata"]["name"]}"')
            if ref.get("uid") in looked:
                continue
            looked.add(ref.get("uid", ""))
            uid, replicas = await self._scale_of(namespace, ref)
            scales[uid] = replicas
        return sum(scales.values())

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        pdb = self.pdbs.cache.get_by_name(name, namespace)
        if pdb is None or namespace is None:
            return None
        pods = selected_pods(pdb, self.pods.cache.by_index("namespace", namespace))
        spec = pdb.get("spec") or {}
        scale: int | None = None
        if not isinstance(spec.get("minAvailable"), int) or spec.get("maxUnavailable") is not None:
            try:
                scale = await self.expected_scale(namespace, pods)
            except (NoControllers, ApiError) as err:
                self.recorder.record(pdb, "Warning", "NoControllers", str(err))
        status, recheck = compute_status(pdb, pods, scale, self.clock.now())
        if status != (pdb.get("status") or {}):
            try:
                await self.client.update_status(PDB, {**pdb, "status": status}, namespace)
            except NotFound:
                return None
            except Conflict:
                return 0.1
        return None if recheck is None else self.clock.real_delay(recheck)


def selected_pdbs(pdbs: list[Obj], pod: Obj) -> list[Obj]:
    """The PDBs whose selector selects the pod."""
    return [p for p in pdbs if selected_pods(p, [pod])]
