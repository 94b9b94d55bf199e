"""Shared pieces of the agent-on-Podman tests (no tests here): a private Podman service with the busybox
image, clean-up of one node's sandboxes by label (and of the nodes of killed test runs), `podman ps` by
label, a pod watch that records every version of a pod, an abrupt agent kill, and the Endpoints controller
run in-process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from podman import PodmanClient
from podman.errors import APIError, NotFound

from raftkube.client import ApiClient
from raftkube.client.events import EventRecorder
from raftkube.control.endpoints import EndpointsController
from raftkube.control.runtime import SharedInformers
from raftkube.node.agent import Agent
from raftkube.node.podman_service import PodmanService, podman_env
from raftkube.node.runtime import NODE_LABEL

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/raftkube/busybox:latest"
Obj = dict[str, Any]
POD = ("v1", "Pod")
# Podman's storage and state are the host's (/var/lib/containers), shared by every run: each run records
# the node names it owns here with its pid, so a later run can remove what a killed run left running
# (its conmons hold published ports and its netavark DNAT rules shadow the new pods' rules)
OWNERS_DIR = Path("/tmp/raftkube-test-podman-nodes")


@contextlib.contextmanager
def podman_service(run_dir: Path, nodes: list[str]) -> Iterator[PodmanService]:
    """A Podman service in `run_dir` with the busybox image; at the end every pod and container labelled
    with one of `nodes` is removed and the service stopped. Skips the test when podman is missing."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not on PATH: run deploy/podman/setup.sh")
    svc = PodmanService(run_dir)
    svc.start()
    try:
        remove_nodes_of_dead_runs(svc)
        claim_nodes(nodes)
        subprocess.run(["bash", str(ROOT / "deploy/images/build.sh")], env=podman_env(svc.conf_path), check=True,
                       capture_output=True, timeout=120)
        yield svc
    finally:
        for node in nodes:
            remove_node_sandboxes(svc, node)
            (OWNERS_DIR / node).unlink(missing_ok=True)
        svc.stop()


def claim_nodes(nodes: list[str]) -> None:
    OWNERS_DIR.mkdir(mode=0o700, exist_ok=True)
    for node in nodes:
        (OWNERS_DIR / node).write_text(str(os.getpid()))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_nodes_of_dead_runs(svc: PodmanService) -> None:
    """Remove the sandboxes of every node claimed by a test process that is gone (a killed run)."""
    if not OWNERS_DIR.is_dir():
        return
    for claim in OWNERS_DIR.iterdir():
        try:
            pid = int(claim.read_text() or 0)
        except (OSError, ValueError):
            pid = 0
        if pid and _alive(pid):
            continue
        remove_node_sandboxes(svc, claim.name)
        claim.unlink(missing_ok=True)


def remove_node_sandboxes(svc: PodmanService, node: str) -> None:
    """Kill and remove every pod and container labelled with `node` (pods first, in parallel: a pod whose
    containers ran exec sessions takes Podman 4.3 seconds to remove; then straggling containers)."""

    def remove_pod(pod: Any) -> None:
        with contextlib.suppress(NotFound, APIError):
            pod.kill()
        with contextlib.suppress(NotFound):
            pod.remove(force=True)

    with PodmanClient(base_url=svc.base_url, timeout=60) as client:
        pods = client.pods.list(filters=[f"label={NODE_LABEL}={node}"])
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(remove_pod, pods))
        for ctr in client.containers.list(all=True, filters=[f"label={NODE_LABEL}={node}"]):
            with contextlib.suppress(NotFound):
                ctr.remove(force=True, v=True)


def podman_ps(svc: PodmanService, label: str) -> list[str]:
    """Names of every container (any state) carrying `label` (k=v), from the podman CLI."""
    out = subprocess.run(["podman", "ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}"],
                         env=podman_env(svc.conf_path), check=True, capture_output=True, text=True, timeout=30)
    return out.stdout.split()


def podman_pods(svc: PodmanService, label: str) -> list[str]:
    out = subprocess.run(["podman", "pod", "ps", "-q", "--filter", f"label={label}"], env=podman_env(svc.conf_path),
                         check=True, capture_output=True, text=True, timeout=30)
    return out.stdout.split()


@dataclass
class PodHistory:
    """Every version of one pod seen by a watch (ADDED/MODIFIED/DELETED), oldest first."""

    name: str
    versions: list[Obj] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def waiting_reasons(self, container: str) -> list[str]:
        out = []
        for pod in self.versions:
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
                if cs.get("name") == container and reason and (not out or out[-1] != reason):
                    out.append(reason)
        return out


@contextlib.asynccontextmanager
async def pod_history(client: ApiClient, namespace: str, name: str) -> AsyncIterator[PodHistory]:
    """Record every version of pod `name` from now on, for the duration of the block."""
    start = await client.list(POD, namespace)
    history = PodHistory(name)

    async def follow() -> None:
        rv = start["metadata"]["resourceVersion"]
        async for kind, obj in client.watch(POD, namespace, resource_version=rv, allow_bookmarks=False):
            if (obj.get("metadata") or {}).get("name") == name and kind in ("ADDED", "MODIFIED", "DELETED"):
                history.versions.append(obj)
                history.changed.set()

    task = asyncio.get_running_loop().create_task(follow(), name=f"history-{name}")
    try:
        yield history
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def kill_agent(agent: Agent) -> None:
    """Stop an agent as a killed process would: cancel every task it runs at once (loops, workers, probes,
    informer, log server), with no flush of events and nothing done to its containers."""
    tasks: list[asyncio.Task[Any]] = list(agent._tasks)
    for worker in agent.workers.values():
        if worker._task is not None:
            tasks.append(worker._task)
        tasks += [t for inst in worker.probes._instances.values() for t in inst.tasks]
    informer = agent.informer
    if informer is not None:
        tasks += [t for t in (informer._task, informer._resync_task, *informer._side_tasks) if t is not None]
    server = agent.log_server
    if server is not None and server._task is not None:
        server.server.should_exit = True  # uvicorn closes its socket: the next agent may use another port
        tasks.append(server._task)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception, SystemExit):
            await task
    if agent.ctx is not None:
        await agent.ctx.http.aclose()  # the process's sockets die with it


@contextlib.asynccontextmanager
async def endpoints_controller(client: ApiClient) -> AsyncIterator[EndpointsController]:
    """The real Endpoints controller with its own shared informers, acting at once (no election)."""
    informers = SharedInformers(client)
    recorder = EventRecorder(client, "endpoints-controller")
    controller = EndpointsController(client, informers, recorder)
    await informers.start()
    task = asyncio.get_running_loop().create_task(controller.controller.run(lambda: True), name="endpoints")
    try:
        yield controller
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await informers.stop()
