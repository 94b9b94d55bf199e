"""What the pod workers of one agent share: settings, API client, runtime, IP allocator, back-off,
the HTTP client for probes, the event recorder, the watched ConfigMaps, Secrets (and the
`kubernetes` Service: node/object_watches.py), and the pods' ServiceAccount tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ..client import ApiClient
from ..client.events import EventRecorder
from .backoff import Backoff
from .config import AgentConfig
from .ip_alloc import IpAllocator
from .object_watches import ObjectWatches
from .runtime import Runtime
from .sa_tokens import ServiceAccountTokens

Obj = dict[str, Any]


@dataclass
class AgentContext:
    config: AgentConfig
    client: ApiClient
    runtime: Runtime
    ips: IpAllocator
    backoff: Backoff
    http: httpx.AsyncClient
    objects: ObjectWatches
    recorder: EventRecorder | None = None
    tokens: ServiceAccountTokens | None = None  # None: made from `client` (node/sa_tokens.py)

    def __post_init__(self) -> None:
        if self.tokens is None:
            self.tokens = ServiceAccountTokens(self.client)

    def event(self, pod: Obj, event_type: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.record(pod, event_type, reason, message)
