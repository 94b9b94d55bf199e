"""Which pod `raftkube logs TYPE/NAME` reads: kubectl's choice among the pods a workload selects.

`deployment/web`, `rs/web-abc`, `ds/agent`, `job/once`, `service/web`: the object's selector
picks the pods, and kubectl's `ByLogging` order picks one of them: bound before unbound,
Running before Unknown before Pending, ready before not, ready for longer, more restarts,
older. With no pod yet, the command waits for the first one, as kubectl does for
`--pod-running-timeout`.
"""

from __future__ import annotations

from typing import Any

from ..api.kinds.selectors import selector_string
from ..client import ApiClient
from .common import CliError

Obj = dict[str, Any]
POD = ("v1", "Pod")

# kinds whose spec.selector is a LabelSelector (matchLabels/matchExpressions)
LABEL_SELECTOR_KINDS = frozenset({"ReplicaSet", "Deployment", "DaemonSet", "Job", "StatefulSet"})
PHASE_ORDER = {"Running": 0, "Unknown": 1, "Pending": 2}  # other phases rank with Running, as in kubectl


def selector_of(obj: Obj) -> str:
    """The label selector (as a query string) of the pods `obj` owns or serves."""
    kind, name = obj.get("kind", ""), (obj.get("metadata") or {}).get("name", "")
    spec = obj.get("spec") or {}
    if kind == "Service" or kind == "ReplicationController":
        labels = spec.get("selector") or {}
        text = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    elif kind in LABEL_SELECTOR_KINDS:
        text = selector_string(spec.get("selector") or {})
    else:
        raise CliError(f"cannot get the logs from {kind}: it selects no pods")
    if not text:
        raise CliError(f"invalid {kind.lower()} {name!r}: {kind} is defined without a selector")
    return text


def _ready_time(pod: Obj) -> str | None:
    """The lastTransitionTime of a True Ready condition; None when the pod is not ready."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return str(condition.get("lastTransitionTime") or "")
    return None


def _max_restarts(pod: Obj) -> int:
    counts = [int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or []]
    return max(counts, default=0)


def logging_order(pod: Obj) -> tuple[Any, ...]:
    """kubectl's `podutils.ByLogging` as a sort key: the pod to read sorts first."""
    status, metadata = pod.get("status") or {}, pod.get("metadata") or {}
    ready_at = _ready_time(pod)
    created = str(metadata.get("creationTimestamp") or "")
    return (
        0 if (pod.get("spec") or {}).get("nodeName") else 1,
        PHASE_ORDER.get(str(status.get("phase") or ""), 0),
        0 if ready_at is not None else 1,
        (0, ready_at) if ready_at else (1, ""),  # ready longer first; an unknown time last
        -_max_restarts(pod),
        (0, created) if created else (1, ""),  # older first; no timestamp last
    )


def pick_pod(pods: list[Obj]) -> Obj | None:
    return min(pods, key=logging_order, default=None)


async def first_pod(api: ApiClient, namespace: str, selector: str, timeout: int) -> tuple[Obj, int]:
    """The pod to read among those `selector` picks and how many there were; waits up to `timeout`
    seconds for the first one to appear."""
    listing = await api.list(POD, namespace, label_selector=selector)
    pods = list(listing.get("items") or [])
    chosen = pick_pod(pods)
    if chosen is not None:
        return chosen, len(pods)
    version = (listing.get("metadata") or {}).get("resourceVersion")
    events = api.watch(POD, namespace, resource_version=version, label_selector=selector,
                       allow_bookmarks=False, timeout_seconds=timeout, follow=False)
    async for kind, pod in events:
        if kind == "ADDED":
            await events.aclose()
            return pod, 1
    raise CliError(f"timed out waiting for the condition (no pod matched {selector!r} in {timeout}s)")
