"""Shared pieces of the node agent tests (no tests here): an in-process API server per module,
agents on hollow runtimes with fast timings, pod manifests, and a bounded poll."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from raftkube.api.pod_logs import KubeletClientTLS
from raftkube.client import ApiClient, ApiError
from raftkube.node.agent import Agent
from raftkube.node.config import AgentConfig
from raftkube.node.hollow_runtime import HollowMachine, HollowRuntime
from raftkube.pki import APISERVER_KUBELET_CLIENT, CertificateAuthority
from tests.api.inproc import TOKEN, InProcessAPI, running_api

T = TypeVar("T")
Obj = dict[str, Any]
POD, NODE, NS = ("v1", "Pod"), ("v1", "Node"), ("v1", "Namespace")
LEASE, CM, EVENT = ("coordination.k8s.io/v1", "Lease"), ("v1", "ConfigMap"), ("v1", "Event")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessAPI]:
    """The module's API server; agents started with `**api.agent_tls` serve it their logs over mutual TLS."""
    pki = str(tmp_path_factory.mktemp("pki"))
    ca = CertificateAuthority.create(pki)
    node = ca.issue(pki, "node", "system:node:test", hosts=["127.0.0.1"], server=True)
    client = ca.issue(pki, "apiserver-kubelet-client", APISERVER_KUBELET_CLIENT, client=True)
    with running_api(KubeletClientTLS(client.cert, client.key, ca.cert_path)) as server:
        server.agent_tls = {"tls_cert": node.cert, "tls_key": node.key, "client_ca_file": ca.cert_path}
        yield server


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 15.0, what: str = "") -> T:
    """Poll `check` until it returns something other than None/False (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    for _ in range(100_000):
        try:
            value = await check()
        except ApiError:
            value = None
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what or check}: not within {timeout} s")


def fast_config(node: str, data_dir: Path, **overrides: Any) -> AgentConfig:
    settings: dict[str, Any] = {"port": None, "data_dir": str(data_dir), "heartbeat": 0.3, "relist_period": 0.1,
                                "resync_period": 2.0, "backoff_base": 0.4, "backoff_max": 2.0, "backoff_reset": 30.0,
                                "pressure_checks": False, "cpu": "4", "memory": "8Gi", "status_period": 2.0}
    settings.update(overrides)
    return AgentConfig(node=node, **settings)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@asynccontextmanager
async def api_client(api: InProcessAPI) -> AsyncIterator[ApiClient]:
    client = ApiClient(api.url, TOKEN, timeout=10.0)
    try:
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def running_agent(client: ApiClient, node: str, data_dir: Path, runtime: HollowRuntime | None = None, *,
                        api: InProcessAPI | None = None, **overrides: Any) -> AsyncIterator[Agent]:
    """An agent on `client`, or, given `api`, on a client with the node's own token (system:node:<node>),
    as a joined agent runs: the Node authorizer and NodeRestriction then apply to everything it does."""
    own = ApiClient(api.url, api.node_token(node), timeout=10.0) if api is not None else None
    agent = Agent(fast_config(node, data_dir, **overrides), runtime or HollowRuntime(node, HollowMachine()),
                  own or client)
    try:
        await agent.start()
        yield agent
    finally:
        await agent.stop()
        if own is not None:
            await own.close()


PRIVILEGED_NS = {"pod-security.kubernetes.io/enforce": "privileged"}  # pods that use the host (Pod Security)


async def namespace(client: ApiClient, prefix: str = "ns", labels: dict[str, str] | None = None) -> str:
    name = unique(prefix)
    meta: Obj = {"name": name, **({"labels": labels} if labels else {})}
    await client.create(NS, {"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
    return name


def pod_body(name: str, node: str, containers: list[Obj] | None = None, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"nodeName": node, "containers": containers or [{"name": "app", "image": "busybox:1"}], **spec}}


def condition(pod: Obj, kind: str) -> str | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None


def container_status(pod: Obj, name: str = "app", init: bool = False) -> Obj:
    key = "initContainerStatuses" if init else "containerStatuses"
    for cs in (pod.get("status") or {}).get(key) or []:
        if cs.get("name") == name:
            return dict(cs)
    return {}


async def wait_pod(client: ApiClient, name: str, ns: str, check: Callable[[Obj], bool], timeout: float = 15.0,
                   what: str = "") -> Obj:
    async def probe() -> Obj | None:
        pod = await client.get(POD, name, ns)
        return pod if check(pod) else None
    return await eventually(probe, timeout, what or f"pod {ns}/{name}")


def running_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and condition(pod, "Ready") == "True"
