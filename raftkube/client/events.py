"""Events (v1) for what a component did (controllers, the scheduler, node agents), written in the background.

Recording never blocks or fails a reconcile: events go into a bounded queue that one task
drains; repeats of the same (object, reason, message) within a short window update the
existing Event's count instead of writing a new one, as Kubernetes' recorder does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..machinery.times import rfc3339
from .api_client import ApiClient
from .errors import ApiError

log = logging.getLogger(__name__)
Obj = dict[str, Any]
EVENT = ("v1", "Event")


def _now() -> str:
    return rfc3339()


class EventRecorder:
    def __init__(self, client: ApiClient, component: str, max_queued: int = 1000) -> None:
        self.client = client
        self.component = component
        self._queue: asyncio.Queue[tuple[Obj, str, str, str]] = asyncio.Queue(max_queued)
        self._recent: dict[tuple[str, str, str], Obj] = {}
        self.written = 0

    def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        try:
            self._queue.put_nowait((obj, event_type, reason, message))
        except asyncio.QueueFull:
            log.debug("event dropped (queue full): %s %s", reason, message)

    async def flush(self, timeout: float = 2.0) -> None:
        """Write what is still queued (when leadership ends), for at most `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while not self._queue.empty():
                    obj, event_type, reason, message = self._queue.get_nowait()
                    await self._write(obj, event_type, reason, message)
        except (TimeoutError, ApiError):
            pass

    async def run(self) -> None:
        while True:
            obj, event_type, reason, message = await self._queue.get()
            try:
                await self._write(obj, event_type, reason, message)
            except ApiError as err:
                log.debug("event not written: %s", err)

    async def _write(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        key = (meta.get("uid", ""), reason, message)
        now = _now()
        previous = self._recent.get(key)
        if previous is not None:
            previous["count"] = int(previous.get("count") or 1) + 1
            previous["lastTimestamp"] = now
            try:
                self._recent[key] = await self.client.update(EVENT, previous, namespace)
                self.written += 1
                return
            except ApiError:
                self._recent.pop(key, None)
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name', 'object')}.{time.time_ns():x}", "namespace": namespace},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta.get("name"),
                               "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                               "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message, "type": event_type, "count": 1,
            "firstTimestamp": now, "lastTimestamp": now, "source": {"component": self.component},
            "reportingComponent": self.component,
        }
        created = await self.client.create(EVENT, body, namespace)
        self.written += 1
        if len(self._recent) > 2000:
            self._recent.clear()
        self._recent[key] = created
