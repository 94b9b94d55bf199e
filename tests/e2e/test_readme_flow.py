"""The README's first command, end to end with real processes and real Podman.

`raftkube up` (three control-plane replicas, two agents, one Podman service), kubectl applies
examples/hello.yaml, the page is served through NodePort 30080, scaling to 3 spreads requests
over three pods, kubectl logs shows the requests, and `raftkube down` leaves no process and no
container behind. It uses the fixed ports of `raftkube up` (6443-6445, 7001-7003, 8001-8003,
10250-10251), so it is skipped when something already holds them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from raftkube.cli.up import API_PORTS, STORE_PORTS, _port_taken
from raftkube.local.nodes import AGENT_BASE_PORT
from tests.e2e.cluster import KUBECTL, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.podman,
              pytest.mark.skipif(shutil.which("podman") is None, reason="needs Podman (deploy/podman/setup.sh)")]
REPO = Path(__file__).resolve().parents[2]
PORTS = [p for pair in STORE_PORTS for p in pair] + API_PORTS + [AGENT_BASE_PORT, AGENT_BASE_PORT + 1, 30080]
PAGE = "http://127.0.0.1:30080/"
CONF = REPO / "deploy" / "podman" / "containers.conf"


def raftkube(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raftkube", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    taken = [p for p in PORTS if _port_taken(p)]
    if taken:
        pytest.skip(f"the ports of `raftkube up` are in use: {taken}")
    directory = tmp_path_factory.mktemp("raftkube-up")
    up = raftkube("up", "--dir", str(directory))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "2/2 nodes Ready" in up.stdout, up.stdout
        yield directory
    finally:
        raftkube("down", "--dir", str(directory))


def kubectl(directory: Path, *args: str, timeout: float = 120) -> str:
    env = {**os.environ, "KUBECONFIG": str(directory / "kubeconfig"), "KUBECACHEDIR": str(directory / "kcache")}
    done = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def get(path: str) -> str | None:
    try:
        r = httpx.get(PAGE + path, timeout=3)
    except httpx.HTTPError:
        return None
    return r.text if r.status_code == 200 else None


def who_answered(count: int) -> list[str]:
    names = []
    for _ in range(count):  # a new connection each time: the proxy picks the next endpoint
        text = wait_until(lambda: get("cgi-bin/whoami"), 30, "an answer from cgi-bin/whoami")
        names.append(text.strip().removeprefix("served by "))
    return names


def test_readme_flow(cluster: Path) -> None:
    kubectl(cluster, "apply", "-f", str(REPO / "examples" / "hello.yaml"))
    kubectl(cluster, "rollout", "status", "deploy/hello", "--timeout=120s")
    page = wait_until(lambda: get(""), 30, "the page through NodePort 30080")
    assert "hello from raftkube" in page

    kubectl(cluster, "scale", "deploy/hello", "--replicas=3")
    kubectl(cluster, "rollout", "status", "deploy/hello", "--timeout=120s")
    pods = set(kubectl(cluster, "get", "pods", "-l", "app=hello", "-o",
                       "jsonpath={.items[*].metadata.name}").split())
    assert len(pods) == 3
    # the Endpoints follow the new pod's readiness; wait until every pod has answered once (bounded)
    seen: set[str] = set()
    for _ in range(20):
        seen.update(who_answered(6))
        if seen >= pods:
            break
    # both agents' proxies share the NodePort (SO_REUSEPORT), each rotating over the three endpoints
    assert seen == pods, f"answers came from {seen}, pods are {pods}"

    nodes = set(kubectl(cluster, "get", "pods", "-l", "app=hello", "-o",
                        "jsonpath={.items[*].spec.nodeName}").split())
    assert nodes == {"node-1", "node-2"}
    some_pod = sorted(pods)[0]
    assert "response:200" in kubectl(cluster, "logs", some_pod)

    down = raftkube("down", "--dir", str(cluster))
    assert down.returncode == 0, down.stderr
    left = subprocess.run(["pgrep", "-f", str(cluster)], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"processes left: {left.stdout}"
    containers = subprocess.run(["podman", "ps", "-a", "--filter", "label=raftkube.io/managed-by=raftkube-agent",
                                 "--format", "{{.Labels}}"], capture_output=True, text=True,
                                env={**os.environ, "CONTAINERS_CONF": str(CONF)})
    assert containers.returncode == 0, containers.stderr
    ours = [line for line in containers.stdout.splitlines()
            if "raftkube.io/node:node-1" in line or "raftkube.io/node:node-2" in line]
    assert ours == [], ours
    assert get("") is None  # nothing serves the NodePort any more
