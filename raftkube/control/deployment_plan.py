"""The Deployment controller's decisions: a pure function of (Deployment, ReplicaSets, pods, now).

`plan_deployment` follows Kubernetes' deployment controller (sync, rolloutRolling,
rolloutRecreate, scale, cleanupDeployment, syncRolloutStatus) step by step on copies of the
ReplicaSets, and returns the writes one sync makes: adoptions/releases (alone: they change the
sets' versions), the new ReplicaSet to create, the sets to update (each carries the
resourceVersion it was read at, so the write is conditional), old sets to delete, the
Deployment's revision annotation and its status, the events, and when to look again.

Two choices are stricter than Kubernetes so that a lagging cache can never break the bounds:
a set occupies max(spec.replicas, status.replicas, its live pods) when deciding how far the new
set may surge, and a set counts at most min(status.availableReplicas, spec.replicas) available
pods when deciding how far the old ones may shrink.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..machinery.labels import selector_from_spec
from . import deployment_status as ds
from . import deployment_util as du
from .deployment_util import claim, owner_ref
from .podutil import is_active
from .runtime import controller_of

Obj = dict[str, Any]


@dataclass
class DeploymentPlan:
    adopt: list[Obj] = field(default_factory=list)
    release: list[Obj] = field(default_factory=list)
    create: Obj | None = None
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)
    annotations: dict[str, str] | None = None  # the Deployment's new annotations (revision)
    status: Obj | None = None  # the Deployment's new status; None when unchanged
    events: list[tuple[str, str, str, str]] = field(default_factory=list)  # (set name, type, reason, message)
    requeue_after: float | None = None


class _Stop(Exception):
    """End the sync here (a hash collision): only the status is written."""


def plan_deployment(d: Obj, replicasets: list[Obj], pods: list[Obj], now: float) -> DeploymentPlan:
    """One sync of `d`; `replicasets` are those of its namespace, `pods` at least those of its sets."""
    return _Planner(d, replicasets, pods, now).run()


class _Planner:
    def __init__(self, d: Obj, replicasets: list[Obj], pods: list[Obj], now: float) -> None:
        self.d, self.spec, self.now = d, d.get("spec") or {}, now
        self.replicas = du.spec_replicas(d)
        self.all_sets = replicasets
        self.pods = pods
        self.status: Obj = copy.deepcopy(d.get("status") or {})  # d.Status as the sync changes it
        self.annotations = dict(du.annotations(d))
        self.plan = DeploymentPlan()
        self.sets: list[Obj] = []
        self.dirty: list[Obj] = []
        self.final: Obj | None = None

    # -- the sync ------------------------------------------------------------------------------

    def run(self) -> DeploymentPlan:
        owned, self.plan.adopt, self.plan.release = claim(self.d, self.all_sets)
        if self.plan.adopt or self.plan.release:
            return self.plan  # the ownership patches change the sets; plan again once they are seen
        self.sets = [copy.deepcopy(rs) for rs in owned]
        if selector_from_spec(self.spec.get("selector")).empty:
            return self.plan  # never act on an empty selector (validation forbids it anyway)
        try:
            if self.d["metadata"].get("deletionTimestamp"):
                new, old = self.new_and_old(create=False)
                self.sync_status(old, new)
            else:
                self.check_paused()
                if self.spec.get("paused") or self.is_scaling_event():
                    self.sync()
                elif (self.spec.get("strategy") or {}).get("type") == "Recreate":
                    self.rollout_recreate()
                else:
                    self.rollout_rolling()
        except _Stop:
            self.final = None
        return self.finish()

    def finish(self) -> DeploymentPlan:
        plan = self.plan
        plan.update = [rs for rs in self.dirty if rs is not plan.create]
        if self.annotations != du.annotations(self.d):
            plan.annotations = self.annotations
        final = self.final if self.final is not None else self.status
        if du.normalized(final) != du.normalized(self.d.get("status") or {}):
            plan.status = final
        return plan

    def sync(self) -> None:
        """Scale only (paused, or spec.replicas changed): no new ReplicaSet, no rollout."""
        new, old = self.new_and_old(create=False)
        self.scale(new, old)
        if self.spec.get("paused"):
            self.cleanup(old)
        self.sync_status(old, new)

    def rollout_rolling(self) -> None:
        new, old = self.new_and_old(create=True)
        assert new is not None
        everything = [*old, new]
        if not self.reconcile_new(everything, new) and not self.reconcile_old(everything, old, new):
            if du.deployment_complete(self.d, self.status):
                self.cleanup(old)
        self.sync_rollout_status(old, new)

    def rollout_recreate(self) -> None:
        new, old = self.new_and_old(create=False)
        scaled = False
        for rs in old:
            if du.spec_replicas(rs) > 0:
                scaled |= self.scale_rs(rs, 0)
        if not scaled and not self.old_pods_running(new, old):
            if new is None:
                new, old = self.new_and_old(create=True)
                assert new is not None
            self.scale_rs(new, self.replicas)
            if du.deployment_complete(self.d, self.status):
                self.cleanup(old)
        self.sync_rollout_status(old, new)

    # -- the new ReplicaSet and the revision ---------------------------------------------------

    def new_and_old(self, create: bool) -> tuple[Obj | None, list[Obj]]:
        template = self.spec.get("template")
        found = next((rs for rs in sorted(self.sets, key=du.creation_key)
                      if du.equal_ignore_hash((rs.get("spec") or {}).get("template"), template)), None)
        old = [rs for rs in self.sets if rs is not found]
        revision = str(du.max_revision(old) + 1)
        if found is not None:
            if self.set_new_annotations(found, revision, exists=True) or \
                    int(found["spec"].get("minReadySeconds") or 0) != int(self.spec.get("minReadySeconds") or 0):
                found["spec"]["minReadySeconds"] = int(self.spec.get("minReadySeconds") or 0)
                self.touch(found)
            self.annotations[du.REVISION] = du.annotations(found).get(du.REVISION, revision)
            if du.has_deadline(self.d) and du.get_condition(self.status, du.PROGRESSING) is None:
                self.condition(du.PROGRESSING, "True", du.FOUND_NEW_RS, f'Found new replica set "{self.name(found)}"')
            return found, old
        if not create:
            return None, old
        return self.create_new(template or {}, old, revision), old

    def create_new(self, template: Obj, old: list[Obj], revision: str) -> Obj:
        collisions = self.status.get("collisionCount")
        hash_ = du.template_hash(template, collisions)
        name = f"{self.d['metadata']['name']}-{hash_}"
        if any((rs.get("metadata") or {}).get("name") == name for rs in self.all_sets):
            self.status["collisionCount"] = int(collisions or 0) + 1  # a different template has this name
            raise _Stop
        new_template = copy.deepcopy(template)
        new_template.setdefault("metadata", {}).setdefault("labels", {})[du.HASH_LABEL] = hash_
        selector = copy.deepcopy(self.spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[du.HASH_LABEL] = hash_
        rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": name, "namespace": self.d["metadata"].get("namespace"),
                                "labels": dict(new_template["metadata"]["labels"]), "annotations": {},
                                "ownerReferences": [owner_ref(self.d)]},
                   "spec": {"replicas": 0, "minReadySeconds": int(self.spec.get("minReadySeconds") or 0),
                            "selector": selector, "template": new_template}}
        rs["spec"]["replicas"] = self.new_rs_replicas([*old, rs], rs)
        self.set_new_annotations(rs, revision, exists=False)
        self.plan.create = rs
        self.sets.append(rs)
        if rs["spec"]["replicas"] > 0:
            self.event(rs, f"Scaled up replica set {name} to {rs['spec']['replicas']}")
        if du.has_deadline(self.d):
            self.condition(du.PROGRESSING, "True", du.NEW_RS_CREATED, f'Created new replica set "{name}"')
        self.annotations[du.REVISION] = revision
        return rs

    def set_new_annotations(self, rs: Obj, revision: str, exists: bool) -> bool:
        """Copy the Deployment's annotations, raise the revision (keeping the old ones in
        revision-history when a set is reused by a rollback); replica annotations on creation."""
        ann = rs["metadata"].setdefault("annotations", {})
        before = dict(ann)
        for key, value in du.annotations(self.d).items():
            if key not in du.SKIP_COPY:
                ann[key] = value
        old_text = ann.get(du.REVISION)
        old = du.int_annotation(rs, du.REVISION)
        if old_text is not None and old is None:
            return ann != before  # an unreadable revision is left alone, as Kubernetes does
        if (old or 0) < int(revision):
            ann[du.REVISION] = revision
            if old_text is not None:
                history = [h for h in (ann.get(du.REVISION_HISTORY) or "").split(",") if h]
                history.append(old_text)
                while history and len(",".join(history)) > du.MAX_REVISION_HISTORY_CHARS:
                    history.pop(0)
                ann[du.REVISION_HISTORY] = ",".join(history)
        if not exists:
            self.set_replica_annotations(rs)
        return ann != before

    def set_replica_annotations(self, rs: Obj) -> bool:
        ann = rs["metadata"].setdefault("annotations", {})
        wanted = {du.DESIRED_REPLICAS: str(self.replicas), du.MAX_REPLICAS: str(self.replicas + du.max_surge(self.d))}
        changed = any(ann.get(k) != v for k, v in wanted.items())
        ann.update(wanted)
        return changed

    # -- scaling -------------------------------------------------------------------------------

    def scale_rs(self, rs: Obj, size: int, operation: str | None = None) -> bool:
        """Set a set's size (and replica annotations); True when the size changed."""
        current = du.spec_replicas(rs)
        if operation is None and current == size:
            return False
        operation = operation or ("up" if current < size else "down")
        if self.set_replica_annotations(rs) or current != size:
            rs["spec"]["replicas"] = size
            self.touch(rs)
        if current != size:
            self.event(rs, f"Scaled {operation} replica set {self.name(rs)} to {size}")
        return current != size

    def occupancy(self, rs: Obj) -> int:
        uid = rs["metadata"].get("uid")
        live = sum(1 for p in self.pods if uid and (controller_of(p) or {}).get("uid") == uid and is_active(p))
        return max(du.spec_replicas(rs), du.status_int(rs, "replicas"), live)

    @staticmethod
    def available(rs: Obj) -> int:
        return min(du.status_int(rs, "availableReplicas"), du.spec_replicas(rs))

    def new_rs_replicas(self, everything: list[Obj], new: Obj) -> int:
        if not du.is_rolling(self.d):
            return self.replicas
        most = self.replicas + du.max_surge(self.d)
        current = sum(self.occupancy(rs) for rs in everything)
        if current >= most:
            return du.spec_replicas(new)
        return du.spec_replicas(new) + min(most - current, self.replicas - du.spec_replicas(new))

    def reconcile_new(self, everything: list[Obj], new: Obj) -> bool:
        size = du.spec_replicas(new)
        if size == self.replicas:
            return False
        if size > self.replicas:
            return self.scale_rs(new, self.replicas)
        return self.scale_rs(new, self.new_rs_replicas(everything, new))

    def reconcile_old(self, everything: list[Obj], old: list[Obj], new: Obj) -> bool:
        old = sorted((rs for rs in old if du.spec_replicas(rs) > 0), key=du.creation_key)
        if not old:
            return False
        min_available = self.replicas - du.max_unavailable(self.d)
        new_unavailable = du.spec_replicas(new) - self.available(new)
        budget = sum(du.spec_replicas(rs) for rs in everything) - min_available - new_unavailable
        if budget <= 0:
            return False
        cleaned = 0
        for rs in old:  # unhealthy replicas first: removing them costs no availability
            if cleaned >= budget:
                break
            unhealthy = du.spec_replicas(rs) - self.available(rs)
            if unhealthy > 0:
                count = min(budget - cleaned, unhealthy)
                self.scale_rs(rs, du.spec_replicas(rs) - count)
                cleaned += count
        can_remove = sum(self.available(rs) for rs in [*old, new]) - min_available
        removed = 0
        for rs in old:
            if removed >= can_remove:
                break
            count = min(du.spec_replicas(rs), can_remove - removed)
            if count > 0:
                self.scale_rs(rs, du.spec_replicas(rs) - count)
                removed += count
        return cleaned + removed > 0

    def is_scaling_event(self) -> bool:
        new, old = self.new_and_old(create=False)
        for rs in [*old, *([new] if new else [])]:
            desired = du.int_annotation(rs, du.DESIRED_REPLICAS)
            if du.spec_replicas(rs) > 0 and desired is not None and desired != self.replicas:
                return True
        return False

    def scale(self, new: Obj | None, old: list[Obj]) -> None:
        """Kubernetes' proportional scaling of every active set when spec.replicas changes."""
        newest_first = sorted(old, key=du.creation_key, reverse=True)
        active = [rs for rs in [*newest_first, *([new] if new else [])] if du.spec_replicas(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new or (newest_first[0] if newest_first else None))
            if target is not None:
                self.scale_rs(target, self.replicas)
            return
        if new is not None and du.int_annotation(new, du.DESIRED_REPLICAS) == self.replicas \
                and du.spec_replicas(new) == self.replicas and du.status_int(new, "availableReplicas") == self.replicas:
            for rs in active:
                if rs is not new:
                    self.scale_rs(rs, 0)
            return
        if not du.is_rolling(self.d):
            return
        allowed = self.replicas + du.max_surge(self.d) if self.replicas > 0 else 0
        to_add = allowed - sum(du.spec_replicas(rs) for rs in active)
        operation = "up" if to_add > 0 else "down"
        active.sort(key=du.creation_key, reverse=to_add > 0)  # up: bigger and newer first; down: older
        active.sort(key=du.spec_replicas, reverse=True)
        sizes, added = [], 0
        for rs in active:
            part = self.proportion(rs, to_add, added) if to_add else 0
            sizes.append(du.spec_replicas(rs) + part)
            added += part
        if to_add:
            sizes[0] = max(sizes[0] + to_add - added, 0)
        for rs, size in zip(active, sizes, strict=True):
            self.scale_rs(rs, size, operation)

    def proportion(self, rs: Obj, to_add: int, added: int) -> int:
        size = du.spec_replicas(rs)
        if size == 0 or to_add == added:
            return 0
        if self.replicas == 0:
            fraction = -size
        else:
            before = du.int_annotation(rs, du.MAX_REPLICAS) or du.status_int(self.d, "replicas")
            if not before:
                return 0
            exact = size * (self.replicas + du.max_surge(self.d)) / before
            fraction = int(exact + 0.5) if exact >= 0 else -int(-exact + 0.5)
            fraction -= size
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def old_pods_running(self, new: Obj | None, old: list[Obj]) -> bool:
        if sum(du.status_int(rs, "replicas") for rs in old) > 0:
            return True
        uids = {rs["metadata"].get("uid") for rs in old} - {None}
        return any((controller_of(p) or {}).get("uid") in uids
                   and (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded") for p in self.pods)

    def cleanup(self, old: list[Obj]) -> None:
        """Delete the oldest empty sets beyond revisionHistoryLimit."""
        limit = self.spec.get("revisionHistoryLimit")
        if limit is None or limit == du.MAX_INT32:
            return
        alive = [rs for rs in old if not rs["metadata"].get("deletionTimestamp")]
        excess = len(alive) - int(limit)
        if excess <= 0:
            return
        for rs in sorted(alive, key=lambda r: (du.revision(r), du.creation_key(r)))[:excess]:
            meta = rs["metadata"]
            if du.status_int(rs, "replicas") or du.spec_replicas(rs) or any(rs is x for x in self.dirty) or \
                    int(meta.get("generation") or 1) > du.status_int(rs, "observedGeneration"):
                continue
            self.plan.delete.append(rs)

    # -- status --------------------------------------------------------------------------------

    def check_paused(self) -> None:
        ds.paused_condition(self.d, self.status, self.now)

    def sync_status(self, old: list[Obj], new: Obj | None) -> None:
        self.final = ds.calculate_status(self.d, self.status, [*old, *([new] if new else [])], new, self.now)

    def sync_rollout_status(self, old: list[Obj], new: Obj | None) -> None:
        self.final, self.plan.requeue_after = ds.rollout_status(self.d, self.status, old, new, self.now)

    # -- small things --------------------------------------------------------------------------

    def condition(self, kind: str, status: str, reason: str, message: str) -> None:
        du.set_condition(self.status, du.new_condition(kind, status, reason, message, self.now))

    def touch(self, rs: Obj) -> None:
        if not any(rs is other for other in self.dirty):
            self.dirty.append(rs)

    def event(self, rs: Obj, message: str) -> None:
        self.plan.events.append((self.name(rs), "Normal", "ScalingReplicaSet", message))

    @staticmethod
    def name(rs: Obj | None) -> str:
        return str(((rs or {}).get("metadata") or {}).get("name", ""))
