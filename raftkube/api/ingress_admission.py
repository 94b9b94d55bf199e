"""The DefaultIngressClass admission plugin: a new Ingress without a class gets the default IngressClass.

As Kubernetes' plugin: on Ingress CREATE, when neither `spec.ingressClassName` nor the deprecated
`kubernetes.io/ingress.class` annotation is set, the IngressClass annotated
`ingressclass.kubernetes.io/is-default-class: "true"` is written into `spec.ingressClassName`; with no
default nothing changes; with several, the newest one wins (Kubernetes 1.32 picks the newest, and
warns).
"""

from __future__ import annotations

from typing import Any

from .admission_chain import AdmissionRequest
from .kinds.ingress import CLASS_ANNOTATION, DEFAULT_CLASS_ANNOTATION
from .resources import find
from .storage import ObjectStorage

Obj = dict[str, Any]


def _is_default(ingress_class: Obj) -> bool:
    annotations = (ingress_class.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true"


class DefaultIngressClass:
    name = "DefaultIngressClass"

    def __init__(self, storage: ObjectStorage) -> None:
        classes = find("networking.k8s.io", "v1", "ingressclasses")
        assert classes is not None
        self.storage, self.classes = storage, classes

    async def admit(self, request: AdmissionRequest) -> None:
        if request.operation != "CREATE" or request.resource.kind != "Ingress" or request.subresource:
            return
        obj = request.obj or {}
        spec = obj.setdefault("spec", {}) if isinstance(obj.get("spec", {}), dict) else None
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if spec is None or spec.get("ingressClassName") or annotations.get(CLASS_ANNOTATION):
            return
        defaults = [c for c in (await self.storage.list(self.classes, None, serializable=True)).items
                    if _is_default(c)]
        if not defaults:
            return
        newest = max(defaults, key=lambda c: (str((c.get("metadata") or {}).get("creationTimestamp") or ""),
                                              str((c.get("metadata") or {}).get("name") or "")))
        if len(defaults) > 1:
            request.warnings.append(f"{len(defaults)} default IngressClasses were found, using the newest: "
                                    f"{newest['metadata']['name']}")
        spec["ingressClassName"] = newest["metadata"]["name"]

    async def validate(self, request: AdmissionRequest) -> None:
        return None
