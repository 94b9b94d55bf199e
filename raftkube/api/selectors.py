"""Label and field selectors from a request's query string, with parse errors as 400s.

Label selectors are raftkube/machinery/labels.py's. Field selectors: `path=value`,
`path==value`, `path!=value` on the fields each kind supports (`metadata.name`,
`metadata.namespace` everywhere, plus `spec.nodeName`, `status.phase`, ... per kind).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..machinery.labels import LabelSelector, Requirement, SelectorError, selector_from_spec
from ..machinery.labels import parse_label_selector as parse_labels
from .errors import bad_request

__all__ = ["FieldSelector", "LabelSelector", "Requirement", "parse_field_selector", "parse_label_selector",
           "selector_from_spec"]


def parse_label_selector(text: str | None) -> LabelSelector:
    try:
        return parse_labels(text)
    except SelectorError as err:
        raise bad_request(str(err)) from None


# ------------------------------------------------------------------ fields
COMMON_FIELDS = ("metadata.name", "metadata.namespace")
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "status.phase", "status.podIP", "status.nominatedNodeName"),
    "Event": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"),
    "Secret": ("type",),
    "Namespace": ("status.phase",),
    "Node": ("spec.unschedulable",),
    "ReplicaSet": ("status.replicas",),
    "ReplicationController": ("status.replicas",),
    "Job": ("status.successful",),
}


def field_text(obj: dict[str, Any], path: str) -> str:
    """The field at dotted `path` of `obj` as field selectors compare it: "" when absent, booleans as
    true/false."""
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    if isinstance(current, bool):
        return "true" if current else "false"
    return "" if current is None else str(current)


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    negate: bool
    value: str

    def matches(self, obj: dict[str, Any]) -> bool:
        actual = field_text(obj, self.path)
        return (actual != self.value) if self.negate else (actual == self.value)


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: dict[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def exact(self, path: str) -> str | None:
        """The value the selector pins `path` to (`path=value`), else None."""
        for r in self.requirements:
            if r.path == path and not r.negate:
                return r.value
        return None

    def exact_name(self) -> str | None:
        """The name when the selector pins metadata.name (lets the server read one key)."""
        return self.exact("metadata.name")


def parse_field_selector(text: str | None, kind: str) -> FieldSelector:
    if not text or not text.strip():
        return FieldSelector()
    allowed = COMMON_FIELDS + KIND_FIELDS.get(kind, ())
    reqs = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = re.match(r"^([A-Za-z.]+)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise bad_request(f"invalid field selector: {part!r}")
        if m.group(1) not in allowed:
            raise bad_request(f'field label not supported: {m.group(1)} (for {kind}: {", ".join(allowed)})')
        reqs.append(FieldRequirement(m.group(1), m.group(2) == "!=", m.group(3).strip()))
    return FieldSelector(tuple(reqs))
