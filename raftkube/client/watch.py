"""Reading a watch stream: newline-separated `{"type", "object"}` events; ERROR events become errors."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import httpx

from .errors import ApiError, error_from_status

Obj = dict[str, Any]
EVENT_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK"})


class WatchStreamBroken(Exception):
    """The stream ended in the middle of an event, or carried something that is not an event."""


def event_resource_version(obj: Obj) -> str | None:
    """The resourceVersion an event carries (a one-row Table carries it in its row's object)."""
    meta = obj.get("metadata") or {}
    if obj.get("kind") == "Table":
        rows = obj.get("rows") or []
        if rows:
            meta = (rows[-1].get("object") or {}).get("metadata") or {}
    rv = meta.get("resourceVersion")
    return str(rv) if rv not in (None, "") else None


def parse_event(line: bytes | str) -> tuple[str, Obj]:
    try:
        event = json.loads(line)
    except ValueError as exc:
        raise WatchStreamBroken(f"not JSON: {str(line)[:200]!r}") from exc
    if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
        raise WatchStreamBroken(f"not a watch event: {str(line)[:200]!r}")
    kind, obj = str(event.get("type")), event["object"]
    if kind == "ERROR":
        raise_error_event(obj)
    if kind not in EVENT_TYPES:
        raise WatchStreamBroken(f"unknown watch event type {kind!r}")
    return kind, obj


def raise_error_event(status: Obj) -> None:
    err: ApiError = error_from_status(status, int(status.get("code") or 500))
    raise err


async def iter_events(response: httpx.Response) -> AsyncIterator[tuple[str, Obj]]:
    """The events of one open watch response, until the server ends the stream."""
    async for line in response.aiter_lines():
        if line.strip():
            yield parse_event(line)
