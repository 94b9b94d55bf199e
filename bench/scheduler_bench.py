"""Scheduler benchmark: bind 5,000 pending pods on 500 fake nodes through the full stack, one run.

    .venv/bin/python -m bench.scheduler_bench [--nodes 500] [--pods 5000] [--keep DIR]

Starts `LocalControlPlane` (3 `raftkube server` processes, each with its controller-manager
and scheduler under leader election, TLS) in a temporary directory. To measure a backlog
rather than the rate pods can be created, the bench first holds the `raftkube-scheduler`
Lease itself (a holder with a one-hour lease, so no replica takes it), creates the Ready
nodes and the pending pods, then releases the Lease: a replica's scheduler takes over,
lists, and binds. It holds the `raftkube-controller-manager` Lease the same way for the whole
run: the fake nodes have no agent renewing their node Leases, so the node lifecycle
controller would taint them unreachable and evict their pods after 8 s.

It prints the time from the release to the new holder and to the last pod bound (as seen by a
watch through another replica than the holder's), pods/s over that time and from the takeover,
how evenly the pods spread over the nodes, each replica's CPU seconds, and the scheduler Leases
lost under that load: changes of the Lease's holder after the first takeover (a watch on the
Lease) and "stopped leading" lines in the replicas' logs. It never asserts on time. Every
process it starts is killed on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from typing import Any

from bench.measure import cpu_seconds
from raftkube.client import ApiClient, ApiError, Conflict, NotFound
from raftkube.control.leader_election import DURATION_ANNOTATION, LEASE, micro_now
from raftkube.control.scheduler.algorithm import Algorithm
from raftkube.control.scheduler.cache import SchedulerCache
from raftkube.control.scheduler.info import PodInfo
from raftkube.control.scheduler.runner import LEASE_NAME
from raftkube.local.control_plane import LocalControlPlane

NS = "sched-bench"
HOLDER = "scheduler-bench-hold"
CONTROLLER_MANAGER = "raftkube-controller-manager"
POD, NODE, CM = ("v1", "Pod"), ("v1", "Node"), ("v1", "ConfigMap")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fake_node(i: int) -> dict[str, Any]:
    name = f"hollow-{i:04d}"
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "bench": "scheduler"}},
            "status": {"capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                       "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "lastHeartbeatTime": micro_now()[:19] + "Z"}]}}


def fake_pod(i: int, owner: dict[str, Any]) -> dict[str, Any]:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
           "controller": True}  # an owner no controller manages, for the spreading score
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pending-{i:05d}", "namespace": NS, "labels": {"app": "bench"},
                         "ownerReferences": [ref]},
            "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9",
                                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}


async def bounded(n: int, concurrency: int, make: Any) -> None:
    """make(i) for i < n, `concurrency` at a time."""
    it = iter(range(n))

    async def worker() -> None:
        for i in it:
            for attempt in range(5):
                try:
                    await make(i)
                    break
                except ApiError as err:
                    if attempt == 4 or err.code not in (429, 500, 503, 504):
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
    await asyncio.gather(*(worker() for _ in range(concurrency)))


class LeaseWatch:
    """Every version of one Lease in kube-system from `start()` on: (seen at, holder)."""

    def __init__(self, api: ApiClient, name: str) -> None:
        self.api, self.name = api, name
        self.records: list[tuple[float, str]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        lease = await self.api.get(LEASE, self.name, "kube-system")
        self._add(lease)
        self._task = asyncio.create_task(self._watch(lease["metadata"]["resourceVersion"]))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ApiError):
                await self._task

    async def _watch(self, rv: str) -> None:
        async for kind, obj in self.api.watch(LEASE, "kube-system", resource_version=rv):
            if kind in ("ADDED", "MODIFIED") and obj["metadata"]["name"] == self.name:
                self._add(obj)

    def _add(self, lease: dict[str, Any]) -> None:
        holder = (lease.get("spec") or {}).get("holderIdentity") or ""
        if not self.records or self.records[-1][1] != holder:
            self.records.append((time.monotonic(), holder))

    @property
    def holder(self) -> str:
        return self.records[-1][1] if self.records else ""

    def first(self, check: Any, after: float = 0.0) -> tuple[float, str] | None:
        return next((r for r in self.records if r[0] >= after and check(r[1])), None)

    def changes_after_takeover(self, outsiders: tuple[str, ...] = ("", HOLDER)) -> int:
        """Changes of holder after the first time a replica (not one of `outsiders`) took the Lease."""
        taken = next((i for i, (_, holder) in enumerate(self.records) if holder not in outsiders), None)
        return 0 if taken is None else len(self.records) - 1 - taken


def stopped_leading(plane: LocalControlPlane, lease: str = LEASE_NAME) -> int:
    """"stopped leading <lease>" lines in every replica's log so far."""
    count = 0
    for replica in plane.replicas:
        with contextlib.suppress(OSError), open(os.path.join(plane.base_dir, f"{replica.name}.log"),
                                                 errors="replace") as f:
            count += sum(1 for line in f if f"stopped leading {lease}" in line)
    return count


async def lease_update(api: ApiClient, holder: str, duration_ms: int, name: str = LEASE_NAME) -> None:
    for _ in range(50):
        try:
            lease = await api.get(LEASE, name, "kube-system")
        except NotFound:
            await asyncio.sleep(0.1)
            continue
        lease["spec"]["holderIdentity"] = holder
        lease["spec"]["renewTime"] = micro_now()
        lease["metadata"].setdefault("annotations", {})[DURATION_ANNOTATION] = str(duration_ms)
        try:
            await api.update(LEASE, lease, "kube-system")
            return
        except Conflict:
            continue
    raise RuntimeError(f"could not update the lease {name}")


async def run(plane: LocalControlPlane, nodes: int, pods: int, concurrency: int) -> None:
    api = ApiClient(plane.api_urls, plane.token, plane.ca_file, timeout=60)
    try:
        log("holding the scheduler and controller-manager leases")
        await lease_update(api, HOLDER, 3_600_000)
        await lease_update(api, HOLDER, 3_600_000, CONTROLLER_MANAGER)
        await asyncio.sleep(1.5)  # the replica that led stops acting within its renew deadline (0.8 s)
        await api.create(("v1", "Namespace"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        owner = await api.create(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}, NS)
        started = time.monotonic()
        await bounded(nodes, concurrency, lambda i: api.create(NODE, fake_node(i)))
        log(f"{nodes} nodes created in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        await bounded(pods, concurrency, lambda i: api.create(POD, fake_pod(i, owner), NS))
        log(f"{pods} pods created in {time.monotonic() - started:.1f} s ({pods / (time.monotonic() - started):.0f}/s)")
        listing = await api.list(POD, NS)
        early = sum(1 for p in listing["items"] if p["spec"].get("nodeName"))
        bound: dict[str, tuple[float, str]] = {}
        pids = [r.process.pid if r.process is not None else None for r in plane.replicas]
        cpu_before = [cpu_seconds(pid) for pid in pids]

        async def watch(observer: ApiClient) -> None:
            async for kind, pod in observer.watch(POD, NS, resource_version=listing["metadata"]["resourceVersion"]):
                node = (pod.get("spec") or {}).get("nodeName") if kind in ("ADDED", "MODIFIED") else None
                if node and pod["metadata"]["name"] not in bound:
                    bound[pod["metadata"]["name"]] = (time.monotonic(), node)
                    if len(bound) + early >= pods:
                        return

        lease_watch = LeaseWatch(api, LEASE_NAME)
        await lease_watch.start()
        stops_before = stopped_leading(plane)
        released = time.monotonic()
        await lease_update(api, "", 1200)
        log("lease released; waiting for the binds")
        # the pods are watched through a replica other than the new holder's, so that the bench's own
        # watch (5,000 events to encode and send) does not load the replica it measures; binds made
        # before it opens are replayed from the listing's version and dated on arrival (first bind late)
        names = [r.name for r in plane.replicas]
        for _ in range(600):
            if lease_watch.holder in names:
                break
            await asyncio.sleep(0.01)
        holder_index = names.index(lease_watch.holder) if lease_watch.holder in names else 0
        observer = ApiClient(plane.api_urls[(holder_index + 1) % len(names)], plane.token, plane.ca_file, timeout=60)
        watcher = asyncio.create_task(watch(observer))
        try:
            await asyncio.wait_for(watcher, timeout=max(120.0, pods / 20))
        except TimeoutError:
            log(f"timed out with {len(bound)} of {pods} pods bound")
        cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
        await lease_watch.stop()
        watcher.cancel()
        await observer.close()
        lost, stops = lease_watch.changes_after_takeover(), stopped_leading(plane) - stops_before
        times = sorted(t for t, _ in bound.values())
        if not times:
            print("no pod was bound")
            return
        per_node = Counter(node for _, node in bound.values())
        total = times[-1] - released
        print(f"\nscheduler: {len(bound)} of {pods} pending pods bound on {nodes} nodes (3 replicas, TLS)")
        took = lease_watch.first(lambda h: h in names)
        if took is not None:
            print(f"  lease released -> new holder   {took[0] - released:7.2f} s   ({took[1]})")
        print(f"  lease released -> last bind    {total:7.2f} s   {len(bound) / total:7.0f} pods/s")
        if took is not None and times[-1] > took[0]:
            print(f"  new holder -> last bind        {times[-1] - took[0]:7.2f} s   "
                  f"{len(bound) / (times[-1] - took[0]):7.0f} pods/s   (informer sync included)")
        print(f"  pods per node: min {min(per_node.values())}, max {max(per_node.values())}, "
              f"median {statistics.median(per_node.values()):.0f}, nodes used {len(per_node)}")
        print(f"  replica CPU seconds during the run: {', '.join(f'{c:.1f}' for c in cpu)}"
              f" (machine has {os.cpu_count()} CPUs); store's Raft leader at the end: "
              f"{plane.replicas[plane.leader_index()].name}")
        holders = " -> ".join(h or "-" for _, h in lease_watch.records)
        print(f"  scheduler leases lost during the run: {lost} changes of holder after the takeover, {stops} "
              f"'stopped leading' in the replicas' logs (holders: {holders})")
        if early:
            print(f"  note: {early} pods were bound before the lease was released")

    finally:
        await api.close()


def decision_rate(nodes: int, pods: int) -> float:
    """Decisions per CPU second of the scheduling algorithm alone (same nodes and pods, in this process)."""
    cache = SchedulerCache()
    for i in range(nodes):
        cache.set_node(fake_node(i))
    algorithm = Algorithm(cache)
    owner = {"metadata": {"name": "owner", "uid": "owner-uid"}}
    infos = []
    for i in range(pods):
        pod = fake_pod(i, owner)
        pod["metadata"]["uid"] = f"uid-{i}"
        infos.append(pod)
    started = time.process_time()
    for pod in infos:
        info = PodInfo.of(pod)
        decision = algorithm.schedule(info)
        if decision.node is not None:
            cache.assume(info, decision.node)
    return pods / max(time.process_time() - started, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64, help="clients creating nodes and pods")
    parser.add_argument("--keep", default=None, help="run in this directory and keep it (logs)")
    args = parser.parse_args()
    base = args.keep or tempfile.mkdtemp(prefix="raftkube-sched-bench-")
    plane = LocalControlPlane(os.path.join(base, "plane"))
    try:
        plane.start(timeout=60)
        asyncio.run(wait_api(plane))
        asyncio.run(run(plane, args.nodes, args.pods, args.concurrency))
        print(f"  decisions alone (filter + score + assume, one core, no API): "
              f"{decision_rate(args.nodes, args.pods):.0f} pods/s")
    finally:
        plane.close()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


async def wait_api(plane: LocalControlPlane, timeout: float = 60.0) -> None:
    """Until the API answers and replicas have created the scheduler's and controller-manager's Leases."""
    api = ApiClient(plane.api_urls, plane.token, plane.ca_file, timeout=5)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                await api.get(LEASE, LEASE_NAME, "kube-system")
                await api.get(LEASE, CONTROLLER_MANAGER, "kube-system")
                return
            except ApiError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await api.close()


if __name__ == "__main__":
    main()
