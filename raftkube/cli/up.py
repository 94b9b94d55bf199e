"""`raftkube up` / `raftkube down`: a local HA cluster on this machine, as real processes.

Three control-plane replicas (`raftkube server`: a store replica, the Kubernetes API, a
controller-manager and a scheduler), with Raft on 127.0.0.1:7001-7003, the store's HTTP port
on 127.0.0.1:8001-8003 (the store CLI's default endpoints) and the API on
127.0.0.1:6443-6445; two node agents (`raftkube agent`, pods in Podman, log servers on
127.0.0.1:10250-10251, a service proxy each) sharing one Podman service. A kubeconfig naming
all three API endpoints and an admin token is written to `<dir>/kubeconfig`. Nothing is
installed: missing prerequisites are named with the command that installs them. The processes
outlive `up`; their pids are kept in `<dir>/cluster.json` so that `down` stops exactly them and
removes the containers the agents made (by label), nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import time
from pathlib import Path

import click
import yaml

from ..client.kubeconfig import build_kubeconfig
from ..local.control_plane import LocalControlPlane
from ..local.nodes import AGENT_BASE_PORT, LocalNodes, remove_containers
from ..node.memory_volumes import unmount_under
from ..secure_files import private_dir, write_private

DEFAULT_DIR = os.path.join(os.path.expanduser("~"), ".raftkube", "local")
STORE_PORTS = [(7001, 8001), (7002, 8002), (7003, 8003)]
API_PORTS = [6443, 6444, 6445]


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _is_ours(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"raftkube" in cmdline or b"podman\x00system\x00service" in cmdline


def _state_file(directory: str) -> Path:
    return Path(directory, "cluster.json")


def _running_pids(directory: str) -> list[int]:
    path = _state_file(directory)
    if not path.exists():
        return []
    state = json.loads(path.read_text())
    return [p["pid"] for p in state.get("processes", []) if _is_ours(p["pid"])]


@click.command()
@click.option("--dir", "directory", default=DEFAULT_DIR, show_default=True, help="Data, logs and state.")
@click.option("--agents", default=2, show_default=True, type=click.IntRange(0, 50), help="Node agents to start.")
@click.option("--runtime", type=click.Choice(["podman", "fake"]), default="podman", show_default=True,
              help="Agents' container runtime (fake: hollow nodes that run nothing).")
def up(directory: str, agents: int, runtime: str) -> None:
    """Start a local HA cluster: three control-plane replicas and node agents on 127.0.0.1."""
    if _running_pids(directory):
        click.echo(f"already up (state in {_state_file(directory)}); `raftkube down` stops it")
        return
    agent_ports = [AGENT_BASE_PORT + i for i in range(agents)]
    taken = [p for pair in STORE_PORTS for p in pair if _port_taken(p)] + \
        [p for p in API_PORTS + agent_ports if _port_taken(p)]
    if taken:
        raise click.ClickException(f"ports already in use on 127.0.0.1: {taken}; stop what holds them first")
    private_dir(directory)
    kubeconfig = Path(directory, "kubeconfig")
    nodes = LocalNodes(directory, str(kubeconfig), count=agents, runtime=runtime)
    missing = nodes.prerequisites() if agents else []
    if missing:
        raise click.ClickException("; ".join(missing))
    token_path = Path(directory, "admin-token")
    if not token_path.exists():
        write_private(str(token_path), secrets.token_urlsafe(24))
    cluster = LocalControlPlane(directory, size=len(STORE_PORTS), ports=STORE_PORTS, api_ports=API_PORTS,
                                token=token_path.read_text().strip())
    nodes.provision(cluster)  # the nodes' tokens must be in the token file before the API servers read it
    started = time.monotonic()
    try:
        cluster.start(timeout=60)
    except (RuntimeError, TimeoutError) as err:
        cluster.close()
        raise click.ClickException(f"cluster did not come up: {err} (logs in {directory})") from None
    processes = [{"name": r.name, "pid": r.process.pid, "raft": r.raft_addr, "store": r.url,
                  "api": cluster.api_url(i)} for i, r in enumerate(cluster.replicas) if r.process is not None]
    _state_file(directory).write_text(json.dumps({"processes": processes}, indent=2))
    write_private(str(kubeconfig), yaml.safe_dump(build_kubeconfig(cluster.api_urls, cluster.token,
                                                                  ca_data=cluster.pki.ca_pem()), sort_keys=False))
    leader = cluster.replicas[cluster.leader_index()].name
    click.echo(f"control plane up in {time.monotonic() - started:.1f}s (Raft leader {leader}):")
    for p in processes:
        click.echo(f"  {p['name']}  pid {p['pid']}  api {p['api']}  raft {p['raft']}  store {p['store']}")
    if agents:
        _start_nodes(nodes, processes, directory)
    click.echo(f"kubeconfig: {kubeconfig}")
    click.echo(f"try:  export KUBECONFIG={kubeconfig}; kubectl apply -f examples/hello.yaml; "
               "kubectl rollout status deploy/hello; curl http://127.0.0.1:30080/")
    click.echo(f"logs: {directory}/*.log      stop:  raftkube down")


def _start_nodes(nodes: LocalNodes, processes: list[dict[str, object]], directory: str) -> None:
    started = time.monotonic()
    state: dict[str, object] = {"processes": processes, "nodes": nodes.names}
    if nodes.runtime == "podman":
        try:
            note = nodes.start_podman()
        except Exception as err:  # noqa: BLE001 - any failure here is reported, with the cluster left up
            raise click.ClickException(f"Podman did not start: {err} (control plane is up; `raftkube down` "
                                       "stops it)") from None
        processes.append({"name": "podman", "pid": nodes.podman_pid})
        state["podman_socket"] = str(nodes.podman_socket)
        click.echo(f"podman service up ({note})")
    nodes.start_agents()
    for name, proc in zip(nodes.names, nodes.processes, strict=True):
        processes.append({"name": name, "pid": proc.pid})
    _state_file(directory).write_text(json.dumps(state, indent=2))
    ready = _wait_nodes_ready(nodes, timeout=60)
    click.echo(f"{len(ready)}/{nodes.count} nodes Ready in {time.monotonic() - started:.1f}s "
               f"({nodes.runtime} runtime): {', '.join(ready) or '-'}")
    if len(ready) < nodes.count:
        click.echo(f"warning: some agents are not Ready yet; see {directory}/node-*.log", err=True)


def _wait_nodes_ready(nodes: LocalNodes, timeout: float) -> list[str]:
    import asyncio

    from ..client import ApiClient, ApiError
    from ..control.daemonset_nodes import node_ready

    async def poll() -> list[str]:
        async with ApiClient.from_kubeconfig(nodes.kubeconfig) as api:
            ready: list[str] = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if any(p.poll() is not None for p in nodes.processes):
                    break  # an agent exited: its log says why
                try:
                    listing = await api.list(("v1", "Node"))
                except ApiError:
                    listing = {"items": []}
                ready = [n["metadata"]["name"] for n in listing["items"] if node_ready(n)]
                if set(nodes.names) <= set(ready):
                    return ready
                await asyncio.sleep(0.2)
            return ready

    return asyncio.run(poll())


@click.command()
@click.option("--dir", "directory", default=DEFAULT_DIR, show_default=True)
@click.option("--purge", is_flag=True, help="Also delete the data directory.")
def down(directory: str, purge: bool) -> None:
    """Stop the local cluster started by `raftkube up` and remove the containers its agents made."""
    path = _state_file(directory)
    state = json.loads(path.read_text()) if path.exists() else {}
    entries = [p for p in state.get("processes", []) if _is_ours(p["pid"])]
    # agents first (so nothing restarts containers), then their containers, then Podman, then the servers
    agents = [p["pid"] for p in entries if str(p["name"]).startswith("node-")]
    podman = [p["pid"] for p in entries if p["name"] == "podman"]
    servers = [p["pid"] for p in entries if p["pid"] not in agents + podman]
    _stop(agents)
    removed = remove_containers(state["podman_socket"], state.get("nodes", [])) if state.get("podman_socket") else 0
    if os.path.isdir(directory):
        unmount_under(directory)  # the pods' tmpfs volumes (Secrets, tokens): stopped agents leave them mounted
    _stop(podman)
    _stop(servers)
    path.unlink(missing_ok=True)
    if purge:
        shutil.rmtree(directory, ignore_errors=True)
    click.echo(f"stopped {len(entries)} processes, removed {removed} pods' containers"
               + (" and the data" if purge else ""))


def _stop(pids: list[int], timeout: float = 15.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_is_ours(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if _is_ours(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
