"""The whole node agent on real Podman (issue 5): the `Agent` with a `PodmanRuntime` against the in-process
API, pods bound to its node by spec.nodeName. Two containers over localhost, CrashLoopBackOff, a liveness
restart with previous logs, readiness gating the real Endpoints controller, ConfigMap env and files, a
Secret volume on a host tmpfs, logs
through pods/log, adoption by a new agent after a kill, deletion, and a missing image.

One Podman service and one node (a name unique to this module, pod CIDR 127.98.240.0/24) per module;
every sandbox of the node is removed at the end (tests/node/podman_fixtures.py)."""

from __future__ import annotations

import base64
import ipaddress
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from raftkube.client import ApiClient, NotFound
from raftkube.local.store_cluster import free_port
from raftkube.node.agent import Agent
from raftkube.node.memory_volumes import is_tmpfs, unmount_under
from raftkube.node.podman_runtime import PodmanRuntime
from raftkube.node.podman_service import PodmanService
from raftkube.node.runtime import POD_UID_LABEL
from tests.api.inproc import InProcessAPI

from .podman_fixtures import (
    IMAGE,
    endpoints_controller,
    kill_agent,
    pod_history,
    podman_pods,
    podman_ps,
    podman_service,
)
from .test_agent_support import (
    EVENT,
    NODE,
    POD,
    api,  # noqa: F401  (module fixture)
    api_client,
    condition,
    container_status,
    eventually,
    fast_config,
    namespace,
    running_ready,
    wait_pod,
)

pytestmark = [pytest.mark.podman, pytest.mark.asyncio(loop_scope="module")]
Obj = dict[str, Any]
NODE_NAME = f"agentpodman-{uuid.uuid4().hex[:6]}"
CIDR = "127.98.240.0/24"
SERVICE, ENDPOINTS = ("v1", "Service"), ("v1", "Endpoints")
WAIT = 40.0  # seconds: a bounded wait for anything Podman does (never a timing assertion)
HTTPD = {"name": "web", "image": IMAGE, "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
         "ports": [{"containerPort": 8080}]}


@dataclass
class NodeHandle:
    """The module's node: the agent running it now (the adoption test replaces it) and what it needs."""

    client: ApiClient
    service: PodmanService
    data_dir: Path
    agent: Agent
    runtime: PodmanRuntime
    tls: dict[str, str]

    @classmethod
    async def started(cls, client: ApiClient, service: PodmanService, data_dir: Path,
                      tls: dict[str, str]) -> NodeHandle:
        runtime, agent = await start_agent(client, service, data_dir, tls)
        return cls(client, service, data_dir, agent, runtime, tls)

    async def start_new_agent(self) -> None:
        self.runtime, self.agent = await start_agent(self.client, self.service, self.data_dir, self.tls)


async def start_agent(client: ApiClient, service: PodmanService, data_dir: Path,
                      tls: dict[str, str]) -> tuple[PodmanRuntime, Agent]:
    """A fresh runtime and agent for the module's node, its log server (mutual TLS) on a free port."""
    runtime = PodmanRuntime(NODE_NAME, socket_path=str(service.socket_path))
    config = fast_config(NODE_NAME, data_dir, port=free_port(), pod_cidr=CIDR, relist_period=0.3, backoff_base=0.5,
                         backoff_max=2.0, **tls)
    agent = Agent(config, runtime, client)
    await agent.start()
    return runtime, agent


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
    with podman_service(tmp_path_factory.mktemp("podman"), [NODE_NAME]) as svc:
        yield svc


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(api: InProcessAPI, service: PodmanService,  # noqa: F811
               tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NodeHandle]:
    async with api_client(api) as client:
        data_dir = tmp_path_factory.mktemp("agent")
        handle = await NodeHandle.started(client, service, data_dir, api.agent_tls)
        try:
            yield handle
        finally:
            await handle.agent.stop()
            await handle.runtime.close()
            unmount_under(str(data_dir))  # the pods' tmpfs volumes (a stopped agent leaves its pods running)


def pod(name: str, containers: list[Obj], **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"nodeName": NODE_NAME, "terminationGracePeriodSeconds": 2, "containers": containers, **spec}}


def sh(name: str, script: str, **fields: Any) -> Obj:
    return {"name": name, "image": IMAGE, "command": ["sh", "-c", script], **fields}


async def api_logs(client: ApiClient, name: str, ns: str, container: str | None = None,
                   previous: bool = False) -> str:
    """The container's log through the API's pods/log (GET /api/v1/namespaces/ns/pods/name/log)."""
    chunks = [c async for c in client.logs(name, ns, container=container, previous=previous)]
    return b"".join(chunks).decode()


async def logs_containing(client: ApiClient, name: str, ns: str, text: str, container: str | None = None,
                          previous: bool = False) -> str:
    async def check() -> str | None:
        out = await api_logs(client, name, ns, container, previous)
        return out if text in out else None
    return await eventually(check, WAIT, f"{text!r} in the log of {ns}/{name} {container or ''}")


async def http_get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(url)


def restarts(pod_obj: Obj, name: str) -> int:
    return int(container_status(pod_obj, name).get("restartCount") or 0)


def container_id(pod_obj: Obj, name: str) -> str:
    return str(container_status(pod_obj, name).get("containerID") or "")


# -- tests ----------------------------------------------------------------------------------------
async def test_two_containers_talk_over_localhost(node: NodeHandle) -> None:
    client = node.client
    ns = await namespace(client)
    loop = "for i in $(seq 600); do wget -qO- localhost:8080; sleep 0.5; done"
    await client.create(POD, pod("duo", [HTTPD, sh("client", loop)]), ns)
    running = await wait_pod(client, "duo", ns, running_ready, WAIT)
    assert ipaddress.ip_address(running["status"]["podIP"]) in ipaddress.ip_network(CIDR)
    assert {cs["name"]: "running" in cs["state"] for cs in running["status"]["containerStatuses"]} == {
        "web": True, "client": True}
    await logs_containing(client, "duo", ns, "Hello from raftkube", container="client")
    page = await http_get(f"http://{running['status']['podIP']}:8080/")  # published on the pod IP
    assert page.status_code == 200 and "Hello from raftkube" in page.text
    assert (await client.get(NODE, NODE_NAME))["status"]["nodeInfo"]["containerRuntimeVersion"].startswith(
        "podman://4")


async def test_crashing_container_restarts_with_backoff(node: NodeHandle) -> None:
    client = node.client
    ns = await namespace(client)
    async with pod_history(client, ns, "crash") as history:
        await client.create(POD, pod("crash", [sh("app", "echo crashing; exit 3")]), ns)

        async def backed_off_then_restarted() -> Obj | None:
            """A CrashLoopBackOff version followed by a restart, with two restarts at least by then."""
            backoff_at = None
            for version in history.versions:
                status = container_status(version, "app")
                waiting = (status.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") == "CrashLoopBackOff" and backoff_at is None:
                    backoff_at = restarts(version, "app")
                    assert "back-off" in waiting.get("message", ""), waiting
                elif backoff_at is not None and restarts(version, "app") > backoff_at >= 0 \
                        and restarts(version, "app") >= 2:
                    return version
            return None
        done = await eventually(backed_off_then_restarted, WAIT, "CrashLoopBackOff, then restartCount >= 2")
    last = container_status(done, "app")["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (3, "Error")
    assert done["status"]["phase"] == "Running"  # restartPolicy Always: it will be restarted again
    assert set(history.waiting_reasons("app")) <= {"ContainerCreating", "CrashLoopBackOff"}  # no runtime errors
    assert "crashing" in await logs_containing(client, "crash", ns, "crashing", previous=True)

    async def backoff_event() -> bool:
        events = (await client.list(EVENT, ns))["items"]
        return any(e.get("reason") == "BackOff" and e["involvedObject"]["name"] == "crash" for e in events)
    await eventually(backoff_event, WAIT, "a BackOff event")


async def test_failed_liveness_probe_restarts_container_and_previous_logs(node: NodeHandle) -> None:
    client = node.client
    ns = await namespace(client)
    # the first instance removes /tmp/healthy after a second; the second keeps it
    script = ('n=$(( $(cat /state/n 2>/dev/null || echo 0) + 1 )); echo $n > /state/n; echo "instance $n"; '
              'touch /tmp/healthy; if [ "$n" -eq 1 ]; then sleep 1; rm /tmp/healthy; fi; exec sleep 600')
    live = sh("app", script, volumeMounts=[{"name": "state", "mountPath": "/state"}],
              livenessProbe={"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1,
                             "failureThreshold": 1})
    await client.create(POD, pod("live", [live], volumes=[{"name": "state", "emptyDir": {}}]), ns)
    first = await wait_pod(client, "live", ns, running_ready, WAIT)
    assert restarts(first, "app") == 0
    again = await wait_pod(client, "live", ns, lambda p: running_ready(p) and restarts(p, "app") == 1, WAIT,
                           "restarted once by its liveness probe, then Ready")
    assert container_id(again, "app") != container_id(first, "app")
    assert "terminated" in container_status(again, "app")["lastState"]
    assert (await logs_containing(client, "live", ns, "instance 2")).strip() == "instance 2"
    assert (await api_logs(client, "live", ns, previous=True)).strip() == "instance 1"

    async def unhealthy_event() -> bool:
        events = (await client.list(EVENT, ns))["items"]
        return any(e.get("reason") == "Unhealthy" and "Liveness" in e.get("message", "") for e in events)
    await eventually(unhealthy_event, WAIT, "an Unhealthy event")
    assert restarts(await client.get(POD, "live", ns), "app") == 1  # the healthy second instance stays


async def test_readiness_gates_endpoints(node: NodeHandle) -> None:
    client = node.client
    ns = await namespace(client)
    web = {**HTTPD, "readinessProbe": {"httpGet": {"path": "/ready.html", "port": 8080}, "periodSeconds": 1,
                                       "failureThreshold": 1}}
    await client.create(SERVICE, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                  "spec": {"selector": {"app": "gated"},
                                           "ports": [{"port": 80, "targetPort": 8080}]}}, ns)
    async with endpoints_controller(client):
        await client.create(POD, pod("gated", [web]), ns)
        up = await wait_pod(client, "gated", ns, lambda p: "running" in container_status(p, "web").get("state", {}),
                            WAIT, "web running")
        ip = up["status"]["podIP"]

        async def endpoints(key: str) -> Obj | None:
            subsets = (await client.get(ENDPOINTS, "web", ns)).get("subsets") or []
            ips = {a["ip"] for s in subsets for a in s.get(key) or []}
            return subsets if ip in ips else None
        not_ready = await eventually(lambda: endpoints("notReadyAddresses"), WAIT, "pod in notReadyAddresses")
        assert all(not s.get("addresses") for s in not_ready)
        assert (await http_get(f"http://{ip}:8080/ready.html")).status_code == 404  # the probe fails
        assert condition(await client.get(POD, "gated", ns), "Ready") == "False"

        sandbox = node.agent.workers[up["metadata"]["uid"]].sandbox
        assert sandbox is not None
        rc, _ = await node.runtime.exec(sandbox, "web", ["sh", "-c", "echo ok > /www/ready.html"], 10)
        assert rc == 0
        ready = await eventually(lambda: endpoints("addresses"), WAIT, "pod in addresses")
        [address] = [a for s in ready for a in s["addresses"]]
        assert address["targetRef"]["name"] == "gated" and address["nodeName"] == NODE_NAME
        assert [p["port"] for s in ready for p in s["ports"]] == [8080]
        assert running_ready(await client.get(POD, "gated", ns))

        rc, _ = await node.runtime.exec(sandbox, "web", ["rm", "/www/ready.html"], 10)
        assert rc == 0
        await eventually(lambda: endpoints("notReadyAddresses"), WAIT, "pod back in notReadyAddresses")
        assert restarts(await client.get(POD, "gated", ns), "web") == 0  # readiness never restarts


async def test_configmap_reaches_env_and_files(node: NodeHandle) -> None:
    client = node.client
    ns = await namespace(client)
    await client.create(("v1", "ConfigMap"), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                                              "data": {"greeting": "hello-from-cm", "app.conf": "mode=podman"}}, ns)
    app = sh("app", 'echo "env=$GREETING"; echo "file=$(cat /etc/app/app.conf)"; exec sleep 600',
             env=[{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}}],
             volumeMounts=[{"name": "cfg", "mountPath": "/etc/app", "readOnly": True}])
    await client.create(POD, pod("cm", [app], volumes=[{"name": "cfg", "configMap": {"name": "cfg"}}]), ns)
    running = await wait_pod(client, "cm", ns, running_ready, WAIT)
    out = await logs_containing(client, "cm", ns, "file=")
    assert out.splitlines() == ["env=hello-from-cm", "file=mode=podman"]
    sandbox = node.agent.workers[running["metadata"]["uid"]].sandbox
    assert sandbox is not None
    rc, seen = await node.runtime.exec(sandbox, "app", ["sh", "-c", "echo \"$GREETING\"; cat /etc/app/greeting"], 10)
    assert (rc, seen) == (0, b"hello-from-cm\nhello-from-cm")


async def test_secret_volume_is_a_tmpfs_on_the_host(node: NodeHandle) -> None:
    client = node.client
    ns = await namespace(client)
    await client.create(("v1", "Secret"), {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                                           "data": {"pw": base64.b64encode(b"s3cret-on-tmpfs").decode()}}, ns)
    app = sh("app", 'echo "pw=$(cat /etc/creds/pw) mode=$(stat -c %a /etc/creds/pw)"; exec sleep 600',
             volumeMounts=[{"name": "creds", "mountPath": "/etc/creds", "readOnly": True}])
    await client.create(POD, pod("sec", [app], volumes=[{"name": "creds", "secret": {"secretName": "creds"}}]), ns)
    running = await wait_pod(client, "sec", ns, running_ready, WAIT)
    out = await logs_containing(client, "sec", ns, "pw=")
    assert out.splitlines() == ["pw=s3cret-on-tmpfs mode=644"]
    volume = os.path.join(node.agent.config.pod_dir(running["metadata"]["uid"]), "volumes", "creds")
    assert is_tmpfs(volume)  # in /proc/mounts of the host: the plaintext is in memory only
    await client.delete(POD, "sec", ns)

    async def unmounted() -> bool:
        return not is_tmpfs(volume) and not os.path.exists(volume)
    await eventually(unmounted, WAIT, "the secret volume unmounted and removed with the pod")


async def adopt_after_kill(node: NodeHandle, name: str, container: Obj) -> None:
    """Run a pod, kill the agent, start a new one: the pod is adopted as it is (same container, same
    restart count, same IP, Ready all along) and its log is served by the new agent."""
    client = node.client
    ns = await namespace(client)
    await client.create(POD, pod(name, [container]), ns)
    before = await wait_pod(client, name, ns, running_ready, WAIT)
    uid, ip = before["metadata"]["uid"], before["status"]["podIP"]
    async with pod_history(client, ns, name) as history:
        await kill_agent(node.agent)
        await node.runtime.close()
        await node.start_new_agent()
        agent = node.agent
        assert agent.orphans_removed == 0
        await eventually(lambda: _synced(agent, uid), WAIT, "the new agent's worker synced the pod twice")
        page = await http_get(f"http://{ip}:8080/")
        assert page.status_code == 200
        after = await client.get(POD, name, ns)
    assert container_id(after, "web") == container_id(before, "web")
    assert restarts(after, "web") == restarts(before, "web") == 0
    assert after["status"]["podIP"] == ip and running_ready(after)
    [sandbox] = [s for s in await node.runtime.list_sandboxes() if s.uid == uid]
    assert [(c.name, c.status, f"podman://{c.id}") for c in sandbox.containers] == [
        ("web", "running", container_id(before, "web"))]
    assert (await api_logs(client, name, ns)).strip() == "serving"  # pods/log reaches the new agent
    assert all(running_ready(p) for p in history.versions), [condition(p, "Ready") for p in history.versions]


async def _synced(agent: Agent, uid: str) -> bool:
    worker = agent.workers.get(uid)
    return worker is not None and worker.syncs >= 2


SERVING = sh("web", "echo serving; exec httpd -f -p 8080 -h /www", ports=[{"containerPort": 8080}])


async def test_new_agent_adopts_running_pod_without_restart(node: NodeHandle) -> None:
    await adopt_after_kill(node, "keep", SERVING)


async def test_new_agent_keeps_probed_pod_ready(node: NodeHandle) -> None:
    probed = {**SERVING, "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}}
    await adopt_after_kill(node, "keep-probed", probed)


async def test_deleting_pod_removes_its_containers(node: NodeHandle) -> None:
    client = node.client
    ns = await namespace(client)
    side = sh("side", "exec sleep 600", volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}])
    await client.create(POD, pod("gone", [HTTPD, side], volumes=[{"name": "scratch", "emptyDir": {}}]), ns)
    running = await wait_pod(client, "gone", ns, running_ready, WAIT)
    uid = running["metadata"]["uid"]
    label = f"{POD_UID_LABEL}={uid}"
    assert len([n for n in podman_ps(node.service, label) if not n.endswith("-infra")]) == 2
    assert os.path.isdir(node.agent.config.pod_dir(uid))
    await client.delete(POD, "gone", ns)

    async def vanished() -> bool:
        try:
            await client.get(POD, "gone", ns)
        except NotFound:
            return True
        return False
    await eventually(vanished, WAIT, "the pod object deleted")
    assert podman_ps(node.service, label) == []
    assert podman_pods(node.service, label) == []
    assert not os.path.exists(node.agent.config.pod_dir(uid))
    assert uid not in {s.uid for s in await node.runtime.list_sandboxes()}


async def test_missing_image_reports_pull_errors(node: NodeHandle) -> None:
    client = node.client
    ns = await namespace(client)
    ghost = {"name": "app", "image": "localhost/raftkube/no-such-image:1"}
    async with pod_history(client, ns, "ghost") as history:
        await client.create(POD, pod("ghost", [ghost]), ns)

        async def both_seen() -> bool:
            reasons = history.waiting_reasons("app")
            return "ErrImagePull" in reasons and "ImagePullBackOff" in reasons
        await eventually(both_seen, WAIT, "ErrImagePull then ImagePullBackOff")
    reasons = history.waiting_reasons("app")
    assert reasons.index("ErrImagePull") < reasons.index("ImagePullBackOff"), reasons
    current = await client.get(POD, "ghost", ns)
    assert current["status"]["phase"] == "Pending" and condition(current, "Ready") == "False"
    assert container_status(current, "app")["restartCount"] == 0
