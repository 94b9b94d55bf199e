"""PersistentVolumeClaim volumes on the node, and the removal of released local-path volumes.

`claim_sources`: for each claim volume of a pod, the claim (its node may read it) and its bound
PersistentVolume (its node may read it too: api/authz/volume_graph.py) give a host directory: a
local-path volume's directory `<storage dir>/<pv>_<ns>_<claim>` is made here, mode 0700 (the
container's root is the agent's user), a hostPath or local volume is used as given
(DirectoryOrCreate honoured). A claim that is missing or not bound yet fails the mount; the
worker retries.

`LocalVolumeReaper`: every few seconds, each local-path directory of this node whose volume is
Released with reclaim policy Delete is removed, then the PersistentVolume is deleted (the node
may delete only such a volume of its own).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from dataclasses import dataclass
from typing import Any

from ..client import ApiClient, ApiError, Conflict, Forbidden, NotFound
from ..machinery.local_path import PROVISIONERS, SELECTED_NODE, is_volume_dir_name
from .env import ConfigError

log = logging.getLogger(__name__)
Obj = dict[str, Any]
PVC, PV = ("v1", "PersistentVolumeClaim"), ("v1", "PersistentVolume")


@dataclass(frozen=True)
class ClaimSource:
    path: str
    read_only: bool


def claim_volumes(pod: Obj) -> list[tuple[str, str, bool]]:
    """(volume name, claim name, readOnly) of each persistentVolumeClaim volume."""
    out = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        source = volume.get("persistentVolumeClaim") if isinstance(volume, dict) else None
        if isinstance(source, dict):
            out.append((str(volume.get("name", "")), str(source.get("claimName", "")), bool(source.get("readOnly"))))
    return out


def local_path_dir(volume: Obj, node: str, storage_dir: str) -> str | None:
    """The directory of a local-path volume of this node, checked to be a direct child of
    `storage_dir` with a provisioner-made name; None for any other volume."""
    meta, spec = volume.get("metadata") or {}, volume.get("spec") or {}
    annotations = meta.get("annotations") or {}
    if annotations.get("pv.kubernetes.io/provisioned-by") not in PROVISIONERS or annotations.get(SELECTED_NODE) != node:
        return None
    path = str(((spec.get("hostPath") or spec.get("local")) or {}).get("path") or "")
    parent, name = os.path.split(os.path.normpath(path))
    if parent != os.path.normpath(storage_dir) or not is_volume_dir_name(name):
        return None
    return path


def _volume_path(volume: Obj, node: str, storage_dir: str) -> str:
    managed = local_path_dir(volume, node, storage_dir)
    if managed is not None:
        os.makedirs(storage_dir, mode=0o700, exist_ok=True)
        try:
            os.mkdir(managed, 0o700)
        except FileExistsError:
            pass
        if os.path.islink(managed) or not os.path.isdir(managed):
            raise ConfigError(f"local-path volume {managed} is not a directory", reason="FailedMount")
        return managed
    spec = volume.get("spec") or {}
    source = spec.get("hostPath") or spec.get("local")
    if not isinstance(source, dict) or not source.get("path"):
        raise ConfigError(f"PersistentVolume {volume['metadata']['name']}: only hostPath and local volumes can be "
                          "mounted by this node", reason="FailedMount")
    path = str(source["path"])
    if source.get("type") == "DirectoryOrCreate":
        os.makedirs(path, exist_ok=True)
    elif not os.path.isdir(path):
        raise ConfigError(f"PersistentVolume {volume['metadata']['name']}: {path} is not a directory",
                          reason="FailedMount")
    return path


async def claim_sources(client: ApiClient, pod: Obj, node: str, storage_dir: str) -> dict[str, ClaimSource]:
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    out: dict[str, ClaimSource] = {}
    for volume_name, claim_name, read_only in claim_volumes(pod):
        try:
            claim = await client.get(PVC, claim_name, namespace)
        except NotFound:
            raise ConfigError(f'persistentvolumeclaim "{claim_name}" not found', reason="FailedMount") from None
        pv_name = (claim.get("spec") or {}).get("volumeName")
        if not pv_name or (claim.get("status") or {}).get("phase") != "Bound":
            raise ConfigError(f'volume {volume_name}: persistentvolumeclaim "{claim_name}" is not bound yet',
                              reason="FailedMount")
        try:
            volume = await client.get(PV, pv_name)
        except (NotFound, Forbidden):
            raise ConfigError(f'volume {volume_name}: persistentvolume "{pv_name}" not found',
                              reason="FailedMount") from None
        out[volume_name] = ClaimSource(_volume_path(volume, node, storage_dir), read_only)
    return out


class LocalVolumeReaper:
    def __init__(self, client: ApiClient, node: str, storage_dir: str, period: float = 3.0) -> None:
        self.client, self.node, self.storage_dir, self.period = client, node, storage_dir, period
        self.removed: list[str] = []  # volumes this agent removed (for tests and logs)

    async def run(self) -> None:
        for _ in range(10**12):  # ends when the agent stops (cancelled)
            try:
                await self.sweep()
            except ApiError as err:
                log.info("local volumes: %s", err)
            await asyncio.sleep(self.period)

    async def sweep(self) -> None:
        try:
            names = sorted(os.listdir(self.storage_dir))
        except FileNotFoundError:
            return
        for name in names:
            if not is_volume_dir_name(name):
                continue
            pv_name = name.split("_", 1)[0]
            try:
                volume = await self.client.get(PV, pv_name)
            except (NotFound, Forbidden):
                continue  # not ours to judge (the authorizer shows a node only its own volumes)
            path = local_path_dir(volume, self.node, self.storage_dir)
            released = (volume.get("status") or {}).get("phase") == "Released"
            policy = (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy")
            if path is None or os.path.basename(path) != name or not released or policy != "Delete":
                continue
            await asyncio.to_thread(shutil.rmtree, path, ignore_errors=True)
            try:
                await self.client.delete(PV, pv_name, preconditions={"uid": volume["metadata"]["uid"]})
            except (NotFound, Conflict):
                pass
            self.removed.append(pv_name)
            log.info("local volume %s removed (%s)", pv_name, path)
