"""The LimitRanger admission plugin (Kubernetes' limitranger): LimitRange defaults for pods' containers,
then the ranges enforced.

On pod CREATE, with the namespace's LimitRanges (this replica's copy: no Raft read per pod):
- admit: each `type: Container` item's `default` fills a container's missing limits and its
  `defaultRequest` the missing requests (init containers too); the pod is annotated
  `kubernetes.io/limit-ranger: LimitRanger plugin set: cpu, memory request for container web; ...`
  and its status.qosClass recomputed;
- validate: per container (`type: Container`) and per pod (`type: Pod`, the containers summed, at
  least the largest init container): min, max and maxLimitRequestRatio, refused with
  Kubernetes' messages (`maximum cpu usage per Container is 1, but limit is 2`; several joined as
  `[a, b]`), 403.
- on PersistentVolumeClaim CREATE: `type: PersistentVolumeClaim` items' min and max against its
  storage request (`maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi`).
Left out: updates (Kubernetes checks pod updates only for resources that changed, which an
in-place resize would need).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any

from ..machinery import quota as q
from ..machinery.quantity import format_quantity
from .admission_chain import AdmissionRequest
from .kinds.pod import qos_class
from .resources import find
from .storage import ObjectStorage

Obj = dict[str, Any]
ANNOTATION = "kubernetes.io/limit-ranger"


def _items(ranges: list[Obj], kind: str) -> list[Obj]:
    return [item for lr in ranges for item in ((lr.get("spec") or {}).get("limits") or [])
            if isinstance(item, dict) and item.get("type") == kind]


def _containers(spec: Obj) -> list[tuple[str, Obj]]:
    return [*(("init container", c) for c in spec.get("initContainers") or []),
            *(("container", c) for c in spec.get("containers") or [])]


def apply_defaults(pod: Obj, ranges: list[Obj]) -> list[str]:
    """Fill missing limits/requests from the Container items; returns what was set (for the annotation)."""
    limits: dict[str, Any] = {}
    requests: dict[str, Any] = {}
    for item in _items(ranges, "Container"):  # the last LimitRange wins, as in Kubernetes' map merge
        limits.update(item.get("default") or {})
        requests.update(item.get("defaultRequest") or {})
    notes: list[str] = []
    for label, container in _containers(pod.get("spec") or {}):
        resources = container.setdefault("resources", {})
        set_requests, set_limits = [], []
        for name, value in limits.items():
            if name not in (resources.get("limits") or {}):
                resources.setdefault("limits", {})[name] = value
                set_limits.append(name)
        for name, value in requests.items():
            if name not in (resources.get("requests") or {}):
                resources.setdefault("requests", {})[name] = value
                set_requests.append(name)
        if set_requests:
            notes.append(f"{', '.join(sorted(set_requests))} request for {label} {container.get('name')}")
        if set_limits:
            notes.append(f"{', '.join(sorted(set_limits))} limit for {label} {container.get('name')}")
    return notes


def _show(value: Decimal, fmt: Any) -> str:
    return format_quantity(value, fmt)


def check_range(kind: str, item: Obj, requests: q.ResourceList, limits: q.ResourceList) -> list[str]:
    """minConstraint, maxConstraint and limitRequestRatioConstraint of one item, Kubernetes' wording."""
    errors: list[str] = []
    for name, (bound, fmt) in sorted(q.parse_list(item.get("min")).items()):
        shown = _show(bound, fmt)
        if name not in requests:
            errors.append(f"minimum {name} usage per {kind} is {shown}.  No request is specified")
        elif requests[name][0] < bound:
            errors.append(f"minimum {name} usage per {kind} is {shown}, but request is {_show(*requests[name])}")
        elif name in limits and limits[name][0] < bound:
            errors.append(f"minimum {name} usage per {kind} is {shown}, but limit is {_show(*limits[name])}")
    for name, (bound, fmt) in sorted(q.parse_list(item.get("max")).items()):
        shown = _show(bound, fmt)
        if name not in limits:
            errors.append(f"maximum {name} usage per {kind} is {shown}.  No limit is specified")
        elif limits[name][0] > bound:
            errors.append(f"maximum {name} usage per {kind} is {shown}, but limit is {_show(*limits[name])}")
        elif name in requests and requests[name][0] > bound:
            errors.append(f"maximum {name} usage per {kind} is {shown}, but request is {_show(*requests[name])}")
    for name, (ratio, fmt) in sorted(q.parse_list(item.get("maxLimitRequestRatio")).items()):
        shown = _show(ratio, fmt)
        request, limit = requests.get(name, (Decimal(0), fmt))[0], limits.get(name, (Decimal(0), fmt))[0]
        if request == 0:
            errors.append(f"{name} max limit to request ratio per {kind} is {shown}, but no request is specified "
                          f"or request is 0")
        elif limit == 0:
            errors.append(f"{name} max limit to request ratio per {kind} is {shown}, but no limit is specified "
                          f"or limit is 0")
        else:  # Kubernetes compares whole milli-units (int64 MilliValue, rounded up)
            observed = _milli(limit) / _milli(request)
            if observed * 1000 > _milli(ratio):
                errors.append(f"{name} max limit to request ratio per {kind} is {shown}, but provided ratio is "
                              + _float6(observed))
    return errors


def _milli(value: Decimal) -> Decimal:
    return (value * 1000).to_integral_value(rounding=ROUND_CEILING)


def _float6(value: Decimal) -> str:
    return f"{float(value):.6f}"


def pod_totals(spec: Obj) -> tuple[q.ResourceList, q.ResourceList]:
    requests: q.ResourceList = {}
    limits: q.ResourceList = {}
    for container in spec.get("containers") or []:
        resources = container.get("resources") or {}
        requests = q.add(requests, q.parse_list(resources.get("requests")))
        limits = q.add(limits, q.parse_list(resources.get("limits")))
    for container in spec.get("initContainers") or []:
        resources = container.get("resources") or {}
        requests = q.maximum(requests, q.parse_list(resources.get("requests")))
        limits = q.maximum(limits, q.parse_list(resources.get("limits")))
    return requests, limits


def violations(pod: Obj, ranges: list[Obj]) -> list[str]:
    spec = pod.get("spec") or {}
    errors: list[str] = []
    for item in _items(ranges, "Container"):
        for _, container in _containers(spec):
            resources = container.get("resources") or {}
            errors += check_range("Container", item, q.parse_list(resources.get("requests")),
                                  q.parse_list(resources.get("limits")))
    for item in _items(ranges, "Pod"):
        errors += check_range("Pod", item, *pod_totals(spec))
    return errors


def pvc_violations(pvc: Obj, ranges: list[Obj]) -> list[str]:
    """A PersistentVolumeClaim's requests against `type: PersistentVolumeClaim` items: min as for containers
    (its limits are not user input), max against the request."""
    requests = q.parse_list(((pvc.get("spec") or {}).get("resources") or {}).get("requests"))
    errors: list[str] = []
    for item in _items(ranges, "PersistentVolumeClaim"):
        errors += check_range("PersistentVolumeClaim", {"min": item.get("min")}, requests, {})
        for name, (bound, fmt) in sorted(q.parse_list(item.get("max")).items()):
            shown = _show(bound, fmt)
            if name not in requests:
                errors.append(f"maximum {name} usage per PersistentVolumeClaim is {shown}.  No request is specified")
            elif requests[name][0] > bound:
                errors.append(f"maximum {name} usage per PersistentVolumeClaim is {shown}, but request is "
                              f"{_show(*requests[name])}")
    return errors


class LimitRanger:
    name = "LimitRanger"

    def __init__(self, storage: ObjectStorage) -> None:
        self.storage = storage
        ranges = find("", "v1", "limitranges")
        assert ranges is not None
        self.ranges = ranges

    def _applies(self, request: AdmissionRequest) -> bool:
        resource = request.resource
        return (request.operation == "CREATE" and not request.subresource and resource.kind == "Pod"
                and not resource.group and request.obj is not None and bool(request.namespace))

    async def _ranges(self, namespace: str) -> list[Obj]:
        return (await self.storage.list(self.ranges, namespace, serializable=True)).items  # this replica's copy

    async def admit(self, request: AdmissionRequest) -> None:
        if not self._applies(request):
            return
        assert request.obj is not None and request.namespace
        ranges = await self._ranges(request.namespace)
        notes = apply_defaults(request.obj, ranges) if ranges else []
        if notes:
            meta = request.obj.setdefault("metadata", {})
            annotations = meta.get("annotations") or {}
            meta["annotations"] = {**annotations, ANNOTATION: "LimitRanger plugin set: " + "; ".join(notes)}
            request.obj.setdefault("status", {})["qosClass"] = qos_class(request.obj.get("spec") or {})

    async def validate(self, request: AdmissionRequest) -> None:
        claim = (request.operation == "CREATE" and not request.subresource and request.obj is not None
                 and request.resource.kind == "PersistentVolumeClaim" and not request.resource.group)
        if not (self._applies(request) or claim) or request.obj is None or not request.namespace:
            return
        ranges = await self._ranges(request.namespace)
        if not ranges:
            return
        errors = pvc_violations(request.obj, ranges) if claim else violations(request.obj, ranges)
        if errors:
            raise request.forbidden(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
