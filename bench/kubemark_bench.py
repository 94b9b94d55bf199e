"""Kubemark-style scale run: N hollow nodes, M pods, the Kubernetes SLOs measured, one run.

    .venv/bin/python -m bench.kubemark_bench [--nodes 1000] [--pods 30000] [--creators 32] [--rate 0]

Starts `LocalControlPlane` (3 `raftkube server` processes with controller-manager and scheduler,
TLS, the watch cache on unless `--no-watch-cache`) and N hollow agents in `--agent-processes`
processes (bench/hollow_shard.py, raftkube/node/hollow_runtime.py; a client per 50 agents; Lease
renewal every `--heartbeat` s, below
the node-lifecycle grace of 8 s). Once every Node is Ready, M pods are created by `--creators`
concurrent clients (`--rate` per second in all, 0 = as fast as they go), and a watch on all pods
records when each is seen Running. Meanwhile a prober lists all pods and all nodes every 5 s.

Prints (never asserts), with `uptime`: the mutating API call latency (pod creates, as seen by the
creators: SLO p99 <= 1 s), pod startup latency (create -> Running seen by the watch: SLO p99 <= 5 s),
create -> first watch event (watch latency), list latency of pods and nodes, how many pods got
Running, and the control plane's RSS (the 3 replicas, each holds the whole state) per node and per
pod, as well as this process's (the hollow agents') CPU and RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from bench.api_bench_plane import memory_kib
from bench.hollow_shard import TOKEN_ENV
from bench.measure import cpu_seconds, exit_on_sigterm, percentile
from raftkube.client import ApiClient, ApiError
from raftkube.control.daemonset_nodes import node_ready
from raftkube.local.control_plane import LocalControlPlane

POD, NODE, NAMESPACE = ("v1", "Pod"), ("v1", "Node"), "kubemark"


def pod_body(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "kubemark"}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "registry.local/pause:1",
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def spread(values: list[float], unit: float = 1.0, suffix: str = "s") -> str:
    if not values:
        return "none"
    p50, p90, p99 = (percentile(values, p) * unit for p in (50, 90, 99))
    return (f"p50 {p50:.3f} {suffix}, p90 {p90:.3f} {suffix}, p99 {p99:.3f} {suffix}, "
            f"max {max(values) * unit:.3f} {suffix} (n={len(values)})")


class Run:
    def __init__(self, plane: LocalControlPlane, args: argparse.Namespace) -> None:
        self.plane, self.args = plane, args
        self.api = ApiClient(plane.api_urls, plane.token, plane.ca_file, timeout=60, max_connections=4 * args.creators)
        self.created: dict[str, float] = {}
        self.first_seen: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.create_latency: list[float] = []
        self.create_errors = 0
        self.error_samples: list[str] = []
        self.lists: dict[str, list[float]] = {"pods": [], "nodes": []}
        self.shards: list[subprocess.Popen[str]] = []

    def start_agents(self, base: str) -> None:
        """`--agent-processes` processes of hollow agents (bench/hollow_shard.py), each with its share."""
        env = {**os.environ, TOKEN_ENV: self.plane.token}
        k = self.args.agent_processes
        for i in range(k):
            self.shards.append(subprocess.Popen(
                [sys.executable, "-m", "bench.hollow_shard", "--index", str(i), "--of", str(k),
                 "--nodes", str(self.args.nodes), "--urls", ",".join(self.plane.api_urls), "--ca",
                 self.plane.ca_file, "--base", os.path.join(base, f"shard{i}"),
                 "--heartbeat", str(self.args.heartbeat)],
                env=env, stdout=subprocess.PIPE, text=True))
        for shard in self.shards:  # each prints one line once its agents started
            assert shard.stdout is not None
            line = shard.stdout.readline()
            if not line.startswith("started"):
                raise RuntimeError(f"a hollow shard did not start (exit {shard.poll()})")

    def shard_usage(self, seconds: float) -> tuple[float, float]:
        """(CPU share of a core, RSS MiB) of the shard processes together."""
        cpu = sum(cpu_seconds(shard.pid) for shard in self.shards)
        rss = sum(memory_kib(shard.pid, "VmRSS") for shard in self.shards) / 1024
        return cpu / max(seconds, 1e-9), rss

    def stop_shards(self) -> None:
        for shard in self.shards:
            shard.terminate()
        for shard in self.shards:
            try:
                shard.wait(60)
            except subprocess.TimeoutExpired:
                shard.kill()

    async def wait_nodes_ready(self, timeout: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            with contextlib.suppress(ApiError):
                listing = await self.api.list(NODE)
                if sum(node_ready(n) for n in listing["items"]) >= self.args.nodes:
                    break
            await asyncio.sleep(1)
        return time.monotonic() - start

    async def follow(self, rv: str) -> None:
        async for _kind, pod in self.api.watch(POD, NAMESPACE, resource_version=rv):
            name, now = pod["metadata"].get("name", ""), time.monotonic()
            self.first_seen.setdefault(name, now)
            if (pod.get("status") or {}).get("phase") == "Running":
                self.running.setdefault(name, now)

    async def create(self) -> None:
        names = iter(f"p{i:06d}" for i in range(self.args.pods))
        interval = self.args.creators / self.args.rate if self.args.rate else 0.0
        stop = time.monotonic() + self.args.create_seconds

        async def creator() -> None:
            for name in names:
                if time.monotonic() > stop:
                    return  # what fit in the time given
                t = time.monotonic()
                self.created[name] = t
                try:
                    await self.api.create(POD, pod_body(name), NAMESPACE)
                    self.create_latency.append(time.monotonic() - t)
                except ApiError as err:
                    self.create_errors += 1
                    if len(self.error_samples) < 3:
                        self.error_samples.append(str(err)[:300])
                if interval:
                    await asyncio.sleep(max(0.0, interval - (time.monotonic() - t)))
        await asyncio.gather(*(creator() for _ in range(self.args.creators)))

    async def where_pods_are(self) -> str:
        """How many pods are unscheduled, bound but not Running, Running (what a slow startup waits on)."""
        try:
            items = (await self.api.list(POD, NAMESPACE))["items"]
        except ApiError as err:
            return f"not listed ({err})"
        unbound = sum(not (p.get("spec") or {}).get("nodeName") for p in items)
        running = sum((p.get("status") or {}).get("phase") == "Running" for p in items)
        return f"{unbound} unscheduled, {len(items) - unbound - running} bound not Running, {running} Running"

    async def probe(self) -> None:
        while True:
            for what, ref, ns in (("pods", POD, NAMESPACE), ("nodes", NODE, None)):
                t = time.monotonic()
                with contextlib.suppress(ApiError):
                    await self.api.list(ref, ns)
                    self.lists[what].append(time.monotonic() - t)
            await asyncio.sleep(5)


async def run(args: argparse.Namespace) -> None:
    base = tempfile.mkdtemp(prefix="raftkube-kubemark-")
    extra = [] if args.watch_cache else ["--watch-cache=false"]
    if args.election_timeout:
        extra.append(f"--election-timeout={args.election_timeout}")
    if args.kubernetes_leases:  # kube-controller-manager's and kube-scheduler's defaults
        extra += ["--leader-elect-lease-duration=15s", "--leader-elect-renew-deadline=10s",
                  "--leader-elect-retry-period=2s"]
    plane = LocalControlPlane(os.path.join(base, "plane"), size=3, controllers=True, extra_args=extra)
    bench: Run | None = None
    try:
        plane.start(timeout=90)
        bench = Run(plane, args)
        print(f"load at start: {uptime()}", flush=True)
        cpu0, t0 = time.process_time(), time.monotonic()
        await asyncio.to_thread(bench.start_agents, base)
        ready_after = await bench.wait_nodes_ready(300)
        print(f"{args.nodes} hollow nodes started; all Ready after {time.monotonic() - t0:.1f} s "
              f"(wait {ready_after:.1f} s)", flush=True)
        await bench.api.create(("v1", "Namespace"), {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": NAMESPACE}})
        rv = (await bench.api.list(POD, NAMESPACE))["metadata"]["resourceVersion"]
        watcher = asyncio.ensure_future(bench.follow(rv))
        prober = asyncio.ensure_future(bench.probe())
        t1 = time.monotonic()
        await bench.create()
        created_in = time.monotonic() - t1
        made = len(bench.create_latency)
        print(f"{made} pods created in {created_in:.1f} s ({made / created_in:.0f}/s), "
              f"{bench.create_errors} errors ({uptime()})", flush=True)
        for sample in bench.error_samples:
            print(f"  error: {sample}", flush=True)
        deadline = time.monotonic() + args.settle
        while len(bench.running) < made and time.monotonic() < deadline:  # noqa: ASYNC110 (a bounded poll)
            await asyncio.sleep(1)
        prober.cancel()
        watcher.cancel()
        where = await bench.where_pods_are()
        startup = [bench.running[n] - bench.created[n] for n in bench.running if n in bench.created]
        watch_lat = [bench.first_seen[n] - bench.created[n] for n in bench.first_seen if n in bench.created]
        rss = [memory_kib(r.process.pid if r.process else None, "VmRSS") / 1024 for r in plane.replicas]
        cpu = (time.process_time() - cpu0) / max(time.monotonic() - t0, 1e-9)
        shard_cpu, shard_rss = bench.shard_usage(time.monotonic() - t0)
        print(f"\nKubemark-style run, {args.nodes} hollow nodes, {args.pods} pods, watch cache "
              f"{'on' if args.watch_cache else 'off'}, election timeout {args.election_timeout or 'default'}, "
              f"leader elections {'15s/10s/2s' if args.kubernetes_leases else '1.2s/0.8s/0.2s'}; "
              f"load at end: {uptime()}")
        print(f"  mutating API calls (pod create, {args.creators} creators): {spread(bench.create_latency)}")
        print(f"  pod startup (create -> Running seen by a watch): {spread(startup)}; "
              f"{len(bench.running)}/{len(bench.create_latency)} Running")
        print(f"  where the pods are at the end: {where}")
        print(f"  create -> first watch event: {spread(watch_lat)}")
        print(f"  list all {NAMESPACE} pods: {spread(bench.lists['pods'])}")
        print(f"  list all nodes: {spread(bench.lists['nodes'])}")
        total = sum(rss)
        print(f"  control plane RSS: {' / '.join(f'{r:.0f}' for r in rss)} MiB (sum {total:.0f} MiB; per replica "
              f"{total / 3 / max(args.nodes, 1) * 1024:.0f} KiB per node+its pods, "
              f"{total / 3 / max(len(bench.create_latency), 1) * 1024:.1f} KiB per pod including the nodes)")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  hollow agents ({args.agent_processes} processes): {shard_cpu * 100:.0f}% of a core, RSS "
              f"{shard_rss:.0f} MiB ({shard_rss / max(args.nodes, 1) * 1024:.0f} KiB per node); the creators' and "
              f"watch's process {cpu * 100:.0f}% of a core, max RSS {own:.0f} MiB", flush=True)
    finally:
        if bench is not None:
            bench.stop_shards()
            await bench.api.close()
        plane.close()
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=30_000)
    parser.add_argument("--creators", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0.0, help="pod creates per second in all (0: unpaced)")
    parser.add_argument("--heartbeat", type=float, default=5.0, help="hollow nodes' Lease renewal period (s)")
    parser.add_argument("--create-seconds", type=float, default=600.0,
                        help="stop creating pods after this long (the figures say how many fit)")
    parser.add_argument("--settle", type=float, default=120.0, help="seconds to wait for pods to get Running")
    parser.add_argument("--agent-processes", type=int, default=2, help="processes the hollow agents run in")
    parser.add_argument("--no-watch-cache", dest="watch_cache", action="store_false")
    parser.add_argument("--election-timeout", type=int, default=0,
                        help="the replicas' --election-timeout in ms (0: raftkube's default, 300-700 ms)")
    parser.add_argument("--kubernetes-leases", action="store_true",
                        help="the controller-manager's and scheduler's leader elections with Kubernetes' timings "
                             "(15s / 10s / 2s) instead of raftkube's 1.2s / 0.8s / 0.2s")
    signal.signal(signal.SIGTERM, exit_on_sigterm)  # so that the finally blocks stop the plane
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
