"""API timestamps (RFC 3339, as Kubernetes writes them) and kubectl's short durations."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any


def rfc3339(epoch: float | None = None, micro: bool = False) -> str:
    """`2026-12-07T09:00:00Z` (metav1.Time) or, with `micro`, `...09:00:00.123456Z` (metav1.MicroTime);
    now when `epoch` is None."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 time (`Z` or an offset, with or without fractions); None when the
    value is absent, not a string, unreadable or has no time zone."""
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
