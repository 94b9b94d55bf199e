"""The HPA's arithmetic: the replica calculator (ratio, tolerance, missing and unready pods, requests) and
normalization (300 s scale-down stabilization, the scale-up rate limit, min/max, behavior policies)."""

from __future__ import annotations

from typing import Any

import pytest

from raftkube.control.hpa_replicas import MetricsError, PodMetric, resource_replicas
from raftkube.control.hpa_scaling import ScalingHistory, default_behavior, normalize
from raftkube.machinery.times import rfc3339

Obj = dict[str, Any]
NOW = 1_700_000_000.0


def pod(name: str, request: str | None = "100m", phase: str = "Running", ready: bool = True,
        age: float = 3600.0) -> Obj:
    resources = {"requests": {"cpu": request}} if request else {}
    return {"metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": [{"name": "app", "image": "i", "resources": resources}]},
            "status": {"phase": phase, "startTime": rfc3339(NOW - age),
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": rfc3339(NOW - age + 5)}]}}


def metric(milli: int) -> PodMetric:
    return PodMetric(milli, NOW - 5, 15.0)


def test_desired_is_ceil_of_ratio_times_ready_pods() -> None:
    pods = [pod("a"), pod("b")]
    found = resource_replicas(2, 50, pods, {"a": metric(90), "b": metric(70)}, NOW)
    assert (found.replicas, found.utilization, found.milli_cores) == (4, 80, 80)  # ceil(80/50 * 2) = 4
    low = resource_replicas(4, 50, pods, {"a": metric(10), "b": metric(10)}, NOW)
    assert low.replicas == 1  # ceil(10/50 * 2)


def test_within_tolerance_keeps_the_count() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    found = resource_replicas(3, 50, pods, {"a": metric(54), "b": metric(54), "c": metric(54)}, NOW)
    assert found.replicas == 3 and found.utilization == 54  # 1.08: within 0.1


def test_missing_pods_count_against_the_direction() -> None:
    pods = [pod("a"), pod("b"), pod("c"), pod("d")]
    # scale up: the two pods without metrics count as 0% -> (100+100+0+0)/400 = 50% of a 25% target: 2x
    up = resource_replicas(4, 25, pods, {"a": metric(100), "b": metric(100)}, NOW)
    assert up.replicas == 8
    # scale down: missing pods count as 100% of their request, which flips the direction: keep 4
    down = resource_replicas(4, 50, pods, {"a": metric(10), "b": metric(10)}, NOW)
    assert down.replicas == 4


def test_unready_and_pending_pods_do_not_push_a_scale_up() -> None:
    pods = [pod("a"), pod("b", ready=False, age=60), pod("c", phase="Pending")]
    found = resource_replicas(3, 50, pods, {"a": metric(100), "b": metric(100)}, NOW)
    # only `a` counts (200%); with b and c at 0%: 100/300 = 33% of 50%: below 1, so no change
    assert found.replicas == 3


def test_deleted_and_failed_pods_are_ignored() -> None:
    gone = pod("b")
    gone["metadata"]["deletionTimestamp"] = rfc3339(NOW)
    found = resource_replicas(2, 50, [pod("a"), gone, pod("c", phase="Failed")], {"a": metric(100)}, NOW)
    assert found.replicas == 2 and found.utilization == 100


def test_errors_name_what_is_missing() -> None:
    with pytest.raises(MetricsError, match="missing request for cpu in container app of Pod a"):
        resource_replicas(1, 50, [pod("a", request=None)], {"a": metric(10)}, NOW)
    with pytest.raises(MetricsError, match="did not receive metrics for targeted pods"):
        resource_replicas(1, 50, [pod("a", phase="Pending")], {}, NOW)
    with pytest.raises(MetricsError, match="no pods returned by selector"):
        resource_replicas(1, 50, [], {}, NOW)


def test_scale_down_is_stabilized_for_300_seconds() -> None:
    history = ScalingHistory()
    assert normalize(history, NOW, 5, 5, 1, 10, None).replicas == 5
    held = normalize(history, NOW + 60, 5, 2, 1, 10, None)
    assert held.replicas == 5 and held.able_reason == "ScaleDownStabilized"
    assert normalize(history, NOW + 299, 5, 2, 1, 10, None).replicas == 5
    after = normalize(history, NOW + 361, 5, 2, 1, 10, None)  # the recommendation of 5 is older than 300 s
    assert after.replicas == 2 and after.able_reason == "ReadyForNewScale" and not after.limited


def test_scale_up_rate_and_bounds() -> None:
    fast = normalize(ScalingHistory(), NOW, 2, 20, 1, 30, None)
    assert fast.replicas == 4 and fast.limited and fast.limited_reason == "ScaleUpLimit"  # max(2*2, 4)
    capped = normalize(ScalingHistory(), NOW, 2, 20, 1, 3, None)
    assert capped.replicas == 3 and capped.limited_reason == "TooManyReplicas"
    floor = normalize(ScalingHistory(), NOW, 3, 1, 2, 5, None)
    assert floor.replicas == 2 and floor.limited_reason == "TooFewReplicas"
    inside = normalize(ScalingHistory(), NOW, 3, 4, 1, 5, None)
    assert inside.replicas == 4 and not inside.limited and inside.limited_reason == "DesiredWithinRange"


def test_behavior_policies_limit_each_period() -> None:
    behavior = default_behavior({"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
                                 "scaleDown": {"stabilizationWindowSeconds": 0,
                                               "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]}})
    assert behavior is not None and behavior["scaleUp"]["selectPolicy"] == "Max"
    history = ScalingHistory()
    first = normalize(history, NOW, 2, 6, 1, 10, behavior)
    assert first.replicas == 3 and first.limited_reason == "ScaleUpLimit"
    history.record_scale(NOW, 2, 3, 1800)
    again = normalize(history, NOW + 30, 3, 6, 1, 10, behavior)  # one pod added in this minute already
    assert again.replicas == 3
    later = normalize(history, NOW + 61, 3, 6, 1, 10, behavior)
    assert later.replicas == 4
    down = normalize(ScalingHistory(), NOW, 8, 1, 1, 10, behavior)
    assert down.replicas == 4 and down.limited_reason == "ScaleDownLimit"  # 50% per minute
    disabled = default_behavior({"scaleDown": {"selectPolicy": "Disabled"}})
    assert normalize(ScalingHistory(), NOW, 8, 1, 1, 10, disabled).replicas == 8


def test_default_behavior_matches_kubernetes() -> None:
    assert default_behavior(None) is None
    behavior = default_behavior({})
    assert behavior == {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                      "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}
