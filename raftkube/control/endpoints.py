"""The Endpoints controller: for each Service with a selector, an Endpoints object listing its pods.

`plan_subsets` is a pure function of (Service, pods in its namespace): ready pods' IPs go to
`addresses`, the others to `notReadyAddresses` (each with the pod as targetRef and its
nodeName), ports are the Service's resolved per pod (a numeric targetPort as is, a named one
looked up in the pod's container ports), and pods with the same ports share a subset. The
Endpoints object is written only when it differs, conditionally, and deleted when its
Service is gone (checked against the API before deleting).
"""

from __future__ import annotations

from typing import Any

from ..client import AlreadyExists, ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from ..machinery.labels import selector_from_spec
from .podutil import is_ready, is_terminating
from .runtime import Controller, SharedInformers, key_of, split_key

Obj = dict[str, Any]
SERVICE = ("v1", "Service")
ENDPOINTS = ("v1", "Endpoints")
POD = ("v1", "Pod")


def has_selector(service: Obj) -> bool:
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def resolve_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod's port for a Service port: targetPort (defaulting to port) as a number, or a named
    container port of the same protocol."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _address(pod: Obj, service: Obj) -> Obj:
    """The pod's endpoint address; with the pod's `hostname` when its `subdomain` is this Service (the
    cluster DNS answers <hostname>.<service>.<ns>.svc: StatefulSet pods' stable names)."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    address: Obj = {"ip": pod["status"]["podIP"], "targetRef": {
        "kind": "Pod", "namespace": meta.get("namespace"), "name": meta["name"], "uid": meta.get("uid")}}
    if spec.get("hostname") and spec.get("subdomain") == (service.get("metadata") or {}).get("name"):
        address["hostname"] = spec["hostname"]
    node = spec.get("nodeName")
    if node:
        address["nodeName"] = node
    return address


def _in_endpoints(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return bool(status.get("podIP")) and not is_terminating(pod) and status.get("phase") not in ("Succeeded", "Failed")


def plan_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    spec = service.get("spec") or {}
    selector = selector_from_spec({"matchLabels": spec.get("selector") or {}})
    publish_all = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str], ...], tuple[list[Obj], list[Obj]]] = {}
    for pod in pods:
        if not selector.matches((pod.get("metadata") or {}).get("labels")) or not _in_endpoints(pod):
            continue
        ports = []
        for service_port in spec.get("ports") or []:
            number = resolve_port(pod, service_port)
            if number is not None:
                ports.append((service_port.get("name") or "", number, service_port.get("protocol") or "TCP"))
        if spec.get("ports") and not ports:
            continue  # none of the Service's ports exist on this pod
        ready, not_ready = groups.setdefault(tuple(sorted(ports)), ([], []))
        (ready if publish_all or is_ready(pod) else not_ready).append(_address(pod, service))
    subsets = []
    for ports_key, (ready, not_ready) in sorted(groups.items()):
        subset: Obj = {}
        if ready:
            subset["addresses"] = sorted(ready, key=lambda a: (a["ip"], a["targetRef"]["name"]))
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: (a["ip"], a["targetRef"]["name"]))
        if ports_key:
            subset["ports"] = [{**({"name": name} if name else {}), "port": port, "protocol": protocol}
                               for name, port, protocol in ports_key]
        subsets.append(subset)
    return subsets


def desired_endpoints(service: Obj, pods: list[Obj]) -> Obj:
    meta = service["metadata"]
    labels = dict(meta.get("labels") or {})
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                 "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                 "subsets": plan_subsets(service, pods)}
    if labels:
        body["metadata"]["labels"] = labels
    return body


def needs_update(current: Obj, wanted: Obj) -> bool:
    return ((current.get("subsets") or []) != wanted["subsets"]
            or ((current.get("metadata") or {}).get("labels") or {}) != (wanted["metadata"].get("labels") or {}))


class EndpointsController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder
        self.services = informers.get(*SERVICE)
        self.endpoints = informers.get(*ENDPOINTS)
        self.pods = informers.get(*POD)
        self.controller = Controller("endpoints", self.reconcile, workers=2)
        enqueue = self.controller.enqueue
        self.services.add_handlers(on_add=enqueue, on_update=lambda old, new: enqueue(new), on_delete=enqueue)
        self.endpoints.add_handlers(on_update=lambda old, new: enqueue(new), on_delete=enqueue)
        self.pods.add_handlers(on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new, old),
                               on_delete=self._pod_changed)

    def _pod_changed(self, pod: Obj, old: Obj | None = None) -> None:
        namespace = (pod.get("metadata") or {}).get("namespace") or ""
        label_sets = [(p.get("metadata") or {}).get("labels") or {} for p in (pod, old) if p is not None]
        for service in self.services.cache.by_index("namespace", namespace):
            if not has_selector(service):
                continue
            selector = selector_from_spec({"matchLabels": service["spec"]["selector"]})
            if any(selector.matches(labels) for labels in label_sets):
                self.controller.enqueue(service)

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        service = self.services.cache.get_by_name(name, namespace)
        current = self.endpoints.cache.get_by_name(name, namespace)
        if service is None:
            if current is not None:
                await self._delete_orphan(current)
            return None
        if not has_selector(service):
            return None  # Endpoints of a Service without a selector are the user's
        wanted = desired_endpoints(service, self.pods.cache.by_index("namespace", namespace or ""))
        if current is None:
            try:
                await self.client.create(ENDPOINTS, wanted, namespace)
            except AlreadyExists:
                return 0.5  # the informer has not shown it yet: compare on the next pass
            self.recorder.record(service, "Normal", "EndpointsCreated", f"Created Endpoints {key}")
        elif needs_update(current, wanted):
            body = {**current, "subsets": wanted["subsets"],
                    "metadata": {**current["metadata"], "labels": wanted["metadata"].get("labels") or {}}}
            try:
                await self.client.update(ENDPOINTS, body, namespace)  # carries the resourceVersion: CAS
            except (Conflict, NotFound):
                return 0.2  # changed meanwhile: retry from the next version the informer shows
        return None

    async def _delete_orphan(self, current: Obj) -> None:
        namespace, name = current["metadata"].get("namespace"), current["metadata"]["name"]
        try:  # the Services informer may lag behind the Endpoints one: ask the API
            await self.client.get(SERVICE, name, namespace)
            return
        except NotFound:
            pass
        try:
            await self.client.delete(ENDPOINTS, name, namespace, preconditions={"uid": current["metadata"]["uid"]})
            self.recorder.record(current, "Normal", "EndpointsDeleted", f"Deleted Endpoints {key_of(current)}: "
                                 "its Service is gone")
        except (NotFound, Conflict):
            pass
