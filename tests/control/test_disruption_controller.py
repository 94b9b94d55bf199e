"""The disruption controller against the in-memory fake API: expectedPods from the controllers' scale,
a Deployment counted once though its rollout has two ReplicaSets, and a pod without a controller
making the budget SyncFailed with the NoControllers event."""

from __future__ import annotations

from typing import Any

from raftkube.client import ApiClient, RetryPolicy
from raftkube.control.disruption import DisruptionController
from raftkube.control.manager import default_factories
from raftkube.control.runtime import SharedInformers

from ..client.fake_api import FakeApi
from ..client.test_api_client import Sleeps

Obj = dict[str, Any]


class Recorder:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        self.reasons.append(reason)


def owned(api_version: str, kind: str, name: str, owner: Obj | None = None, **spec: Any) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": f"uid-{name}"}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                    "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                    "controller": True}]
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec}


def ready_pod(name: str, owner: Obj | None) -> Obj:
    pod = owned("v1", "Pod", name, owner)
    pod["metadata"]["labels"] = {"app": "web"}
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return pod


async def run(fake: FakeApi) -> tuple[Obj, Recorder]:
    client = ApiClient(fake.urls(), "t0k", transport=fake.transport(), sleep=Sleeps(),
                       retry=RetryPolicy(max_attempts=3, jitter=0))
    informers = SharedInformers(client)
    recorder = Recorder()
    controller = DisruptionController(client, informers, recorder)  # type: ignore[arg-type]
    await informers.start(5)
    try:
        await controller.reconcile("ns/web")
    finally:
        await informers.stop()
        await client.close()
    return fake.objects[("poddisruptionbudgets", "ns", "web")]["status"], recorder


def budget(**spec: Any) -> Obj:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "ns", "uid": "pdb-uid", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}, "status": {}}


async def test_a_deployment_mid_rollout_counts_once() -> None:
    fake = FakeApi()
    deploy = fake.seed(owned("apps/v1", "Deployment", "web", replicas=4))
    old = fake.seed(owned("apps/v1", "ReplicaSet", "web-old", deploy, replicas=2))
    new = fake.seed(owned("apps/v1", "ReplicaSet", "web-new", deploy, replicas=2))
    for i, rs in enumerate((old, old, new, new)):
        fake.seed(ready_pod(f"p{i}", rs))
    fake.seed(budget(maxUnavailable=1))
    status, _ = await run(fake)
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"],
            status["disruptionsAllowed"]) == (4, 3, 4, 1)
    assert status["conditions"][0]["reason"] == "SufficientPods"


async def test_a_pod_without_controller_fails_the_sync() -> None:
    fake = FakeApi()
    fake.seed(ready_pod("bare", None))
    fake.seed(budget(minAvailable="50%"))
    status, recorder = await run(fake)
    assert status["disruptionsAllowed"] == 0 and status["conditions"][0]["reason"] == "SyncFailed"
    assert recorder.reasons == ["NoControllers"]
    assert DisruptionController in default_factories()
