"""batch/v1 Job: defaults (completions, parallelism, backoffLimit, the generated selector and
controller-uid/job-name labels, the status of pod failure policy patterns), validation, update
rules, and kubectl's columns."""

from __future__ import annotations

from typing import Any

from ...machinery.times import human_duration, parse_rfc3339
from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef, validate_conditions
from .podspec import default_pod_template, validate_pod_template
from .printing import age, container_cells, int_field, name_of
from .selectors import format_selector, matches, validate_selector

Obj = dict[str, Any]

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"
MAX_INT32 = 2**31 - 1


def _manual(spec: Obj) -> bool:
    return spec.get("manualSelector") is True


def generate_selector(obj: Obj) -> None:
    """What the API server does on create without manualSelector: label the template with the
    job's uid and name and select on the uid. Needs metadata.uid and metadata.name set."""
    meta = fe.as_dict(obj.get("metadata"))
    uid, name = meta.get("uid"), meta.get("name")
    spec = child(obj, "spec")
    if not uid or _manual(spec):
        return
    labels = child(child(child(spec, "template"), "metadata"), "labels")
    if name:
        labels.setdefault(LEGACY_JOB_NAME, name)
        labels.setdefault(JOB_NAME, name)
    labels.setdefault(LEGACY_CONTROLLER_UID, uid)
    labels.setdefault(CONTROLLER_UID, uid)
    selector = child(spec, "selector")
    child(selector, "matchLabels").setdefault(CONTROLLER_UID, uid)


def default_pod_failure_policy(spec: Obj) -> None:
    """A rule's pod condition pattern without a status matches status True (as in Kubernetes)."""
    for rule in fe.as_list(fe.as_dict(spec.get("podFailurePolicy")).get("rules")):
        for pattern in fe.as_list(fe.as_dict(rule).get("onPodConditions")):
            if isinstance(pattern, dict) and pattern.get("status") in (None, ""):
                pattern["status"] = "True"


def job_status(obj: Obj) -> str:
    conditions = {fe.key(fe.as_dict(c).get("type")) for c in fe.as_list(fe.as_dict(obj.get("status")).get("conditions"))
                  if fe.as_dict(c).get("status") == "True"}
    if "Complete" in conditions:
        return "Complete"
    if "Failed" in conditions:
        return "Failed"
    if fe.as_dict(obj.get("metadata")).get("deletionTimestamp"):
        return "Terminating"
    if "Suspended" in conditions:
        return "Suspended"
    if "FailureTarget" in conditions:
        return "FailureTarget"
    return "Running"


class JobStrategy(ObjectStrategy):
    kind = "Job"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = 1
        setdef(spec, "parallelism", 1)
        setdef(spec, "backoffLimit", MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6)
        setdef(spec, "completionMode", "NonIndexed")
        setdef(spec, "suspend", False)
        setdef(spec, "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
        default_pod_failure_policy(spec)
        template = child(spec, "template")
        generate_selector(obj)
        # like a Job read back from storage: labels default to the (generated) template labels
        template_labels = fe.as_dict(fe.as_dict(template.get("metadata")).get("labels"))
        meta = child(obj, "metadata")
        if template_labels and not meta.get("labels"):
            meta["labels"] = dict(template_labels)
        setdef(spec, "manualSelector", False)
        default_pod_template(template)
        child(obj, "status")

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [fe.required("spec", "")]
        out: list[Cause] = []
        for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                    "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
            fe.check_int(out, f"spec.{key}", spec.get(key), minimum=0)
        mode = spec.get("completionMode")
        fe.check_enum(out, "spec.completionMode", mode, ("NonIndexed", "Indexed"))
        if mode == "Indexed" and spec.get("completions") is None:
            out.append(fe.required("spec.completions", "when completion mode is Indexed"))
        selector = spec.get("selector")
        template = fe.as_dict(spec.get("template"))
        labels = fe.as_dict(template.get("metadata")).get("labels")
        if selector is None:
            out.append(fe.required("spec.selector", ""))
        else:
            errors = validate_selector(selector, "spec.selector")
            out.extend(errors)
            if not errors and not matches(selector, labels):
                out.append(fe.invalid("spec.template.metadata.labels", labels or {},
                                      "`selector` does not match template `labels`"))
        out.extend(validate_pod_template(spec.get("template"), "spec.template"))
        restart = fe.as_dict(template.get("spec")).get("restartPolicy")
        if restart not in ("OnFailure", "Never"):
            out.append(fe.not_supported("spec.template.spec.restartPolicy", restart or "", ["OnFailure", "Never"]))
        if not _manual(spec):
            out.extend(self._validate_generated(obj, spec, labels))
        status = fe.as_dict(obj.get("status"))
        for key in ("active", "succeeded", "failed", "ready", "terminating"):
            fe.check_int(out, f"status.{key}", status.get(key), minimum=0)
        out.extend(validate_conditions(status.get("conditions"), "status.conditions"))
        if old is not None:
            out.extend(self._validate_update(spec, fe.as_dict(old.get("spec"))))
        return out

    @staticmethod
    def _validate_generated(obj: Obj, spec: Obj, labels: Any) -> list[Cause]:
        meta = fe.as_dict(obj.get("metadata"))
        uid, name = meta.get("uid"), meta.get("name")
        if not uid:
            return [fe.required("metadata.uid", "")]
        out: list[Cause] = []
        labels = fe.as_dict(labels)
        for key, expected in ((LEGACY_CONTROLLER_UID, uid), (LEGACY_JOB_NAME, name), (CONTROLLER_UID, uid),
                              (JOB_NAME, name)):
            path = f"spec.template.metadata.labels[{key}]"
            if key not in labels:
                out.append(fe.required(path, f"must be '{expected}'"))
            elif labels[key] != expected:
                out.append(fe.invalid(path, labels[key], f"must be '{expected}'"))
        if not matches(spec.get("selector"), {CONTROLLER_UID: uid}):
            out.append(fe.invalid("spec.selector", spec.get("selector"), "`selector` not auto-generated"))
        return out

    @staticmethod
    def _validate_update(spec: Obj, old: Obj) -> list[Cause]:
        out = []
        for key in ("selector", "template", "completionMode", "podFailurePolicy", "backoffLimitPerIndex"):
            if spec.get(key) != old.get(key):
                out.append(fe.immutable(f"spec.{key}", spec.get(key)))
        if spec.get("completions") != old.get("completions") and spec.get("completionMode") != "Indexed":
            out.append(fe.immutable("spec.completions", spec.get("completions")))
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Status", description="Status of the job."),
                Column("Completions", description="The completion status of the job as <succeeded>/<completions>"),
                Column("Duration", description="Time required to complete the job."),
                Column("Age", description="CreationTimestamp is a timestamp representing the server time when "
                                          "this object was created."),
                Column("Containers", priority=1, description="Names of each container in the template."),
                Column("Images", priority=1, description="Images referenced by each container in the template."),
                Column("Selector", priority=1, description="A label query over pods that should match the pod "
                                                           "count.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec, status = fe.as_dict(obj.get("spec")), fe.as_dict(obj.get("status"))
        succeeded = int_field(obj, "status", "succeeded")
        if fe.is_int(spec.get("completions")):
            completions = f"{succeeded}/{spec['completions']}"
        else:
            parallelism = int_field(obj, "spec", "parallelism")
            completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
        start, end = parse_rfc3339(status.get("startTime")), parse_rfc3339(status.get("completionTime"))
        duration = ""
        if start is not None:
            duration = human_duration((end if end is not None else now) - start)
        names, images = container_cells(fe.as_dict(spec.get("template")).get("spec"))
        return [name_of(obj), job_status(obj), completions, duration, age(obj, now), names, images,
                format_selector(spec.get("selector"))]
