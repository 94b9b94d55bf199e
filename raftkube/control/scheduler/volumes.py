"""Volume binding in the scheduler (Kubernetes' VolumeBinding plugin, in small).

For each persistentVolumeClaim volume of a pod, `check_volumes` decides from the caches:
- a claim that is missing or being deleted, or unbound with an Immediate (or no) class, makes the
  pod unschedulable on every node (Kubernetes' pre-filter messages);
- a bound claim's PersistentVolume restricts the pod to the nodes its `nodeAffinity` selects
  (`node(s) had volume node affinity conflict` elsewhere);
- an unbound claim whose class binds on WaitForFirstConsumer is annotated
  `volume.kubernetes.io/selected-node: <node>` once the pod has a node, before the pod is bound,
  so the provisioner makes the volume on that node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...client import ApiClient, Informer
from .info import NodeTerm
from .nodeinfo import NodeInfo

Obj = dict[str, Any]
PVC, PV, SC = ("v1", "PersistentVolumeClaim"), ("v1", "PersistentVolume"), ("storage.k8s.io/v1", "StorageClass")
SELECTED_NODE = "volume.kubernetes.io/selected-node"
NODE_CONFLICT = "node(s) had volume node affinity conflict"
UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
Lookup = Callable[[str, str | None], Obj | None]  # (name, namespace) -> object


@dataclass
class VolumeCheck:
    error: str = ""  # unschedulable on every node
    affinities: list[tuple[NodeTerm, ...]] = field(default_factory=list)  # each bound PV's terms
    to_select: list[Obj] = field(default_factory=list)  # WaitForFirstConsumer claims to annotate

    def filter(self, node: NodeInfo) -> str | None:
        for terms in self.affinities:
            if not any(term.matches(node.name, node.labels) for term in terms):
                return NODE_CONFLICT
        return None


def claim_names(pod: Obj) -> list[str]:
    return [v["persistentVolumeClaim"]["claimName"] for v in (pod.get("spec") or {}).get("volumes") or []
            if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)
            and v["persistentVolumeClaim"].get("claimName")]


def check_volumes(pod: Obj, claims: Lookup, volumes: Lookup, classes: Lookup) -> VolumeCheck:
    namespace = (pod.get("metadata") or {}).get("namespace")
    out = VolumeCheck()
    for name in claim_names(pod):
        claim = claims(name, namespace)
        if claim is None:
            return VolumeCheck(error=f'persistentvolumeclaim "{name}" not found')
        if (claim.get("metadata") or {}).get("deletionTimestamp"):
            return VolumeCheck(error=f'persistentvolumeclaim "{name}" is being deleted')
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            volume = volumes(volume_name, None)
            if volume is None:
                return VolumeCheck(error=f'pvc {namespace}/{name} is bound to non-existent pv "{volume_name}"')
            required = (((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {})
            terms = required.get("nodeSelectorTerms")
            if terms:
                out.affinities.append(tuple(NodeTerm.of(t) for t in terms))
            continue
        class_name = (claim.get("spec") or {}).get("storageClassName")
        storage_class = classes(class_name, None) if class_name else None
        if storage_class is None or storage_class.get("volumeBindingMode") != "WaitForFirstConsumer":
            return VolumeCheck(error=UNBOUND_IMMEDIATE)
        if not ((claim.get("metadata") or {}).get("annotations") or {}).get(SELECTED_NODE):
            out.to_select.append(claim)
    return out


class VolumeView:
    """The scheduler's informers on claims, volumes and classes; `on_change` runs on any change
    (the runner retries the pods waiting for one)."""

    def __init__(self, client: ApiClient, on_change: Callable[[], None]) -> None:
        self.client = client
        self.informers = [Informer(client, ref, name=f"scheduler-{ref[1].lower()}s") for ref in (PVC, PV, SC)]
        for informer in self.informers:
            informer.add_handlers(lambda _obj: on_change(), lambda _old, _new: on_change(), lambda _obj: on_change())

    def check(self, pod: Obj) -> VolumeCheck:
        if not claim_names(pod):
            return VolumeCheck()
        claims, volumes, classes = (i.cache.get_by_name for i in self.informers)
        return check_volumes(pod, claims, volumes, classes)

    async def select_node(self, claims: list[Obj], node: str) -> None:
        """Annotate each WaitForFirstConsumer claim with the chosen node (conditional on its version)."""
        for claim in claims:
            meta = claim["metadata"]
            patch = {"metadata": {"annotations": {SELECTED_NODE: node}, "resourceVersion": meta["resourceVersion"]}}
            await self.client.patch(PVC, meta["name"], patch, meta["namespace"])
