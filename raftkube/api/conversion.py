"""Kinds served at more than one version, stored at one: autoscaling/v1 HorizontalPodAutoscalers are kept as
autoscaling/v2 (kube-apiserver's storage version) and converted on the way in and out of storage.

v1 -> v2: `targetCPUUtilizationPercentage` becomes a Resource cpu metric with a Utilization target
(80, the v2 default, when unset); status `currentCPUUtilizationPercentage` a cpu current metric.
v2 -> v1: the first Resource cpu Utilization metric back to `targetCPUUtilizationPercentage`, its
current utilization to `currentCPUUtilizationPercentage`. As in Kubernetes, what v1 cannot say
(other metrics, behavior, conditions) rides along in annotations
(`autoscaling.alpha.kubernetes.io/metrics`, `.../behavior`, `.../conditions`), so a v1 client's
update keeps them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

Obj = dict[str, Any]
METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
DEFAULT_CPU_UTILIZATION = 80
_CONVERTED = {("autoscaling", "v1", "HorizontalPodAutoscaler")}


def converts(group: str, version: str, kind: str) -> bool:
    return (group, version, kind) in _CONVERTED


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _is_cpu_utilization(metric: Any) -> bool:
    resource = _d(_d(metric).get("resource"))
    return (_d(metric).get("type") == "Resource" and resource.get("name") == "cpu"
            and _d(resource.get("target")).get("type") == "Utilization")


def _meta_annotations(out: Obj) -> tuple[Obj, Obj]:
    if not isinstance(out.get("metadata"), dict):
        out["metadata"] = {}
    return out["metadata"], {k: v for k, v in _d(out["metadata"].get("annotations")).items()}


def _pop_json(annotations: Obj, key: str) -> Any:
    text = annotations.pop(key, None)
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def hpa_v1_to_v2(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v2"
    meta, annotations = _meta_annotations(out)
    if not isinstance(out.get("spec"), dict):
        out["spec"] = {}
    spec = out["spec"]
    target = spec.pop("targetCPUUtilizationPercentage", None)
    cpu = {"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": target if target is not None else DEFAULT_CPU_UTILIZATION}}}
    saved = _pop_json(annotations, METRICS_ANNOTATION)
    others = [m for m in (saved if isinstance(saved, list) else []) if not _is_cpu_utilization(m)]
    spec["metrics"] = [cpu, *others]
    behavior = _pop_json(annotations, BEHAVIOR_ANNOTATION)
    if behavior is not None:
        spec["behavior"] = behavior
    status = out.get("status")
    conditions = _pop_json(annotations, CONDITIONS_ANNOTATION)
    current_others = _pop_json(annotations, CURRENT_METRICS_ANNOTATION)
    current_others = current_others if isinstance(current_others, list) else []
    if isinstance(status, dict):
        current = status.pop("currentCPUUtilizationPercentage", None)
        metrics = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}] \
            if current is not None else []
        if metrics or current_others:
            status["currentMetrics"] = metrics + current_others
        if conditions:
            status["conditions"] = conditions
        status.setdefault("desiredReplicas", 0)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


def hpa_v2_to_v1(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    meta, annotations = _meta_annotations(out)
    if not isinstance(out.get("spec"), dict):
        out["spec"] = {}
    spec = out["spec"]
    metrics = spec.pop("metrics", None)
    metrics = metrics if isinstance(metrics, list) else []
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"].get("averageUtilization")
    others = [m for m in metrics if m is not cpu]
    if others:
        annotations[METRICS_ANNOTATION] = json.dumps(others)
    behavior = spec.pop("behavior", None)
    if behavior is not None:
        annotations[BEHAVIOR_ANNOTATION] = json.dumps(behavior)
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentMetrics", None)
        current = current if isinstance(current, list) else []
        cpu_now = next((m for m in current if _d(m).get("type") == "Resource"
                        and _d(_d(m).get("resource")).get("name") == "cpu"), None)
        utilization = _d(_d(_d(cpu_now).get("resource")).get("current")).get("averageUtilization")
        if utilization is not None:
            status["currentCPUUtilizationPercentage"] = utilization
        rest = [m for m in current if m is not cpu_now]
        if rest:
            annotations[CURRENT_METRICS_ANNOTATION] = json.dumps(rest)
        conditions = status.pop("conditions", None)
        if conditions:
            annotations[CONDITIONS_ANNOTATION] = json.dumps(conditions)
    if annotations:
        meta["annotations"] = annotations
    return out


def to_storage(group: str, version: str, kind: str, obj: Obj) -> Obj:
    return hpa_v1_to_v2(obj) if converts(group, version, kind) else obj


def from_storage(group: str, version: str, kind: str, obj: Obj) -> Obj:
    return hpa_v2_to_v1(obj) if converts(group, version, kind) else obj
