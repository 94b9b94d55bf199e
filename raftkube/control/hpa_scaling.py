"""From a metric's recommendation to the replica count the HPA sets: Kubernetes' normalization
(pkg/controller/podautoscaler/horizontal.go), with the conditions it reports.

Without `spec.behavior`: the highest recommendation of the last 300 s is used (scale-down
stabilization), the scale-up rate is limited to max(2 x current, 4), then min/max replicas apply.
With `spec.behavior` (defaults from the API: scale-up no window, 100% or 4 pods per 15 s, the
larger; scale-down a 300 s window, 100% per 15 s): the recommendation is held between the lowest
of the scale-up window and the highest of the scale-down window, then each direction's policies
limit the change against what already changed within each policy's period (`selectPolicy` Max,
Min or Disabled). History is per HPA and kept in memory, as in kube-controller-manager; `now` is
passed in (the controller's clock), so tests need no sleeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
WITHIN_RANGE = ("DesiredWithinRange", "the desired count is within the acceptable range")
SCALE_UP_LIMIT = ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
SCALE_DOWN_LIMIT = ("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")


@dataclass
class Normalized:
    replicas: int
    able_reason: str
    able_message: str
    limited: bool
    limited_reason: str
    limited_message: str


@dataclass
class ScalingHistory:
    """One HPA's recent recommendations and (with behavior) scale events: (time, replicas or change)."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_ups: list[tuple[float, int]] = field(default_factory=list)
    scale_downs: list[tuple[float, int]] = field(default_factory=list)

    def record(self, now: float, recommendation: int, keep: float) -> None:
        self.recommendations = [r for r in self.recommendations if r[0] >= now - keep] + [(now, recommendation)]

    def record_scale(self, now: float, before: int, after: int, keep: float) -> None:
        events = self.scale_ups if after > before else self.scale_downs
        events.append((now, abs(after - before)))
        for log in (self.scale_ups, self.scale_downs):
            log[:] = [e for e in log if e[0] >= now - keep]


def _changed_within(events: list[tuple[float, int]], period: float, now: float) -> int:
    return sum(change for at, change in events if at > now - period)


def _limits(desired: int, lowest: int, highest: int, max_reason: tuple[str, str], min_reason: tuple[str, str],
            stabilized: int) -> Normalized:
    if desired < lowest:
        return Normalized(lowest, "", "", lowest != stabilized, *min_reason)
    if desired > highest:
        return Normalized(highest, "", "", highest != stabilized, *max_reason)
    return Normalized(desired, "", "", False, *WITHIN_RANGE)


def normalize(history: ScalingHistory, now: float, current: int, desired: int, min_replicas: int,
              max_replicas: int, behavior: Obj | None) -> Normalized:
    if behavior is None:
        return _without_behavior(history, now, current, desired, min_replicas, max_replicas)
    return _with_behavior(history, now, current, desired, min_replicas, max_replicas, behavior)


def _without_behavior(history: ScalingHistory, now: float, current: int, desired: int, min_replicas: int,
                      max_replicas: int) -> Normalized:
    recent = [r for at, r in history.recommendations if at >= now - DOWNSCALE_STABILIZATION]
    stabilized = max([desired, *recent])
    history.record(now, desired, DOWNSCALE_STABILIZATION)
    if stabilized != desired:
        able = ("ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest "
                                       "recent recommendation")
    else:
        able = ("ReadyForNewScale", "recommended size matches current size")
    scale_up_limit = max(2 * current, 4)
    lowest, min_reason = (1, ("TooFewReplicas", "the desired replica count is zero")) if min_replicas == 0 else (
        min_replicas, TOO_FEW)
    highest, max_reason = (scale_up_limit, SCALE_UP_LIMIT) if max_replicas > scale_up_limit else (max_replicas,
                                                                                                  TOO_MANY)
    out = _limits(stabilized, lowest, highest, max_reason, min_reason, stabilized)
    out.able_reason, out.able_message = able
    return out


def _rules(behavior: Obj, direction: str) -> Obj:
    return behavior.get(direction) or {}


def _policy_limit(current: int, history: ScalingHistory, now: float, rules: Obj, up: bool) -> int:
    select = rules.get("selectPolicy", "Max")
    if select == "Disabled":
        return current
    pick_larger = (select != "Min") if up else (select == "Min")
    result: int | None = None
    for policy in rules.get("policies") or []:
        period, value = float(policy.get("periodSeconds", 15)), int(policy.get("value", 0))
        start = current - _changed_within(history.scale_ups, period, now) + _changed_within(history.scale_downs,
                                                                                            period, now)
        if policy.get("type") == "Pods":
            proposed = start + value if up else start - value
        elif up:
            proposed = math.ceil(start * (1 + value / 100))
        else:
            proposed = int(start * (1 - value / 100))
        result = proposed if result is None else (max(result, proposed) if pick_larger else min(result, proposed))
    return current if result is None else result


def _with_behavior(history: ScalingHistory, now: float, current: int, desired: int, min_replicas: int,
                   max_replicas: int, behavior: Obj) -> Normalized:
    up_rules, down_rules = _rules(behavior, "scaleUp"), _rules(behavior, "scaleDown")
    up_window = float(up_rules.get("stabilizationWindowSeconds", 0))
    down_window = float(down_rules.get("stabilizationWindowSeconds", DOWNSCALE_STABILIZATION))
    up_recommendation = min([desired, *(r for at, r in history.recommendations if at > now - up_window)])
    down_recommendation = max([desired, *(r for at, r in history.recommendations if at > now - down_window)])
    stabilized = min(max(current, up_recommendation), down_recommendation)
    history.record(now, desired, max(up_window, down_window))
    if stabilized == desired:
        able = ("ReadyForNewScale", "recommended size matches current size")
    elif desired >= current:
        able = ("ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest "
                                     "recent recommendation")
    else:
        able = ("ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest "
                                       "recent recommendation")
    if stabilized > current:
        limit = max(_policy_limit(current, history, now, up_rules, True), current)
        highest, reason = (limit, SCALE_UP_LIMIT) if max_replicas > limit else (max_replicas, TOO_MANY)
        out = _limits(stabilized, 0, highest, reason, WITHIN_RANGE, stabilized)
    elif stabilized < current:
        limit = min(_policy_limit(current, history, now, down_rules, False), current)
        lowest, reason = (limit, SCALE_DOWN_LIMIT) if min_replicas < limit else (min_replicas, TOO_FEW)
        out = _limits(stabilized, lowest, stabilized, WITHIN_RANGE, reason, stabilized)
    else:
        out = Normalized(stabilized, "", "", False, *WITHIN_RANGE)
    out.able_reason, out.able_message = able
    return out


def default_behavior(behavior: Obj | None) -> Obj | None:
    """autoscaling/v2's defaults for a behavior that is given (SetDefaults_HorizontalPodAutoscalerBehavior)."""
    if behavior is None:
        return None
    up = dict(behavior.get("scaleUp") or {})
    up.setdefault("stabilizationWindowSeconds", 0)
    up.setdefault("selectPolicy", "Max")
    up.setdefault("policies", [{"type": "Pods", "value": 4, "periodSeconds": 15},
                               {"type": "Percent", "value": 100, "periodSeconds": 15}])
    down = dict(behavior.get("scaleDown") or {})
    down.setdefault("stabilizationWindowSeconds", int(DOWNSCALE_STABILIZATION))
    down.setdefault("selectPolicy", "Max")
    down.setdefault("policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])
    return {**behavior, "scaleUp": up, "scaleDown": down}
