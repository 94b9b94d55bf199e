"""pods/{name}/log: find the pod's node and stream the container's log from that node's agent.

The agent (raftkube/node) serves `GET /containerLogs/{namespace}/{pod}/{container}` on the
address and port its Node advertises (`status.addresses` InternalIP, `status.daemonEndpoints.
kubeletEndpoint.Port`), as a kubelet does; this module picks the container the way the
Kubernetes API server does (the only one, the `kubectl.kubernetes.io/default-container`
annotation, or a 400 naming the choices), passes kubectl's query parameters through and streams
the answer as text/plain. Errors from the agent keep their status and message; an agent that
cannot be reached is a 503 naming the node.

The agent is reached over TLS only, as kube-apiserver reaches a kubelet: the API server
presents its client certificate (`--kubelet-client-cert/--kubelet-client-key`, CN
system:apiserver) and checks the agent's serving certificate against
`--kubelet-certificate-authority` (the certificate names the node's IP). Only an InternalIP
that parses as an IP address is dialled (no DNS names: a Node object cannot point the API
server at an arbitrary host), on a port in 1-65535.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class KubeletClientTLS:
    """The API server's side of the TLS connection to the agents' log servers (paths)."""

    cert: str
    key: str
    certificate_authority: str

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.certificate_authority)
        context.load_cert_chain(self.cert, self.key)
        return context


def agent_address(node: Obj) -> str:
    """host:port of the node's agent: the Node's InternalIP (an IP address, never a name) and its
    kubelet endpoint port (1-65535)."""
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    name = node["metadata"]["name"]
    host = next((a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), None)
    if not port or not host:
        raise unavailable(f"node {name} does not advertise its agent's address")
    try:
        ip = ipaddress.ip_address(str(host))
    except ValueError:
        raise unavailable(f"node {name}: InternalIP {host!r} is not an IP address") from None
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise unavailable(f"node {name}: kubelet port {port!r} is not in 1-65535")
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


class PodLogs:
    def __init__(self, storage: ObjectStorage, kubelet: KubeletClientTLS | None = None) -> None:
        self.storage = storage
        self.kubelet = kubelet
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT),
                                      verify=kubelet.ssl_context() if kubelet else False)

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
        if self.kubelet is None:
            raise unavailable("this API server has no client certificate for the agents "
                              "(--kubelet-client-cert, --kubelet-client-key, --kubelet-certificate-authority)")
        url = f"https://{agent_address(node)}/containerLogs/{quote(namespace)}/{quote(name)}/{quote(container)}"
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
