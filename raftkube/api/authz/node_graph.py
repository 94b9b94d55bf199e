"""Which node may see what: pods bound to nodes and the objects those pods reference.

Kubernetes' Node authorizer keeps a graph (pod -> node, secret/configmap/PVC/service account
-> pod); this is the same in small: every pod bound to a node, with the Secrets, ConfigMaps,
PersistentVolumeClaims and ServiceAccount it names, counted per node. It is listed once and
then kept current by a watch of every pod from the list's revision (listed again after a
break), so an authorization decision is a dictionary lookup. What a pod references cannot
change after it is created (the fields are immutable) and its node is set once (the binding),
so most pod events (status updates) leave the graph as it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from ...store import prefix_end
from ..resources import find
from ..storage import ObjectStorage, decode
from .volume_graph import VolumeIndex

log = logging.getLogger(__name__)
Obj = dict[str, Any]
PODS = find("", "v1", "pods")
# (resource plural, name) in the pod's namespace
Ref = tuple[str, str]
SECRETS, CONFIGMAPS, PVCS, SERVICEACCOUNTS = "secrets", "configmaps", "persistentvolumeclaims", "serviceaccounts"
# volume sources that name a Secret in a `secretRef` (Kubernetes' in-tree plugins)
_SECRET_REF_VOLUMES = ("cephfs", "rbd", "flexVolume", "iscsi", "scaleIO", "storageos")


def _containers(spec: Obj) -> list[Obj]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers") for c in spec.get(key) or []
            if isinstance(c, dict)]


def _add(refs: set[Ref], kind: str, ref: Any, key: str = "name") -> None:
    if isinstance(ref, dict) and isinstance(ref.get(key), str) and ref[key]:
        refs.add((kind, ref[key]))


def pod_references(pod: Obj) -> frozenset[Ref]:
    """The Secrets, ConfigMaps, PVCs and ServiceAccount a pod names (what its node may read)."""
    spec = pod.get("spec") or {}
    refs: set[Ref] = set()
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    refs.add((SERVICEACCOUNTS, str(account)))
    for secret in spec.get("imagePullSecrets") or []:
        _add(refs, SECRETS, secret)
    for container in _containers(spec):
        for env in container.get("env") or []:
            source = (env or {}).get("valueFrom") or {}
            _add(refs, SECRETS, source.get("secretKeyRef"))
            _add(refs, CONFIGMAPS, source.get("configMapKeyRef"))
        for env_from in container.get("envFrom") or []:
            _add(refs, SECRETS, (env_from or {}).get("secretRef"))
            _add(refs, CONFIGMAPS, (env_from or {}).get("configMapRef"))
    pod_name = (pod.get("metadata") or {}).get("name", "")
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        _add(refs, SECRETS, volume.get("secret"), "secretName")
        _add(refs, CONFIGMAPS, volume.get("configMap"))
        _add(refs, PVCS, volume.get("persistentVolumeClaim"), "claimName")
        if volume.get("ephemeral") and volume.get("name"):
            refs.add((PVCS, f"{pod_name}-{volume['name']}"))  # the claim Kubernetes makes for it
        for source in (volume.get("projected") or {}).get("sources") or []:
            _add(refs, SECRETS, (source or {}).get("secret"))
            _add(refs, CONFIGMAPS, (source or {}).get("configMap"))
        for plugin in _SECRET_REF_VOLUMES:
            _add(refs, SECRETS, (volume.get(plugin) or {}).get("secretRef"))
        _add(refs, SECRETS, volume.get("azureFile"), "secretName")
        _add(refs, SECRETS, (volume.get("csi") or {}).get("nodePublishSecretRef"))
    return frozenset(refs)


class NodeGraph:
    """Pods by node and what they reference, from a list+watch of every pod."""

    def __init__(self, storage: ObjectStorage) -> None:
        self.storage = storage
        self._pods: dict[tuple[str, str], tuple[str, frozenset[Ref]]] = {}  # (ns, name) -> (node, refs)
        self._by_node: dict[str, Counter[tuple[str, str, str]]] = {}  # node -> (kind, ns, name) -> pods
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.volumes = VolumeIndex(storage)  # claims -> volumes -> nodes (authz/volume_graph.py)

    # --------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="node-authorizer-graph")
            self.volumes.start()

    def ensure_started(self) -> None:
        """Start the watch from a request handler (the loop is running) if nobody started it."""
        if self._task is None:
            try:
                self.start()
            except RuntimeError:  # no running loop: nothing to start it on
                pass

    async def stop(self) -> None:
        await self.volumes.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # ----------------------------------------------------------------- queries
    def node_of(self, namespace: str, name: str) -> str | None:
        entry = self._pods.get((namespace, name))
        return entry[0] if entry is not None else None

    def references(self, node: str, kind: str, namespace: str, name: str) -> bool:
        """Whether a pod bound to `node` names this object (kind: the resource plural)."""
        counts = self._by_node.get(node)
        return counts is not None and counts[(kind, namespace, name)] > 0

    def claims_of(self, node: str) -> set[tuple[str, str]]:
        """(namespace, name) of every PersistentVolumeClaim the pods bound to `node` use."""
        return {(ns, name) for kind, ns, name in self._by_node.get(node, {}) if kind == PVCS}

    # ------------------------------------------------------------------- index
    def forget(self, key: tuple[str, str]) -> None:
        entry = self._pods.pop(key, None)
        if entry is None:
            return
        node, refs = entry
        counts = self._by_node.get(node)
        if counts is None:
            return
        for kind, name in refs:
            ref = (kind, key[0], name)
            counts[ref] -= 1
            if counts[ref] <= 0:
                del counts[ref]
        if not counts:
            del self._by_node[node]

    def index(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        node = (pod.get("spec") or {}).get("nodeName") or ""
        current = self._pods.get(key)
        if current is not None and current[0] == node:
            return  # references are immutable and the node is set once: nothing changed
        self.forget(key)
        if not node:
            return
        refs = pod_references(pod)
        self._pods[key] = (node, refs)
        counts = self._by_node.setdefault(node, Counter())
        for kind, name in refs:
            counts[(kind, key[0], name)] += 1

    async def _follow(self, start_revision: int) -> None:
        """Apply the pods' changes from the store's watch. Only a pod this graph does not hold as
        bound yet is decoded: a bound pod's node and references never change, so its many status
        updates cost a dictionary lookup, not a decode."""
        assert PODS is not None
        prefix = PODS.storage_prefix(None)
        transformer = self.storage.transformer(PODS)
        async for response in self.storage.store.watch(prefix, prefix_end(prefix), start_revision):
            for event in response.events:
                namespace, _, name = event.kv.key[len(prefix):].decode().partition("/")
                if event.type == "DELETE":
                    self.forget((namespace, name))
                elif (namespace, name) not in self._pods:
                    self.index(decode(event.kv, transformer=transformer))

    async def _run(self) -> None:
        assert PODS is not None
        while True:
            try:
                listing = await self.storage.list(PODS, None, serializable=True)
                fresh = NodeGraph(self.storage)  # built aside, swapped in whole
                for pod in listing.items:
                    fresh.index(pod)
                self._pods, self._by_node = fresh._pods, fresh._by_node
                self.synced.set()
                await self._follow(listing.resource_version + 1)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store may be electing, or the watch was compacted: list again
                log.info("node authorizer graph: relisting after %s", exc)
            await asyncio.sleep(0.5)
