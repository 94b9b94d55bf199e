"""Formatting helpers for `kubectl get` tables: ages as kubectl prints them, labels, containers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .fielderr import as_dict, as_list

Obj = dict[str, Any]


def parse_time(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 time (`2024-05-01T10:00:00Z`, fractions, offsets); None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        return None
    return stamp.timestamp()


def human_duration(seconds: float) -> str:
    """kubectl's short duration (apimachinery `duration.HumanDuration`): 5s, 3m2s, 10m, 5h3m, 2d3h, 3y."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def since(timestamp: Any, now: float) -> str:
    """kubectl's `translateTimestampSince`: `<unknown>` when the time is missing."""
    then = parse_time(timestamp)
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
