"""The local-path provisioner (k3s's local-path-provisioner is the model) and its default StorageClass.

While leading, it makes sure the StorageClass `local-path` exists (the default class; provisioner
rancher.io/local-path, WaitForFirstConsumer, reclaim Delete). For an unbound claim of a local-path
class with a selected node (the scheduler's `volume.kubernetes.io/selected-node`), it creates the
PersistentVolume `pvc-<claim uid>`: a hostPath `<node's local-path dir>/<pv>_<ns>_<claim>`
(DirectoryOrCreate; the directory is announced on the Node by its agent), node affinity to that
node, pre-bound to the claim (the PV controller completes the binding). The directory itself is
made by the agent of that node when a pod mounts it, and removed by it on reclaim. A bound claim's
grown request (its class allowing expansion) becomes the volume's and the claim's capacity.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..client import AlreadyExists, ApiClient, ApiError
from ..client.events import EventRecorder
from ..machinery.local_path import (
    DEFAULT_CLASS,
    LOCAL_PATH_DIR,
    PROVISIONER,
    PROVISIONERS,
    SELECTED_NODE,
    volume_dir_name,
)
from ..machinery.quantity import is_quantity, parse_quantity
from .persistent_volumes import PV, PVC, SC, claim_ref
from .runtime import Controller, SharedInformers, on_change, split_key
from .volume_binder import HOSTNAME_LABEL, PROVISIONED_BY, meta
from .volume_binder import SELECTED_NODE as SCHEDULER_SELECTED_NODE

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NODE = ("v1", "Node")
DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def default_class() -> Obj:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": DEFAULT_CLASS, "annotations": {DEFAULT_ANNOTATION: "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"}


def volume_for(claim: Obj, storage_class: Obj, node: str, base_dir: str) -> Obj:
    """The PersistentVolume for `claim` on `node`, pre-bound to it."""
    cmeta, spec = meta(claim), claim.get("spec") or {}
    name = f"pvc-{cmeta['uid']}"
    path = f"{base_dir.rstrip('/')}/{volume_dir_name(name, cmeta['namespace'], cmeta['name'])}"
    requests = (spec.get("resources") or {}).get("requests") or {}
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: storage_class["provisioner"],
                                                       SELECTED_NODE: node}},
            "spec": {"capacity": {"storage": requests.get("storage", "0")},
                     "accessModes": list(spec.get("accessModes") or []),
                     "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
                     "storageClassName": meta(storage_class)["name"], "volumeMode": spec.get("volumeMode") or
                     "Filesystem", "claimRef": claim_ref(claim),
                     "hostPath": {"path": path, "type": "DirectoryOrCreate"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}}}}


class LocalPathProvisioner:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder
        self.claims = informers.get(*PVC)
        self.volumes = informers.get(*PV)
        self.classes = informers.get(*SC)
        self.nodes = informers.get(*NODE)
        self.controller = Controller("local-path-provisioner", self.reconcile, workers=1)
        self.claims.add_handlers(**on_change(self.controller.enqueue))

    async def run(self, acting: Any) -> None:
        """Create the default StorageClass once this replica leads (kept if an admin changed it)."""
        for _ in range(10**9):
            if acting():
                try:
                    await self.client.create(SC, default_class())
                    return
                except AlreadyExists:
                    return
                except ApiError as err:
                    log.info("default StorageClass not created yet: %s", err)
            await asyncio.sleep(1.0)

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        claim = self.claims.cache.get_by_name(name, namespace)
        if claim is None or meta(claim).get("deletionTimestamp"):
            return None
        storage_class = self.classes.cache.get_by_name((claim.get("spec") or {}).get("storageClassName") or "")
        if storage_class is None or storage_class.get("provisioner") not in PROVISIONERS:
            return None
        if (claim.get("spec") or {}).get("volumeName"):
            await self._resize(claim, storage_class)
            return None
        if self.volumes.cache.get_by_name(f"pvc-{meta(claim)['uid']}") is not None:
            return None  # provisioned; the PV controller binds it
        node_name = (meta(claim).get("annotations") or {}).get(SCHEDULER_SELECTED_NODE)
        if not node_name:
            if storage_class.get("volumeBindingMode") != "WaitForFirstConsumer":
                self.recorder.record(claim, "Warning", "ProvisioningFailed",
                                     "configuration error, no node was specified")
            return None
        node = self.nodes.cache.get_by_name(node_name)
        base_dir = ((node or {}).get("metadata", {}).get("annotations") or {}).get(LOCAL_PATH_DIR)
        if not base_dir:
            self.recorder.record(claim, "Warning", "ProvisioningFailed",
                                 f'node "{node_name}" has no local-path directory (annotation {LOCAL_PATH_DIR})')
            return 5.0
        self.recorder.record(claim, "Normal", "Provisioning",
                             f'External provisioner is provisioning volume for claim "{namespace}/{name}"')
        volume = volume_for(claim, storage_class, node_name, base_dir)
        try:
            await self.client.create(PV, volume)
        except AlreadyExists:
            return None
        self.recorder.record(claim, "Normal", "ProvisioningSucceeded",
                             f"Successfully provisioned volume {volume['metadata']['name']}")
        return None

    async def _resize(self, claim: Obj, storage_class: Obj) -> None:
        """A grown request of a bound claim (admitted only with allowVolumeExpansion): a directory has no
        size of its own, so the volume's capacity and the claim's status follow the request."""
        wanted = ((claim.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
        have = ((claim.get("status") or {}).get("capacity") or {}).get("storage")
        if not storage_class.get("allowVolumeExpansion") or (claim.get("status") or {}).get("phase") != "Bound" \
                or not (is_quantity(wanted) and is_quantity(have)) or parse_quantity(wanted) <= parse_quantity(have):
            return
        volume = self.volumes.cache.get_by_name(claim["spec"]["volumeName"])
        if volume is None:
            return
        if (volume.get("spec") or {}).get("capacity", {}).get("storage") != wanted:
            await self.client.update(PV, {**volume, "spec": {**volume["spec"], "capacity": {"storage": wanted}}})
        status = {**(claim.get("status") or {}), "capacity": {"storage": wanted}}
        await self.client.update_status(PVC, {**claim, "status": status})
        self.recorder.record(claim, "Normal", "VolumeResizeSuccessful", "resize volume successfully")
