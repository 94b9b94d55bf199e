"""Five "VMs" (network namespaces on a bridge, 10.77.r.0/24): three control-plane machines made with
`raftkube init` and `raftkube join --control-plane`, two workers made with `raftkube join`, each started
exactly as its systemd unit starts it (the arguments its env file holds), nothing else shared but the
printed join commands. The example app runs on the workers; a control-plane VM is SIGKILLed and the
cluster keeps serving; then every data dir is lost and the cluster comes back from a backup.

Workers run the pods in Podman when it is installed (deploy/podman/setup.sh; CI installs it), else
hollow. Agents enter their namespace with `nsenter --net` rather than `ip netns exec`, which remounts
/sys and hides the cgroup mounts runc needs. Pod IPs are loopback addresses of the worker, so the page
is fetched through the NodePort (on the worker's address) from inside the worker: its service proxy skips
the other worker's pods, which it cannot reach.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chaos import netns
from raftkube.cli.cluster_dir import ClusterDir, read_env_args
from raftkube.node.podman_service import missing_executables

pytestmark = [pytest.mark.chaos, pytest.mark.cluster,
              pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))]
ROOT = Path(__file__).resolve().parents[2]
WAIT = 90.0  # seconds: bound of every wait below (never a timing assertion)
CONTROL, WORKERS = (1, 2, 3), (4, 5)
PODMAN = not missing_executables() and subprocess.run(
    ["podman", "image", "exists", "localhost/raftkube/busybox:latest"], capture_output=True,
    env={**os.environ, "CONTAINERS_CONF": str(ROOT / "deploy" / "podman" / "containers.conf")}).returncode == 0


@dataclass
class Vms:
    net: netns.Network
    base: Path
    logs: list[Path] = field(default_factory=list)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def dir(self, i: int) -> ClusterDir:
        return ClusterDir(str(self.base / f"vm{i}"))

    def raftkube(self, i: int, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.net.in_ns(i, sys.executable, "-m", "raftkube", *args), capture_output=True,
                              text=True, timeout=WAIT, cwd=ROOT)
        if check and done.returncode != 0:
            raise AssertionError(f"raftkube {' '.join(args)} on vm{i}: {done.stdout}\n{done.stderr}")
        return done

    def start(self, i: int, unit: str, *extra: str) -> None:
        """What the systemd unit does: `raftkube <unit> $RAFTKUBE_<UNIT>_ARGS` (plus `extra`)."""
        cluster = self.dir(i)
        args = read_env_args(cluster.path(f"{unit}.env"), f"RAFTKUBE_{unit.upper()}_ARGS")
        log = self.base / f"vm{i}-{unit}.log"
        self.logs.append(log)
        command = [sys.executable, "-m", "raftkube", unit, *args, *extra]
        with open(log, "ab") as out:
            self.processes[i] = subprocess.Popen(self.enter(i, *command), stdout=out, stderr=subprocess.STDOUT,
                                                 cwd=ROOT)

    def enter(self, i: int, *command: str) -> list[str]:
        """`command` in vm i's network namespace, with the host's other mounts (cgroups) as they are."""
        return ["nsenter", f"--net=/var/run/netns/{self.net.ns(i)}", *command]

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(i)
        process.send_signal(sig)
        process.wait(timeout=WAIT)

    def kubectl(self, kubeconfig: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["kubectl", "--request-timeout=20s", *args], capture_output=True, text=True,
                              timeout=WAIT, env={**os.environ, "KUBECONFIG": kubeconfig})
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {done.stdout}\n{done.stderr}\n{self.tail()}")
        return done

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in self.logs if p.exists())


def wait_for(what: str, check: Any, vms: Vms) -> Any:
    deadline = time.monotonic() + WAIT
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (AssertionError, subprocess.SubprocessError, ValueError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last: {last})\n{vms.tail()}")


@pytest.fixture
def vms(tmp_path: Path) -> Iterator[Vms]:
    with netns.Network(size=len(CONTROL) + len(WORKERS)) as net:
        machines = Vms(net, tmp_path)
        try:
            yield machines
        finally:
            for process in machines.processes.values():
                process.kill()
                process.wait(timeout=WAIT)
            remove_worker_pods(tmp_path)


def remove_worker_pods(base: Path) -> None:
    """The workers' Podman pods outlive their killed agents (by design: a new agent adopts them), and
    Podman's state is the host's: remove them, and unmount their tmpfs volumes, so no later test meets them."""
    if PODMAN:
        env = {**os.environ, "CONTAINERS_CONF": str(ROOT / "deploy" / "podman" / "containers.conf")}
        for i in WORKERS:
            pods = subprocess.run(["podman", "pod", "ps", "-q", "--filter", f"label=raftkube.io/node=vm{i}"],
                                  capture_output=True, text=True, env=env, timeout=WAIT).stdout.split()
            if pods:
                subprocess.run(["podman", "pod", "rm", "-f", *pods], capture_output=True, env=env, timeout=WAIT)
    with open("/proc/mounts") as mounts:
        ours = sorted((line.split()[1] for line in mounts if line.split()[1].startswith(str(base))), reverse=True)
    for mount in ours:
        subprocess.run(["umount", "-l", mount], capture_output=True, timeout=WAIT)


def join_args(init_output: str) -> tuple[list[str], list[str]]:
    """The worker's and the control plane's join commands, as `raftkube init` printed them."""
    lines = [line.strip() for line in init_output.splitlines() if line.strip().startswith("raftkube join")]
    control = next(line for line in lines if "--control-plane" in line)
    worker = next(line for line in lines if "--control-plane" not in line)
    strip = " --advertise-address <ITS-IP>"
    return worker.removesuffix(strip).split()[2:], control.removesuffix(strip).split()[2:]


def nodes_ready(vms: Vms, kubeconfig: str) -> bool:
    listing = json.loads(vms.kubectl(kubeconfig, "get", "nodes", "-o", "json").stdout)
    ready = {n["metadata"]["name"] for n in listing["items"]
             if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))}
    return ready >= {f"vm{i}" for i in WORKERS}


def test_three_vms_init_join_failover_and_restore(vms: Vms) -> None:
    net = vms.net
    # ---- the first control-plane machine
    init = vms.raftkube(1, "init", "--dir", vms.dir(1).root, "--name", "vm1", "--advertise-address", net.addr(1))
    worker_join, control_join = join_args(init.stdout)
    vms.start(1, "server")
    admin1 = vms.dir(1).path("admin.kubeconfig")
    wait_for("vm1's API", lambda: vms.kubectl(admin1, "get", "ns", "kube-system"), vms)

    # ---- what a joiner without the right credentials gets: nothing written, a clear error
    wrong_hash = [*worker_join[:-1], "sha256:" + "0" * 64]
    refused = vms.raftkube(4, "join", *wrong_hash, "--dir", vms.dir(4).root, "--name", "vm4",
                           "--advertise-address", net.addr(4), check=False)
    assert refused.returncode == 1 and "refusing to trust it" in refused.stderr
    token_at = worker_join.index("--token") + 1
    forged = [*worker_join[:token_at], "abcdef.0123456789abcdef", *worker_join[token_at + 1:]]
    refused = vms.raftkube(4, "join", *forged, "--dir", vms.dir(4).root, "--name", "vm4",
                           "--advertise-address", net.addr(4), check=False)
    assert refused.returncode == 1 and "401" in refused.stderr
    key_at = control_join.index("--certificate-key") + 1
    wrong_key = [*control_join[:key_at], "0" * 64]
    refused = vms.raftkube(2, "join", *wrong_key, "--dir", vms.dir(2).root, "--name", "vm2",
                           "--advertise-address", net.addr(2), check=False)
    assert refused.returncode == 1 and "403" in refused.stderr
    assert not vms.dir(2).initialised() and not vms.dir(4).initialised()

    # ---- two more control-plane machines, one at a time, each started as soon as it joined
    for i in (2, 3):
        vms.raftkube(i, "join", *control_join, "--dir", vms.dir(i).root, "--name", f"vm{i}",
                     "--advertise-address", net.addr(i))
        vms.start(i, "server")
        admin = vms.dir(i).path("admin.kubeconfig")
        wait_for(f"vm{i}'s API", lambda admin=admin: vms.kubectl(admin, "get", "ns", "default"), vms)
    admin3 = vms.dir(3).path("admin.kubeconfig")  # names vm3, vm1, vm2
    registry = json.loads(vms.kubectl(admin3, "-n", "kube-system", "get", "cm", "raftkube-control-plane",
                                      "-o", "json").stdout)["data"]
    assert registry == {f"vm{i}": f"https://{net.addr(i)}:6443" for i in CONTROL}

    # ---- two workers, each with its own identity
    for i in WORKERS:
        vms.raftkube(i, "join", *worker_join, "--dir", vms.dir(i).root, "--name", f"vm{i}",
                     "--advertise-address", net.addr(i))
        assert "kubernetes-admin" not in Path(vms.dir(i).path("node.kubeconfig")).read_text()
        vms.start(i, "agent", *([] if PODMAN else ["--runtime", "fake"]))
    wait_for("both workers Ready", lambda: nodes_ready(vms, admin3), vms)
    node_tokens = vms.kubectl(admin3, "-n", "kube-system", "get", "secrets", "-o", "name").stdout
    assert "secret/node-token-vm4" in node_tokens and "secret/node-token-vm5" in node_tokens

    # ---- the example app
    vms.kubectl(admin3, "apply", "-f", str(ROOT / "examples" / "hello.yaml"))
    vms.kubectl(admin3, "rollout", "status", "deploy/hello", "--timeout=80s")
    pods = json.loads(vms.kubectl(admin3, "get", "pods", "-l", "app=hello", "-o", "json").stdout)["items"]
    assert {p["spec"]["nodeName"] for p in pods} <= {"vm4", "vm5"} and len(pods) == 2
    if PODMAN:
        worker = int(pods[0]["spec"]["nodeName"].removeprefix("vm"))

        def page() -> bool:  # (the worker's service proxy opens the NodePort once its watch brings the Service)
            fetched = subprocess.run(vms.enter(worker, "curl", "-s", "-m", "10", f"http://{net.addr(worker)}:30080/"),
                                     capture_output=True, text=True, timeout=WAIT)
            return "hello from raftkube" in fetched.stdout
        wait_for("the page through the NodePort on the worker", page, vms)
        # the API server relays the logs from the agents' log servers (TLS, its client certificate only):
        # busybox httpd -v logged the request just served, by one of the pods
        logs = "".join(vms.kubectl(admin3, "logs", p["metadata"]["name"]).stdout for p in pods)
        assert "response:200" in logs, logs

    # ---- SIGKILL the first VM's server: the other two keep serving reads and writes
    vms.kill(1)
    vms.kubectl(admin3, "create", "configmap", "after-kill", "--from-literal=k=v")
    vms.kubectl(admin3, "scale", "deploy/hello", "--replicas=3")
    vms.kubectl(admin3, "rollout", "status", "deploy/hello", "--timeout=80s")
    vms.start(1, "server")  # back, with no --peers in its env file: it finds its members in its own journal
    wait_for("vm1 serving the write made while it was dead",
             lambda: vms.kubectl(admin1, "get", "cm", "after-kill", "-o", "jsonpath={.data.k}").stdout == "v", vms)

    # ---- backup through a control-plane machine's loopback-only store port
    backup = str(vms.base / "backup.snap")
    store = ["--endpoints", "http://127.0.0.1:8001", "--token-file", vms.dir(2).path("store-token")]
    unauthenticated = vms.raftkube(2, "store", "status", "--endpoints", "http://127.0.0.1:8001", check=False)
    assert unauthenticated.returncode != 0
    vms.raftkube(2, "store", "snapshot", "save", backup, *store)
    assert (os.stat(backup).st_mode & 0o777) == 0o600
    assert "revision" in vms.raftkube(2, "store", "snapshot", "status", backup).stdout

    # ---- lose every control-plane data dir; restore each member from the backup; start again
    for i in CONTROL:
        vms.kill(i, signal.SIGTERM)
    initial = ",".join(f"vm{i}={net.addr(i)}:7001" for i in CONTROL)
    for i in CONTROL:
        shutil.rmtree(vms.dir(i).path("data"))
        vms.raftkube(i, "store", "snapshot", "restore", backup, "--data-dir", vms.dir(i).path("data"),
                     "--name", f"vm{i}", "--initial-cluster", initial)
    for i in CONTROL:
        peers = ",".join(f"{net.addr(j)}:7001" for j in CONTROL if j != i)
        vms.start(i, "server", "--peers", peers)
    wait_for("the restored objects", lambda: vms.kubectl(admin3, "get", "cm", "after-kill",
                                                         "-o", "jsonpath={.data.k}").stdout == "v", vms)
    replicas = vms.kubectl(admin3, "get", "deploy", "hello", "-o", "jsonpath={.spec.replicas}").stdout
    assert replicas == "3"
    node4 = vms.dir(4).path("node.kubeconfig")  # the worker's own token came back with the Secrets
    wait_for("vm4's own identity accepted by the restored cluster",
             lambda: vms.kubectl(node4, "get", "node", "vm4", "-o", "name").stdout.strip() == "node/vm4", vms)
