"""A StatefulSet's data survives its pod on real Podman: a 3-replica control plane with its controllers
and scheduler, one agent running pods in Podman under its own node identity (system:node:<name>, so the
claim and volume reads pass the Node authorizer). The pod web-0 writes a file into its claim's volume (a
local-path directory the agent made on its node); web-0 is deleted; the new web-0, bound to the same
claim, reads the file and records what it read."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from raftkube.client import ApiClient
from raftkube.local.control_plane import LocalControlPlane
from raftkube.node.agent import Agent
from raftkube.node.memory_volumes import unmount_under
from raftkube.node.podman_runtime import PodmanRuntime
from raftkube.node.podman_service import PodmanService

from .podman_fixtures import IMAGE, podman_service
from .test_agent_support import NS, POD, eventually, fast_config, running_ready

pytestmark = [pytest.mark.podman, pytest.mark.cluster, pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.timeout(240)]
Obj = dict[str, Any]
NODE_NAME = f"stspodman-{uuid.uuid4().hex[:6]}"
TOKEN = secrets.token_urlsafe(24)
STS, PVC, PV = ("apps/v1", "StatefulSet"), ("v1", "PersistentVolumeClaim"), ("v1", "PersistentVolume")
WAIT = 60.0
SCRIPT = ('if [ -f /data/hello ]; then echo "$POD_UID read $(cat /data/hello)" >> /data/reads; '
          'else echo "$POD_UID" > /data/hello; fi; exec sleep 3600')
STATEFULSET = {
    "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
    "spec": {"serviceName": "web", "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                 "terminationGracePeriodSeconds": 2, "containers": [{
                     "name": "app", "image": IMAGE, "command": ["sh", "-c", SCRIPT],
                     "env": [{"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}],
                     "volumeMounts": [{"name": "www", "mountPath": "/data"}]}]}},
             "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                 "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}}}]}}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
    with podman_service(tmp_path_factory.mktemp("podman"), [NODE_NAME]) as svc:
        yield svc


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane]:
    cluster = LocalControlPlane(str(tmp_path_factory.mktemp("sts-podman")), controllers=True)
    cluster.add_token(TOKEN, f"system:node:{NODE_NAME}", f"node-{NODE_NAME}", ("system:nodes",))
    try:
        cluster.start(timeout=60)
        yield cluster
    finally:
        cluster.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(plane: LocalControlPlane) -> AsyncIterator[ApiClient]:
    client = ApiClient(plane.api_urls, plane.token, plane.ca_file, timeout=10.0)
    try:
        await eventually(lambda: client.get(NS, "kube-node-lease"), 60, "API ready")
        yield client
    finally:
        await client.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agent(plane: LocalControlPlane, service: PodmanService, admin: ApiClient,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Agent]:
    own = ApiClient(plane.api_urls, TOKEN, plane.ca_file, timeout=10.0)
    runtime = PodmanRuntime(NODE_NAME, socket_path=str(service.socket_path))
    data_dir = tmp_path_factory.mktemp("agent")
    node = Agent(fast_config(NODE_NAME, data_dir, pod_cidr="127.98.241.0/24", relist_period=0.3), runtime, own)
    await node.start()
    try:
        yield node
    finally:
        await node.stop()
        await runtime.close()
        await own.close()
        unmount_under(str(data_dir))


async def web_0(admin: ApiClient, not_uid: str = "") -> Obj | None:
    pod = await admin.get(POD, "web-0", "default")
    fresh = pod["metadata"]["uid"] != not_uid and not pod["metadata"].get("deletionTimestamp")
    return pod if fresh and running_ready(pod) else None


async def test_statefulset_data_survives_pod_deletion(admin: ApiClient, agent: Agent) -> None:
    await admin.create(STS, STATEFULSET, "default")
    first = await eventually(lambda: web_0(admin), WAIT, "web-0 Running on Podman")
    assert first["spec"]["nodeName"] == NODE_NAME
    claim = await eventually(lambda: _bound(admin), WAIT, "claim www-web-0 bound")
    volume = await admin.get(PV, claim["spec"]["volumeName"])
    directory = Path(volume["spec"]["hostPath"]["path"])
    assert directory.parent == Path(agent.config.storage_dir)
    hello = await eventually(lambda: _read(directory / "hello"), WAIT, "web-0 wrote /data/hello")
    assert hello.strip() == first["metadata"]["uid"]

    await admin.delete(POD, "web-0", "default")
    second = await eventually(lambda: web_0(admin, first["metadata"]["uid"]), WAIT, "a new web-0 Running")
    assert any(v.get("persistentVolumeClaim", {}).get("claimName") == "www-web-0" for v in second["spec"]["volumes"])
    reads = await eventually(lambda: _read(directory / "reads"), WAIT, "the new web-0 read /data/hello")
    assert reads.strip() == f"{second['metadata']['uid']} read {first['metadata']['uid']}"
    await admin.delete(STS, "web", "default")
    await eventually(lambda: _gone(admin), WAIT, "web-0 collected with its StatefulSet")


async def _gone(admin: ApiClient) -> bool:
    pods = (await admin.list(POD, "default", label_selector="app=web"))["items"]
    return not pods


async def _bound(admin: ApiClient) -> Obj | None:
    claim = await admin.get(PVC, "www-web-0", "default")
    return claim if (claim.get("status") or {}).get("phase") == "Bound" else None


async def _read(path: Path) -> str | None:
    await asyncio.sleep(0)
    return path.read_text() if path.exists() and path.read_text().strip() else None
