"""core/v1 ReplicationController: defaults (selector and labels from the template, replicas 1),
validation as Kubernetes' ValidateReplicationControllerSpec (a non-empty plain-map selector
matching the template labels, a restartPolicy Always template), and kubectl's columns.

Unlike apps/v1 ReplicaSets, an RC's selector is a plain label map and may be changed."""

from __future__ import annotations

from typing import Any

from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef
from .podspec import default_pod_template, validate_pod_template
from .printing import age, container_cells, format_labels, int_field, name_of
from .selectors import validate_labels
from .workloads import AGE, NAME, validate_status

Obj = dict[str, Any]
COUNTERS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")


def label_selector(rc: Obj) -> Obj:
    """The RC's plain-map selector as a metav1.LabelSelector (for the shared controller machinery)."""
    return {"matchLabels": dict(fe.as_dict(fe.as_dict(rc.get("spec")).get("selector")))}


class ReplicationControllerStrategy(ObjectStrategy):
    kind = "ReplicationController"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        template = spec.get("template")
        if isinstance(template, dict):
            labels = fe.as_dict(fe.as_dict(template.get("metadata")).get("labels"))
            if labels and not spec.get("selector"):
                spec["selector"] = dict(labels)
            meta = child(obj, "metadata")
            if labels and not meta.get("labels"):
                meta["labels"] = dict(labels)
            default_pod_template(template)
        setdef(spec, "replicas", 1)
        setdef(child(obj, "status"), "replicas", 0)

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [fe.required("spec", "")]
        out: list[Cause] = []
        fe.check_int(out, "spec.minReadySeconds", spec.get("minReadySeconds"), minimum=0)
        fe.check_int(out, "spec.replicas", spec.get("replicas"), minimum=0)
        selector = spec.get("selector")
        selector_errors = validate_labels(selector, "spec.selector")
        out.extend(selector_errors)
        if not selector and not selector_errors:
            out.append(fe.required("spec.selector", ""))
        template = spec.get("template")
        if template is None:
            if fe.is_int(spec.get("replicas")) and spec["replicas"] > 0:
                out.append(fe.required("spec.template", ""))
            return out + validate_status(obj, COUNTERS)
        template = fe.as_dict(template)
        labels = fe.as_dict(fe.as_dict(template.get("metadata")).get("labels"))
        if isinstance(selector, dict) and selector and not selector_errors and not (
                selector.items() <= labels.items()):
            out.append(fe.invalid("spec.template.metadata.labels", labels,
                                  "`selector` does not match template `labels`"))
        out.extend(validate_pod_template(template, "spec.template"))
        pod_spec = fe.as_dict(template.get("spec"))
        restart = pod_spec.get("restartPolicy")
        if restart and restart != "Always":
            out.append(fe.not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
        if pod_spec.get("activeDeadlineSeconds") is not None:
            out.append(fe.forbidden("spec.template.spec.activeDeadlineSeconds",
                                    "activeDeadlineSeconds in ReplicationController is not Supported"))
        return out + validate_status(obj, COUNTERS)

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Desired", "integer", description="Replicas is the number of desired replicas."),
                Column("Current", "integer", description="Replicas is the most recently observed number of "
                                                         "replicas."),
                Column("Ready", "integer", description="The number of ready replicas for this replication "
                                                       "controller."),
                AGE,
                Column("Containers", priority=1, description="Names of each container in the template."),
                Column("Images", priority=1, description="Images referenced by each container in the template."),
                Column("Selector", priority=1, description="Label selector for pods.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec = fe.as_dict(obj.get("spec"))
        names, images = container_cells(fe.as_dict(spec.get("template")).get("spec"))
        return [name_of(obj), int_field(obj, "spec", "replicas"), int_field(obj, "status", "replicas"),
                int_field(obj, "status", "readyReplicas"), age(obj, now), names, images,
                format_labels(spec.get("selector"))]
