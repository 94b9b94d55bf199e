"""The HorizontalPodAutoscaler controller (autoscaling/v2, CPU utilization): every 15 s per HPA, as
kube-controller-manager's horizontal-pod-autoscaler, it reads the target's `/scale` (replicas and
the pod selector), the pods and their CPU usage from metrics.k8s.io, computes the replica count
(hpa_replicas.py), normalizes it (hpa_scaling.py: stabilization, rate limits, min/max), updates
`/scale` when it changes and writes the status (currentReplicas, desiredReplicas, currentMetrics,
lastScaleTime and the AbleToScale, ScalingActive, ScalingLimited conditions) with Events
SuccessfulRescale / FailedGetScale / FailedGetResourceMetric.

The metrics source and the clock are injected (`MetricsSource`, `clock`), so tests drive it
without metrics-server and without sleeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..client import ApiClient, ApiError, Conflict, NotFound
from ..client.events import EventRecorder
from ..machinery.labels import SelectorError, parse_label_selector
from ..machinery.quantity import parse_quantity
from ..machinery.times import parse_rfc3339, rfc3339
from .hpa_replicas import MetricsError, PodMetric, resource_replicas
from .hpa_scaling import ScalingHistory, default_behavior, normalize
from .runtime import Controller, SharedInformers, on_change, split_key

log = logging.getLogger(__name__)
Obj = dict[str, Any]
HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")
POD = ("v1", "Pod")
SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period


class MetricsSource(Protocol):
    async def pod_metrics(self, namespace: str, selector: str) -> dict[str, PodMetric]:
        """CPU usage per pod name (millicores, sample time and window) of the pods the selector matches."""


def _seconds(window: str) -> float:
    try:
        return float(window.rstrip("s")) if window.endswith("s") else float(window)
    except ValueError:
        return 0.0


class ApiMetrics:
    """The metrics.k8s.io API (raftkube's API server answers it from the agents, api/metrics_api.py)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def pod_metrics(self, namespace: str, selector: str) -> dict[str, PodMetric]:
        answer = await self.client.request("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods",
                                           params={"labelSelector": selector or None})
        out = {}
        for item in (answer or {}).get("items") or []:
            milli = sum(parse_quantity(c["usage"]["cpu"]) * 1000 for c in item.get("containers") or [])
            out[item["metadata"]["name"]] = PodMetric(int(milli), parse_rfc3339(item.get("timestamp")) or 0.0,
                                                      _seconds(str(item.get("window", "0s"))))
        return out


def set_condition(status: Obj, kind: str, value: bool, reason: str, message: str, now: float) -> None:
    conditions = status.setdefault("conditions", [])
    old = next((c for c in conditions if c.get("type") == kind), None)
    text = "True" if value else "False"
    stamp = old["lastTransitionTime"] if old is not None and old.get("status") == text else rfc3339(now)
    new = {"type": kind, "status": text, "lastTransitionTime": stamp, "reason": reason, "message": message}
    if old is None:
        conditions.append(new)
    else:
        old.clear()
        old.update(new)


class HorizontalPodAutoscalerController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder,
                 metrics: MetricsSource | None = None, clock: Callable[[], float] = time.time,
                 sync_period: float = SYNC_PERIOD) -> None:
        self.client, self.recorder = client, recorder
        self.metrics = metrics or ApiMetrics(client)
        self.clock, self.sync_period = clock, sync_period
        self.hpas = informers.get(*HPA)
        self.pods = informers.get(*POD)
        self.history: dict[str, ScalingHistory] = {}
        self.controller = Controller("horizontal-pod-autoscaler", self.reconcile, workers=2)
        self.hpas.add_handlers(**on_change(self.controller.enqueue))

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        hpa = self.hpas.cache.get_by_name(name, namespace)
        if hpa is None:
            self.history.pop(key, None)
            return None
        await self.sync(key, hpa)
        return self.sync_period

    async def sync(self, key: str, hpa: Obj) -> None:
        """One pass over one HPA (the unit tests call this directly)."""
        now, ns = self.clock(), hpa["metadata"]["namespace"]
        spec = hpa.get("spec") or {}
        status: Obj = {k: v for k, v in (hpa.get("status") or {}).items() if k != "conditions"}
        status["conditions"] = [dict(c) for c in (hpa.get("status") or {}).get("conditions") or []]
        ref = spec.get("scaleTargetRef") or {}
        target = (ref.get("apiVersion", ""), ref.get("kind", ""))
        try:
            scale = await self.client.get(target, ref.get("name", ""), ns, subresource="scale")
        except (ApiError, ValueError) as exc:
            message = f"the HPA controller was unable to get the target's current scale: {exc}"
            set_condition(status, "AbleToScale", False, "FailedGetScale", message, now)
            self.recorder.record(hpa, "Warning", "FailedGetScale", str(exc))
            await self._write(hpa, status)
            return
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        min_replicas, max_replicas = int(spec.get("minReplicas", 1)), int(spec.get("maxReplicas", 1))
        desired, reason, metric_statuses = current, "", status.get("currentMetrics")
        history = self.history.setdefault(key, ScalingHistory())
        if current == 0 and min_replicas != 0:
            set_condition(status, "ScalingActive", False, "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now)
        elif current > max_replicas:
            desired, reason = max_replicas, "Current number of replicas above Spec.MaxReplicas"
        elif current < min_replicas:
            desired, reason = min_replicas, "Current number of replicas below Spec.MinReplicas"
        else:
            try:
                proposed, metric_statuses = await self._recommend(hpa, scale, current, now)
            except MetricsError as err:
                set_condition(status, "AbleToScale", True, "SucceededGetScale",
                              "the HPA controller was able to get the target's current scale", now)
                set_condition(status, "ScalingActive", False, err.reason, err.message, now)
                self.recorder.record(hpa, "Warning", err.reason, err.message)
                await self._write(hpa, {**status, "currentReplicas": current})
                return
            set_condition(status, "ScalingActive", True, "ValidMetricFound", "the HPA was able to successfully "
                          "calculate a replica count from cpu resource utilization (percentage of request)", now)
            if proposed > current:
                reason = "cpu resource utilization (percentage of request) above target"
            elif proposed < current:
                reason = "All metrics below target"
            result = normalize(history, now, current, proposed, min_replicas, max_replicas,
                               default_behavior(spec.get("behavior")))
            desired = result.replicas
            set_condition(status, "AbleToScale", True, result.able_reason, result.able_message, now)
            set_condition(status, "ScalingLimited", result.limited, result.limited_reason, result.limited_message,
                          now)
        if desired != current:
            try:
                await self.client.patch(target, ref["name"], {"spec": {"replicas": desired}}, ns, subresource="scale")
            except ApiError as exc:
                set_condition(status, "AbleToScale", False, "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {exc}", now)
                self.recorder.record(hpa, "Warning", "FailedRescale", f"New size: {desired}; reason: {reason}; "
                                                                       f"error: {exc}")
                await self._write(hpa, status)
                return
            set_condition(status, "AbleToScale", True, "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now)
            self.recorder.record(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            if spec.get("behavior") is not None:
                history.record_scale(now, current, desired, 1800.0)
            status["lastScaleTime"] = rfc3339(now)
        status.update({"currentReplicas": current, "desiredReplicas": desired,
                       "observedGeneration": hpa["metadata"].get("generation", 1)})
        if metric_statuses is not None:
            status["currentMetrics"] = metric_statuses
        await self._write(hpa, status)

    async def _recommend(self, hpa: Obj, scale: Obj, current: int, now: float) -> tuple[int, list[Obj]]:
        ns, spec = hpa["metadata"]["namespace"], hpa.get("spec") or {}
        selector_text = str((scale.get("status") or {}).get("selector") or "")
        if not selector_text:
            raise MetricsError("InvalidSelector", "the HPA target's scale is missing a selector")
        try:
            selector = parse_label_selector(selector_text)
        except SelectorError as exc:
            raise MetricsError("InvalidSelector", f"couldn't convert selector into a corresponding internal selector "
                                                  f"object: {exc}") from None
        pods = [p for p in self.pods.cache.by_index("namespace", ns)
                if selector.matches((p.get("metadata") or {}).get("labels"))]
        best, statuses = 0, []
        for metric in spec.get("metrics") or []:
            resource = metric.get("resource") or {}
            target = resource.get("target") or {}
            if metric.get("type") != "Resource" or resource.get("name") != "cpu" or target.get("type") != "Utilization":
                raise MetricsError("InvalidMetricSourceType", "the HPA was unable to compute the replica count: only "
                                                              "Resource cpu metrics with a Utilization target are "
                                                              "supported")
            try:
                metrics = await self.metrics.pod_metrics(ns, selector_text)
            except (ApiError, OSError) as exc:
                raise MetricsError("FailedGetResourceMetric", f"failed to get cpu utilization: unable to get metrics "
                                                              f"for resource cpu: {exc}") from None
            found = resource_replicas(current, int(target["averageUtilization"]), pods, metrics, now)
            best = max(best, found.replicas)
            statuses.append({"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": found.utilization, "averageValue": f"{found.milli_cores}m"}}})
        return best, statuses

    async def _write(self, hpa: Obj, status: Obj) -> None:
        if status == (hpa.get("status") or {}):
            return
        try:
            await self.client.update_status(HPA, {**hpa, "status": status}, hpa["metadata"]["namespace"])
        except (Conflict, NotFound):
            pass  # a newer version is coming through the informer; the next pass writes again
