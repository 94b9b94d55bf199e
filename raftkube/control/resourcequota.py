"""The ResourceQuota controller: keeps each quota's status.hard (= spec.hard) and status.used current.

used is recounted from what exists (machinery/quota.py's usage, masked to the quota's names): pods,
Services, ConfigMaps, Secrets and PersistentVolumeClaims from informers, any other counted resource
(`count/deployments.apps`, ...) listed through the API. A quota is recounted when it is made or its spec changes, when
one of those informed objects goes (or a pod ends, or another's spec changes: replenishment, so a
deletion gives its share back at once), and every RESYNC seconds; never on its own status updates,
which are admission's charges (Kubernetes' rule: the informers may not show the object just
charged yet). The status is written conditionally on the quota's resourceVersion: a charge made
meanwhile makes the write conflict and the recount is retried. A quota with scopes counts only
the pods in them.
"""

from __future__ import annotations

from typing import Any

from ..api.resources import RESOURCES, Resource
from ..client import ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from ..machinery import quota as q
from .runtime import Controller, SharedInformers, key_of, split_key

Obj = dict[str, Any]
QUOTA = ("v1", "ResourceQuota")
INFORMED = {"pods": ("v1", "Pod"), "services": ("v1", "Service"), "configmaps": ("v1", "ConfigMap"),
            "secrets": ("v1", "Secret"), "persistentvolumeclaims": ("v1", "PersistentVolumeClaim")}
NAMED = {"services": "services", "services.nodeports": "services", "services.loadbalancers": "services",
         "configmaps": "configmaps", "secrets": "secrets", "replicationcontrollers": "replicationcontrollers",
         "resourcequotas": "resourcequotas", "persistentvolumeclaims": "persistentvolumeclaims",
         "requests.storage": "persistentvolumeclaims"}
RESYNC = 60.0


def resource_for(name: str) -> Resource | None:
    """The resource a quota name counts (None: none raftkube serves)."""
    plural, group = "", ""
    if name in q.POD_RESOURCES or name.startswith("requests.hugepages-"):
        plural = "pods"
    elif name in NAMED:
        plural = NAMED[name]
    elif ".storageclass.storage.k8s.io/" in name:
        plural = "persistentvolumeclaims"
    elif name.startswith("count/"):
        plural, _, group = name[len("count/"):].partition(".")
    for resource in RESOURCES:
        if resource.plural == plural and resource.group == group:
            return resource
    return None


def compute_used(hard: q.ResourceList, objects: dict[Resource, list[Obj]]) -> q.ResourceList:
    """status.used for `hard` from the objects of each counted resource (zero where nothing counts)."""
    used: q.ResourceList = {name: (value * 0, "DecimalSI") for name, (value, _) in hard.items()}
    for resource, items in objects.items():
        names = q.matching(resource.kind, resource.plural, resource.group, hard)
        for obj in items:
            used = q.add(used, q.mask(q.usage(resource.kind, resource.plural, resource.group, obj), names))
    return q.mask(used, hard)


class ResourceQuotaController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client = client
        self.quotas = informers.get(*QUOTA)
        self.informed = {plural: informers.get(*ref) for plural, ref in INFORMED.items()}
        self.controller = Controller("resourcequota", self.reconcile, workers=2)
        # as Kubernetes: a quota's own status updates (admission's charges) never trigger a recount (the
        # informers may not show the object just charged yet: recounting then would undo the charge)
        self.quotas.add_handlers(on_add=self.controller.enqueue, on_update=self._quota_updated)
        for informer in self.informed.values():  # replenishment: what gives a share back
            informer.add_handlers(on_delete=self._namespace_changed, on_update=self._updated)

    def _quota_updated(self, old: Obj, new: Obj) -> None:
        if (old.get("spec") or {}) != (new.get("spec") or {}):
            self.controller.enqueue(new)

    def _updated(self, old: Obj, new: Obj) -> None:
        """A pod that ended, or another object whose spec changed (a Service's type, a claim's size)."""
        if new.get("kind") == "Pod" or "containers" in (new.get("spec") or {}):
            changed = q.pod_is_terminal(new) != q.pod_is_terminal(old)
        else:
            changed = (old.get("spec") or {}) != (new.get("spec") or {})
        if changed:
            self._namespace_changed(new)

    def _namespace_changed(self, obj: Obj | None) -> None:
        namespace = ((obj or {}).get("metadata") or {}).get("namespace")
        if namespace:
            for quota in self.quotas.cache.by_index("namespace", namespace):
                self.controller.enqueue_key(key_of(quota))

    async def _objects(self, resource: Resource, namespace: str) -> list[Obj]:
        informer = self.informed.get(resource.plural) if not resource.group else None
        if informer is not None:
            return informer.cache.by_index("namespace", namespace)
        listed = await self.client.list(resource, namespace)
        return list(listed.get("items") or [])

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        quota = self.quotas.cache.get_by_name(name, namespace)
        if quota is None or namespace is None:
            return None
        spec = quota.get("spec") or {}
        hard = q.parse_list(spec.get("hard"))
        resources = {r for r in (resource_for(n) for n in hard) if r is not None}
        if q.is_scoped(spec):  # only pods in the scopes count
            resources = {r for r in resources if r.kind == "Pod" and not r.group}
        objects = {r: await self._objects(r, namespace) for r in resources}
        if q.is_scoped(spec):
            objects = {r: [p for p in items if q.pod_in_scope(spec, p)] for r, items in objects.items()}
        status = {"hard": q.to_json(hard), "used": q.to_json(compute_used(hard, objects))}
        if status != (quota.get("status") or {}):
            try:
                await self.client.update_status(QUOTA, {**quota, "status": status}, namespace)
            except NotFound:
                return None
            except Conflict:
                return 0.2  # charged or changed meanwhile: recount from the newer quota
        return RESYNC
