"""The Deployment controller's pure plan, driven directly: ReplicaSet creation and hashes, surge and
unavailable arithmetic, rolling and recreate sequences simulated step by step (with a
ReplicaSet controller and a fake kubelet acting in random orders), rollback, history limit,
pause, proportional scaling, collisions and the status conditions."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from raftkube.control import deployment_util as du
from raftkube.control.deployment_plan import DeploymentPlan, plan_deployment
from raftkube.control.deployment_status import rollout_message
from raftkube.control.podutil import is_active, is_ready, pod_from_template
from raftkube.control.replicaset import plan_replicaset

Obj = dict[str, Any]
T0 = 1_700_000_000.0


def deployment(replicas: int = 10, surge: Any = "25%", unavailable: Any = "25%", image: str = "web:v1",
               strategy: str = "RollingUpdate", **spec: Any) -> Obj:
    strat: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "uid": "d-uid", "generation": 1, "resourceVersion": "1"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "strategy": strat,
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}, **spec},
            "status": {}}


class World:
    """An API server in a dict: conditional writes, a ReplicaSet controller, a kubelet, a clock."""

    def __init__(self, d: Obj, seed: int = 0) -> None:
        self.d, self.rng, self.rv, self.now = d, random.Random(seed), 10, T0
        self.sets: dict[str, Obj] = {}
        self.pods: dict[str, Obj] = {}
        self.events: list[str] = []

    def _rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def stamp(self) -> str:
        self.now += 1
        return du.rfc3339(self.now)

    def plan(self) -> DeploymentPlan:
        return plan_deployment(self.d, list(self.sets.values()), list(self.pods.values()), self.now)

    def sync(self) -> DeploymentPlan:
        plan = self.plan()
        self.apply(plan)
        return plan

    def apply(self, plan: DeploymentPlan) -> None:
        for rs in plan.adopt:
            self.sets[rs["metadata"]["name"]]["metadata"]["ownerReferences"] = [du.owner_ref(self.d)]
        if plan.create is not None:
            rs = copy.deepcopy(plan.create)
            assert rs["metadata"]["name"] not in self.sets
            rs["metadata"].update(uid=f"uid-{rs['metadata']['name']}", resourceVersion=self._rv(), generation=1,
                                  creationTimestamp=self.stamp())
            rs["status"] = {"replicas": 0}
            self.sets[rs["metadata"]["name"]] = rs
        for rs in plan.update:
            live = self.sets[rs["metadata"]["name"]]
            assert live["metadata"]["resourceVersion"] == rs["metadata"]["resourceVersion"], "unconditional write"
            new = copy.deepcopy(rs)
            new["status"] = live["status"]
            new["metadata"]["generation"] = live["metadata"]["generation"] + (new["spec"] != live["spec"])
            new["metadata"]["resourceVersion"] = self._rv()
            self.sets[rs["metadata"]["name"]] = new
        for rs in plan.delete:
            assert self.sets[rs["metadata"]["name"]]["metadata"]["resourceVersion"] == rs["metadata"]["resourceVersion"]
            del self.sets[rs["metadata"]["name"]]
        if plan.annotations is not None:
            self.d["metadata"]["annotations"] = plan.annotations
        if plan.status is not None:
            self.d["status"] = plan.status
        self.events += [message for _, _, _, message in plan.events]

    def rs_sync(self, name: str) -> None:
        rs = self.sets[name]
        plan = plan_replicaset(rs, list(self.pods.values()), self.now)
        for _ in range(plan.create):
            pod = pod_from_template(rs, rs["spec"]["template"])
            pod["metadata"].update(name=f"{name}-{self._rv()}", uid=f"pod-{self.rv}", creationTimestamp=self.stamp())
            pod["status"] = {"phase": "Pending"}
            self.pods[pod["metadata"]["name"]] = pod
        for pod in plan.delete:
            del self.pods[pod["metadata"]["name"]]
        status = plan_replicaset(rs, list(self.pods.values()), self.now).status
        rs["status"] = {**rs["status"], **status}

    def kubelet(self, name: str) -> None:
        self.pods[name]["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}

    def settled(self, complete: bool = True) -> bool:
        if complete and not rollout_message(self.d)[1]:
            return False
        plan = self.plan()
        return not (plan.create or plan.update or plan.delete or plan.status) and all(
            rs["status"].get("replicas") == du.spec_replicas(rs) and rs["status"].get("observedGeneration") ==
            rs["metadata"]["generation"] for rs in self.sets.values())

    def step(self) -> None:
        """One actor acts: the deployment controller, a ReplicaSet's controller or a kubelet."""
        actions = ["deployment"] + [f"rs:{n}" for n in self.sets]
        actions += [f"pod:{n}" for n, p in self.pods.items() if not is_ready(p)]
        action = self.rng.choice(actions)
        if action == "deployment":
            self.sync()
        elif action.startswith("rs:"):
            self.rs_sync(action[3:])
        else:
            self.kubelet(action[4:])

    def run(self, check: Any = None, limit: int = 5000, complete: bool = True) -> int:
        for steps in range(limit):
            if self.settled(complete):
                return steps
            self.step()
            if check is not None:
                check(self)
        raise AssertionError(f"not settled after {limit} steps: {self.d['status']}")

    def pods_of(self, rs: Obj) -> list[Obj]:
        return [p for p in self.pods.values() if p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]]

    def change_template(self, image: str) -> None:
        self.d["spec"]["template"]["spec"]["containers"][0]["image"] = image
        self.d["metadata"]["generation"] += 1


def converged(d: Obj, seed: int = 0) -> World:
    world = World(d, seed)
    world.run()
    return world


# -- the new ReplicaSet ----------------------------------------------------------------------------

def test_new_replicaset_is_created_with_hash_owner_and_annotations() -> None:
    d = deployment(replicas=3)
    d["metadata"]["annotations"] = {du.CHANGE_CAUSE: "first", du.LAST_APPLIED: "{}"}
    plan = plan_deployment(d, [], [], T0)
    rs = plan.create
    assert rs is not None and not plan.update and not plan.delete
    hash_ = du.template_hash(d["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{hash_}" and set(hash_) <= set(du.SAFE_ALPHABET)
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", du.HASH_LABEL: hash_}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", du.HASH_LABEL: hash_}
    assert rs["metadata"]["labels"] == {"app": "web", du.HASH_LABEL: hash_}
    assert rs["metadata"]["ownerReferences"] == [du.owner_ref(d)] and du.owner_ref(d)["controller"] is True
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"] == {du.REVISION: "1", du.DESIRED_REPLICAS: "3", du.MAX_REPLICAS: "4",
                                             du.CHANGE_CAUSE: "first"}
    assert plan.annotations == {du.CHANGE_CAUSE: "first", du.LAST_APPLIED: "{}", du.REVISION: "1"}
    assert [e[1:] for e in plan.events] == [("Normal", "ScalingReplicaSet", f"Scaled up replica set web-{hash_} to 3")]
    assert plan.status is not None
    assert du.get_condition(plan.status, du.PROGRESSING)["reason"] == du.NEW_RS_CREATED


def test_template_hash_is_stable_and_semantic() -> None:
    template = deployment()["spec"]["template"]
    same = copy.deepcopy(template)
    same["metadata"]["annotations"] = {}  # unset and empty are the same template
    assert du.template_hash(template) == du.template_hash(same) == du.template_hash(copy.deepcopy(template))
    other = deployment(image="web:v2")["spec"]["template"]
    assert du.template_hash(template) != du.template_hash(other)
    assert du.template_hash(template, 1) != du.template_hash(template)
    assert du.template_hash(template) == "65fb57dd7d"  # fixed across processes and runs


@pytest.mark.parametrize("replicas,surge,unavailable,expected", [
    (10, "25%", "25%", (3, 2)),  # surge rounds up, unavailable rounds down
    (1, "25%", "25%", (1, 0)),
    (4, 0, "50%", (0, 2)),
    (3, "0%", "10%", (0, 1)),  # both round to 0: unavailable becomes 1
    (10, 2, 0, (2, 0)),
    (3, "100%", "100%", (3, 3)),
    (5, "30%", "30%", (2, 1)),
])
def test_surge_and_unavailable_arithmetic(replicas: int, surge: Any, unavailable: Any,
                                          expected: tuple[int, int]) -> None:
    d = deployment(replicas, surge, unavailable)
    assert (du.max_surge(d), du.max_unavailable(d)) == expected


def test_unavailable_is_capped_and_recreate_has_no_fenceposts() -> None:
    assert du.max_unavailable(deployment(2, 0, 5)) == 2
    assert du.max_unavailable(deployment(0)) == 0
    recreate = deployment(strategy="Recreate")
    assert (du.max_surge(recreate), du.max_unavailable(recreate)) == (0, 0)
    with pytest.raises(ValueError):
        du.scaled_value("abc", 10, True)


# -- rolling updates -----------------------------------------------------------------------------

@pytest.mark.parametrize("replicas,surge,unavailable", [
    (10, "25%", "25%"), (10, 0, 1), (5, 2, 0), (10, "30%", "0%"), (7, "50%", "50%"), (3, 1, 1)])
@pytest.mark.parametrize("seed", range(4))
def test_rolling_update_keeps_bounds_at_every_step(replicas: int, surge: Any, unavailable: Any, seed: int) -> None:
    world = converged(deployment(replicas, surge, unavailable), seed)
    d = world.d
    most, least = replicas + du.max_surge(d), replicas - du.max_unavailable(d)
    first = next(iter(world.sets))
    seen: list[tuple[int, int]] = []

    def check(w: World) -> None:
        active = [p for p in w.pods.values() if is_active(p)]
        ready = sum(1 for p in active if is_ready(p))
        seen.append((len(active), ready))
        assert len(active) <= most, f"{len(active)} pods > {most}"
        assert ready >= least, f"{ready} ready < {least}"
    world.change_template("web:v2")
    world.run(check)
    assert max(total for total, _ in seen) > replicas or du.max_surge(d) == 0
    new = next(rs for n, rs in world.sets.items() if n != first)
    assert du.spec_replicas(new) == replicas and du.spec_replicas(world.sets[first]) == 0
    assert du.revision(new) == 2 and world.d["metadata"]["annotations"][du.REVISION] == "2"
    assert all(p["spec"]["containers"][0]["image"] == "web:v2" for p in world.pods.values())
    assert rollout_message(world.d) == ('deployment "web" successfully rolled out', True, None)
    status = world.d["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"],
            status["unavailableReplicas"]) == (replicas, replicas, replicas, 0)
    assert du.get_condition(status, du.PROGRESSING)["reason"] == du.NEW_RS_AVAILABLE
    assert du.get_condition(status, du.AVAILABLE)["status"] == "True"
    assert any(e.startswith("Scaled down replica set web-") for e in world.events)


def test_first_rollout_steps_are_kubernetes_arithmetic() -> None:
    world = converged(deployment(10, "25%", "25%"))
    world.change_template("web:v2")
    plan = world.sync()  # new set within replicas + surge (13), old shrinks to the 8 that must stay available
    assert plan.create is not None and plan.create["spec"]["replicas"] == 3
    assert [du.spec_replicas(rs) for rs in plan.update] == [8]
    assert world.plan().update == []  # nothing more until pods change
    for name in list(world.sets):
        world.rs_sync(name)  # 2 old pods go, 3 new ones come
    new_name = plan.create["metadata"]["name"]
    old_name = next(n for n in world.sets if n != new_name)
    assert len(world.pods_of(world.sets[new_name])) == 3 and len(world.pods_of(world.sets[old_name])) == 8
    assert [(rs["metadata"]["name"], du.spec_replicas(rs)) for rs in world.sync().update] == [(new_name, 5)]
    world.rs_sync(new_name)
    for pod in world.pods_of(world.sets[new_name]):
        world.kubelet(pod["metadata"]["name"])
    world.rs_sync(new_name)  # 5 new available + 8 old: 5 more than the 8 that must stay
    assert [(rs["metadata"]["name"], du.spec_replicas(rs)) for rs in world.sync().update] == [(old_name, 3)]


def test_surge_waits_for_old_pods_to_be_gone() -> None:
    world = converged(deployment(10, "25%", "25%"))
    world.change_template("web:v2")
    world.sync()
    new_name = next(n for n in world.sets if du.revision(world.sets[n]) == 2)
    world.rs_sync(new_name)
    for pod in world.pods_of(world.sets[new_name]):
        world.kubelet(pod["metadata"]["name"])
    world.rs_sync(new_name)
    world.sync()  # old set shrinks on paper, its pods are still there
    assert world.plan().update == []  # no room for the new set while 10 old pods still run
    assert len([p for p in world.pods.values() if is_active(p)]) == 13


# -- recreate --------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_recreate_scales_old_to_zero_and_waits_for_their_pods(seed: int) -> None:
    world = converged(deployment(4, strategy="Recreate"), seed)
    first = world.sets[next(iter(world.sets))]

    def check(w: World) -> None:
        old = w.pods_of(first)
        new = [p for p in w.pods.values() if p["metadata"]["ownerReferences"][0]["uid"] != first["metadata"]["uid"]]
        assert not (old and new), "new pods while old ones still exist"
    world.change_template("web:v2")
    plan = world.plan()
    assert plan.create is None and [du.spec_replicas(rs) for rs in plan.update] == [0]
    world.run(check)
    assert len(world.sets) == 2 and du.spec_replicas(first) == 4 and not world.pods_of(world.sets[first["metadata"]
                                                                                                 ["name"]])


# -- rollback, history, pause ---------------------------------------------------------------------------

def test_rollback_reuses_the_old_replicaset_with_a_new_revision() -> None:
    world = converged(deployment(4))
    first_name = next(iter(world.sets))
    v1 = copy.deepcopy(world.sets[first_name]["spec"]["template"])
    world.change_template("web:v2")
    world.run()
    v1["metadata"]["labels"].pop(du.HASH_LABEL)  # what `kubectl rollout undo` puts back
    world.d["spec"]["template"] = v1
    world.d["metadata"]["generation"] += 1
    plan = world.plan()
    assert plan.create is None
    reused = next(rs for rs in plan.update if rs["metadata"]["name"] == first_name)
    assert reused["metadata"]["annotations"][du.REVISION] == "3"
    assert reused["metadata"]["annotations"][du.REVISION_HISTORY] == "1"
    assert plan.annotations is not None and plan.annotations[du.REVISION] == "3"
    world.run()
    assert len(world.sets) == 2 and du.spec_replicas(world.sets[first_name]) == 4
    assert sorted(du.revision(rs) for rs in world.sets.values()) == [2, 3]


def test_history_limit_deletes_the_oldest_empty_sets() -> None:
    world = converged(deployment(3, revisionHistoryLimit=1))
    for image in ("web:v2", "web:v3", "web:v4"):
        world.change_template(image)
        world.run()
    assert sorted(du.revision(rs) for rs in world.sets.values()) == [3, 4]
    assert du.spec_replicas(max(world.sets.values(), key=du.revision)) == 3


def test_paused_deployment_scales_but_does_not_roll() -> None:
    assert plan_deployment(deployment(4, paused=True), [], [], T0).create is None  # created paused: nothing yet
    world = converged(deployment(4))
    world.d["spec"]["paused"] = True
    world.sync()
    assert du.get_condition(world.d["status"], du.PROGRESSING)["reason"] == du.PAUSED
    world.change_template("web:v2")
    world.d["spec"]["replicas"] = 6
    world.run(complete=False)
    assert len(world.sets) == 1 and du.spec_replicas(next(iter(world.sets.values()))) == 6
    world.d["spec"]["paused"] = False
    plan = world.sync()
    assert plan.create is not None
    assert du.get_condition(world.d["status"], du.PROGRESSING)["reason"] == du.NEW_RS_CREATED
    world.run()
    assert du.get_condition(world.d["status"], du.PROGRESSING)["reason"] == du.NEW_RS_AVAILABLE


def test_proportional_scaling_during_a_rollout() -> None:
    world = converged(deployment(10, "25%", "25%"))
    world.change_template("web:v2")
    world.sync()  # new 3, old 8: 11 of the 13 allowed
    world.d["spec"]["replicas"] = 20  # 20 + 5 surge = 25 allowed: 14 more
    plan = world.plan()
    sizes = {rs["metadata"]["annotations"][du.REVISION]: du.spec_replicas(rs) for rs in plan.update}
    # Kubernetes' proportions of the max-replicas (13) each was sized for: 8*25/13 -> 15 (+7),
    # 3*25/13 -> 6 (+3); the leftover 4 goes to the largest set
    assert sizes == {"1": 8 + 7 + 4, "2": 3 + 3}
    assert all(rs["metadata"]["annotations"][du.DESIRED_REPLICAS] == "20" for rs in plan.update)


# -- ownership, collisions, status --------------------------------------------------------------

def test_orphans_are_adopted_and_strays_released_before_anything_else() -> None:
    d = deployment(2)
    orphan = {"metadata": {"name": "web-old", "namespace": "ns", "uid": "o", "resourceVersion": "5",
                           "labels": {"app": "web"}}, "spec": {"replicas": 1}}
    stray = {"metadata": {"name": "other", "namespace": "ns", "uid": "s", "resourceVersion": "6",
                          "labels": {"app": "db"}, "ownerReferences": [du.owner_ref(d)]}, "spec": {"replicas": 1}}
    foreign = {"metadata": {"name": "x", "namespace": "ns", "uid": "x", "labels": {"app": "web"},
                            "ownerReferences": [{**du.owner_ref(d), "uid": "else"}]}, "spec": {"replicas": 1}}
    plan = plan_deployment(d, [orphan, stray, foreign], [], T0)
    assert plan.adopt == [orphan] and plan.release == [stray]
    assert plan.create is None and plan.status is None and not plan.update


def test_hash_collision_bumps_collision_count_and_changes_the_name() -> None:
    d = deployment(2)
    name = f"web-{du.template_hash(d['spec']['template'])}"
    squatter = {"metadata": {"name": name, "namespace": "ns", "uid": "q", "labels": {"app": "db"}},
                "spec": {"replicas": 1}}
    plan = plan_deployment(d, [squatter], [], T0)
    assert plan.create is None and plan.status == {"collisionCount": 1}
    d["status"] = plan.status
    retry = plan_deployment(d, [squatter], [], T0)
    assert retry.create is not None and retry.create["metadata"]["name"] != name
    assert retry.create["metadata"]["name"] == f"web-{du.template_hash(d['spec']['template'], 1)}"


def test_converged_state_plans_nothing() -> None:
    world = converged(deployment(5))
    plan = world.plan()
    assert plan == DeploymentPlan()
    status = world.d["status"]
    assert status["observedGeneration"] == 1 and status["readyReplicas"] == 5
    available = du.get_condition(status, du.AVAILABLE)
    assert (available["status"], available["reason"]) == ("True", du.MIN_AVAILABLE)
    assert {"lastUpdateTime", "lastTransitionTime"} <= available.keys()


def test_progress_deadline_exceeded_without_progress() -> None:
    world = World(deployment(2, progressDeadlineSeconds=60))
    world.sync()
    for name in world.sets:
        world.rs_sync(name)  # pods exist but never become ready
    plan = world.sync()
    assert plan.requeue_after is not None and 55 <= plan.requeue_after <= 62
    world.now += 30
    assert du.get_condition(world.sync().status or world.d["status"], du.PROGRESSING)["status"] == "True"
    world.now += 40
    world.sync()
    cond = du.get_condition(world.d["status"], du.PROGRESSING)
    assert (cond["status"], cond["reason"]) == ("False", du.TIMED_OUT)
    assert rollout_message(world.d)[2] == 'deployment "web" exceeded its progress deadline'
    assert du.get_condition(world.d["status"], du.AVAILABLE)["status"] == "False"
    assert world.plan().requeue_after is None
