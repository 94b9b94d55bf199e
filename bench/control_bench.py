"""Control-plane benchmark: controller-manager failover, dead-node replacement, scheduler throughput.

    .venv/bin/python -m bench.control_bench [--kills 5] [--scheduler-kills 5] [--dead-nodes 1] [--quick]
                                            [--no-scheduler]

Starts `LocalControlPlane` (3 `raftkube server` processes, controllers and scheduler under
leader election, TLS) in a temporary directory and prints, never asserts:

1. leader kill: SIGKILL of the replica holding the `raftkube-controller-manager` Lease, a
   ReplicaSet scaled up by one right after; time from the kill to the new holder (a watch on
   the Lease) and to the new leader's first pod created for that ReplicaSet (a watch on the
   pods; only events at store revisions after the takeover count). The killed replica is
   restarted before the next round. min / median / max over `--kills` rounds.
2. scheduler leader kill: SIGKILL of the replica holding the `raftkube-scheduler` Lease, a
   pending pod created right after (2 fake nodes it fits on); time from the kill to the new
   holder and to that pod bound by the new leader. min / median / max over `--kills` rounds.
3. dead node: 6 pods of a ReplicaSet on 3 fake nodes (the scheduler binds them, the bench
   plays the kubelets); one node stops renewing its Lease; time to NotReady, to its pods
   deleted, and to their replacements Running and Ready on other nodes.
4. scheduler throughput through the full stack: `bench.scheduler_bench` (5,000 pending pods on
   500 Node objects; `--quick`: 500 on 50) on a fresh control plane.

The node agents and watchers are the ones of tests/control/failover/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter

from bench.scheduler_bench import LeaseWatch
from raftkube.control.podutil import is_ready
from raftkube.control.scheduler.runner import LEASE_NAME as SCHEDULER_LEASE
from raftkube.control.scheduler.runner import default_election
from raftkube.local.control_plane import LocalControlPlane
from tests.control.failover.cluster_access import (
    LEASE,
    NAMESPACE,
    NODE,
    POD,
    RS,
    Obj,
    client_for,
    eventually,
    idempotent,
    replica_index,
    stable_holder,
)
from tests.control.failover.observers import LeaseHistory, PodWatcher, node_farm, pod_template

PROBE_NS = "bench-probe"
SCHED_PROBE = pod_template("bench-sched-kill", "sched-probe", "example.local/probe:v1")
SCHED_ELECTION = default_election("any")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def spread(values: list[float]) -> str:
    if not values:
        return "no data"
    return f"min {min(values):5.2f} s   median {statistics.median(values):5.2f} s   max {max(values):5.2f} s"


async def leader_kill_round(plane: LocalControlPlane, round_no: int) -> tuple[str, float, float]:
    """(killed replica, kill -> new holder, kill -> first pod created by the new leader)."""
    leader = await stable_holder(plane)
    victim = replica_index(plane, leader)
    api = client_for(plane, avoid=victim)
    history, watcher = LeaseHistory(api), PodWatcher(api, PROBE_NS)
    killed = False
    try:
        await history.start()
        await watcher.start()
        wanted = len(watcher.active()) + 1
        raft_leader = plane.replicas[await asyncio.to_thread(plane.leader_index)].name
        killed_at = time.monotonic()
        killed = True
        await asyncio.to_thread(plane.kill, victim)
        await idempotent(lambda: api.patch(RS, "probe", {"spec": {"replicas": wanted}}, PROBE_NS),
                         "scale the probe")  # work only a leader can do
        takeover = await history.wait(lambda r: r.holder not in ("", leader), "a new holder", timeout=60)
        first = await eventually(lambda: next((a for a in watcher.actions if a.verb == "create"
                                               and a.revision > takeover.revision), None),
                                 "the new leader's first pod", timeout=60)
        log(f"round {round_no}: killed {leader} (store leader: {raft_leader}); {takeover.holder} holds the Lease after "
            f"{takeover.seen_at - killed_at:.2f} s, created {first.name} after {first.seen_at - killed_at:.2f} s")
        return leader, takeover.seen_at - killed_at, first.seen_at - killed_at
    finally:
        await watcher.informer.stop()
        await history.stop()
        await api.close()
        if killed:
            await asyncio.to_thread(plane.start_replica, victim)
            await asyncio.to_thread(plane.wait_healthy, [victim], 60)


async def leader_kills(plane: LocalControlPlane, rounds: int) -> None:
    async with client_for(plane) as api:
        await eventually(lambda: api.get(NAMESPACE, "default"), "the API", timeout=60)
        await api.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PROBE_NS}})
        template = pod_template(PROBE_NS, "probe", "example.local/probe:v1")
        template["spec"]["schedulerName"] = "nobody"  # pending pods: only the controller's create is measured
        await api.create(RS, {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "probe"},
                              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "probe"}},
                                       "template": template}}, PROBE_NS)
    holders, firsts, killed = [], [], []
    for round_no in range(1, rounds + 1):
        leader, holder, first = await leader_kill_round(plane, round_no)
        killed.append(leader)
        holders.append(holder)
        firsts.append(first)
    print(f"\ncontroller-manager leader SIGKILL ({rounds} rounds; killed {', '.join(killed)}; "
          "lease 1.2 s, renew deadline 0.8 s, retry 0.2 s)")
    print(f"  kill -> new Lease holder          {spread(holders)}")
    print(f"  kill -> first reconcile (pod)     {spread(firsts)}")


async def steady_holder(plane: LocalControlPlane, lease: str, steady: float = 2.0) -> str:
    """The Lease's holder once it has kept renewing it for `steady` seconds."""
    async with client_for(plane) as api:
        since: dict[str, float] = {}

        async def holder() -> str | None:
            spec = (await api.get(LEASE, lease, "kube-system")).get("spec") or {}
            name = spec.get("holderIdentity") or ""
            if name not in since:
                since.clear()
                since[name] = time.monotonic()
            return name if name and time.monotonic() - since[name] >= steady else None
        return await eventually(holder, f"a steady {lease} holder", timeout=60, interval=0.1)


async def scheduler_kill_round(plane: LocalControlPlane, round_no: int, ns: str) -> tuple[str, float, float]:
    """(killed replica, kill -> new scheduler Lease holder, kill -> a pod created after the kill bound)."""
    leader = await steady_holder(plane, SCHEDULER_LEASE)
    victim = replica_index(plane, leader)
    api = client_for(plane, avoid=victim)
    history = LeaseWatch(api, SCHEDULER_LEASE)
    watcher = PodWatcher(api, ns)
    killed = False
    try:
        await history.start()
        await watcher.start()
        killed_at = time.monotonic()
        killed = True
        await asyncio.to_thread(plane.kill, victim)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"probe-{round_no}", **SCHED_PROBE["metadata"]},
               "spec": SCHED_PROBE["spec"]}
        await idempotent(lambda: api.create(POD, pod, ns), "create the probe pod")
        takeover = await eventually(lambda: history.first(lambda h: h not in ("", leader), killed_at),
                                    "a new scheduler holder", timeout=60, interval=0.01)
        bound = await eventually(lambda: next((time.monotonic() for p in watcher.informer.cache.list()
                                               if p["metadata"]["name"] == pod["metadata"]["name"]
                                               and p["spec"].get("nodeName")), None),
                                 "the probe pod bound", timeout=60, interval=0.01)
        log(f"scheduler round {round_no}: killed {leader}; {takeover[1]} holds the Lease after "
            f"{takeover[0] - killed_at:.2f} s, bound {pod['metadata']['name']} after {bound - killed_at:.2f} s")
        return leader, takeover[0] - killed_at, bound - killed_at
    finally:
        await watcher.informer.stop()
        await history.stop()
        await api.close()
        if killed:
            await asyncio.to_thread(plane.start_replica, victim)
            await asyncio.to_thread(plane.wait_healthy, [victim], 60)


async def scheduler_kills(plane: LocalControlPlane, rounds: int) -> None:
    ns = "bench-sched-kill"
    api = client_for(plane)
    try:
        await eventually(lambda: api.get(NAMESPACE, "default"), "the API", timeout=60)
        async with node_farm(api, ns, 2):
            holders, binds, killed = [], [], []
            for round_no in range(1, rounds + 1):
                leader, holder, bound = await scheduler_kill_round(plane, round_no, ns)
                killed.append(leader)
                holders.append(holder)
                binds.append(bound)
    finally:
        await api.close()
    print(f"\nscheduler leader SIGKILL ({rounds} rounds; killed {', '.join(killed)}; "
          f"lease {SCHED_ELECTION.lease_duration} s, renew deadline {SCHED_ELECTION.renew_deadline} s, "
          f"retry {SCHED_ELECTION.retry_period} s)")
    print(f"  kill -> new Lease holder          {spread(holders)}")
    print(f"  kill -> pod created after it bound {spread(binds)}")


async def dead_node_round(plane: LocalControlPlane, round_no: int, replicas: int = 6) -> None:
    ns = f"bench-dead-{round_no}"
    api = client_for(plane)
    watcher = PodWatcher(api, ns)
    try:
        async with node_farm(api, ns, 3) as (nodes, _):
            await watcher.start()
            await api.create(RS, {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "svc"},
                                  "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "svc"}},
                                           "template": pod_template(ns, "svc", "example.local/svc:v1")}}, ns)

            def all_ready() -> list[Obj] | None:
                pods = watcher.active()
                return pods if len(pods) == replicas and all(is_ready(p) for p in pods) else None
            pods = await eventually(all_ready, "pods ready", timeout=60)
            dead, count = Counter(p["spec"]["nodeName"] for p in pods).most_common(1)[0]
            lost = {p["metadata"]["uid"] for p in pods if p["spec"]["nodeName"] == dead}
            nodes.stop_renewing(dead)
            stopped = time.monotonic()

            async def unreachable() -> bool:
                node = await api.get(NODE, dead)
                return any(c["type"] == "Ready" and c["status"] == "Unknown" for c in node["status"]["conditions"])
            await eventually(unreachable, "node NotReady", timeout=60)
            not_ready = time.monotonic() - stopped
            await eventually(lambda: not any(p["metadata"]["uid"] in lost for p in watcher.informer.cache.list()),
                             "pods evicted", timeout=60)
            evicted = time.monotonic() - stopped

            def replaced() -> bool:
                fresh = all_ready()
                return bool(fresh) and not any(p["metadata"]["uid"] in lost for p in fresh or [])
            await eventually(replaced, "pods replaced", timeout=60)
            done = time.monotonic() - stopped
        print(f"\ndead node (round {round_no}: {count} of {replicas} pods on it; grace 8 s + eviction 5 s by design)")
        print(f"  lease stops -> node NotReady      {not_ready:5.2f} s")
        print(f"  lease stops -> pods deleted       {evicted:5.2f} s")
        print(f"  lease stops -> replacements Ready {done:5.2f} s   ({done - evicted:.2f} s after the eviction)")
    finally:
        await watcher.informer.stop()
        await api.close()


async def control(plane: LocalControlPlane, kills: int, scheduler_kill_rounds: int, dead_nodes: int) -> None:
    if kills:
        await leader_kills(plane, kills)
    if scheduler_kill_rounds:
        await scheduler_kills(plane, scheduler_kill_rounds)
    for round_no in range(1, dead_nodes + 1):
        await dead_node_round(plane, round_no)


def scheduler(base: str, nodes: int, pods: int) -> None:
    try:
        from bench import scheduler_bench
    except ImportError:
        print("\nscheduler: raftkube.control.scheduler / bench.scheduler_bench not available; skipped")
        return
    plane = LocalControlPlane(os.path.join(base, "scheduler-plane"))
    try:
        plane.start(timeout=90)
        asyncio.run(scheduler_bench.wait_api(plane))
        asyncio.run(scheduler_bench.run(plane, nodes, pods, 64))
    finally:
        plane.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--kills", type=int, default=5, help="leader-kill rounds")
    parser.add_argument("--scheduler-kills", type=int, default=5, help="scheduler leader-kill rounds")
    parser.add_argument("--dead-nodes", type=int, default=1, help="dead-node rounds")
    parser.add_argument("--quick", action="store_true", help="scheduler: 500 pods on 50 nodes")
    parser.add_argument("--nodes", type=int, default=None)
    parser.add_argument("--pods", type=int, default=None)
    parser.add_argument("--no-scheduler", action="store_true")
    parser.add_argument("--keep", default=None, help="run in this directory and keep it (logs)")
    args = parser.parse_args()
    base = args.keep or tempfile.mkdtemp(prefix="raftkube-control-bench-")
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    try:
        if args.kills or args.scheduler_kills or args.dead_nodes:
            plane = LocalControlPlane(os.path.join(base, "plane"))
            try:
                plane.start(timeout=90)
                asyncio.run(control(plane, args.kills, args.scheduler_kills, args.dead_nodes))
            finally:
                plane.close()
        if not args.no_scheduler:
            nodes = args.nodes or (50 if args.quick else 500)
            pods = args.pods or (500 if args.quick else 5000)
            scheduler(base, nodes, pods)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
