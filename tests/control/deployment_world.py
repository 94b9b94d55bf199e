"""A simulated cluster for the Deployment controller's pure plan: `World` holds ReplicaSets and pods and
plays the ReplicaSet controller and a fake kubelet in random orders, step by step."""

from __future__ import annotations

import copy
import random
from typing import Any

from raftkube.control import deployment_util as du
from raftkube.control.deployment_plan import DeploymentPlan, plan_deployment
from raftkube.control.deployment_status import rollout_message
from raftkube.control.podutil import is_ready, pod_from_template
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
