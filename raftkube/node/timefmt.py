"""RFC 3339 timestamps as the Kubernetes API writes them (seconds, or microseconds for Leases)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def rfc3339(epoch: float | None = None, micro: bool = False) -> str:
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str | None) -> float | None:
    """Epoch seconds of an API timestamp, or None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
