"""kubectl 1.32 exec and port-forward, and the official Python client's stream(), against a real Podman pod.

A three-replica control plane (HTTPS: kubectl sends no token over plain HTTP) relays to an in-process
agent on a private Podman service (a node name unique to this module, pod CIDR 127.98.236.0/24):
`kubectl exec` output and exit codes, `exec -i` with stdin, `exec -t`, a missing container,
`port-forward` answered by the pod's httpd, `kubernetes.stream.stream` (v4.channel.k8s.io) with
its return code, its portforward(), and `kubectl top pod/node` from the agent's cgroup stats."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from kubernetes import client as k8s
from kubernetes.stream import portforward, stream

from raftkube.client import ApiClient
from raftkube.local.store_cluster import free_port
from raftkube.node.agent import Agent
from raftkube.node.memory_volumes import unmount_under
from raftkube.node.podman_runtime import PodmanRuntime
from raftkube.node.podman_service import PodmanService
from raftkube.pki import CertificateAuthority
from tests.e2e.cluster import E2ECluster, Kubectl
from tests.node.podman_fixtures import IMAGE, podman_service
from tests.node.test_agent_support import POD, fast_config, namespace, running_ready, wait_pod

pytestmark = [pytest.mark.podman, pytest.mark.asyncio(loop_scope="module")]
NODE_NAME = f"execpodman-{uuid.uuid4().hex[:6]}"
CIDR = "127.98.236.0/24"
WAIT = 60.0
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
    with podman_service(tmp_path_factory.mktemp("podman"), [NODE_NAME]) as svc:
        yield svc


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("exec-plane")).start()
    try:
        yield plane
    finally:
        plane.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pod(cluster: E2ECluster, service: PodmanService,
              tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A running busybox httpd pod `web` (port 80) on the module's Podman node; its namespace."""
    data_dir = tmp_path_factory.mktemp("agent")
    serving = CertificateAuthority.load(cluster.plane.pki_dir).issue(
        str(data_dir), "kubelet", f"system:node:{NODE_NAME}", ["system:nodes"], hosts=["127.0.0.1"], server=True)
    tls = {"tls_cert": serving.cert, "tls_key": serving.key, "client_ca_file": str(cluster.ca_cert)}
    client = ApiClient(cluster.api_url(0), cluster.token, ca_file=str(cluster.ca_cert), timeout=10.0)
    runtime = PodmanRuntime(NODE_NAME, socket_path=str(service.socket_path))
    agent = Agent(fast_config(NODE_NAME, data_dir, port=free_port(), pod_cidr=CIDR, stats_period=1.0, **tls), runtime,
                  client)
    await agent.start()
    try:
        ns = await namespace(client, "exec")
        body: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {
            "nodeName": NODE_NAME, "containers": [{
                "name": "web", "image": IMAGE, "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
                "ports": [{"containerPort": 80}]}]}}
        await client.create(POD, body, ns)
        spin = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "spin"}, "spec": {
            "nodeName": NODE_NAME, "containers": [{"name": "spin", "image": IMAGE, "command": [
                "sh", "-c", "while :; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 0.05; done"]}]}}
        await client.create(POD, spin, ns)
        await wait_pod(client, "web", ns, running_ready, WAIT)
        await wait_pod(client, "spin", ns, running_ready, WAIT)
        yield ns
    finally:
        await agent.stop()
        await runtime.close()
        await client.close()
        unmount_under(str(data_dir))


@pytest.fixture(scope="module")
def kubectl(cluster: E2ECluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.write_kubeconfig(tmp_path_factory.mktemp("kubeconfig") / "config", 0))


async def run(kubectl: Kubectl, *args: str, input: str | None = None) -> Any:
    return await asyncio.to_thread(kubectl.run, *args, input=input, check=False)


async def test_kubectl_exec_output_and_exit_codes(pod: str, kubectl: Kubectl) -> None:
    ns = pod
    hostname = await run(kubectl, "-n", ns, "exec", "web", "--", "cat", "/etc/hostname")
    assert hostname.returncode == 0, hostname.stderr
    assert hostname.stdout.strip() and hostname.stdout.strip() in (await asyncio.to_thread(
        kubectl.run, "-n", ns, "exec", "web", "--", "hostname")).stdout
    failed = await run(kubectl, "-n", ns, "exec", "web", "--", "sh", "-c", "echo oops >&2; exit 3")
    assert failed.returncode == 3 and failed.stderr.startswith("oops"), failed.stderr
    echoed = await run(kubectl, "-n", ns, "exec", "-i", "web", "--", "sh", "-c", "tr a-z A-Z")
    assert echoed.returncode == 0 and echoed.stdout == "", echoed.stderr  # (no stdin given: EOF at once)
    fed = await run(kubectl, "-n", ns, "exec", "-i", "web", "--", "sh", "-c", "tr a-z A-Z", input="hello pod\n")
    assert fed.returncode == 0 and fed.stdout == "HELLO POD\n", fed.stderr
    tty = await run(kubectl, "-n", ns, "exec", "-i", "-t", "web", "--", "sh", "-c", "echo tty; exit 4", input="")
    assert tty.returncode == 4 and "tty" in tty.stdout, tty.stderr
    missing = await run(kubectl, "-n", ns, "exec", "web", "-c", "nope", "--", "ls")
    assert missing.returncode != 0 and "container nope is not valid for pod web" in missing.stderr
    unknown = await run(kubectl, "-n", ns, "exec", "web", "--", "no-such-command")
    assert unknown.returncode == 127 and "executable file not found" in unknown.stderr


async def test_kubectl_port_forward(pod: str, kubectl: Kubectl) -> None:
    ns = pod
    local = free_port()
    forward = await asyncio.to_thread(kubectl.popen, "-n", ns, "port-forward", "pod/web", f"{local}:80")
    try:
        await asyncio.to_thread(forward.wait_for_line, lambda line: f"127.0.0.1:{local}" in line, WAIT)
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(2):  # two connections: two stream pairs on the one tunnel
                page = await http.get(f"http://127.0.0.1:{local}/")
                assert page.status_code == 200 and "Hello from raftkube" in page.text
    finally:
        forward.stop()


async def test_python_client_stream_exec(pod: str, cluster: E2ECluster) -> None:
    ns = pod
    config = k8s.Configuration(host=cluster.api_url(0), api_key={"authorization": f"Bearer {cluster.token}"})
    config.ssl_ca_cert = str(cluster.ca_cert)
    core = k8s.CoreV1Api(k8s.ApiClient(config))

    def exec_calls() -> tuple[str, int | None]:
        out = stream(core.connect_get_namespaced_pod_exec, "web", ns, command=["sh", "-c", "echo from-python"],
                     stderr=True, stdin=False, stdout=True, tty=False)
        session = stream(core.connect_get_namespaced_pod_exec, "web", ns, command=["sh", "-c", "exit 5"],
                         stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
        session.run_forever(timeout=20)
        return out, session.returncode

    out, returncode = await asyncio.to_thread(exec_calls)
    assert out == "from-python\n" and returncode == 5

    def fetch_page() -> bytes:
        forward = portforward(core.connect_get_namespaced_pod_portforward, "web", ns, ports="80")
        sock = forward.socket(80)
        sock.settimeout(20)
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        assert forward.error(80) is None
        return answer

    page = await asyncio.to_thread(fetch_page)
    assert page.startswith(b"HTTP/1.") and b"Hello from raftkube" in page


def top_rows(text: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in text.splitlines()[1:] if line.strip()}


async def test_kubectl_top_pod_and_node(pod: str, kubectl: Kubectl) -> None:
    ns = pod

    async def top_pods() -> Any:
        done = await run(kubectl, "-n", ns, "top", "pod")
        return done if done.returncode == 0 and {"web", "spin"} <= set(top_rows(done.stdout)) else None

    done = None
    for _ in range(int(WAIT / 0.5)):  # two samples (1 s apart) are needed before a pod has numbers
        done = await top_pods()
        if done is not None:
            break
        await asyncio.sleep(0.5)
    assert done is not None, "kubectl top pod never listed both pods"
    assert done.stdout.split("\n")[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    rows = top_rows(done.stdout)
    assert rows["spin"][0].endswith("m") and int(rows["spin"][0][:-1]) > 0, done.stdout
    assert rows["web"][1].endswith("Mi"), done.stdout
    containers = await run(kubectl, "-n", ns, "top", "pod", "spin", "--containers")
    assert containers.returncode == 0 and containers.stdout.split("\n")[0].split() == [
        "POD", "NAME", "CPU(cores)", "MEMORY(bytes)"], containers.stderr
    assert containers.stdout.split("\n")[1].split()[:2] == ["spin", "spin"]
    everywhere = await run(kubectl, "top", "pod", "-A")
    assert everywhere.returncode == 0 and ns in everywhere.stdout, everywhere.stderr
    node = await run(kubectl, "top", "node")
    assert node.returncode == 0, node.stderr
    assert node.stdout.split("\n")[0].split()[:3] == ["NAME", "CPU(cores)", "CPU(%)"]
    assert NODE_NAME in top_rows(node.stdout), node.stdout
    cpu = top_rows(node.stdout)[NODE_NAME][0]
    assert cpu.endswith("m") and int(cpu[:-1]) > 0, node.stdout
