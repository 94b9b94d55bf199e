"""pods/eviction on the in-process API (no controllers: the tests write the budget's status as the
disruption controller would) and the disruption controller's status arithmetic: 429 with Kubernetes'
cause, the budget spent by compare-and-swap so racing evictions never share one allowed
disruption, pods without a budget or not Running evicted directly, more than one budget refused,
deleteOptions honoured; expected/desired/healthy counts for minAvailable and maxUnavailable."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from raftkube.control.disruption import compute_status, resolve
from tests.api.inproc import InProcessAPI, pod

Obj = dict[str, Any]
NS = "default"
PODS = f"/api/v1/namespaces/{NS}/pods"
PDBS = f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets"


def running(admin: httpx.Client, name: str, app: str, ready: bool = True) -> None:
    body = pod(name)
    body["metadata"]["labels"] = {"app": app}
    admin.post(PODS, json=body).raise_for_status()
    live = admin.get(f"{PODS}/{name}").json()
    live["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    admin.put(f"{PODS}/{name}/status", json=live).raise_for_status()


def budget(admin: httpx.Client, app: str, allowed: int, healthy: int = 2, desired: int = 2) -> None:
    admin.post(PDBS, json={"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": app},
                           "spec": {"minAvailable": desired, "selector": {"matchLabels": {"app": app}}}}
               ).raise_for_status()
    live = admin.get(f"{PDBS}/{app}").json()
    live["status"] = {"observedGeneration": live["metadata"].get("generation", 1), "disruptionsAllowed": allowed,
                      "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": healthy}
    admin.put(f"{PDBS}/{app}/status", json=live).raise_for_status()


def evict(admin: httpx.Client, name: str, **options: Any) -> httpx.Response:
    body: Obj = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}
    if options:
        body["deleteOptions"] = options
    return admin.post(f"{PODS}/{name}/eviction", json=body)


def exists(admin: httpx.Client, name: str) -> bool:
    return admin.get(f"{PODS}/{name}").status_code == 200


def test_no_disruption_allowed_is_429_with_the_budget_cause(admin: httpx.Client) -> None:
    running(admin, "kept-1", "kept")
    budget(admin, "kept", allowed=0)
    answer = evict(admin, "kept-1")
    assert answer.status_code == 429
    status = answer.json()
    assert (status["reason"], status["message"]) == ("TooManyRequests", "Cannot evict pod as it would violate the "
                                                                         "pod's disruption budget.")
    assert status["details"]["causes"][0]["message"] == "The disruption budget kept needs 2 healthy pods and has 2 " \
                                                        "currently"
    assert exists(admin, "kept-1")


def test_racing_evictions_spend_one_disruption_once(admin: httpx.Client, api: InProcessAPI) -> None:
    names = [f"race-{i}" for i in range(4)]
    for name in names:
        running(admin, name, "race")
    budget(admin, "race", allowed=1, healthy=4, desired=3)
    with ThreadPoolExecutor(4) as pool, api.client() as other:
        answers = list(pool.map(lambda n: (other if n.endswith(("1", "3")) else admin).post(
            f"{PODS}/{n}/eviction", json={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": n}}),
            names))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 429, 429, 429], [a.text for a in answers]
    status = admin.get(f"{PDBS}/race").json()["status"]
    assert status["disruptionsAllowed"] == 0
    evicted = [n for n, a in zip(names, answers, strict=True) if a.status_code == 201]
    assert list(status["disruptedPods"]) == evicted
    assert admin.get(f"{PODS}/{evicted[0]}").status_code == 404  # not bound to a node: deleted at once


def test_direct_evictions_and_refusals(admin: httpx.Client) -> None:
    admin.post(PODS, json=pod("pending")).raise_for_status()  # Pending: no budget asked
    assert evict(admin, "pending").status_code == 201 and not exists(admin, "pending")
    running(admin, "free-1", "free")  # no budget selects it
    answer = evict(admin, "free-1", dryRun=["All"])
    assert answer.json()["status"] == "Success" and exists(admin, "free-1")
    conflict = evict(admin, "free-1", preconditions={"uid": "not-its-uid"})
    assert conflict.status_code == 409 and exists(admin, "free-1")
    assert evict(admin, "free-1").status_code == 201 and not exists(admin, "free-1")
    running(admin, "sick-1", "sick", ready=False)  # not Ready, budget met: let go (IfHealthyBudget)
    budget(admin, "sick", allowed=0, healthy=2, desired=2)
    assert evict(admin, "sick-1").status_code == 201
    running(admin, "twice-1", "twice")
    budget(admin, "twice", allowed=1)
    admin.post(PDBS, json={"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "also"},
                           "spec": {"maxUnavailable": 1, "selector": {}}}).raise_for_status()
    answer = evict(admin, "twice-1")
    assert answer.status_code == 500 and "more than one PodDisruptionBudget" in answer.json()["message"]
    assert evict(admin, "missing").status_code == 404
    wrong = admin.post(f"{PODS}/twice-1/eviction", json={"apiVersion": "policy/v1", "kind": "Eviction",
                                                          "metadata": {"name": "other"}})
    assert wrong.status_code == 400


def ready_pod(name: str, ready: bool = True, deleting: bool = False) -> Obj:
    meta: Obj = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


@pytest.mark.parametrize(("spec", "scale", "expected"), [
    ({"minAvailable": 2}, None, (3, 2, 3, 1)),  # (expectedPods, desiredHealthy, currentHealthy, allowed)
    ({"minAvailable": "50%"}, 5, (5, 3, 3, 0)),  # 2.5 rounds up
    ({"maxUnavailable": 1}, 4, (4, 3, 3, 0)),
    ({"maxUnavailable": "50%"}, 4, (4, 2, 3, 1)),
    ({"maxUnavailable": 1}, None, (0, 0, 3, 0)),  # no controller found: SyncFailed
])
def test_status_arithmetic(spec: Obj, scale: int | None, expected: tuple[int, ...]) -> None:
    pods = [ready_pod("a"), ready_pod("b"), ready_pod("c"), ready_pod("d", ready=False), ready_pod("e", deleting=True)]
    pdb = {"metadata": {"name": "x", "generation": 2}, "spec": spec, "status": {}}
    if spec == {"minAvailable": 2}:
        pods = pods[:3]
    status, _ = compute_status(pdb, pods, scale, 1000.0)
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"],
            status["disruptionsAllowed"]) == expected
    reason = status["conditions"][0]["reason"]
    assert reason == ("SyncFailed" if scale is None and "maxUnavailable" in spec else
                      "SufficientPods" if expected[3] else "InsufficientPods")
    assert status["observedGeneration"] == 2


def test_disrupted_pods_do_not_count_until_they_expire() -> None:
    pods = [ready_pod("a"), ready_pod("b")]
    pdb = {"metadata": {"name": "x"}, "spec": {"minAvailable": 1},
           "status": {"disruptedPods": {"a": "1970-01-01T00:16:40Z"}}}  # evicted at t=1000
    status, recheck = compute_status(pdb, pods, None, 1010.0)
    assert status["currentHealthy"] == 1 and status["disruptedPods"] == {"a": "1970-01-01T00:16:40Z"}
    assert recheck == pytest.approx(110.0)
    status, recheck = compute_status(pdb, pods, None, 1200.0)  # two minutes later: counted again
    assert status["currentHealthy"] == 2 and "disruptedPods" not in status and recheck is None
    assert resolve("10%", 15, True) == 2 and resolve(3, 15, True) == 3
