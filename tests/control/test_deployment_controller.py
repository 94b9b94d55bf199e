"""The Deployment controller's wiring and the rollout CLI against the in-memory fake API: writes are
conditional and safe to repeat (a second create is AlreadyExists, a stale update a Conflict), a
name taken by another template bumps collisionCount, and kubectl's rollout messages."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from click.testing import CliRunner

from raftkube.cli.rollout import rollout, scale
from raftkube.client import ApiClient, Conflict, RetryPolicy
from raftkube.control import deployment_util as du
from raftkube.control.deployment import DeploymentController, PendingWrites
from raftkube.control.deployment_plan import DeploymentPlan
from raftkube.control.manager import default_factories
from raftkube.control.runtime import SharedInformers
from tests.control.deployment_world import deployment

from ..client.cli_harness import invoke
from ..client.fake_api import FakeApi
from ..client.test_api_client import Sleeps

Obj = dict[str, Any]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def record(self, obj: Obj, kind: str, reason: str, message: str) -> None:
        self.events.append((kind, reason, message))


def seeded(**spec: Any) -> tuple[FakeApi, Obj]:
    fake = FakeApi()
    d = deployment(3)
    d["spec"].update(spec)
    d["metadata"].pop("uid")
    d["metadata"].pop("resourceVersion")
    return fake, fake.seed(d)


async def until(check: Any, what: str) -> None:
    for _ in range(500):  # bounded: 5 s at most
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(what)


def test_registered_in_the_controller_manager() -> None:
    assert DeploymentController in default_factories()


async def test_reconcile_creates_once_and_waits_for_its_writes_to_be_seen() -> None:
    fake, d = seeded()
    client = ApiClient(fake.urls(), "t0k", transport=fake.transport(), sleep=Sleeps(), namespace="ns",
                       retry=RetryPolicy(max_attempts=3, jitter=0))
    informers = SharedInformers(client)
    recorder = Recorder()
    controller = DeploymentController(client, informers, recorder)  # type: ignore[arg-type]
    await informers.start(5)
    try:
        requeue = await controller.reconcile("ns/web")  # to notice a stuck rollout at its deadline
        assert requeue is not None and 590 < requeue <= 601
        name = f"web-{du.template_hash(d['spec']['template'])}"
        posts = [b for m, _, b in fake.bodies if m == "POST"]
        assert [b["metadata"]["name"] for b in posts] == [name]
        assert recorder.events == [("Normal", "ScalingReplicaSet", f"Scaled up replica set {name} to 3")]
        stored = fake.objects[("deployments", "ns", "web")]
        assert stored["metadata"]["annotations"][du.REVISION] == "1"
        assert du.get_condition(stored["status"], du.PROGRESSING)["reason"] == du.NEW_RS_CREATED
        await until(lambda: controller.sets.cache.get_by_name(name, "ns") is not None
                    and controller.deployments.cache.get_by_name("web", "ns")["status"], "caches caught up")
        writes = len(fake.bodies)
        await controller.reconcile("ns/web")
        assert len(fake.bodies) == writes  # nothing new to do, nothing written twice

        # the same plan applied again (as after a crash before the cache caught up): no twin, no error
        plan = DeploymentPlan(create=copy.deepcopy(fake.objects[("replicasets", "ns", name)]))
        live = controller.deployments.cache.get_by_name("web", "ns")
        await controller._apply(live, plan, PendingWrites())
        assert len([m for m, _, _ in fake.bodies if m == "POST"]) == 2
        assert "collisionCount" not in fake.objects[("deployments", "ns", "web")]["status"]

        stale = copy.deepcopy(fake.objects[("replicasets", "ns", name)])
        fake.put({**stale, "spec": {**stale["spec"], "replicas": 5}})
        with pytest.raises(Conflict):
            await controller._apply(live, DeploymentPlan(update=[stale]), PendingWrites())
    finally:
        await informers.stop()
        await client.close()


async def test_a_name_taken_by_another_template_counts_a_collision() -> None:
    fake, d = seeded()
    client = ApiClient(fake.urls(), "t0k", transport=fake.transport(), sleep=Sleeps(), namespace="ns")
    name = f"web-{du.template_hash(d['spec']['template'])}"
    other = deployment(1, image="other")
    squatter = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "ns"},
                "spec": {**other["spec"], "selector": {"matchLabels": {"app": "other"}}}}
    controller = DeploymentController(client, SharedInformers(client), Recorder())  # type: ignore[arg-type]
    plan = DeploymentPlan(create={"metadata": {"name": name}, "spec": {}})
    fake.seed(squatter)
    await controller._apply(d, plan, PendingWrites())
    assert fake.objects[("deployments", "ns", "web")]["status"]["collisionCount"] == 1
    await client.close()


# -- the CLI ------------------------------------------------------------------------------------

def with_sets() -> tuple[FakeApi, Obj]:
    fake, d = seeded()
    owner = du.owner_ref(d)
    for revision, image, cause in ((1, "web:v1", "first"), (2, "web:v2", "second")):
        template = copy.deepcopy(d["spec"]["template"])
        template["spec"]["containers"][0]["image"] = image
        template["metadata"]["labels"][du.HASH_LABEL] = f"h{revision}"
        fake.seed({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": f"web-h{revision}", "namespace": "ns", "ownerReferences": [owner],
                                "annotations": {du.REVISION: str(revision), du.CHANGE_CAUSE: cause,
                                                du.DESIRED_REPLICAS: "3"}},
                   "spec": {"replicas": 3 if revision == 2 else 0, "template": template}})
    fake.seed({"apiVersion": "apps/v1", "kind": "ReplicaSet",  # someone else's: not in the history
               "metadata": {"name": "stray", "namespace": "ns", "annotations": {du.REVISION: "9"}}, "spec": {}})
    live = fake.objects[("deployments", "ns", "web")]
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "web:v2"
    return fake, live


def test_history_lists_owned_revisions_with_change_cause() -> None:
    fake, _ = with_sets()
    result = invoke(fake, rollout, ["history", "deployment/web"], namespace="ns")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["deployment.apps/web ", "REVISION  CHANGE-CAUSE", "1         first",
                                          "2         second", ""]
    one = invoke(fake, rollout, ["history", "web", "--revision", "1"], namespace="ns")
    assert one.output.startswith("deployment.apps/web with revision #1\nPod Template:\n") and "web:v1" in one.output


def test_undo_puts_the_previous_template_back_without_the_hash() -> None:
    fake, _ = with_sets()
    result = invoke(fake, rollout, ["undo", "deployment", "web"], namespace="ns")
    assert result.exit_code == 0 and result.output == "deployment.apps/web rolled back\n"
    method, ctype, patch = fake.bodies[-1]
    assert (method, ctype) == ("PATCH", "application/json-patch+json")
    d = fake.objects[("deployments", "ns", "web")]
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "web:v1"
    assert du.HASH_LABEL not in d["spec"]["template"]["metadata"]["labels"]
    assert d["metadata"]["annotations"] == {du.CHANGE_CAUSE: "first"}
    again = invoke(fake, rollout, ["undo", "web", "--to-revision", "1"], namespace="ns")
    assert "skipped rollback (current template already matches revision 1)" in again.output
    missing = invoke(fake, rollout, ["undo", "web", "--to-revision", "7"], namespace="ns")
    assert missing.exit_code == 1 and "unable to find specified revision 7 in history" in missing.output


def test_undo_refuses_paused_and_historyless_deployments() -> None:
    fake, live = with_sets()
    fake.put({**live, "spec": {**live["spec"], "paused": True}})
    paused = invoke(fake, rollout, ["undo", "web"], namespace="ns")
    assert paused.exit_code == 1 and "you cannot rollback a paused deployment" in paused.output
    bare, _ = seeded()
    none = invoke(bare, rollout, ["undo", "web"], namespace="ns")
    assert none.exit_code == 1 and 'no rollout history found for deployment "web"' in none.output
    wrong = invoke(bare, rollout, ["status", "pods/web"], namespace="ns")
    assert wrong.exit_code == 1 and "only deployments" in wrong.output


def test_status_messages_and_exit_codes() -> None:
    fake, live = with_sets()
    status = {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}
    fake.put({**live, "status": status})
    done = invoke(fake, rollout, ["status", "deployment/web"], namespace="ns")
    assert done.exit_code == 0 and done.output == 'deployment "web" successfully rolled out\n'
    fake.put({**live, "status": {**status, "updatedReplicas": 1}})
    waiting = invoke(fake, rollout, ["status", "web", "--no-watch"], namespace="ns")
    assert waiting.exit_code == 0
    assert waiting.output == 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been ' \
                             "updated...\n"
    stuck = {**status, "updatedReplicas": 1, "conditions": [{"type": "Progressing", "status": "False",
                                                             "reason": du.TIMED_OUT}]}
    fake.put({**live, "status": stuck})
    failed = invoke(fake, rollout, ["status", "web"], namespace="ns")
    assert failed.exit_code == 1 and 'error: deployment "web" exceeded its progress deadline' in failed.output
    bad = CliRunner().invoke(rollout, ["status", "web", "--timeout", "soon"])
    assert bad.exit_code == 2 and "invalid duration 'soon'" in bad.output


def test_scale_patches_the_scale_subresource() -> None:
    fake, _ = with_sets()
    result = invoke(fake, scale, ["deployment/web", "--replicas", "5"], namespace="ns")
    assert result.exit_code == 0 and result.output == "deployment.apps/web scaled\n"
    method, ctype, body = fake.bodies[-1]
    assert (method, ctype, body) == ("PATCH", "application/merge-patch+json", {"spec": {"replicas": 5}})
    mismatch = invoke(fake, scale, ["deployment", "web", "--replicas", "2", "--current-replicas", "9"], namespace="ns")
    assert mismatch.exit_code == 1 and "Expected replicas to be 9, was 5" in mismatch.output
    refused = invoke(fake, scale, ["configmap/x", "--replicas", "1"], namespace="ns")
    assert refused.exit_code == 1 and "no scale subresource" in refused.output
