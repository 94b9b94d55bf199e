"""autoscaling/v2 HorizontalPodAutoscaler (and autoscaling/v1, converted: api/conversion.py): defaults
(minReplicas 1, a cpu 80% Utilization metric when none is given, behavior's defaults when one is),
Kubernetes' validation (ValidateHorizontalPodAutoscalerSpec and its metric and behavior checks, with
its messages) and kubectl's columns (NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE)."""

from __future__ import annotations

from typing import Any

from ..conversion import DEFAULT_CPU_UTILIZATION, hpa_v1_to_v2
from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef, validate_conditions
from .printing import age, name_of
from .workloads import AGE, NAME

Obj = dict[str, Any]
TARGET_TYPES = ("Utilization", "Value", "AverageValue")
METRIC_TYPES = ("Object", "Pods", "Resource", "ContainerResource", "External")
MAX_STABILIZATION, MAX_PERIOD = 3600, 1800


def _default_behavior(behavior: Obj) -> None:
    up, down = child(behavior, "scaleUp"), child(behavior, "scaleDown")
    setdef(up, "stabilizationWindowSeconds", 0)
    setdef(up, "selectPolicy", "Max")
    setdef(up, "policies", [{"type": "Pods", "value": 4, "periodSeconds": 15},
                            {"type": "Percent", "value": 100, "periodSeconds": 15}])
    setdef(down, "stabilizationWindowSeconds", 300)
    setdef(down, "selectPolicy", "Max")
    setdef(down, "policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])


def _validate_target(out: list[Cause], path: str, target: Obj, resource: bool) -> None:
    kind = target.get("type")
    if not kind:
        out.append(fe.required(f"{path}.type", "must specify a metric target type"))
    elif kind not in TARGET_TYPES:
        out.append(fe.invalid(f"{path}.type", kind, "must be either Utilization, Value, or AverageValue"))
    if kind == "Utilization" and target.get("averageUtilization") is None and resource:
        out.append(fe.required(f"{path}.averageUtilization", "must set either a target raw value or a target "
                                                             "utilization"))
    utilization = target.get("averageUtilization")
    if fe.is_int(utilization) and utilization <= 0:
        out.append(fe.invalid(f"{path}.averageUtilization", utilization, "must be greater than 0"))
    else:
        fe.check_int(out, f"{path}.averageUtilization", utilization)


def _validate_metrics(out: list[Cause], metrics: Any) -> None:
    for i, metric in enumerate(fe.as_list(metrics)):
        path, metric = f"spec.metrics[{i}]", fe.as_dict(metric)
        kind = metric.get("type")
        if not kind:
            out.append(fe.required(f"{path}.type", "must specify a metric source type"))
            continue
        if kind not in METRIC_TYPES:
            out.append(fe.not_supported(f"{path}.type", kind, METRIC_TYPES))
            continue
        field = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
                 "Object": "object", "External": "external"}[kind]
        source = metric.get(field)
        if not isinstance(source, dict):
            out.append(fe.required(f"{path}.{field}", "must populate information for the given metric source"))
            continue
        if field in ("resource", "containerResource") and not source.get("name"):
            out.append(fe.required(f"{path}.{field}.name", "must specify a resource name"))
        if not isinstance(source.get("target"), dict):
            out.append(fe.required(f"{path}.{field}.target", "must specify a metric target"))
            continue
        _validate_target(out, f"{path}.{field}.target", source["target"], field in ("resource", "containerResource"))


def _validate_rules(out: list[Cause], path: str, rules: Any) -> None:
    if rules is None:
        return
    rules = fe.as_dict(rules)
    window = rules.get("stabilizationWindowSeconds")
    fe.check_int(out, f"{path}.stabilizationWindowSeconds", window, minimum=0)
    if fe.is_int(window) and window > MAX_STABILIZATION:
        out.append(fe.invalid(f"{path}.stabilizationWindowSeconds", window,
                              f"must be less than or equal to {MAX_STABILIZATION}"))
    fe.check_enum(out, f"{path}.selectPolicy", rules.get("selectPolicy"), ("Max", "Min", "Disabled"))
    policies = fe.as_list(rules.get("policies"))
    if rules.get("policies") is not None and not policies:
        out.append(fe.required(f"{path}.policies", "must specify at least one Policy"))
    for i, policy in enumerate(policies):
        where, policy = f"{path}.policies[{i}]", fe.as_dict(policy)
        fe.check_enum(out, f"{where}.type", policy.get("type"), ("Pods", "Percent"), required_=True)
        value, period = policy.get("value"), policy.get("periodSeconds")
        if fe.is_int(value) and value <= 0:
            out.append(fe.invalid(f"{where}.value", value, "must be greater than zero"))
        if fe.is_int(period) and not 0 < period <= MAX_PERIOD:
            detail = "must be greater than zero" if period <= 0 else f"must be less than or equal to {MAX_PERIOD}"
            out.append(fe.invalid(f"{where}.periodSeconds", period, detail))


def validate_v2(obj: Obj) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [fe.required("spec", "")]
    out: list[Cause] = []
    ref = fe.as_dict(spec.get("scaleTargetRef"))
    for key in ("kind", "name"):
        if not ref.get(key):
            out.append(fe.required(f"spec.scaleTargetRef.{key}", ""))
        elif "/" in str(ref[key]) or str(ref[key]) in (".", ".."):
            out.append(fe.invalid(f"spec.scaleTargetRef.{key}", ref[key], "may not contain '/'"))
    minimum, maximum = spec.get("minReplicas"), spec.get("maxReplicas")
    if fe.is_int(minimum) and minimum < 1:
        out.append(fe.invalid("spec.minReplicas", minimum, "must be greater than or equal to 1"))
    if maximum is None:
        out.append(fe.required("spec.maxReplicas", ""))
    elif fe.is_int(maximum) and maximum < 1:
        out.append(fe.invalid("spec.maxReplicas", maximum, "must be greater than 0"))
    elif fe.is_int(maximum) and fe.is_int(minimum) and maximum < minimum:
        out.append(fe.invalid("spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`"))
    _validate_metrics(out, spec.get("metrics"))
    behavior = spec.get("behavior")
    if behavior is not None:
        _validate_rules(out, "spec.behavior.scaleUp", fe.as_dict(behavior).get("scaleUp"))
        _validate_rules(out, "spec.behavior.scaleDown", fe.as_dict(behavior).get("scaleDown"))
    status = fe.as_dict(obj.get("status"))
    out += validate_conditions(status.get("conditions"), "status.conditions")
    return out


def format_targets(spec: Obj, status: Obj) -> str:
    """kubectl's TARGETS cell: `cpu: 42%/50%` per metric (`<unknown>` before a measurement)."""
    current = fe.as_list(status.get("currentMetrics"))
    cells = []
    for i, metric in enumerate(fe.as_list(spec.get("metrics"))):
        metric = fe.as_dict(metric)
        kind = metric.get("type")
        field = {"Resource": "resource", "ContainerResource": "containerResource"}.get(str(kind))
        if field is None:
            cells.append(f"<{str(kind).lower()} metric>")
            continue
        source = fe.as_dict(metric.get(field))
        target = fe.as_dict(source.get("target"))
        now = fe.as_dict(fe.as_dict(fe.as_dict(current[i] if i < len(current) else {}).get(field)).get("current"))
        if target.get("averageValue") is not None:
            cells.append(f"{source.get('name')}: {now.get('averageValue', '<unknown>')}/{target['averageValue']}")
            continue
        value = f"{now['averageUtilization']}%" if now.get("averageUtilization") is not None else "<unknown>"
        goal = f"{target['averageUtilization']}%" if target.get("averageUtilization") is not None else "<auto>"
        cells.append(f"{source.get('name')}: {value}/{goal}")
    if not cells:
        return "<none>"
    if len(cells) > 4:
        return ", ".join(cells[:4]) + f" + {len(cells) - 4} more..."
    return ", ".join(cells)


class HorizontalPodAutoscalerStrategy(ObjectStrategy):
    kind = "HorizontalPodAutoscaler"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        setdef(spec, "minReplicas", 1)
        if obj.get("apiVersion") == "autoscaling/v1":
            return  # (the cpu default comes with the conversion to v2)
        if not spec.get("metrics"):
            spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]
        if isinstance(spec.get("behavior"), dict):
            _default_behavior(spec["behavior"])

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        if obj.get("apiVersion") == "autoscaling/v1":
            spec = fe.as_dict(obj.get("spec"))
            out: list[Cause] = []
            target = spec.get("targetCPUUtilizationPercentage")
            if fe.is_int(target) and target < 1:
                out.append(fe.invalid("spec.targetCPUUtilizationPercentage", target, "must be greater than 0"))
            return out + [c for c in validate_v2(hpa_v1_to_v2(obj)) if "metrics" not in c.field]
        return validate_v2(obj)

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Reference", description="scaleTargetRef points to the target resource to scale."),
                Column("Targets", description="metrics contains the specifications for which to use to calculate "
                                              "the desired replica count."),
                Column("MinPods", description="minReplicas is the lower limit for the number of replicas."),
                Column("MaxPods", description="maxReplicas is the upper limit for the number of replicas."),
                Column("Replicas", description="currentReplicas is current number of replicas of pods managed by "
                                               "this autoscaler."),
                AGE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        if obj.get("apiVersion") == "autoscaling/v1":
            obj = hpa_v1_to_v2(obj)
        spec, status = fe.as_dict(obj.get("spec")), fe.as_dict(obj.get("status"))
        ref = fe.as_dict(spec.get("scaleTargetRef"))
        minimum = spec.get("minReplicas")
        return [name_of(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", format_targets(spec, status),
                "<unset>" if minimum is None else str(minimum), str(spec.get("maxReplicas", "")),
                str(status.get("currentReplicas", 0)), age(obj, now)]
