"""What the pod workers of one agent share: settings, API client, runtime, IP allocator, back-off,
the HTTP client for probes, the event recorder, a short-lived cache of ConfigMaps, Secrets (and the
`kubernetes` Service), and the pods' ServiceAccount tokens."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from ..client import ApiClient, NotFound
from ..client.events import EventRecorder
from .backoff import Backoff
from .config import AgentConfig
from .env import Ref
from .ip_alloc import IpAllocator
from .runtime import Runtime
from .sa_tokens import ServiceAccountTokens

Obj = dict[str, Any]
KINDS = {"ConfigMap": ("v1", "ConfigMap"), "Secret": ("v1", "Secret"), "Service": ("v1", "Service")}


class ObjectFetcher:
    """ConfigMaps, Secrets and Services by (namespace, kind, name), read from the API at most every `ttl` seconds."""

    def __init__(self, client: ApiClient, ttl: float = 2.0) -> None:
        self.client, self.ttl = client, ttl
        self._cache: dict[tuple[str, str, str], tuple[float, Obj | None]] = {}

    async def fetch(self, namespace: str, refs: Iterable[Ref]) -> dict[Ref, Obj | None]:
        out: dict[Ref, Obj | None] = {}
        now = time.monotonic()
        for kind, name in refs:
            key = (namespace, kind, name)
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < self.ttl:
                out[(kind, name)] = cached[1]
                continue
            obj: Obj | None
            try:
                obj = await self.client.get(KINDS[kind], name, namespace)
                obj.setdefault("kind", kind)
            except NotFound:
                obj = None
            self._cache[key] = (now, obj)
            out[(kind, name)] = obj
        if len(self._cache) > 5000:
            self._cache.clear()
        return out


@dataclass
class AgentContext:
    config: AgentConfig
    client: ApiClient
    runtime: Runtime
    ips: IpAllocator
    backoff: Backoff
    http: httpx.AsyncClient
    objects: ObjectFetcher
    recorder: EventRecorder | None = None
    tokens: ServiceAccountTokens | None = None  # None: made from `client` (node/sa_tokens.py)

    def __post_init__(self) -> None:
        if self.tokens is None:
            self.tokens = ServiceAccountTokens(self.client)

    def event(self, pod: Obj, event_type: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.record(pod, event_type, reason, message)
