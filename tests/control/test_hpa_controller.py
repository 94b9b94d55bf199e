"""The HPA controller's passes with an injected metrics source and clock (no sleeping): it reads /scale,
scales up on high CPU, holds a scale-down for the 300 s window, respects maxReplicas, and reports status,
conditions and events; missing requests and a missing target are conditions, not crashes."""

from __future__ import annotations

from typing import Any

from raftkube.client import NotFound
from raftkube.client.cache import Cache, index_by_namespace
from raftkube.control.hpa import HorizontalPodAutoscalerController
from raftkube.control.hpa_replicas import PodMetric
from raftkube.machinery.times import rfc3339

Obj = dict[str, Any]
T0 = 1_700_000_000.0
DEPLOY = ("apps/v1", "Deployment")


class FakeInformer:
    def __init__(self) -> None:
        self.cache = Cache({"namespace": index_by_namespace})

    def add_handlers(self, **handlers: Any) -> None:
        pass


class FakeInformers:
    def __init__(self) -> None:
        self.informers: dict[tuple[str, str], FakeInformer] = {}

    def get(self, api_version: str, kind: str) -> FakeInformer:
        return self.informers.setdefault((api_version, kind), FakeInformer())


class FakeClient:
    """A Deployment's /scale, and the writes the controller makes."""

    def __init__(self, replicas: int) -> None:
        self.replicas = replicas
        self.patches: list[int] = []
        self.statuses: list[Obj] = []
        self.missing = False

    async def get(self, ref: Any, name: str, namespace: str | None = None, *, subresource: str | None = None) -> Obj:
        if self.missing or ref != DEPLOY or subresource != "scale":
            raise NotFound(message=f'deployments.apps "{name}" not found')
        return {"kind": "Scale", "spec": {"replicas": self.replicas}, "status": {"selector": "app=web"}}

    async def patch(self, ref: Any, name: str, patch: Obj, namespace: str | None = None, **kw: Any) -> Obj:
        self.replicas = patch["spec"]["replicas"]
        self.patches.append(self.replicas)
        return {}

    async def update_status(self, ref: Any, body: Obj, namespace: str | None = None, **kw: Any) -> Obj:
        self.statuses.append(body["status"])
        return body


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))


class FakeMetrics:
    def __init__(self) -> None:
        self.milli: dict[str, int] = {}
        self.now = T0

    async def pod_metrics(self, namespace: str, selector: str) -> dict[str, PodMetric]:
        assert selector == "app=web"
        return {name: PodMetric(m, self.now - 5, 15) for name, m in self.milli.items()}


def hpa(max_replicas: int = 10) -> Obj:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "ns", "uid": "hpa-uid", "generation": 1},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": max_replicas,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}}]}}


def pod(name: str, request: str | None = "100m") -> Obj:
    resources = {"requests": {"cpu": request}} if request else {}
    return {"metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "i", "resources": resources}]},
            "status": {"phase": "Running", "startTime": rfc3339(T0 - 3600),
                       "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(T0 - 3500)}]}}


class World:
    def __init__(self, replicas: int, max_replicas: int = 10) -> None:
        self.client, self.metrics, self.recorder = FakeClient(replicas), FakeMetrics(), FakeRecorder()
        self.informers, self.clock = FakeInformers(), [T0]
        self.controller = HorizontalPodAutoscalerController(
            self.client, self.informers, self.recorder, metrics=self.metrics,  # type: ignore[arg-type]
            clock=lambda: self.clock[0])
        self.hpa = hpa(max_replicas)
        self.informers.get("autoscaling/v2", "HorizontalPodAutoscaler").cache.put(self.hpa)

    def pods(self, *pods: Obj) -> None:
        cache = self.informers.get("v1", "Pod").cache
        for key in cache.keys():
            cache.remove(key)
        for p in pods:
            cache.put(p)

    async def sync(self, at: float) -> Obj:
        self.clock[0] = self.metrics.now = at
        await self.controller.sync("ns/web", self.hpa)
        self.hpa = {**self.hpa, "status": self.client.statuses[-1]}
        return self.hpa["status"]


def conditions(status: Obj) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


async def test_scales_up_then_holds_the_scale_down_for_the_window() -> None:
    world = World(replicas=2)
    world.pods(pod("web-0"), pod("web-1"))
    world.metrics.milli = {"web-0": 90, "web-1": 70}
    status = await world.sync(T0)
    assert world.client.patches == [4]  # 80% of a 50% target on 2 pods: ceil(1.6 * 2)
    assert (status["currentReplicas"], status["desiredReplicas"]) == (2, 4)
    assert status["currentMetrics"] == [{"type": "Resource", "resource": {"name": "cpu", "current": {
        "averageUtilization": 80, "averageValue": "80m"}}}]
    assert conditions(status) == {"AbleToScale": ("True", "SucceededRescale"),
                                  "ScalingActive": ("True", "ValidMetricFound"),
                                  "ScalingLimited": ("False", "DesiredWithinRange")}
    assert status["lastScaleTime"] == rfc3339(T0)
    reason = "cpu resource utilization (percentage of request) above target"
    assert world.recorder.events[-1] == ("Normal", "SuccessfulRescale", f"New size: 4; reason: {reason}")
    world.pods(*(pod(f"web-{i}") for i in range(4)))
    world.metrics.milli = {f"web-{i}": 10 for i in range(4)}
    held = await world.sync(T0 + 60)
    assert world.client.patches == [4] and held["desiredReplicas"] == 4
    assert conditions(held)["AbleToScale"] == ("True", "ScaleDownStabilized")
    await world.sync(T0 + 290)
    assert world.client.patches == [4]
    down = await world.sync(T0 + 301)  # the recommendation of 4 (at T0) left the 300 s window
    assert world.client.patches == [4, 1] and down["desiredReplicas"] == 1 and down["currentReplicas"] == 4
    assert world.recorder.events[-1][2] == "New size: 1; reason: All metrics below target"


async def test_max_replicas_and_within_tolerance() -> None:
    world = World(replicas=3, max_replicas=5)
    world.pods(*(pod(f"web-{i}") for i in range(3)))
    world.metrics.milli = {f"web-{i}": 52 for i in range(3)}
    steady = await world.sync(T0)
    assert world.client.patches == [] and steady["desiredReplicas"] == 3
    assert conditions(steady)["AbleToScale"] == ("True", "ReadyForNewScale")
    world.metrics.milli = {f"web-{i}": 400 for i in range(3)}
    capped = await world.sync(T0 + 15)
    assert world.client.patches == [5] and conditions(capped)["ScalingLimited"] == ("True", "TooManyReplicas")


async def test_missing_requests_and_targets_are_conditions() -> None:
    world = World(replicas=2)
    world.pods(pod("web-0", request=None), pod("web-1"))
    world.metrics.milli = {"web-0": 90, "web-1": 70}
    status = await world.sync(T0)
    assert world.client.patches == []
    assert conditions(status)["ScalingActive"] == ("False", "FailedGetResourceMetric")
    assert "missing request for cpu in container app of Pod web-0" in next(
        c["message"] for c in status["conditions"] if c["type"] == "ScalingActive")
    assert status["currentReplicas"] == 2
    world.client.missing = True
    status = await world.sync(T0 + 15)
    assert conditions(status)["AbleToScale"] == ("False", "FailedGetScale")
    assert world.recorder.events[-1][:2] == ("Warning", "FailedGetScale")


async def test_below_min_replicas_scales_to_min_without_metrics() -> None:
    world = World(replicas=1)
    world.hpa["spec"]["minReplicas"] = 3
    world.pods(pod("web-0"))
    await world.sync(T0)
    assert world.client.patches == [3]
    assert world.recorder.events[-1][2] == "New size: 3; reason: Current number of replicas below Spec.MinReplicas"
