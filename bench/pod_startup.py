"""Pod start-up through the whole stack, and how many hollow nodes one machine holds.

    .venv/bin/python -m bench.pod_startup [--pods 50] [--rate 2] [--hollow 50,100,200] [--skip-podman]

Starts `LocalControlPlane` (3 `raftkube server` processes: store, API, controller-manager and
scheduler, TLS) in a temporary directory and prints, never asserts:

1. Podman: two real `raftkube agent` processes on one Podman service (as `raftkube up`); `--pods`
   bare pods (busybox httpd with a readiness probe) created at `--rate` per second, then the
   same number created at once. Per pod: create -> scheduled (spec.nodeName seen) -> Running
   (phase Running seen) -> Ready (Ready condition seen), from a watch; p50/p99/max of each.
2. Hollow nodes: N agents with the hollow runtime in this process (one shared client, no log
   servers, 2 s Lease heartbeats), for each N in `--hollow`: time until all N Nodes are Ready,
   then N pods created and the time until all are Running; whether every node stayed Ready for
   a 12 s hold (the node-lifecycle grace is 8 s); this process's CPU and memory per node.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import yaml

from bench.measure import log, percentile
from raftkube.client import ApiClient, ApiError
from raftkube.client.kubeconfig import build_kubeconfig
from raftkube.control.daemonset_nodes import node_ready
from raftkube.control.podutil import is_ready
from raftkube.local.control_plane import LocalControlPlane
from raftkube.local.nodes import IMAGE, LocalNodes
from raftkube.local.store_cluster import free_port
from raftkube.node.agent import Agent
from raftkube.node.config import AgentConfig
from raftkube.node.hollow_runtime import HollowMachine, HollowRuntime

Obj = dict[str, Any]
POD, NODE = ("v1", "Pod"), ("v1", "Node")


def pod_body(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "startup"}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "web", "image": IMAGE, "ports": [{"containerPort": 8080}],
                                     "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
                                     "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}


class Milestones:
    """create / scheduled / running / ready times per pod name, from a watch on the namespace."""

    def __init__(self) -> None:
        self.created: dict[str, float] = {}
        self.seen: dict[str, dict[str, float]] = {"scheduled": {}, "running": {}, "ready": {}}

    async def follow(self, api: ApiClient, namespace: str, rv: str) -> None:
        async for _kind, pod in api.watch(POD, namespace, resource_version=rv):
            name, now = pod["metadata"].get("name", ""), time.monotonic()
            if (pod.get("spec") or {}).get("nodeName"):
                self.seen["scheduled"].setdefault(name, now)
            if (pod.get("status") or {}).get("phase") == "Running":
                self.seen["running"].setdefault(name, now)
            if is_ready(pod):
                self.seen["ready"].setdefault(name, now)

    def report(self, label: str, names: list[str]) -> None:
        for stage, times in self.seen.items():
            lat = [times[n] - self.created[n] for n in names if n in times and n in self.created]
            if not lat:
                print(f"  {label:<22} {stage:<9} no pod got there")
                continue
            print(f"  {label:<22} {stage:<9} p50 {percentile(lat, 50):6.3f} s  p99 {percentile(lat, 99):6.3f} s  "
                  f"max {max(lat):6.3f} s  ({len(lat)}/{len(names)} pods)")


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await check():
                return True
        except ApiError as err:  # an overloaded API is a finding to print, not a crash
            log(f"poll failed: {err}")
        await asyncio.sleep(0.2)
    return False


async def create_paced(api: ApiClient, namespace: str, names: list[str], rate: float | None,
                       marks: Milestones) -> None:
    async def one(name: str) -> None:
        marks.created[name] = time.monotonic()
        await api.create(POD, pod_body(name), namespace)

    if rate is None:
        await asyncio.gather(*(one(n) for n in names))
        return
    start = time.monotonic()
    for i, name in enumerate(names):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        await one(name)


async def podman_startup(plane: LocalControlPlane, nodes: LocalNodes, pods: int, rate: float) -> None:
    missing = nodes.prerequisites()
    if missing:
        print(f"podman part skipped: {'; '.join(missing)}")
        return
    log(nodes.start_podman())
    nodes.start_agents()
    try:
        async with ApiClient(plane.api_urls, plane.token, plane.ca_file, timeout=30) as api:
            async def nodes_ready() -> bool:
                listing = await api.list(NODE)
                return sum(node_ready(n) for n in listing["items"]) >= 2
            if not await eventually(nodes_ready, 60):
                print("podman part: agents did not become Ready (see their logs)")
                return
            for label, ns, paced in ((f"paced {rate:g}/s", "startup-paced", rate), ("burst (all at once)",
                                                                                 "startup-burst", None)):
                await api.create(("v1", "Namespace"), {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": ns}})
                marks = Milestones()
                rv = (await api.list(POD, ns))["metadata"]["resourceVersion"]
                watcher = asyncio.create_task(marks.follow(api, ns, rv))
                names = [f"p{i:03d}" for i in range(pods)]
                started = time.monotonic()
                await create_paced(api, ns, names, paced, marks)
                await eventually(lambda m=marks, n=names: _all(m, "ready", n), 180)
                log(f"{label}: {pods} pods ready in {time.monotonic() - started:.1f} s")
                watcher.cancel()
                marks.report(label, names)
                await api.delete(("v1", "Namespace"), ns)
    finally:
        for proc in nodes.processes:
            proc.terminate()
        for proc in nodes.processes:
            proc.wait(20)
        from raftkube.local.nodes import remove_containers
        removed = await asyncio.to_thread(remove_containers, str(nodes.podman_socket), nodes.names)
        log(f"removed {removed} sandboxes")
        if nodes.podman_pid:
            os.kill(nodes.podman_pid, 15)


async def _all(marks: Milestones, stage: str, names: list[str]) -> bool:
    return all(n in marks.seen[stage] for n in names)


STEP_LIMIT = 300.0  # seconds one hollow-node step may take before the bench gives up on it


async def hollow_capacity(plane: LocalControlPlane, base: str, counts: list[int]) -> None:
    api = ApiClient(plane.api_urls, plane.token, plane.ca_file, timeout=30)
    machine = HollowMachine()
    agents: list[Agent] = []
    try:
        for target in counts:
            try:
                print(await asyncio.wait_for(hollow_step(api, machine, agents, target, base), STEP_LIMIT), flush=True)
            except TimeoutError:
                print(f"  {target:4d} hollow nodes: gave up after {STEP_LIMIT:.0f} s (the control plane could not "
                      "keep up; see the replicas' logs)", flush=True)
                break
    finally:
        for chunk in range(0, len(agents), 50):
            await asyncio.gather(*(a.stop() for a in agents[chunk:chunk + 50]), return_exceptions=True)
        await api.close()


async def hollow_step(api: ApiClient, machine: HollowMachine, agents: list[Agent], target: int, base: str) -> str:
    """Grow to `target` hollow agents, create `target` pods, hold 12 s; one line of figures."""
    cpu0, t0 = time.process_time(), time.monotonic()
    new = [Agent(AgentConfig(node=f"hollow-{i:04d}", port=None, data_dir=os.path.join(base, "hollow"),
                             cpu="8", memory="32Gi", pods=110, pressure_checks=False, events=False,
                             status_period=30.0, relist_period=5.0, resync_period=30.0),
                 HollowRuntime(f"hollow-{i:04d}", machine), api)
           for i in range(len(agents), target)]
    for chunk in range(0, len(new), 25):
        started = new[chunk:chunk + 25]
        agents.extend(started)  # stopped at the end even if this step is given up
        await asyncio.gather(*(a.start() for a in started))

    async def all_ready() -> bool:
        listing = await api.list(NODE, label_selector="kubernetes.io/hostname")
        return sum(node_ready(n) for n in listing["items"]) >= target
    ok = await eventually(all_ready, 120)
    registered = time.monotonic() - t0
    ns = f"hollow-{target}"
    await api.create(("v1", "Namespace"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    t1 = time.monotonic()
    for chunk in range(0, target, 50):
        names = [f"h{i:05d}" for i in range(chunk, min(target, chunk + 50))]
        await asyncio.gather(*(api.create(POD, pod_body(name), ns) for name in names))

    async def all_running() -> bool:
        listing = await api.list(POD, ns)
        return sum((p.get("status") or {}).get("phase") == "Running" for p in listing["items"]) >= target
    running = await eventually(all_running, 120)
    to_running = time.monotonic() - t1
    hold_start, stayed = time.monotonic(), True
    while time.monotonic() - hold_start < 12:
        try:
            listing = await api.list(NODE)
        except ApiError:
            stayed = False
        else:
            stayed = stayed and sum(node_ready(n) for n in listing["items"]) >= target
        await asyncio.sleep(1)
    cpu = (time.process_time() - cpu0) / max(time.monotonic() - t0, 1e-9)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    await api.delete(("v1", "Namespace"), ns)
    return (f"  {target:4d} hollow nodes: all Ready {'yes' if ok else 'NO'} in {registered:5.1f} s; "
            f"{target} pods Running {'yes' if running else 'NO'} in {to_running:5.1f} s; stayed Ready "
            f"through a 12 s hold: {'yes' if stayed else 'NO'}; agents' process {cpu * 100:4.0f}% CPU, "
            f"max RSS {rss:5.0f} MiB ({rss / target:4.2f} MiB/node)")


async def main_async(args: argparse.Namespace) -> None:
    base = tempfile.mkdtemp(prefix="raftkube-pod-startup-")
    plane = LocalControlPlane(os.path.join(base, "plane"), size=3, controllers=True)
    kubeconfig = os.path.join(base, "kubeconfig")
    nodes = LocalNodes(os.path.join(base, "nodes"), kubeconfig, count=2, agent_base_port=free_port(),
                       log_level="warning")
    nodes.provision(plane)  # the nodes' tokens go into the token file the API servers read at start
    try:
        plane.start(timeout=60)
        with open(kubeconfig, "w") as f:
            yaml.safe_dump(build_kubeconfig(plane.api_urls, plane.token, ca_data=plane.pki.ca_pem()), f)
        if not args.skip_podman:
            print(f"1. create -> scheduled / Running / Ready, {args.pods} pods, 2 Podman agents:")
            await podman_startup(plane, nodes, args.pods, args.rate)
        counts = [int(c) for c in args.hollow.split(",") if c]
        if counts:
            print("2. hollow nodes in one process (one shared client):")
            await hollow_capacity(plane, base, counts)
    finally:
        plane.close()
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--rate", type=float, default=2.0, help="paced creations per second")
    parser.add_argument("--hollow", default="50,100,200", help="hollow node counts, ascending")
    parser.add_argument("--skip-podman", action="store_true")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
