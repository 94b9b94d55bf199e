"""The volume edges of the Node authorizer's graph: claim -> volume, and volume -> the node it lives on.

Kubernetes lets a node read a PersistentVolume bound to a claim one of its pods uses. raftkube's
local-path volumes are also the node's own to look after (it makes and removes their directories),
so a node may also read a volume pinned to it (its node affinity selects exactly that hostname, or
the local-path provisioner's `local.path.provisioner/selected-node` names it) and delete such a
volume once it is Released with reclaim policy Delete. Kept current from a list+watch of the
claims and the volumes in the store, as `node_graph` does for pods.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...machinery.local_path import PROVISIONERS, SELECTED_NODE
from ...store import prefix_end
from ..resources import Resource, find
from ..storage import ObjectStorage, decode

log = logging.getLogger(__name__)
Obj = dict[str, Any]
CLAIMS = find("", "v1", "persistentvolumeclaims")
VOLUMES = find("", "v1", "persistentvolumes")
HOSTNAME = "kubernetes.io/hostname"


def pinned_node(volume: Obj) -> str | None:
    """The one node a volume lives on, or None (reachable from several nodes, or unknown)."""
    meta, spec = volume.get("metadata") or {}, volume.get("spec") or {}
    annotations = meta.get("annotations") or {}
    if annotations.get("pv.kubernetes.io/provisioned-by") in PROVISIONERS and annotations.get(SELECTED_NODE):
        return str(annotations[SELECTED_NODE])
    terms = (((spec.get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms")) or []
    if len(terms) != 1:
        return None
    expressions = (terms[0] or {}).get("matchExpressions") or []
    if len(expressions) == 1 and expressions[0].get("key") == HOSTNAME and expressions[0].get("operator") == "In" \
            and len(expressions[0].get("values") or []) == 1 and not (terms[0] or {}).get("matchFields"):
        return str(expressions[0]["values"][0])
    return None


def reclaimable(volume: Obj) -> bool:
    """Released with reclaim policy Delete: what a node deletes after removing the data."""
    return ((volume.get("status") or {}).get("phase") == "Released"
            and (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete")


class VolumeIndex:
    def __init__(self, storage: ObjectStorage) -> None:
        self.storage = storage
        self.claim_volumes: dict[tuple[str, str], str] = {}  # (namespace, claim) -> volume name
        self.volume_nodes: dict[str, tuple[str | None, bool]] = {}  # volume -> (pinned node, reclaimable)
        self.synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._run(CLAIMS, self._claims), name="node-authorizer-claims"),
                           loop.create_task(self._run(VOLUMES, self._volumes), name="node-authorizer-volumes")]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ----------------------------------------------------------------- queries
    def may_get(self, node: str, volume: str, claims: set[tuple[str, str]]) -> bool:
        """A volume pinned to `node`, or bound to one of `claims` (those its pods use)."""
        if self.volume_nodes.get(volume, (None, False))[0] == node:
            return True
        return any(self.claim_volumes.get(claim) == volume for claim in claims)

    def may_delete(self, node: str, volume: str) -> bool:
        pinned, released = self.volume_nodes.get(volume, (None, False))
        return pinned == node and released

    # ------------------------------------------------------------------- index
    def _claims(self, key: tuple[str, str], obj: Obj | None) -> None:
        name = ((obj or {}).get("spec") or {}).get("volumeName")
        if name:
            self.claim_volumes[key] = str(name)
        else:
            self.claim_volumes.pop(key, None)

    def _volumes(self, key: tuple[str, str], obj: Obj | None) -> None:
        if obj is None:
            self.volume_nodes.pop(key[1], None)
        else:
            self.volume_nodes[key[1]] = (pinned_node(obj), reclaimable(obj))

    async def _run(self, resource: Resource | None, apply: Any) -> None:
        assert resource is not None
        prefix = resource.storage_prefix(None)
        while True:
            try:
                listing = await self.storage.list(resource, None, serializable=True)
                if resource is CLAIMS:  # what was deleted while not watching goes too
                    self.claim_volumes = {}
                else:
                    self.volume_nodes = {}
                for obj in listing.items:
                    meta = obj.get("metadata") or {}
                    apply((meta.get("namespace", ""), meta.get("name", "")), obj)
                self.synced.set()
                transformer = self.storage.transformer(resource)
                async for response in self.storage.store.watch(prefix, prefix_end(prefix),
                                                               listing.resource_version + 1):
                    for event in response.events:
                        rest = event.kv.key[len(prefix):].decode()
                        namespace, _, name = rest.partition("/") if resource.namespaced else ("", "", rest)
                        apply((namespace, name), None if event.type == "DELETE" else
                              decode(event.kv, transformer=transformer))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # electing, or compacted: list again
                log.info("node authorizer volumes: relisting %s after %s", resource.plural, exc)
            await asyncio.sleep(0.5)
