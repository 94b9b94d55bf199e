"""`raftkube up` / `raftkube down`: a local HA cluster on this machine, as real processes.

Three control-plane replicas (`raftkube server`: a store replica and the Kubernetes API),
with Raft on 127.0.0.1:7001-7003, the store's HTTP port on 127.0.0.1:8001-8003 (the store
CLI's default endpoints) and the API on 127.0.0.1:6443-6445; a kubeconfig naming all three
API endpoints and an admin token is written to `<dir>/kubeconfig`. The processes outlive
`up`; their pids and addresses are kept in `<dir>/cluster.json` so that `down` can stop
exactly them.
"""

from __future__ import annotations

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

from .client.kubeconfig import build_kubeconfig
from .local_control_plane import LocalControlPlane

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
        return b"raftkube" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


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
def up(directory: str) -> None:
    """Start a local HA cluster: three control-plane replicas (store + API) on 127.0.0.1."""
    if _running_pids(directory):
        click.echo(f"already up (state in {_state_file(directory)}); `raftkube down` stops it")
        return
    taken = [p for pair in STORE_PORTS for p in pair if _port_taken(p)] + [p for p in API_PORTS if _port_taken(p)]
    if taken:
        raise click.ClickException(f"ports already in use on 127.0.0.1: {taken}; stop what holds them first")
    os.makedirs(directory, exist_ok=True)
    token_path = Path(directory, "admin-token")
    if not token_path.exists():
        token_path.write_text(secrets.token_urlsafe(24))
        token_path.chmod(0o600)
    cluster = LocalControlPlane(directory, size=len(STORE_PORTS), ports=STORE_PORTS, api_ports=API_PORTS,
                                token=token_path.read_text().strip())
    started = time.monotonic()
    try:
        cluster.start(timeout=60)
    except (RuntimeError, TimeoutError) as err:
        cluster.close()
        raise click.ClickException(f"cluster did not come up: {err} (logs in {directory})") from None
    processes = [{"name": r.name, "pid": r.process.pid, "raft": r.raft_addr, "store": r.url,
                  "api": cluster.api_url(i)} for i, r in enumerate(cluster.replicas) if r.process is not None]
    _state_file(directory).write_text(json.dumps({"processes": processes}, indent=2))
    kubeconfig = Path(directory, "kubeconfig")
    kubeconfig.write_text(yaml.safe_dump(build_kubeconfig(cluster.api_urls, cluster.token,
                                                          ca_data=cluster.pki.ca_pem()), sort_keys=False))
    kubeconfig.chmod(0o600)
    leader = cluster.replicas[cluster.leader_index()].name
    click.echo(f"control plane up in {time.monotonic() - started:.1f}s (Raft leader {leader}):")
    for p in processes:
        click.echo(f"  {p['name']}  pid {p['pid']}  api {p['api']}  raft {p['raft']}  store {p['store']}")
    click.echo(f"kubeconfig: {kubeconfig}")
    click.echo(f"try:  export KUBECONFIG={kubeconfig}; kubectl get ns; raftkube apply -f examples/")
    click.echo(f"logs: {directory}/s*.log      stop:  raftkube down")


@click.command()
@click.option("--dir", "directory", default=DEFAULT_DIR, show_default=True)
@click.option("--purge", is_flag=True, help="Also delete the data directory.")
def down(directory: str, purge: bool) -> None:
    """Stop the local cluster started by `raftkube up`."""
    pids = _running_pids(directory)
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_is_ours(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if _is_ours(pid):
            os.kill(pid, signal.SIGKILL)
    _state_file(directory).unlink(missing_ok=True)
    if purge:
        shutil.rmtree(directory, ignore_errors=True)
    click.echo(f"stopped {len(pids)} processes" + (" and removed the data" if purge else ""))
