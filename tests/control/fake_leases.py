"""An in-memory coordination.k8s.io Lease API for leader-election tests (no server, no clock).

`update` is compare-and-swap on resourceVersion and `create` refuses an existing Lease, as the
API server does; `calls` records every call; `gate`, when set, holds the next GET until it is
set (a GET the server answers late, with what is current then).
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from raftkube.client import AlreadyExists, Conflict, NotFound

Obj = dict[str, Any]


class FakeLeaseApi:
    def __init__(self) -> None:
        self.lease: Obj | None = None
        self.revision = 0
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None

    async def get(self, ref: object, name: str, namespace: str | None = None) -> Obj:
        self.calls.append("get")
        gate, self.gate = self.gate, None
        if gate is not None:
            await gate.wait()
        if self.lease is None:
            raise NotFound(message=f"lease {name} not found")
        return copy.deepcopy(self.lease)

    async def create(self, ref: object, body: Obj, namespace: str | None = None, **_: object) -> Obj:
        self.calls.append("create")
        if self.lease is not None:
            raise AlreadyExists(message="exists")
        return self._store(body)

    async def update(self, ref: object, body: Obj, namespace: str | None = None, **_: object) -> Obj:
        self.calls.append("update")
        assert self.lease is not None
        if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise Conflict(message="the object has been modified")
        return self._store(body)

    def _store(self, body: Obj) -> Obj:
        self.revision += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.revision)
        return copy.deepcopy(self.lease)
