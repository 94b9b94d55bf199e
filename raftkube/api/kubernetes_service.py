"""The `kubernetes` Service in `default` and its Endpoints: the API servers, as kube-apiserver's lease reconciler.

Every API server, every `PERIOD` seconds:
- renews its Lease kube-system/`raftkube-apiserver-<identity>` (holderIdentity `ip:port`, 30 s),
- makes sure the Service default/kubernetes exists (ClusterIP the first address of the service
  range, port 443 `https`, no selector),
- writes the Endpoints default/kubernetes to the addresses of the unexpired leases (one subset
  per port, port name `https`), only when they changed; a write that loses a race is retried on
  the next round. A stopped server drops out within a lease duration.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
from typing import Any

from ..pki import KUBERNETES_SERVICE_IP
from .errors import APIError
from .objects import now_rfc3339
from .resources import Resource, find
from .router import Target
from .storage import ObjectStorage
from .writes import WriteOptions, Writer

log = logging.getLogger(__name__)
Obj = dict[str, Any]
PERIOD = 10.0
LEASE_SECONDS = 30
LEASE_PREFIX = "raftkube-apiserver-"
LEASE_LABEL = "raftkube.io/apiserver-endpoint"
_OPTS = WriteOptions(manager="raftkube-apiserver")


def _resource(group: str, plural: str) -> Resource:
    resource = find(group, "v1", plural)
    assert resource is not None
    return resource


def kubernetes_service(target_port: int) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": KUBERNETES_SERVICE_IP, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": target_port}]}}


def endpoint_subsets(addresses: list[tuple[str, int]]) -> list[Obj]:
    """One subset per port, addresses sorted: the same servers always give the same object."""
    by_port: dict[int, list[str]] = {}
    for ip, port in sorted(set(addresses)):
        by_port.setdefault(port, []).append(ip)
    return [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
            for port, ips in sorted(by_port.items())]


def _live_address(lease: Obj, now: dt.datetime) -> tuple[str, int] | None:
    spec = lease.get("spec") or {}
    holder, renewed = str(spec.get("holderIdentity") or ""), spec.get("renewTime")
    try:
        when = dt.datetime.strptime(str(renewed), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        ip, _, port = holder.rpartition(":")
        address = (str(ipaddress.ip_address(ip.strip("[]"))), int(port))
    except ValueError:
        return None
    if now - when > dt.timedelta(seconds=int(spec.get("leaseDurationSeconds") or LEASE_SECONDS)):
        return None
    return address


class KubernetesServiceReconciler:
    def __init__(self, storage: ObjectStorage, identity: str, ip: str, port: int) -> None:
        self.storage, self.identity, self.ip, self.port = storage, identity, ip, port
        self.writer = Writer(storage)
        self.leases, self.services = _resource("coordination.k8s.io", "leases"), _resource("", "services")
        self.endpoints = _resource("", "endpoints")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store may be electing; a lost race: next round
                log.info("kubernetes service: %s", exc)
            await asyncio.sleep(PERIOD)

    async def _put(self, resource: Resource, namespace: str, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        live = await self.storage.get_or_none(resource, namespace, name)
        try:
            if live is None:
                await self.writer.create(Target(resource, namespace, None), obj, _OPTS)
            else:
                obj["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                await self.writer.update(Target(resource, namespace, name), obj, _OPTS)
        except APIError as err:
            if err.reason not in ("AlreadyExists", "Conflict"):
                raise

    async def reconcile(self) -> None:
        holder = f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"
        await self._put(self.leases, "kube-system", {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": LEASE_PREFIX + self.identity, "namespace": "kube-system",
                         "labels": {LEASE_LABEL: "true"}},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": LEASE_SECONDS,
                     "renewTime": now_rfc3339(micro=True)}})
        if await self.storage.get_or_none(self.services, "default", "kubernetes") is None:
            await self._put(self.services, "default", kubernetes_service(self.port))
        now = dt.datetime.now(dt.UTC)
        listing = await self.storage.list(self.leases, "kube-system")
        addresses = [a for lease in listing.items if lease["metadata"]["name"].startswith(LEASE_PREFIX)
                     for a in [_live_address(lease, now)] if a is not None]
        subsets = endpoint_subsets(addresses or [(self.ip, self.port)])
        live = await self.storage.get_or_none(self.endpoints, "default", "kubernetes")
        if live is not None and live.get("subsets") == subsets:
            return
        await self._put(self.endpoints, "default", {
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": subsets})
