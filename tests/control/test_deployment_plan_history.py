"""The Deployment controller's pure plan, driven directly: rollback, history limit, pause,
proportional scaling, adoption, hash collisions and the status conditions."""

from __future__ import annotations

import copy

from raftkube.control import deployment_util as du
from raftkube.control.deployment_plan import DeploymentPlan, plan_deployment
from raftkube.control.deployment_status import rollout_message
from tests.control.deployment_world import T0, World, converged, deployment

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
