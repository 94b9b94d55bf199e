"""The HorizontalPodAutoscaler's replica count for a CPU utilization target: Kubernetes' replica calculator
(pkg/controller/podautoscaler/replica_calculator.go, GetResourceReplicas), as pure functions.

Pods are grouped as Kubernetes does: deleted or failed pods are ignored, pending ones count as
unready, pods without a metric are missing, and (for CPU) a pod is unready while it is not Ready
or, in its first 5 minutes, until one metric window has passed since it became Ready. The usage
ratio is utilization / target, where utilization is the pods' usage over their CPU requests in
percent; within the tolerance (0.1) nothing changes, else desired = ceil(ratio * ready pods). With
missing or unready pods the ratio is recomputed conservatively (missing pods use 100% of their
request when scaling down and 0% when scaling up; unready pods 0% when scaling up), and nothing
changes if that flips the direction or lands within the tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..machinery.quantity import parse_quantity
from ..machinery.times import parse_rfc3339

Obj = dict[str, Any]
TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay


@dataclass(frozen=True)
class PodMetric:
    milli_cores: int
    timestamp: float  # epoch seconds the sample was taken
    window: float  # seconds the sample averages over


class MetricsError(Exception):
    """A replica count cannot be had from the metrics: the HPA's ScalingActive condition says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class Recommendation:
    replicas: int
    utilization: int  # percent of the requests, over the pods that had metrics
    milli_cores: int  # their average usage


def cpu_request_milli(pod: Obj) -> int:
    """The sum of the pod's containers' CPU requests (millicores); MetricsError if one has none."""
    total = 0
    for container in (pod.get("spec") or {}).get("containers") or []:
        request = ((container.get("resources") or {}).get("requests") or {}).get("cpu")
        if request is None:
            raise MetricsError("FailedGetResourceMetric", f"failed to get cpu utilization: missing request for cpu "
                                                          f"in container {container.get('name')} of Pod "
                                                          f"{pod['metadata']['name']}")
        total += int(parse_quantity(request) * 1000)
    return total


def _ready_condition(pod: Obj) -> Obj | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)


def group_pods(pods: list[Obj], metrics: dict[str, PodMetric], now: float) -> tuple[int, set[str], set[str],
                                                                                    set[str]]:
    """(ready pod count, unready, missing, ignored) as Kubernetes' groupPods, for CPU."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        name, status = pod["metadata"]["name"], pod.get("status") or {}
        if pod["metadata"].get("deletionTimestamp") or status.get("phase") == "Failed":
            ignored.add(name)
            continue
        if status.get("phase") == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        condition, started = _ready_condition(pod), parse_rfc3339(status.get("startTime"))
        if condition is None or started is None:
            is_unready = True
        else:
            transition = parse_rfc3339(condition.get("lastTransitionTime")) or started
            if started + CPU_INITIALIZATION_PERIOD > now:
                is_unready = condition.get("status") == "False" or metric.timestamp < transition + metric.window
            else:
                is_unready = condition.get("status") == "False" and started + INITIAL_READINESS_DELAY > transition
        if is_unready:
            unready.add(name)
            continue
        ready += 1
    return ready, unready, missing, ignored


def _utilization(usage: dict[str, int], requests: dict[str, int], target: int) -> tuple[float, int, int]:
    used = sum(usage.values())
    requested = sum(requests[name] for name in usage if name in requests)
    if requested == 0:
        raise MetricsError("FailedGetResourceMetric", "failed to get cpu utilization: no metrics returned matched "
                                                      "known pods")
    utilization = int(used * 100 / requested)
    return utilization / target, utilization, int(used / len(usage))


def resource_replicas(current: int, target_utilization: int, pods: list[Obj], metrics: dict[str, PodMetric],
                      now: float, tolerance: float = TOLERANCE) -> Recommendation:
    if not pods:
        raise MetricsError("FailedGetResourceMetric", "failed to get cpu utilization: no pods returned by selector "
                                                      "while calculating replica count")
    ready, unready, missing, ignored = group_pods(pods, metrics, now)
    usage = {name: m.milli_cores for name, m in metrics.items() if name not in ignored and name not in unready
             and any(p["metadata"]["name"] == name for p in pods)}
    if not usage:
        raise MetricsError("FailedGetResourceMetric", "failed to get cpu utilization: did not receive metrics for "
                                                      "targeted pods (pods might be unready)")
    requests = {p["metadata"]["name"]: cpu_request_milli(p) for p in pods if p["metadata"]["name"] not in ignored}
    ratio, utilization, average = _utilization(usage, requests, target_utilization)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= tolerance:
            return Recommendation(current, utilization, average)
        return Recommendation(math.ceil(ratio * ready), utilization, average)
    if missing:
        for name in missing:
            usage[name] = requests.get(name, 0) if ratio < 1.0 else 0
    if scale_up_with_unready:
        for name in unready:
            usage[name] = 0
    new_ratio, _, _ = _utilization(usage, requests, target_utilization)
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return Recommendation(current, utilization, average)
    replicas = math.ceil(new_ratio * len(usage))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return Recommendation(current, utilization, average)
    return Recommendation(replicas, utilization, average)
