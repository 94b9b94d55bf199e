"""Scheduler scores (each called directly), the decision that sums them, and the cache it reads."""

from __future__ import annotations

from typing import Any

from raftkube.control.scheduler import scores as sc
from raftkube.control.scheduler.algorithm import Algorithm, feasible_nodes_to_find
from raftkube.control.scheduler.cache import SchedulerCache
from raftkube.control.scheduler.info import PodInfo

from .test_scheduler_filters import node, pod, term

Obj = dict[str, Any]


def test_least_allocated_prefers_the_emptier_node() -> None:
    empty = node(cpu="4", memory="8Gi")
    half = node(cpu="4", memory="8Gi", on=[pod("a", cpu="2", memory="4Gi", node_name="n1")])
    incoming = pod(cpu="1", memory="2Gi")
    assert sc.least_allocated(incoming, empty) == 75
    assert sc.least_allocated(incoming, half) == 25
    assert sc.least_allocated(pod(cpu="8"), empty) == (0 + 97) // 2  # cpu over capacity scores 0
    assert sc.least_allocated_all(incoming, [empty, half]) == [75, 25]


def test_least_allocated_counts_requestless_pods_at_kubernetes_defaults() -> None:
    crowded = node(cpu="1", memory="1Gi", on=[pod(f"p{i}", node_name="n1") for i in range(5)])
    assert sc.least_allocated(pod(), crowded) < sc.least_allocated(pod(), node(cpu="1", memory="1Gi"))


def test_spreading_replicas_of_one_owner() -> None:
    mine = [pod(f"r{i}", owner="rs-1", node_name="n1") for i in range(2)]
    nodes = [node("n1", on=mine), node("n2", on=[pod("x", owner="rs-2", node_name="n2")]), node("n3")]
    counts = [sc.same_owner_pods(pod("new", owner="rs-1"), n) for n in nodes]
    assert counts == [2, 0, 0]
    assert sc.spread_scores(counts) == [0, 100, 100]
    assert sc.spread_scores([1, 2, 4]) == [75, 50, 0]
    assert sc.spread_scores([0, 0]) == [100, 100]
    assert sc.same_owner_pods(pod("orphan"), nodes[0]) == 0


def test_preferred_node_affinity_weights_normalized() -> None:
    prefs = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 80, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
        {"weight": 20, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]}}
    incoming = pod(affinity=prefs)
    nodes = [node("a", labels={"disk": "ssd", "zone": "a"}), node("b", labels={"disk": "ssd"}), node("c")]
    raw = [sc.preferred_node_affinity(incoming, n) for n in nodes]
    assert raw == [100, 80, 0]
    assert sc.normalize([10, 8, 0]) == [100, 80, 0]
    assert sc.normalize([0, 0]) == [0, 0]


def test_prefer_no_schedule_taints_lower_the_score() -> None:
    soft = {"key": "spot", "value": "true", "effect": "PreferNoSchedule"}
    nodes = [node("a", taints=[soft]), node("b")]
    assert [sc.soft_taints(pod(), n) for n in nodes] == [1, 0]
    tolerant = pod(tolerations=[{"key": "spot", "operator": "Exists"}])
    assert [sc.soft_taints(tolerant, n) for n in nodes] == [0, 0]
    assert sc.normalize([1, 0], reverse=True) == [0, 100]
    assert sc.normalize([0, 0], reverse=True) == [100, 100]


def test_preferred_pod_affinity_and_anti_affinity() -> None:
    cache_pod = pod("c", labels={"app": "cache"}, node_name="a")
    noisy = pod("n", labels={"app": "noisy"}, node_name="b")
    nodes = [node("a", labels={"zone": "z1"}, on=[cache_pod]), node("b", labels={"zone": "z2"}, on=[noisy]),
             node("c", labels={"zone": "z1"})]
    incoming = pod(affinity={
        "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "podAffinityTerm": term({"app": "cache"}, "zone")}]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 30, "podAffinityTerm": term({"app": "noisy"})}]}})
    existing = [(p, n) for n in nodes for p in n.pods.values()]
    prefs = sc.interpod_preferences(incoming, existing)
    assert prefs == {("zone", "z1"): 50, ("kubernetes.io/hostname", "b"): -30}
    raw = [sc.interpod_raw(n, prefs) for n in nodes]
    assert raw == [50, -30, 50]
    assert sc.normalize_min_max(raw) == [100, 0, 100]
    assert sc.normalize_min_max([5, 5]) == [0, 0]


def test_existing_pods_preferences_for_the_new_pod_count_too() -> None:
    fan = pod("f", node_name="a", affinity={"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "web"})],
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "podAffinityTerm": term({"app": "web"})}]}})
    a = node("a", on=[fan])
    prefs = sc.interpod_preferences(pod("w", labels={"app": "web"}), [(fan, a)])
    assert prefs == {("kubernetes.io/hostname", "a"): sc.HARD_AFFINITY_WEIGHT + 10}


def test_best_node_highest_total_then_a_stable_hash() -> None:
    assert sc.best_node("uid-1", ["a", "b", "c"], [10, 30, 20]) == "b"
    names = [f"n{i}" for i in range(20)]
    picks = {sc.best_node(f"uid-{i}", names, [7] * 20) for i in range(50)}
    assert len(picks) > 5  # ties go to different nodes for different pods ...
    assert sc.best_node("uid-3", names, [7] * 20) == sc.best_node("uid-3", list(reversed(names)), [7] * 20)  # stably


# ------------------------------------------------------------------ the decision
def make_cache(count: int, cpu: str = "4", **kwargs: Any) -> SchedulerCache:
    cache = SchedulerCache()
    for i in range(count):
        info = node(f"n{i:03d}", cpu=cpu, **kwargs)
        assert info.node is not None
        cache.set_node(info.node)
    return cache


def test_feasible_nodes_to_find_like_kubernetes() -> None:
    assert feasible_nodes_to_find(50) == 50
    assert feasible_nodes_to_find(500) == 230  # 46 %
    assert feasible_nodes_to_find(5000) == 500  # 10 %
    assert feasible_nodes_to_find(500, percentage=100) == 500


def test_decisions_count_assumed_pods_and_spread_replicas() -> None:
    cache = make_cache(3)
    algorithm = Algorithm(cache)
    placed = []
    for i in range(6):
        info = pod(f"r{i}", cpu="500m", owner="rs-1")
        decision = algorithm.schedule(info)
        assert decision.node is not None
        cache.assume(info, decision.node)
        placed.append(decision.node)
    assert sorted(placed) == ["n000", "n000", "n001", "n001", "n002", "n002"]


def test_a_decision_that_fits_nowhere_explains_why() -> None:
    cache = make_cache(2, cpu="1")
    extra = node("n-cordoned", unschedulable=True).node
    assert extra is not None
    cache.set_node(extra)
    decision = Algorithm(cache).schedule(pod(cpu="2"))
    assert decision.node is None
    assert decision.message == "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
    assert Algorithm(SchedulerCache()).schedule(pod()).message.startswith("0/0 nodes are available")


def test_a_single_feasible_node_is_chosen_without_scoring_and_filters_apply() -> None:
    cache = make_cache(3)
    target = PodInfo.of({"metadata": {"name": "p", "namespace": "d"}, "spec": {"nodeSelector": {
        "kubernetes.io/hostname": "n001"}, "containers": [{}]}})
    assert Algorithm(cache).schedule(target).node == "n001"


# ------------------------------------------------------------------ the cache
def bound(name: str, node_name: str, cpu: str = "1", phase: str = "Running") -> PodInfo:
    return PodInfo.of({"metadata": {"name": name, "namespace": "d", "uid": name}, "status": {"phase": phase},
                       "spec": {"nodeName": node_name, "containers": [{"resources": {"requests": {"cpu": cpu}}}]}})


def test_cache_assume_confirm_forget() -> None:
    cache = make_cache(2)
    info = pod("p", cpu="1")
    cache.assume(info, "n000")
    assert cache.nodes["n000"].req_cpu == 1000 and cache.is_assumed("default/p")
    cache.forget("default/p")
    assert cache.nodes["n000"].req_cpu == 0 and "default/p" not in cache.pods
    cache.assume(info, "n000")
    confirmed = PodInfo.of({"metadata": {"name": "p", "namespace": "default"},
                            "spec": {"nodeName": "n001", "containers": [{"resources": {"requests": {"cpu": "1"}}}]}})
    cache.add_pod(confirmed)  # someone else bound it elsewhere: the informer wins
    assert (cache.nodes["n000"].req_cpu, cache.nodes["n001"].req_cpu) == (0, 1000)
    cache.forget("default/p")  # a late failure does not undo what the informer reported
    assert cache.nodes["n001"].req_cpu == 1000


def test_cache_finished_pods_use_nothing_and_removed_nodes_keep_their_pods_accounted() -> None:
    cache = make_cache(1)
    cache.add_pod(bound("a", "n000"))
    cache.add_pod(bound("b", "n000", phase="Succeeded"))
    assert cache.nodes["n000"].req_cpu == 1000 and len(cache.nodes["n000"].pods) == 1
    cache.add_pod(bound("a", "n000", phase="Failed"))
    assert cache.nodes["n000"].req_cpu == 0
    cache.add_pod(bound("c", "n000"))
    cache.remove_node("n000")
    assert cache.node_list() == [] and cache.nodes["n000"].req_cpu == 1000
    cache.remove_pod("d/c")
    assert "n000" not in cache.nodes
    cache.add_pod(bound("early", "n-later"))  # a pod seen before its node
    assert cache.node_list() == [] and cache.nodes["n-later"].req_cpu == 1000
    later = node("n-later").node
    assert later is not None
    cache.set_node(later)
    assert [n.name for n in cache.node_list()] == ["n-later"] and cache.nodes["n-later"].req_cpu == 1000


def test_cache_reports_only_changes_that_matter_for_scheduling() -> None:
    cache = SchedulerCache()
    obj: Obj = {"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "1"}, "conditions": [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": "2024-01-01T00:00:00Z"}]}}
    assert cache.set_node(obj) is True
    heartbeat = {**obj, "status": {**obj["status"], "conditions": [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": "2024-01-01T00:00:10Z"}]}}
    assert cache.set_node(heartbeat) is False
    assert cache.set_node({**heartbeat, "spec": {"unschedulable": True}}) is True
