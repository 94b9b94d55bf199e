"""Facts about pods that several controllers need: active, ready, available, ranked for deletion."""

from __future__ import annotations

import copy
from typing import Any

from ..machinery.times import parse_rfc3339

Obj = dict[str, Any]
PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def is_terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_active(pod: Obj) -> bool:
    """Counts towards replicas: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not is_terminating(pod)


def ready_condition(pod: Obj) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def is_ready(pod: Obj) -> bool:
    cond = ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def is_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_rfc3339((ready_condition(pod) or {}).get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds <= now


def restarts(pod: Obj) -> int:
    return sum(int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])


def deletion_rank(pod: Obj) -> tuple[Any, ...]:
    """Sort key: the pods to delete first come first (Kubernetes' ActivePods order)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    created = parse_rfc3339((pod.get("metadata") or {}).get("creationTimestamp")) or 0.0
    return (bool(spec.get("nodeName")), PHASE_RANK.get(status.get("phase", "Pending"), 0), is_ready(pod),
            -restarts(pod), -created)


def owner_reference(owner: Obj, block: bool = True) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": block}


def pod_from_template(owner: Obj, template: Obj, name_prefix: str | None = None,
                      extra_labels: dict[str, str] | None = None) -> Obj:
    meta = copy.deepcopy(template.get("metadata") or {})
    labels = {**(meta.get("labels") or {}), **(extra_labels or {})}
    pod_meta: Obj = {"generateName": f"{name_prefix or owner['metadata']['name']}-", "labels": labels,
                     "ownerReferences": [owner_reference(owner)]}
    if meta.get("annotations"):
        pod_meta["annotations"] = meta["annotations"]
    if owner["metadata"].get("namespace"):
        pod_meta["namespace"] = owner["metadata"]["namespace"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": copy.deepcopy(template.get("spec") or {})}
