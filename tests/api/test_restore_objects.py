"""Lose all three control-plane data dirs, restore from a backup: the API's objects are back.

Objects are created through a real 3-replica `raftkube server` control plane, the store is
saved through a replica's store port (`raftkube store snapshot save`), and three new members
restored from the file (on other ports) serve the same objects through the API, with the same
uid and resourceVersion; a watch from before the backup is told 410 Expired (relist), and new
writes get resourceVersions above the backup's.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from raftkube.client import ApiClient, ApiError, Expired
from raftkube.local.control_plane import LocalControlPlane
from raftkube.local.store_cluster import free_port

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

NAMESPACE, CONFIGMAP, SECRET, DEPLOYMENT = ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), \
    ("apps/v1", "Deployment")


@pytest.fixture
def planes() -> Iterator[list[LocalControlPlane]]:
    made: list[LocalControlPlane] = []
    yield made
    for plane in made:
        plane.close()


def store_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raftkube", "store", *args], capture_output=True, text=True,
                          timeout=60)


async def first_answer(api: ApiClient, timeout: float = 30.0) -> None:
    """Wait (bounded) until the API answers a read: the servers start their API after the store."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await api.list(NAMESPACE)
            return
        except ApiError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "docker.io/library/nginx:1.27"}]}}}}


async def test_objects_come_back_after_restoring_every_data_dir(tmp_path: Path,
                                                                planes: list[LocalControlPlane]) -> None:
    old = LocalControlPlane(str(tmp_path / "old"), controllers=False)
    planes.append(old)
    await asyncio.to_thread(old.start)
    async with ApiClient(old.api_urls, old.token, old.ca_file, timeout=10) as api:
        await first_answer(api)
        await api.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        made = [
            await api.create(CONFIGMAP, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                                         "data": {"color": "blue", "size": "L"}}, "shop"),
            await api.create(SECRET, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "password"},
                                      "stringData": {"password": "hunter2"}}, "shop"),
            await api.create(DEPLOYMENT, deployment("web"), "shop"),
        ]
        changed = await api.get(CONFIGMAP, "settings", "shop")
        changed["data"]["color"] = "green"
        made[0] = await api.update(CONFIGMAP, changed, "shop")
        before_backup = (await api.list(CONFIGMAP, "shop"))["metadata"]["resourceVersion"]
        late = await api.create(CONFIGMAP, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"},
                                            "data": {"x": "1"}}, "shop")
        late["data"]["x"] = "2"  # two revisions after before_backup: a watch from it needs a compacted one
        await api.update(CONFIGMAP, late, "shop")

    backup = tmp_path / "backup.db"
    saved = await asyncio.to_thread(store_cli, "snapshot", "save", str(backup), "-o", "json",
                                    "--endpoints", ",".join(old.endpoints), "--token-file", old.store_token_file)
    assert saved.returncode == 0, saved.stderr
    revision = json.loads(saved.stdout)["revision"]
    old.close()  # every data dir of the old control plane is lost from here on

    ports = [(free_port(), free_port()) for _ in range(3)]
    new = LocalControlPlane(str(tmp_path / "new"), controllers=False, ports=ports)
    planes.append(new)
    os.makedirs(new.base_dir, exist_ok=True)  # Secrets at rest open only with the old cluster's key: keep it
    shutil.copy2(old.encryption_config, os.path.join(new.base_dir, "encryption-config.yaml"))
    initial = ",".join(f"{r.name}={r.raft_addr}" for r in new.replicas)
    for replica in new.replicas:
        done = await asyncio.to_thread(store_cli, "snapshot", "restore", str(backup), "--data-dir", replica.data_dir,
                                       "--name", replica.name, "--initial-cluster", initial)
        assert done.returncode == 0, done.stderr
    await asyncio.to_thread(new.start)
    async with ApiClient(new.api_urls, new.token, new.ca_file, timeout=10) as api:
        await first_answer(api)
        assert (await api.get(NAMESPACE, "shop"))["metadata"]["name"] == "shop"
        for obj in made:
            kind = (obj["apiVersion"], obj["kind"])
            back = await api.get(kind, obj["metadata"]["name"], "shop")
            assert back["metadata"]["uid"] == obj["metadata"]["uid"]
            assert back["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
            assert back.get("data") == obj.get("data") and back.get("spec") == obj.get("spec")
        assert (await api.get(CONFIGMAP, "settings", "shop"))["data"]["color"] == "green"
        assert (await api.get(CONFIGMAP, "late", "shop"))["data"] == {"x": "2"}
        listed = await api.list(CONFIGMAP, "shop")
        # the restored store goes on from the backup's revision (the new API servers have renewed their
        # Leases since: later revisions), and every restored object keeps the version it had
        assert int(listed["metadata"]["resourceVersion"]) >= revision
        assert all(int(item["metadata"]["resourceVersion"]) <= revision for item in listed["items"])
        with pytest.raises(Expired):
            async for _ in api.watch(CONFIGMAP, "shop", resource_version=before_backup, follow=False):
                pass
        created = await api.create(CONFIGMAP, {"apiVersion": "v1", "kind": "ConfigMap",
                                               "metadata": {"name": "after"}}, "shop")
        assert int(created["metadata"]["resourceVersion"]) > revision
    assert all(os.stat(r.data_dir).st_mode & 0o777 == 0o700 for r in new.replicas)
