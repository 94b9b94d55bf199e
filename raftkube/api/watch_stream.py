"""The watch verb: store events as newline-separated {"type", "object"} JSON lines.

ADDED / MODIFIED / DELETED as an object enters, changes in, or leaves the selected set;
BOOKMARK (only when asked) on the store's progress notifications; an ERROR event with a
410 Expired Status when the start version was compacted (clients relist then). With no
resourceVersion (the newest state) or "0" (any state, as fresh as the watch cache) the stream
starts with the current objects as ADDED events, and
with `sendInitialEvents=true` they end with a BOOKMARK annotated
`k8s.io/initial-events-end: "true"`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from .errors import APIError
from .representation import render_object
from .resources import Resource
from .selectors import FieldSelector, LabelSelector
from .watch_cache.reads import ListReads

Obj = dict[str, Any]
MAX_WATCH_SECONDS = 1800


@dataclass
class WatchRequest:
    resource: Resource
    namespace: str | None
    resource_version: int | None
    labels: LabelSelector
    fields: FieldSelector
    bookmarks: bool
    timeout_seconds: int
    send_initial_events: bool
    accept: str
    include_object: str = "Metadata"


def _line(event_type: str, obj: Obj) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _bookmark(resource: Resource, revision: int, initial_end: bool = False) -> Obj:
    meta: Obj = {"resourceVersion": str(revision)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": meta}


def _matches(req: WatchRequest, obj: Obj | None) -> bool:
    return obj is not None and req.labels.matches(obj["metadata"].get("labels")) and req.fields.matches(obj)


async def watch_lines(reads: ListReads, req: WatchRequest) -> AsyncIterator[bytes]:
    """`reads`: the watch cache's lists and watches (or the store's, without a cache)."""
    def out(event_type: str, obj: Obj) -> bytes:
        return _line(event_type, render_object(req.resource, req.accept, obj, req.include_object))

    start = (req.resource_version or 0) + 1
    try:
        if not req.resource_version:
            listed = await reads.list(req.resource, req.namespace, req.labels, req.fields,
                                      resource_version="0" if req.resource_version == 0 else None)
            for obj in listed.items:
                yield out("ADDED", obj)
            start = listed.resource_version + 1
            if req.send_initial_events:
                yield _line("BOOKMARK", _bookmark(req.resource, listed.resource_version, initial_end=True))
        deadline = asyncio.get_running_loop().time() + min(req.timeout_seconds or MAX_WATCH_SECONDS,
                                                            MAX_WATCH_SECONDS)
        async for event in reads.watch(req.resource, req.namespace, start, req.fields, deadline):
            if event.type == "BOOKMARK":
                if req.bookmarks:
                    yield _line("BOOKMARK", _bookmark(req.resource, event.revision))
                continue
            now_in, was_in = _matches(req, event.object), _matches(req, event.old)
            if event.type == "DELETED":
                if now_in:
                    yield out("DELETED", event.object or {})
            elif now_in and (was_in or event.type == "ADDED"):
                yield out(event.type, event.object or {})
            elif now_in:
                yield out("ADDED", event.object or {})
            elif was_in:
                yield out("DELETED", event.object or {})
    except APIError as err:
        yield _line("ERROR", err.status())
