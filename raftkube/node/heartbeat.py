"""The node's Lease in `kube-node-lease`, renewed every `heartbeat` seconds (the node lifecycle
controller notices a Lease that stops changing). The last Lease written is reused for the
next update; a conflict or a missing Lease re-reads or recreates it (bounded). As client-go's
lease controller (`wait.JitterUntil`, factor 0.04), each wait is up to 4 % longer at random, so
nodes started together do not renew in lock step."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from ..client import AlreadyExists, ApiClient, ApiError, Conflict, NotFound
from ..machinery.times import rfc3339

log = logging.getLogger(__name__)
Obj = dict[str, Any]
LEASE = ("coordination.k8s.io/v1", "Lease")
LEASE_NAMESPACE = "kube-node-lease"
ATTEMPTS = 5
JITTER = 0.04


class Heartbeat:
    def __init__(self, client: ApiClient, node: str, node_uid: str, duration: int = 10) -> None:
        self.client, self.node, self.node_uid, self.duration = client, node, node_uid, duration
        self.lease: Obj | None = None
        self.renewals = 0

    def _fresh(self) -> Obj:
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.node, "namespace": LEASE_NAMESPACE, "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Node", "name": self.node, "uid": self.node_uid}]},
                "spec": {"holderIdentity": self.node, "leaseDurationSeconds": self.duration,
                         "renewTime": rfc3339(micro=True)}}

    async def renew(self) -> Obj:
        """Renew (or create) the Lease once; raises ApiError when every attempt failed."""
        last: ApiError | None = None
        for _ in range(ATTEMPTS):
            try:
                if self.lease is None:
                    try:
                        self.lease = await self.client.get(LEASE, self.node, LEASE_NAMESPACE)
                    except NotFound:
                        try:
                            self.lease = await self.client.create(LEASE, self._fresh(), LEASE_NAMESPACE)
                            self.renewals += 1
                            return self.lease
                        except AlreadyExists:
                            continue
                lease = dict(self.lease)
                lease["spec"] = {**(lease.get("spec") or {}), "holderIdentity": self.node,
                                 "leaseDurationSeconds": self.duration, "renewTime": rfc3339(micro=True)}
                self.lease = await self.client.update(LEASE, lease, LEASE_NAMESPACE)
                self.renewals += 1
                return self.lease
            except (Conflict, NotFound) as exc:
                self.lease, last = None, exc
        raise last or ApiError(message="lease not renewed")

    async def run(self, period: float) -> None:
        for _ in range(10**9):  # bounded in principle; ends by cancellation
            try:
                await self.renew()
            except ApiError as exc:
                self.lease = None
                log.warning("node %s: lease not renewed: %s", self.node, exc)
            await asyncio.sleep(jittered(period))


def jittered(period: float, factor: float = JITTER) -> float:
    """`period` made up to `factor` longer at random (client-go's wait.Jitter)."""
    return period * (1.0 + factor * random.random())
