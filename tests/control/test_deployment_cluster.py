"""The Deployment controller on a real 3-replica control plane (controller-manager under leader
election in every `raftkube server`), with the test playing scheduler and kubelet: a fake node
marks each pod Running and Ready as it appears. A watcher samples every pod event during the
rollouts and checks the surge and availability bounds at each observed moment; the undo goes
through the real kubectl 1.32, then the raftkube CLI scales, rolls back and waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from raftkube.cli.rollout import rollout, scale
from raftkube.client import ApiClient, Informer
from raftkube.control import deployment_util as du
from raftkube.control.deployment_status import rollout_message
from raftkube.control.podutil import is_active, is_ready
from raftkube.control.runtime import controller_of
from tests.control.fake_nodes import Kubelet

from ..e2e.cluster import E2ECluster, Kubectl

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(150)]

Obj = dict[str, Any]
NS = "rollout"
POD, DEPLOYMENT, RS = ("v1", "Pod"), ("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet")


class PodWatcher:
    """Samples (active pods, ready pods) after every pod event, in the store's revision order."""

    def __init__(self, client: ApiClient) -> None:
        self.informer = Informer(client, POD, NS)
        self.informer.add_handlers(on_add=self._sample, on_update=lambda old, new: self._sample(new),
                                   on_delete=self._sample)
        self.bounds: tuple[int, int] | None = None  # (most pods, least ready) while checking
        self.samples: list[tuple[int, int]] = []
        self.violations: list[str] = []

    def _sample(self, _: Obj) -> None:
        if self.bounds is None or self.informer.relists != 1:
            return  # a relist's deltas are not states the store was in
        active = [p for p in self.informer.cache.list() if is_active(p)]
        ready = sum(1 for p in active if is_ready(p))
        self.samples.append((len(active), ready))
        most, least = self.bounds
        if len(active) > most or ready < least:
            self.violations.append(f"{len(active)} pods ({ready} ready) outside (<= {most}, ready >= {least})")


async def wait_for(client: ApiClient, check: Callable[[Obj], bool], what: str, timeout: float = 40.0) -> Obj:
    deadline = asyncio.get_running_loop().time() + timeout
    last: Obj = {}
    while asyncio.get_running_loop().time() < deadline:
        last = await client.get(DEPLOYMENT, "web", NS)
        if check(last):
            return last
        await asyncio.sleep(0.1)  # a bounded poll with a deadline
    raise AssertionError(f"{what}: not within {timeout} s; last status {last.get('status')}")


def rolled_out(d: Obj) -> bool:
    status = d.get("status") or {}
    return rollout_message(d)[1] and status.get("readyReplicas") == d["spec"]["replicas"]


async def owned_sets(client: ApiClient, uid: str) -> dict[int, Obj]:
    items = (await client.list(RS, NS)).get("items") or []
    return {du.revision(rs): rs for rs in items if (controller_of(rs) or {}).get("uid") == uid}


@contextlib.asynccontextmanager
async def control_plane(base: Path) -> AsyncIterator[tuple[E2ECluster, ApiClient]]:
    cluster = E2ECluster(base, controllers=True)
    await asyncio.to_thread(cluster.start)
    client = ApiClient(cluster.plane.api_urls, cluster.token, cluster.plane.ca_file, namespace=NS)
    try:
        yield cluster, client
    finally:
        await client.close()
        await asyncio.to_thread(cluster.close)


def raftkube_cli(cluster: E2ECluster, command: Any, *args: str) -> Result:
    def factory(kubeconfig: str | None, context: str | None) -> ApiClient:
        return ApiClient(cluster.plane.api_urls, cluster.token, cluster.plane.ca_file, namespace=NS)
    return CliRunner().invoke(command, list(args), obj={"client_factory": factory}, catch_exceptions=False)


DEPLOYMENT_BODY: Obj = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": NS, "annotations": {du.CHANGE_CAUSE: "create v1"}},
    "spec": {"replicas": 10, "selector": {"matchLabels": {"app": "web"}},  # default 25%/25%: surge 3, unavailable 2
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "example.local/web:v1"}]}}},
}


async def test_rollout_bounds_history_undo_and_cli(tmp_path: Path) -> None:
    async with control_plane(tmp_path / "plane") as (cluster, client):
        cluster.create_namespace(NS)
        node, watcher = Kubelet(client, NS), PodWatcher(client)  # scheduler and kubelet in one
        node.informer.start()
        watcher.informer.start()
        try:
            assert await node.informer.wait_synced(30) and await watcher.informer.wait_synced(30)
            created = await client.create(DEPLOYMENT, DEPLOYMENT_BODY, NS)
            uid = created["metadata"]["uid"]
            await wait_for(client, rolled_out, "10 replicas available")
            first = (await owned_sets(client, uid))[1]
            assert first["metadata"]["name"].startswith("web-")
            assert first["spec"]["selector"]["matchLabels"][du.HASH_LABEL] == \
                first["metadata"]["name"].removeprefix("web-")

            watcher.bounds = (13, 8)
            patch = {"metadata": {"annotations": {du.CHANGE_CAUSE: "image v2"}},
                     "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "example.local/web:v2"}]}}}}
            changed = await client.patch(DEPLOYMENT, "web", patch, NS, patch_type="strategic")
            await wait_for(client, lambda d: rolled_out(d) and d["status"]["observedGeneration"] >=
                           changed["metadata"]["generation"], "rolled out to v2")
            sets = await owned_sets(client, uid)
            assert sorted(sets) == [1, 2] and du.spec_replicas(sets[1]) == 0 and du.spec_replicas(sets[2]) == 10

            kubectl = Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=NS))
            history = (await asyncio.to_thread(kubectl, "rollout", "history", "deployment/web")).splitlines()
            assert [line.split(None, 1) for line in history[2:4]] == [["1", "create v1"], ["2", "image v2"]]
            undone = await asyncio.to_thread(kubectl, "rollout", "undo", "deployment/web")
            assert "rolled back" in undone
            status = await asyncio.to_thread(kubectl.run, "rollout", "status", "deployment/web", "--timeout=60s")
            assert status.returncode == 0 and "successfully rolled out" in status.stdout
            d = await wait_for(client, rolled_out, "undo rolled out")
            assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "example.local/web:v1"
            sets = await owned_sets(client, uid)
            assert sorted(sets) == [2, 3] and sets[3]["metadata"]["name"] == first["metadata"]["name"]
            assert d["metadata"]["annotations"][du.REVISION] == "3"
            watcher.bounds = None
            assert len(watcher.samples) > 40 and not watcher.violations, watcher.violations[:5]
            assert max(total for total, _ in watcher.samples) > 10  # it did surge

            result = await asyncio.to_thread(raftkube_cli, cluster, scale, "deployment/web", "--replicas", "4",
                                           "--current-replicas", "10")
            assert result.exit_code == 0 and result.output.strip() == "deployment.apps/web scaled"
            result = await asyncio.to_thread(raftkube_cli, cluster, rollout, "undo", "web", "--to-revision", "2")
            assert result.exit_code == 0 and "rolled back" in result.output, result.output
            result = await asyncio.to_thread(raftkube_cli, cluster, rollout, "status", "web", "--timeout", "1m")
            assert result.exit_code == 0 and 'deployment "web" successfully rolled out' in result.output
            result = await asyncio.to_thread(raftkube_cli, cluster, rollout, "history", "deployment/web")
            assert [line.split(None, 1) for line in result.output.splitlines()[2:4]] == [["3", "create v1"],
                                                                                          ["4", "image v2"]]
            d = await wait_for(client, rolled_out, "scaled to 4 on v2")
            assert d["spec"]["replicas"] == 4 and d["status"]["availableReplicas"] == 4
            assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "example.local/web:v2"
            conditions = {c["type"]: c["reason"] for c in d["status"]["conditions"]}
            assert conditions == {"Available": du.MIN_AVAILABLE, "Progressing": du.NEW_RS_AVAILABLE}

            events = (await client.list(("v1", "Event"), NS)).get("items") or []
            messages = {e["message"] for e in events if e["reason"] == "ScalingReplicaSet"
                        and e["involvedObject"]["name"] == "web"}
            assert f"Scaled up replica set {first['metadata']['name']} to 10" in messages
        finally:
            await watcher.informer.stop()
            await node.stop()
