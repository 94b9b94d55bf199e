"""Formatting helpers for `kubectl get` tables: ages as kubectl prints them, labels, containers."""

from __future__ import annotations

from typing import Any

from ...machinery.times import human_duration, parse_rfc3339
from .fielderr import as_dict, as_list

Obj = dict[str, Any]


def since(timestamp: Any, now: float) -> str:
    """kubectl's `translateTimestampSince`: `<unknown>` when the time is missing."""
    then = parse_rfc3339(timestamp)
    if then is None:
        return "<unknown>"
    return human_duration(now - then)


def age(obj: Obj, now: float) -> str:
    """The AGE cell: time since metadata.creationTimestamp."""
    return since(as_dict(obj.get("metadata")).get("creationTimestamp"), now)


def format_labels(labels: Any) -> str:
    """`a=b,c=d` sorted by key, or `<none>` (kubectl's `labels.FormatLabels`)."""
    labels = as_dict(labels)
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def container_cells(pod_spec: Any) -> tuple[str, str]:
    """(CONTAINERS, IMAGES) cells for a pod spec: names and images joined by commas."""
    containers = [as_dict(c) for c in as_list(as_dict(pod_spec).get("containers"))]
    return (",".join(str(c.get("name", "")) for c in containers),
            ",".join(str(c.get("image", "")) for c in containers))


def name_of(obj: Obj) -> str:
    return str(as_dict(obj.get("metadata")).get("name", ""))


def int_field(obj: Any, *path: str) -> int:
    """An integer nested in `obj` (0 when missing or not an integer)."""
    cur: Any = obj
    for key in path:
        cur = as_dict(cur).get(key)
    return cur if isinstance(cur, int) and not isinstance(cur, bool) else 0
