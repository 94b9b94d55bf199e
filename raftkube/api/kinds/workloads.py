"""apps/v1 Deployment, ReplicaSet and DaemonSet: defaults, validation (selector vs template
labels, strategies, template as a pod spec with restartPolicy Always), selector immutability,
and kubectl's columns."""

from __future__ import annotations

from typing import Any

from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef, validate_conditions
from .names import is_percent
from .podspec import default_pod_template, validate_pod_template
from .printing import age, container_cells, format_labels, int_field, name_of
from .selectors import format_selector, is_empty, matches, selector_string, validate_selector

Obj = dict[str, Any]

AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time when this object "
                                 "was created.")
NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
WIDE = [Column("Containers", priority=1, description="Names of each container in the template."),
        Column("Images", priority=1, description="Images referenced by each container in the template."),
        Column("Selector", priority=1, description="Label selector for pods.")]


def int_or_percent(value: Any) -> int | None:
    """The number in an IntOrString (`3`, `"25%"`); None when malformed."""
    if fe.is_int(value):
        return value
    if isinstance(value, str) and not is_percent(value):
        return int(value[:-1])
    return None


def validate_int_or_percent(value: Any, path: str, *, at_most_100: bool = False) -> list[Cause]:
    if value is None:
        return []
    out: list[Cause] = []
    if isinstance(value, str):
        out.extend(fe.invalid(path, value, msg) for msg in is_percent(value))
        if not out and at_most_100 and int(value[:-1]) > 100:
            out.append(fe.invalid(path, value, "must not be greater than 100%"))
    else:
        fe.check_int(out, path, value, minimum=0)
    return out


def validate_replica_template(spec: Obj, kind: str) -> list[Cause]:
    """Selector (required, non-empty, matching the template labels) and a restartPolicy Always template."""
    out: list[Cause] = []
    selector = spec.get("selector")
    usable = False  # a selector that can be matched against the template (as Kubernetes parses it)
    if selector is None:
        out.append(fe.required("spec.selector", ""))
    else:
        errors = validate_selector(selector, "spec.selector")
        out.extend(errors)
        usable = not errors
        if is_empty(selector):
            out.append(fe.invalid("spec.selector", selector, f"empty selector is invalid for {kind.lower()}"))
    template = spec.get("template")
    if template is None:
        return [*out, fe.required("spec.template", "")]
    template = fe.as_dict(template)
    labels = fe.as_dict(template.get("metadata")).get("labels")
    if usable and not is_empty(selector) and not matches(selector, labels):
        out.append(fe.invalid("spec.template.metadata.labels", labels or {},
                              "`selector` does not match template `labels`"))
    out.extend(validate_pod_template(template, "spec.template"))
    pod_spec = fe.as_dict(template.get("spec"))
    restart = pod_spec.get("restartPolicy")
    if restart and restart != "Always":
        out.append(fe.not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        out.append(fe.forbidden("spec.template.spec.activeDeadlineSeconds",
                                f"activeDeadlineSeconds in {kind} is not Supported"))
    fe.check_int(out, "spec.minReadySeconds", spec.get("minReadySeconds"), minimum=0)
    fe.check_int(out, "spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"), minimum=0)
    return out


def validate_status(obj: Obj, counters: tuple[str, ...]) -> list[Cause]:
    """status counters are non-negative integers; conditions have a type and a status."""
    status = fe.as_dict(obj.get("status"))
    out: list[Cause] = []
    for key in (*counters, "observedGeneration"):
        fe.check_int(out, f"status.{key}", status.get(key), minimum=0)
    out.extend(validate_conditions(status.get("conditions"), "status.conditions"))
    return out


def validate_selector_update(spec: Obj, old: Obj | None) -> list[Cause]:
    if old is None:
        return []
    old_selector = fe.as_dict(old.get("spec")).get("selector")
    if spec.get("selector") != old_selector:
        return [fe.immutable("spec.selector", spec.get("selector"))]
    return []


def wide_cells(obj: Obj, *, format_empty: bool) -> list[str]:
    spec = fe.as_dict(obj.get("spec"))
    names, images = container_cells(fe.as_dict(spec.get("template")).get("spec"))
    selector = format_selector(spec.get("selector")) if format_empty else selector_string(spec.get("selector"))
    return [names, images, selector]


class DeploymentStrategy(ObjectStrategy):
    kind = "Deployment"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        setdef(spec, "replicas", 1)
        strategy = child(spec, "strategy")
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
        if strategy.get("type") == "RollingUpdate":
            rolling = child(strategy, "rollingUpdate")
            setdef(rolling, "maxUnavailable", "25%")
            setdef(rolling, "maxSurge", "25%")
        setdef(spec, "revisionHistoryLimit", 10)
        setdef(spec, "progressDeadlineSeconds", 600)
        default_pod_template(child(spec, "template"))
        child(obj, "status")

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [fe.required("spec", "")]
        out: list[Cause] = []
        fe.check_int(out, "spec.replicas", spec.get("replicas"), minimum=0)
        out.extend(validate_replica_template(spec, "Deployment"))
        out.extend(self._validate_strategy(fe.as_dict(spec.get("strategy"))))
        deadline, min_ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds") or 0
        fe.check_int(out, "spec.progressDeadlineSeconds", deadline, minimum=0)
        if fe.is_int(deadline) and fe.is_int(min_ready) and deadline <= min_ready:
            out.append(fe.invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
        out.extend(validate_selector_update(spec, old))
        out.extend(validate_status(obj, ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                                         "unavailableReplicas")))
        return out

    @staticmethod
    def _validate_strategy(strategy: Obj) -> list[Cause]:
        kind, rolling = strategy.get("type"), strategy.get("rollingUpdate")
        if kind == "Recreate":
            if rolling is not None:
                return [fe.forbidden("spec.strategy.rollingUpdate",
                                     "may not be specified when strategy `type` is 'Recreate'")]
            return []
        if kind != "RollingUpdate":
            return [fe.not_supported("spec.strategy.type", kind, ["Recreate", "RollingUpdate"])]
        if not isinstance(rolling, dict):
            return [fe.required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")]
        path = "spec.strategy.rollingUpdate"
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        out = validate_int_or_percent(unavailable, f"{path}.maxUnavailable", at_most_100=True)
        out.extend(validate_int_or_percent(surge, f"{path}.maxSurge"))
        if int_or_percent(unavailable) == 0 and int_or_percent(surge) == 0:
            out.append(fe.invalid(f"{path}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0"))
        return out

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Ready", description="Number of the pod with ready state"),
                Column("Up-to-date", "integer", description="Total number of non-terminated pods targeted by this "
                                                            "deployment that have the desired template spec."),
                Column("Available", "integer", description="Total number of available pods (ready for at least "
                                                           "minReadySeconds) targeted by this deployment."),
                AGE, *WIDE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        ready = f"{int_field(obj, 'status', 'readyReplicas')}/{int_field(obj, 'spec', 'replicas')}"
        return [name_of(obj), ready, int_field(obj, "status", "updatedReplicas"),
                int_field(obj, "status", "availableReplicas"), age(obj, now), *wide_cells(obj, format_empty=False)]


class ReplicaSetStrategy(ObjectStrategy):
    kind = "ReplicaSet"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        setdef(spec, "replicas", 1)
        default_pod_template(child(spec, "template"))
        setdef(child(obj, "status"), "replicas", 0)

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [fe.required("spec", "")]
        out: list[Cause] = []
        fe.check_int(out, "spec.replicas", spec.get("replicas"), minimum=0)
        out.extend(validate_replica_template(spec, "ReplicaSet"))
        out.extend(validate_selector_update(spec, old))
        out.extend(validate_status(obj, ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")))
        return out

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Desired", "integer", description="Replicas is the number of desired pods."),
                Column("Current", "integer", description="Replicas is the most recently observed number of pods."),
                Column("Ready", "integer", description="The number of ready pods targeted by this ReplicaSet."),
                AGE, *WIDE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        return [name_of(obj), int_field(obj, "spec", "replicas"), int_field(obj, "status", "replicas"),
                int_field(obj, "status", "readyReplicas"), age(obj, now), *wide_cells(obj, format_empty=True)]


class DaemonSetStrategy(ObjectStrategy):
    kind = "DaemonSet"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        strategy = child(spec, "updateStrategy")
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
        if strategy.get("type") == "RollingUpdate":
            rolling = child(strategy, "rollingUpdate")
            setdef(rolling, "maxUnavailable", 1)
            setdef(rolling, "maxSurge", 0)
        setdef(spec, "revisionHistoryLimit", 10)
        default_pod_template(child(spec, "template"))
        status = child(obj, "status")
        for key in ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady"):
            setdef(status, key, 0)

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [fe.required("spec", "")]
        out = validate_replica_template(spec, "DaemonSet")
        strategy = fe.as_dict(spec.get("updateStrategy"))
        kind, path = strategy.get("type"), "spec.updateStrategy.rollingUpdate"
        if kind == "RollingUpdate":
            rolling = strategy.get("rollingUpdate")
            if not isinstance(rolling, dict):
                out.append(fe.required(path, ""))
            else:
                unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
                has_unavailable = unavailable is not None and int_or_percent(unavailable) != 0
                has_surge = surge is not None and int_or_percent(surge) != 0
                if has_unavailable:
                    out.extend(validate_int_or_percent(unavailable, f"{path}.maxUnavailable", at_most_100=True))
                if has_surge:
                    out.extend(validate_int_or_percent(surge, f"{path}.maxSurge", at_most_100=True))
                if has_unavailable and has_surge:
                    out.append(fe.invalid(f"{path}.maxSurge", surge, "may not be set when maxUnavailable is "
                                                                     "non-zero"))
                elif not has_unavailable and not has_surge:
                    out.append(fe.required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
        elif kind != "OnDelete":
            out.append(fe.not_supported("spec.updateStrategy.type", kind, ["OnDelete", "RollingUpdate"]))
        out.extend(validate_selector_update(spec, old))
        out.extend(validate_status(obj, ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled",
                                         "numberReady", "updatedNumberScheduled", "numberAvailable")))
        return out

    def table_columns(self) -> list[Column]:
        return [NAME,
                Column("Desired", "integer", description="The total number of nodes that should be running the "
                                                         "daemon pod."),
                Column("Current", "integer", description="The number of nodes that are running at least 1 daemon "
                                                         "pod and are supposed to run the daemon pod."),
                Column("Ready", "integer", description="The number of nodes that should be running the daemon pod "
                                                       "and have one or more of the daemon pod running and ready."),
                Column("Up-to-date", "integer", description="The total number of nodes that are running updated "
                                                            "daemon pod"),
                Column("Available", "integer", description="The number of nodes that should be running the daemon "
                                                           "pod and have one or more of the daemon pod running and "
                                                           "available."),
                Column("Node Selector", description="NodeSelector is a selector which must be true for the pod to "
                                                    "fit on a node."),
                AGE, *WIDE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        node_selector = fe.as_dict(fe.as_dict(fe.as_dict(obj.get("spec")).get("template")).get("spec"))
        return [name_of(obj), int_field(obj, "status", "desiredNumberScheduled"),
                int_field(obj, "status", "currentNumberScheduled"), int_field(obj, "status", "numberReady"),
                int_field(obj, "status", "updatedNumberScheduled"), int_field(obj, "status", "numberAvailable"),
                format_labels(node_selector.get("nodeSelector")), age(obj, now),
                *wide_cells(obj, format_empty=True)]
