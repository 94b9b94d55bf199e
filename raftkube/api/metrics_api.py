"""metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics, read from the agents when asked (what `kubectl top` shows).

Kubernetes runs metrics-server, an aggregated API server that scrapes every kubelet each 15 s and
answers from memory. raftkube has no aggregation layer, so the API server answers these itself: each
request fetches `GET /stats/summary` from the agents concerned (concurrently, over the same mutual
TLS as logs: pod_logs.py), each agent sampling its cgroup stats every `stats_period` (node/stats.py),
so the numbers are as fresh as metrics-server's. Nothing is stored. A node whose agent does not
answer, or has no two samples yet, has no metrics: `get` is a 404 (`nodemetrics.metrics.k8s.io "n"
not found`, as metrics-server answers) and lists leave it out. CPU is reported in nanocores
(`123456n`), memory (the working set) in KiB (`2048Ki`), as metrics-server formats them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from ..machinery.times import rfc3339
from .errors import APIError, not_found
from .handlers import json_response
from .pod_logs import CONNECT_TIMEOUT, KubeletClientTLS, agent_address
from .resources import METRICS_GROUP, by_kind
from .router import Target
from .selectors import parse_field_selector, parse_label_selector
from .storage import ObjectStorage

Obj = dict[str, Any]
API_VERSION = f"{METRICS_GROUP}/v1beta1"
FETCH_TIMEOUT = 5.0


def cpu_quantity(nano_cores: int) -> str:
    return f"{int(nano_cores)}n"


def memory_quantity(size: int) -> str:
    return f"{int(size) // 1024}Ki"


def _meta(obj: Obj, stamp: str) -> Obj:
    meta = obj["metadata"]
    out: Obj = {"name": meta["name"], "creationTimestamp": stamp}
    if meta.get("namespace"):
        out["namespace"] = meta["namespace"]
    if meta.get("labels"):
        out["labels"] = dict(meta["labels"])
    return out


def node_metrics(node: Obj, summary: Obj) -> Obj | None:
    usage = summary.get("node") or {}
    if "cpu" not in usage or "memory" not in usage:
        return None
    stamp = usage["cpu"].get("time") or rfc3339()
    return {"kind": "NodeMetrics", "apiVersion": API_VERSION, "metadata": _meta(node, stamp), "timestamp": stamp,
            "window": usage.get("window", "10s"),
            "usage": {"cpu": cpu_quantity(usage["cpu"].get("usageNanoCores", 0)),
                      "memory": memory_quantity(usage["memory"].get("workingSetBytes", 0))}}


def pod_metrics(pod: Obj, summary: Obj) -> Obj | None:
    meta = pod["metadata"]
    entry = next((p for p in summary.get("pods") or [] if (p.get("podRef") or {}).get("uid") == meta.get("uid")),
                 None)
    if entry is None or not entry.get("containers"):
        return None
    stamp = entry["containers"][0]["cpu"].get("time") or rfc3339()
    containers = [{"name": c["name"], "usage": {"cpu": cpu_quantity(c["cpu"].get("usageNanoCores", 0)),
                                                "memory": memory_quantity(c["memory"].get("workingSetBytes", 0))}}
                  for c in entry["containers"]]
    return {"kind": "PodMetrics", "apiVersion": API_VERSION, "metadata": _meta(pod, stamp), "timestamp": stamp,
            "window": entry.get("window", "10s"), "containers": containers}


class MetricsAPI:
    def __init__(self, storage: ObjectStorage, kubelet: KubeletClientTLS | None) -> None:
        self.storage = storage
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(FETCH_TIMEOUT, connect=CONNECT_TIMEOUT),
                                      verify=kubelet.ssl_context() if kubelet else False)
        self.enabled = kubelet is not None

    async def close(self) -> None:
        await self.http.aclose()

    async def summary(self, node: Obj) -> Obj:
        """The node agent's /stats/summary, or {} when it cannot be had."""
        if not self.enabled:
            return {}
        try:
            answer = await self.http.get(f"https://{agent_address(node)}/stats/summary")
        except (httpx.HTTPError, APIError):
            return {}
        if answer.status_code != 200:
            return {}
        try:
            body = answer.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    async def _summaries(self, node_names: set[str]) -> dict[str, Obj]:
        nodes_resource = by_kind("v1", "Node")
        assert nodes_resource is not None
        nodes = [n for n in (await self.storage.list(nodes_resource, None)).items
                 if n["metadata"]["name"] in node_names]
        answers = await asyncio.gather(*(self.summary(n) for n in nodes))
        return {n["metadata"]["name"]: s for n, s in zip(nodes, answers, strict=True)}

    async def handle(self, request: Request, target: Target) -> Response:
        if request.method != "GET" or target.subresource:
            raise APIError(405, "MethodNotAllowed", f"{request.method} is not supported on {target.resource.plural}"
                                                    f".{METRICS_GROUP}")
        labels = parse_label_selector(request.query_params.get("labelSelector"))
        if target.resource.kind == "NodeMetrics":
            return json_response(await self._nodes(target, labels, request))
        return json_response(await self._pods(target, labels, request))

    async def _nodes(self, target: Target, labels: Any, request: Request) -> Obj:
        nodes_resource = by_kind("v1", "Node")
        assert nodes_resource is not None
        fields = parse_field_selector(request.query_params.get("fieldSelector"), "Node")
        if target.name:
            node = await self.storage.get_or_none(nodes_resource, None, target.name)
            found = node_metrics(node, await self.summary(node)) if node is not None else None
            if found is None:
                raise not_found("nodemetrics", target.name, METRICS_GROUP)
            return found
        nodes = (await self.storage.list(nodes_resource, None, labels, fields)).items
        answers = await asyncio.gather(*(self.summary(n) for n in nodes))
        items = [m for n, s in zip(nodes, answers, strict=True) if (m := node_metrics(n, s)) is not None]
        return {"kind": "NodeMetricsList", "apiVersion": API_VERSION, "metadata": {}, "items": items}

    async def _pods(self, target: Target, labels: Any, request: Request) -> Obj:
        pods_resource = by_kind("v1", "Pod")
        assert pods_resource is not None
        if target.name:
            pod = await self.storage.get_or_none(pods_resource, target.namespace, target.name)
            node = ((pod or {}).get("spec") or {}).get("nodeName")
            summaries = await self._summaries({node}) if node else {}
            found = pod_metrics(pod, summaries.get(node, {})) if pod is not None and node else None
            if found is None:
                raise not_found("podmetrics", target.name, METRICS_GROUP)
            return found
        fields = parse_field_selector(request.query_params.get("fieldSelector"), "Pod")
        pods = (await self.storage.list(pods_resource, target.namespace, labels, fields)).items
        summaries = await self._summaries({n for p in pods if (n := (p.get("spec") or {}).get("nodeName"))})
        items = [m for p in pods
                 if (m := pod_metrics(p, summaries.get((p.get("spec") or {}).get("nodeName", ""), {}))) is not None]
        return {"kind": "PodMetricsList", "apiVersion": API_VERSION, "metadata": {}, "items": items}
