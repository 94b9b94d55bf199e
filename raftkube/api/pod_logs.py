"""pods/{name}/log: find the pod's node and stream the container's log from that node's agent.

The agent (raftkube/node) serves `GET /containerLogs/{namespace}/{pod}/{container}` on the
address and port its Node advertises (`status.addresses` InternalIP, `status.daemonEndpoints.
kubeletEndpoint.Port`), as a kubelet does; this module picks the container the way the
Kubernetes API server does (the only one, the `kubectl.kubernetes.io/default-container`
annotation, or a 400 naming the choices), passes kubectl's query parameters through and streams
the answer as text/plain. Errors from the agent keep their status and message; an agent that
cannot be reached is a 503 naming the node.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .errors import APIError, bad_request, unavailable
from .resources import by_kind
from .storage import ObjectStorage

Obj = dict[str, Any]
PASSED_PARAMS = ("follow", "previous", "tailLines", "timestamps", "sinceSeconds", "limitBytes")
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
CONNECT_TIMEOUT = 3.0


def choose_container(pod: Obj, asked: str | None) -> str:
    spec, name = pod.get("spec") or {}, pod["metadata"]["name"]
    names = [c["name"] for c in spec.get("containers") or []]
    init_names = [c["name"] for c in spec.get("initContainers") or []]
    if asked:
        if asked not in names and asked not in init_names:
            raise bad_request(f"container {asked} is not valid for pod {name}")
        return asked
    default = ((pod["metadata"].get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION))
    if default in names:
        return str(default)
    if len(names) == 1:
        return names[0]
    raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]")


def agent_address(node: Obj) -> str:
    """host:port of the node's agent, from the Node's InternalIP and its kubelet endpoint port."""
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    host = addresses.get("InternalIP") or addresses.get("Hostname")
    if not port or not host:
        raise unavailable(f"node {node['metadata']['name']} does not advertise its agent's address")
    return f"{host}:{port}"


class PodLogs:
    def __init__(self, storage: ObjectStorage) -> None:
        self.storage = storage
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT))

    async def close(self) -> None:
        await self.http.aclose()

    async def handle(self, request: Request, pod: Obj) -> Response:
        node_name = (pod.get("spec") or {}).get("nodeName")
        name, namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]
        if not node_name:
            raise bad_request(f"pod {name} does not have a host assigned")
        container = choose_container(pod, request.query_params.get("container"))
        nodes = by_kind("v1", "Node")
        assert nodes is not None
        node = await self.storage.get(nodes, None, node_name)
        url = f"http://{agent_address(node)}/containerLogs/{quote(namespace)}/{quote(name)}/{quote(container)}"
        params = {k: request.query_params[k] for k in PASSED_PARAMS if k in request.query_params}
        try:
            upstream = await self.http.send(self.http.build_request("GET", url, params=params), stream=True)
        except httpx.HTTPError as err:
            raise unavailable(f"cannot reach the agent of node {node_name}: {err}") from None
        if upstream.status_code != 200:
            message = (await upstream.aread()).decode(errors="replace").strip()
            await upstream.aclose()
            code = upstream.status_code if 400 <= upstream.status_code < 600 else 502
            raise APIError(code, _reason(code), message or f"the agent of node {node_name} answered {code}")
        return StreamingResponse(_relay(upstream), media_type="text/plain")


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError:
        return  # the agent went away mid-stream: the log simply ends, as with a kubelet
    finally:
        await upstream.aclose()


def _reason(code: int) -> str:
    return {400: "BadRequest", 404: "NotFound", 503: "ServiceUnavailable"}.get(code, "InternalError")
