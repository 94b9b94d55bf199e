"""The Deployment controller's pure plan, driven directly: ReplicaSet creation and template hashes,
surge and unavailable arithmetic, rolling and recreate sequences simulated step by step
(tests/control/deployment_world.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from raftkube.control import deployment_util as du
from raftkube.control.deployment_plan import plan_deployment
from raftkube.control.deployment_status import rollout_message
from raftkube.control.podutil import is_active, is_ready
from tests.control.deployment_world import T0, World, converged, deployment

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
