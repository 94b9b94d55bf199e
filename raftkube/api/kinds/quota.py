"""core/v1 ResourceQuota and LimitRange: defaults (a LimitRange Container item's default limit from
max, its default request from the default limit or min), validation with Kubernetes' messages
(standard quota resource names, non-negative and whole quantities, min <= defaultRequest <=
default <= max, ratios of at least 1), and kubectl's columns."""

from __future__ import annotations

from typing import Any

from ...machinery.quantity import canonical_quantity, parse_quantity
from ...machinery.times import parse_rfc3339, rfc3339
from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child
from .printing import age, name_of

Obj = dict[str, Any]
WHOLE = frozenset({"pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
                   "persistentvolumeclaims", "services.nodeports", "services.loadbalancers"})
STANDARD = WHOLE | {"cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
                    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage"}
SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity")
LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")


def _standard(name: str) -> bool:
    return name in STANDARD or name.startswith(("count/", "requests.hugepages-")) or "/" in name


def validate_resource_list(raw: Any, path: str, *, quota: bool) -> list[Cause]:
    out: list[Cause] = []
    if raw is None:
        return out
    if not isinstance(raw, dict):
        return [fe.type_invalid(path, raw, "must be an object")]
    for name, value in raw.items():
        where = f"{path}[{name}]"
        if quota and not _standard(str(name)):
            out.append(fe.invalid(where, name, "must be a standard resource for quota"))
            continue
        try:
            amount = parse_quantity(value)
        except ValueError as err:
            out.append(fe.invalid(where, value, str(err)))
            continue
        if amount < 0:
            out.append(fe.invalid(where, value, "must be greater than or equal to 0"))
        elif quota and (name in WHOLE or str(name).startswith("count/")) and amount != amount.to_integral_value():
            out.append(fe.invalid(where, value, "must be an integer"))
    return out


def _canonical(raw: Any) -> None:
    if isinstance(raw, dict):
        for name, value in list(raw.items()):
            try:
                raw[name] = canonical_quantity(value)
            except ValueError:
                continue


class ResourceQuotaStrategy(ObjectStrategy):
    kind = "ResourceQuota"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        _canonical(spec.get("hard"))
        status = child(obj, "status")
        _canonical(status.get("hard"))
        _canonical(status.get("used"))

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec, status = fe.as_dict(obj.get("spec")), fe.as_dict(obj.get("status"))
        out = validate_resource_list(spec.get("hard"), "spec.hard", quota=True)
        for i, scope in enumerate(fe.as_list(spec.get("scopes"))):
            fe.check_enum(out, f"spec.scopes[{i}]", scope, SCOPES)
        out += validate_resource_list(status.get("hard"), "status.hard", quota=True)
        out += validate_resource_list(status.get("used"), "status.used", quota=True)
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Age", description="CreationTimestamp is a timestamp representing the server time when "
                                          "this object was created."),
                Column("Request", description="Request represents a minimum amount of cpu/memory that a "
                                              "container may consume."),
                Column("Limit", description="Limits control the maximum amount of cpu/memory that a container "
                                            "may use independent of contention on the node.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        status = fe.as_dict(obj.get("status"))
        hard, used = fe.as_dict(status.get("hard")), fe.as_dict(status.get("used"))
        request, limit = [], []
        for name in sorted(hard):
            cell = f"{name}: {used.get(name, '0')}/{hard[name]}"
            (limit if name.split(".")[0] == "limits" and "." in name else request).append(cell)
        return [name_of(obj), age(obj, now), ", ".join(request), ", ".join(limit)]


def _compare(out: list[Cause], path: str, low: Any, high: Any, message: str) -> None:
    try:
        if low is not None and high is not None and parse_quantity(low) > parse_quantity(high):
            out.append(fe.invalid(path, low, message.format(low=low, high=high)))
    except ValueError:
        return


class LimitRangeStrategy(ObjectStrategy):
    kind = "LimitRange"

    def default(self, obj: Obj) -> None:
        for item in fe.as_list(child(obj, "spec").get("limits")):
            if not isinstance(item, dict):
                continue
            for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
                _canonical(item.get(key))
            if item.get("type") != "Container":
                continue
            default, request = child(item, "default"), child(item, "defaultRequest")
            for name, value in fe.as_dict(item.get("max")).items():
                default.setdefault(name, value)
            for name, value in default.items():
                request.setdefault(name, value)
            for name, value in fe.as_dict(item.get("min")).items():
                request.setdefault(name, value)

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        limits = fe.as_dict(obj.get("spec")).get("limits")
        if limits is not None and not isinstance(limits, list):
            return [fe.type_invalid("spec.limits", limits, "must be a list")]
        for i, item in enumerate(fe.as_list(limits)):
            path, item = f"spec.limits[{i}]", fe.as_dict(item)
            fe.check_enum(out, f"{path}.type", item.get("type"), LIMIT_TYPES, required_=True)
            for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
                out += validate_resource_list(item.get(key), f"{path}.{key}", quota=False)
            if item.get("type") == "Pod":
                for key in ("default", "defaultRequest"):
                    if item.get(key):
                        out.append(fe.forbidden(f"{path}.{key}", "may not be specified when `type` is 'Pod'"))
            mins, maxes = fe.as_dict(item.get("min")), fe.as_dict(item.get("max"))
            defaults, requests = fe.as_dict(item.get("default")), fe.as_dict(item.get("defaultRequest"))
            for name in sorted({*mins, *maxes, *defaults, *requests}):
                lo, hi, d, r = mins.get(name), maxes.get(name), defaults.get(name), requests.get(name)
                _compare(out, f"{path}.min[{name}]", lo, hi, "min value {low} is greater than max value {high}")
                _compare(out, f"{path}.defaultRequest[{name}]", lo, r,
                         "min value {low} is greater than default request value {high}")
                _compare(out, f"{path}.defaultRequest[{name}]", r, d,
                         "default request value {low} is greater than default limit value {high}")
                _compare(out, f"{path}.default[{name}]", d, hi,
                         "default value {low} is greater than max value {high}")
            for name, ratio in fe.as_dict(item.get("maxLimitRequestRatio")).items():
                try:
                    if parse_quantity(ratio) < 1:
                        out.append(fe.invalid(f"{path}.maxLimitRequestRatio[{name}]", ratio,
                                              f"ratio {ratio} is less than 1"))
                except ValueError:
                    continue
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Created At", "date", description="CreationTimestamp is a timestamp representing the server "
                                                         "time when this object was created.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        created = parse_rfc3339(fe.as_dict(obj.get("metadata")).get("creationTimestamp"))
        return [name_of(obj), rfc3339(created) if created is not None else ""]
