"""policy/v1 PodDisruptionBudget: status defaults, validation as Kubernetes' ValidatePodDisruptionBudget
(minAvailable and maxUnavailable exclusive, each a non-negative integer or a percentage of at most
100%, a valid selector, unhealthyPodEvictionPolicy IfHealthyBudget or AlwaysAllow), and kubectl's
columns (MIN AVAILABLE, MAX UNAVAILABLE, ALLOWED DISRUPTIONS)."""

from __future__ import annotations

import re
from typing import Any

from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef, validate_conditions
from .printing import age, name_of
from .selectors import validate_selector

Obj = dict[str, Any]
POLICIES = ("IfHealthyBudget", "AlwaysAllow")
_PERCENT = re.compile(r"^[0-9]+%$")


def validate_int_or_percent(value: Any, path: str) -> list[Cause]:
    if value is None:
        return []
    if isinstance(value, bool):
        return [fe.invalid(path, value, "must be an integer or percentage (e.g '5%')")]
    if isinstance(value, int):
        return [fe.invalid(path, value, "must be greater than or equal to 0")] if value < 0 else []
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [fe.invalid(path, value, "a valid percent string must be a numeric string followed by an ending "
                                            "'%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")]
        if int(value[:-1]) > 100:
            return [fe.invalid(path, value, "must not be greater than 100%")]
        return []
    return [fe.invalid(path, value, "must be an integer or percentage (e.g '5%')")]


class PodDisruptionBudgetStrategy(ObjectStrategy):
    kind = "PodDisruptionBudget"

    def default(self, obj: Obj) -> None:
        child(obj, "spec")
        status = child(obj, "status")
        for key in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
            setdef(status, key, 0)

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = fe.as_dict(obj.get("spec"))
        out: list[Cause] = []
        if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
            out.append(fe.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
        out += validate_int_or_percent(spec.get("minAvailable"), "spec.minAvailable")
        out += validate_int_or_percent(spec.get("maxUnavailable"), "spec.maxUnavailable")
        if spec.get("selector") is not None:
            out += validate_selector(spec["selector"], "spec.selector")
        fe.check_enum(out, "spec.unhealthyPodEvictionPolicy", spec.get("unhealthyPodEvictionPolicy"), POLICIES)
        status = fe.as_dict(obj.get("status"))
        for key in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
            fe.check_int(out, f"status.{key}", status.get(key), minimum=0)
        out += validate_conditions(status.get("conditions"), "status.conditions")
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Min Available", description="The minimum number of pods that must be available "
                                                    "simultaneously.  This can be either an integer or a string "
                                                    "specifying a percentage, e.g. \"28%\"."),
                Column("Max Unavailable", description="The maximum number of pods that may be unavailable "
                                                      "simultaneously.  This can be either an integer or a string "
                                                      "specifying a percentage, e.g. \"28%\"."),
                Column("Allowed Disruptions", "integer", description="Calculated number of pods that may be "
                                                                     "disrupted at this time."),
                Column("Age", description="CreationTimestamp is a timestamp representing the server time when "
                                          "this object was created.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec, status = fe.as_dict(obj.get("spec")), fe.as_dict(obj.get("status"))
        cells = [str(spec[k]) if spec.get(k) is not None else "N/A" for k in ("minAvailable", "maxUnavailable")]
        allowed = status.get("disruptionsAllowed")
        return [name_of(obj), *cells, allowed if fe.is_int(allowed) else 0, age(obj, now)]
