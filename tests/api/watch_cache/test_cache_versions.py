"""One cache serves every version of a resource: it holds the stored form and converts on the way out,
so an autoscaling/v1 list or watch after an autoscaling/v2 one made the cache still speaks v1 (and the
reverse), as the store path does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from raftkube.api.resources import find
from raftkube.api.storage import WatchEvent
from tests.api.watch_cache.conftest import CacheWorld

HPA_V1, HPA_V2 = find("autoscaling", "v1", "horizontalpodautoscalers"), find("autoscaling", "v2",
                                                                            "horizontalpodautoscalers")
assert HPA_V1 is not None and HPA_V2 is not None


def hpa(name: str, percent: int) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": "hpa"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 4, "targetCPUUtilizationPercentage": percent}}


def shape(obj: dict[str, Any]) -> tuple[str, Any]:
    spec = obj["spec"]
    if obj["apiVersion"] == "autoscaling/v1":
        return "v1", spec.get("targetCPUUtilizationPercentage")
    return "v2", [m["resource"]["target"]["averageUtilization"] for m in spec.get("metrics", [])]


async def first(events: AsyncIterator[WatchEvent]) -> WatchEvent:
    async for event in events:
        if event.type != "BOOKMARK":
            return event
    raise AssertionError("the watch ended")


def test_lists_and_watches_from_one_cache_speak_the_version_asked_for(world: CacheWorld) -> None:
    async def scenario() -> None:
        await world.storage.create(HPA_V1, hpa("a", 60))
        assert [shape(o) for o in (await world.cached.list(HPA_V1, "hpa")).items] == [("v1", 60)]  # makes the cache
        v2 = await world.cached.list(HPA_V2, "hpa")
        assert [shape(o) for o in v2.items] == [("v2", [60])]
        v1 = await world.cached.list(HPA_V1, "hpa")
        assert world.cached.from_cache >= 2 and [shape(o) for o in v1.items] == [("v1", 60)]
        assert v1.items == (await world.direct.list(HPA_V1, "hpa")).items  # as the store path serves it
        start = await world.revision() + 1
        await world.storage.create(HPA_V1, hpa("b", 70))
        assert shape((await first(world.cached.watch(HPA_V1, "hpa", start))).object or {}) == ("v1", 70)
        assert shape((await first(world.cached.watch(HPA_V2, "hpa", start))).object or {}) == ("v2", [70])
        again = await world.cached.list(HPA_V2, "hpa")
        assert sorted(shape(o) for o in again.items) == [("v2", [60]), ("v2", [70])]  # the cache was not changed
    world.run(scenario())
