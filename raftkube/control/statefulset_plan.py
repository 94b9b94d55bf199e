"""The StatefulSet controller's decisions, as pure functions of (StatefulSet, its pods, revisions, now).

Pods are named `<set>-<ordinal>`; each has its claims `<template>-<set>-<ordinal>`, hostname = its
name and subdomain = `spec.serviceName`. `plan_statefulset` follows Kubernetes' updateStatefulSet:
1. every ordinal below `replicas` gets a pod (failed ones are replaced); with OrderedReady each pod
   must be Running and Ready (and not terminating) before the next is made;
2. pods at ordinals at or above `replicas` are deleted, highest first (one at a time, healthy
   first, with OrderedReady);
3. RollingUpdate: the highest ordinal >= partition not at the update revision is deleted, one at
   a time, each replacement healthy before the next (OnDelete leaves that to the user).
A pod created below the partition gets the current revision, any other the update revision.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from ..machinery.labels import selector_from_spec
from .podutil import is_available, is_ready, is_terminating, owner_reference
from .runtime import controller_of

Obj = dict[str, Any]
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


@dataclass
class StatefulSetPlan:
    create: list[tuple[int, str]] = field(default_factory=list)  # (ordinal, revision name)
    delete: list[Obj] = field(default_factory=list)
    claims_to_pods: list[tuple[str, Obj]] = field(default_factory=list)  # whenScaled Delete: claim owned by pod
    status: Obj = field(default_factory=dict)


def spec_of(sts: Obj) -> Obj:
    return sts.get("spec") or {}


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{sts['metadata']['name']}-{ordinal}"


def claim_name(template_name: str, sts: Obj, ordinal: int) -> str:
    return f"{template_name}-{sts['metadata']['name']}-{ordinal}"


def ordinal_of(sts: Obj, pod: Obj) -> int | None:
    """The ordinal in a pod's name `<set>-<n>`, None for a name of another shape."""
    match = re.fullmatch(re.escape(sts["metadata"]["name"]) + r"-(0|[1-9][0-9]*)", pod["metadata"]["name"])
    return int(match.group(1)) if match else None


def revision_of(pod: Obj) -> str:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL, "")


def start_ordinal(sts: Obj) -> int:
    return int((spec_of(sts).get("ordinals") or {}).get("start") or 0)


def partition_of(sts: Obj) -> int:
    return int(((spec_of(sts).get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition") or 0)


def is_rolling(sts: Obj) -> bool:
    return (spec_of(sts).get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def is_running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


def is_healthy(pod: Obj) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def is_finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")


def claim_templates(sts: Obj) -> list[Obj]:
    return [t for t in spec_of(sts).get("volumeClaimTemplates") or [] if isinstance(t, dict)]


def new_claims(sts: Obj, ordinal: int) -> list[Obj]:
    """The PersistentVolumeClaims of one ordinal, from the claim templates (labels from the selector,
    as Kubernetes sets them; owned by the set when `whenDeleted: Delete`)."""
    match_labels = ((spec_of(sts).get("selector") or {}).get("matchLabels")) or {}
    retention = spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    out = []
    for template in claim_templates(sts):
        meta = copy.deepcopy(template.get("metadata") or {})
        claim_meta: Obj = {"name": claim_name(meta.get("name", ""), sts, ordinal),
                           "namespace": sts["metadata"]["namespace"],
                           "labels": {**(meta.get("labels") or {}), **match_labels}}
        if meta.get("annotations"):
            claim_meta["annotations"] = meta["annotations"]
        if retention.get("whenDeleted") == "Delete":
            claim_meta["ownerReferences"] = [{**owner_reference(sts), "controller": False}]
        spec = copy.deepcopy(template.get("spec") or {})
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta, "spec": spec})
    return out


def new_pod(sts: Obj, template: Obj, revision: str, ordinal: int) -> Obj:
    """The pod of `ordinal` from `template` (a revision's pod template): its stable identity and claims."""
    meta = copy.deepcopy(template.get("metadata") or {})
    name = pod_name(sts, ordinal)
    labels = {**(meta.get("labels") or {}), REVISION_LABEL: revision, POD_NAME_LABEL: name,
              POD_INDEX_LABEL: str(ordinal)}
    pod_meta: Obj = {"name": name, "namespace": sts["metadata"]["namespace"], "labels": labels,
                     "ownerReferences": [owner_reference(sts)]}
    if meta.get("annotations"):
        pod_meta["annotations"] = meta["annotations"]
    spec = copy.deepcopy(template.get("spec") or {})
    spec["hostname"] = name
    if spec_of(sts).get("serviceName"):
        spec["subdomain"] = spec_of(sts)["serviceName"]
    claims = {t["metadata"]["name"]: claim_name(t["metadata"]["name"], sts, ordinal)
              for t in claim_templates(sts) if (t.get("metadata") or {}).get("name")}
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    volumes += [{"name": volume, "persistentVolumeClaim": {"claimName": claim}} for volume, claim in claims.items()]
    if volumes:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def adoption(sts: Obj, pods: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(orphans to adopt: no controller, matching the selector, named `<set>-<ordinal>`; owned pods
    to release: their labels no longer match), as Kubernetes' ControllerRefManager with the
    StatefulSet's identity check."""
    selector = selector_from_spec(spec_of(sts).get("selector"))
    uid, deleting = sts["metadata"]["uid"], bool(sts["metadata"].get("deletionTimestamp"))
    adopt, release = [], []
    for pod in pods:
        ref, matches = controller_of(pod), selector.matches((pod.get("metadata") or {}).get("labels") or {})
        if ref is None and matches and not deleting and not is_terminating(pod) and ordinal_of(sts, pod) is not None:
            adopt.append(pod)
        elif ref is not None and ref.get("uid") == uid and not matches:
            release.append(pod)
    return adopt, release


def compute_status(sts: Obj, pods: list[Obj], current: str, update: str, now: float) -> Obj:
    min_ready = int(spec_of(sts).get("minReadySeconds") or 0)
    live = [p for p in pods if not is_terminating(p)]
    status = {
        "observedGeneration": sts["metadata"].get("generation", 1),
        "replicas": len(pods),
        "readyReplicas": sum(1 for p in pods if is_running_and_ready(p)),
        "availableReplicas": sum(1 for p in pods if is_running_and_ready(p) and is_available(p, min_ready, now)),
        "currentReplicas": sum(1 for p in live if revision_of(p) == current),
        "updatedReplicas": sum(1 for p in live if revision_of(p) == update),
        "currentRevision": current,
        "updateRevision": update,
        "collisionCount": int((sts.get("status") or {}).get("collisionCount") or 0),
    }
    if is_rolling(sts) and status["updatedReplicas"] == status["replicas"] == status["readyReplicas"] and \
            status["replicas"] == int(spec_of(sts).get("replicas", 1)):
        status["currentRevision"], status["currentReplicas"] = update, status["updatedReplicas"]
    return status


def plan_statefulset(sts: Obj, pods: list[Obj], current: str, update: str, now: float) -> StatefulSetPlan:
    """What to do next for `sts`, given the pods it controls; see the module's docstring."""
    spec = spec_of(sts)
    wanted, start = int(spec.get("replicas", 1)), start_ordinal(sts)
    monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
    replicas: dict[int, Obj] = {}
    condemned: list[tuple[int, Obj]] = []
    for pod in pods:
        ordinal = ordinal_of(sts, pod)
        if ordinal is None:
            continue
        if start <= ordinal < start + wanted:
            replicas[ordinal - start] = pod
        else:
            condemned.append((ordinal, pod))
    plan = StatefulSetPlan(status=compute_status(sts, pods, current, update, now))
    if sts["metadata"].get("deletionTimestamp"):
        return plan
    partition = partition_of(sts) if is_rolling(sts) else 0
    for index in range(wanted):
        pod = replicas.get(index)
        if pod is None:
            plan.create.append((start + index, current if is_rolling(sts) and index < partition else update))
        elif is_finished(pod) and not is_terminating(pod):
            plan.delete.append(pod)  # replaced by the next pass, with the same name and claims
        elif monotonic and not is_healthy(pod):
            return plan
        else:
            continue
        if monotonic:
            return plan
    retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    for ordinal, pod in sorted(condemned, key=lambda item: -item[0]):
        if is_terminating(pod):
            if monotonic:
                return plan
            continue
        plan.delete.append(pod)
        if retention.get("whenScaled") == "Delete":
            plan.claims_to_pods += [(c["metadata"]["name"], pod) for c in new_claims(sts, ordinal)]
        if monotonic:
            return plan
    if plan.create or plan.delete or not is_rolling(sts):
        return plan
    for index in range(wanted - 1, partition - 1, -1):
        pod = replicas[index]
        if revision_of(pod) != update and not is_terminating(pod):
            plan.delete.append(pod)
            return plan
        if not is_healthy(pod):
            return plan
    return plan
