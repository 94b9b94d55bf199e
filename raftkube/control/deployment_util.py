"""Pure helpers of the Deployment controller (Kubernetes' deploymentutil): the pod-template hash,
revisions, maxSurge/maxUnavailable arithmetic, replica counts over ReplicaSets, conditions."""

from __future__ import annotations

import copy
import json
import struct
from typing import Any

from ..machinery.labels import selector_from_spec
from ..machinery.times import parse_rfc3339, rfc3339
from .runtime import controller_of

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
HASH_LABEL = "pod-template-hash"
# never copied from a Deployment to its ReplicaSets (kubectl's rollout undo skips the same ones)
SKIP_COPY = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                       "deprecated.deployment.rollback.to"})
MAX_INT32 = 2**31 - 1
MAX_REVISION_HISTORY_CHARS = 2000
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.SafeEncodeString: no vowels, no 0/1/3

# condition types and reasons (k8s.io/kubernetes/pkg/controller/deployment/util)
AVAILABLE, PROGRESSING, REPLICA_FAILURE = "Available", "Progressing", "ReplicaFailure"
MIN_AVAILABLE, MIN_UNAVAILABLE = "MinimumReplicasAvailable", "MinimumReplicasUnavailable"
NEW_RS_CREATED, FOUND_NEW_RS = "NewReplicaSetCreated", "FoundNewReplicaSet"
RS_UPDATED, NEW_RS_AVAILABLE = "ReplicaSetUpdated", "NewReplicaSetAvailable"
TIMED_OUT, PAUSED, RESUMED = "ProgressDeadlineExceeded", "DeploymentPaused", "DeploymentResumed"


# -- templates and hashes ------------------------------------------------------------------------

def normalized(value: Any) -> Any:
    """Semantic form for comparisons: unset, null, {} and [] are the same (apimachinery's Semantic)."""
    if isinstance(value, dict):
        out = {k: normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def without_hash(template: Obj | None) -> Obj:
    out = copy.deepcopy(template or {})
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return out


def equal_ignore_hash(a: Obj | None, b: Obj | None) -> bool:
    return bool(normalized(without_hash(a)) == normalized(without_hash(b)))


def _fnv32a(data: bytes, h: int = 0x811C9DC5) -> int:
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: Obj | None, collision_count: int | None = None) -> str:
    """FNV-32a of the template's canonical JSON (+ the collision count, as Kubernetes adds it),
    its decimal digits rendered in the safe alphabet: stable across processes and runs."""
    canonical = json.dumps(normalized(template or {}), sort_keys=True, separators=(",", ":"))
    h = _fnv32a(canonical.encode())
    if collision_count is not None:
        h = _fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0", h)
    return "".join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in str(h))


# -- ownership ---------------------------------------------------------------------------------

def owner_ref(d: Obj) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": d["metadata"]["name"],
            "uid": d["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def claim(d: Obj, replicasets: list[Obj]) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """(owned, orphans to adopt, owned sets to release), as client-go's ControllerRefManager."""
    selector = selector_from_spec((d.get("spec") or {}).get("selector"))
    uid, deleting = d["metadata"]["uid"], bool(d["metadata"].get("deletionTimestamp"))
    owned, adopt, release = [], [], []
    for rs in replicasets:
        ref, meta = controller_of(rs), rs.get("metadata") or {}
        matches = not selector.empty and selector.matches(meta.get("labels"))
        if ref is not None and ref.get("uid") == uid:
            if matches:
                owned.append(rs)
            elif not deleting:
                release.append(rs)
        elif ref is None and matches and not deleting and not meta.get("deletionTimestamp"):
            adopt.append(rs)
    return owned, adopt, release



# -- numbers -------------------------------------------------------------------------------------

def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString: an int as is, `N%` of total rounded up (surge) or down (unavailable)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid int or percent: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        scaled = int(value[:-1]) * total
        return -(-scaled // 100) if round_up else scaled // 100
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ValueError(f"invalid int or percent: {value!r}")


def spec_replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_int(obj: Obj | None, key: str) -> int:
    return int(((obj or {}).get("status") or {}).get(key) or 0)


def is_rolling(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as numbers; both 0 (by rounding) means unavailable 1."""
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = spec_replicas(d)
    surge = scaled_value(rolling.get("maxSurge"), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return resolve_fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    desired = spec_replicas(d)
    if not is_rolling(d) or desired == 0:
        return 0
    return min(resolve_fenceposts(d)[1], desired)


def annotations(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def int_annotation(obj: Obj, key: str) -> int | None:
    try:
        return int(annotations(obj)[key])
    except (KeyError, ValueError, TypeError):
        return None


def revision(rs: Obj) -> int:
    return int_annotation(rs, REVISION) or 0


def max_revision(sets: list[Obj]) -> int:
    return max((revision(rs) for rs in sets), default=0)


def has_deadline(d: Obj) -> bool:
    deadline = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return deadline is not None and deadline != MAX_INT32


def creation_key(rs: Obj) -> tuple[float, str]:
    """Oldest first; a set not created yet (no timestamp) is the newest; ties by name."""
    meta = rs.get("metadata") or {}
    return parse_rfc3339(meta.get("creationTimestamp")) or float("inf"), meta.get("name", "")


# -- conditions ----------------------------------------------------------------------------------

def get_condition(status: Obj, kind: str) -> Obj | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), None)


def new_condition(kind: str, status: str, reason: str, message: str, now: float) -> Obj:
    stamp = rfc3339(now)
    return {"type": kind, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def set_condition(status: Obj, cond: Obj) -> None:
    """Kubernetes' SetDeploymentCondition: same status and reason is a no-op; the transition
    time is kept while the status stays the same."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, cond["type"])
    status["conditions"] = [*status.get("conditions", []), cond]


def remove_condition(status: Obj, kind: str) -> None:
    if "conditions" in status:
        status["conditions"] = [c for c in status["conditions"] or [] if c.get("type") != kind]


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = spec_replicas(d)
    return (int(status.get("updatedReplicas") or 0) == want and int(status.get("replicas") or 0) == want
            and int(status.get("availableReplicas") or 0) == want
            and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 1))


def deployment_progressing(d: Obj, new: Obj) -> bool:
    old = d.get("status") or {}

    def get(st: Obj, key: str) -> int:
        return int(st.get(key) or 0)
    return (get(new, "updatedReplicas") > get(old, "updatedReplicas")
            or get(new, "replicas") - get(new, "updatedReplicas") < get(old, "replicas") - get(old, "updatedReplicas")
            or get(new, "readyReplicas") > get(old, "readyReplicas")
            or get(new, "availableReplicas") > get(old, "availableReplicas"))


def deployment_timed_out(d: Obj, status: Obj, now: float) -> bool:
    if not has_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_rfc3339(cond.get("lastUpdateTime"))
    return since is not None and since + int(d["spec"]["progressDeadlineSeconds"]) < now
