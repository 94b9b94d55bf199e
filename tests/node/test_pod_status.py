"""The pod status function: phases, conditions and their transition times, container states."""

from __future__ import annotations

from raftkube.node.pod_status import ContainerView, compute_status, container_status, init_progress, pod_phase
from raftkube.node.runtime import ContainerState

T0 = 1_700_000_000.0


def running(name: str = "app") -> ContainerState:
    return ContainerState(name, "id-" + name, "busybox:1", "running", started_at=T0)


def exited(code: int, name: str = "app") -> ContainerState:
    return ContainerState(name, "id-" + name, "busybox:1", "exited", exit_code=code, started_at=T0,
                          finished_at=T0 + 5)


def view(state: ContainerState | None, ready: bool = False, **kw: object) -> ContainerView:
    return ContainerView("app", "busybox:1", state, ready=ready, started=state is not None, **kw)  # type: ignore


def test_phases() -> None:
    assert pod_phase([view(None)], "Always", True, False) == "Pending"
    assert pod_phase([view(running())], "Always", False, False) == "Pending"  # init not done
    assert pod_phase([view(running())], "Never", True, False) == "Running"
    assert pod_phase([view(exited(0))], "Never", True, False) == "Succeeded"
    assert pod_phase([view(exited(1))], "Never", True, False) == "Failed"
    assert pod_phase([view(exited(0))], "OnFailure", True, False) == "Succeeded"
    assert pod_phase([view(exited(1))], "OnFailure", True, False) == "Running"
    assert pod_phase([view(exited(0))], "Always", True, False) == "Running"
    backing_off = view(exited(1), waiting=("CrashLoopBackOff", "m"), last_state={"terminated": {"exitCode": 1}})
    assert pod_phase([backing_off], "Always", True, False) == "Running"
    first_wait = view(None, waiting=("CreateContainerConfigError", "m"))
    assert pod_phase([first_wait], "Always", True, False) == "Pending"
    two = [view(exited(0)), ContainerView("b", "x", running("b"))]
    assert pod_phase(two, "Never", True, False) == "Running"
    assert pod_phase([view(running())], "Never", False, True) == "Failed"


def test_init_progress() -> None:
    one, two = ContainerView("one", "x", exited(0, "one")), ContainerView("two", "x", running("two"))
    assert init_progress([one, two], "Always") == (False, False)
    assert init_progress([one], "Always") == (True, False)
    failed = ContainerView("one", "x", exited(3, "one"))
    assert init_progress([failed], "Never") == (False, True)
    assert init_progress([failed], "OnFailure") == (False, False)
    assert init_progress([], "Never") == (True, False)


def test_container_states() -> None:
    status = container_status(view(running(), ready=True, restart_count=2))
    assert status["state"] == {"running": {"startedAt": "2023-11-14T22:13:20Z"}}
    assert status["ready"] and status["started"] and status["restartCount"] == 2
    assert status["containerID"] == "podman://id-app"
    term = container_status(view(exited(0)))["state"]["terminated"]
    assert term["reason"] == "Completed" and term["exitCode"] == 0 and term["finishedAt"] == "2023-11-14T22:13:25Z"
    assert container_status(view(exited(9)))["state"]["terminated"]["reason"] == "Error"
    waiting = container_status(view(exited(1), ready=True, waiting=("CrashLoopBackOff", "back-off 2s"),
                                    last_state={"terminated": {"exitCode": 1}}))
    assert waiting["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2s"}}
    assert waiting["lastState"] == {"terminated": {"exitCode": 1}} and waiting["ready"] is False
    assert container_status(view(None))["state"] == {"waiting": {"reason": "ContainerCreating"}}


def conds(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status["conditions"]}


def test_conditions_transition_only_on_change_and_others_kept() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"restartPolicy": "Always"},
           "status": {"qosClass": "BestEffort", "conditions": [
               {"type": "DisruptionTarget", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}
    first = compute_status(pod, [], [view(running(), ready=False)], pod_ip="127.98.1.2", host_ip="127.0.0.1",
                           initialized=True, init_failed=False, now=T0)
    c1 = conds(first)
    assert c1["Ready"]["status"] == "False" and c1["Ready"]["reason"] == "ContainersNotReady"
    assert "[app]" in c1["Ready"]["message"] and c1["DisruptionTarget"]["status"] == "True"
    assert first["qosClass"] == "BestEffort" and first["podIP"] == "127.98.1.2" and first["phase"] == "Running"
    assert first["startTime"] == "2023-11-14T22:13:20Z"
    second = compute_status({**pod, "status": first}, [], [view(running(), ready=True)], pod_ip="127.98.1.2",
                            host_ip="127.0.0.1", initialized=True, init_failed=False, now=T0 + 60)
    c2 = conds(second)
    assert c2["Ready"]["status"] == "True" and c2["Ready"]["lastTransitionTime"] == "2023-11-14T22:14:20Z"
    assert c2["PodScheduled"]["lastTransitionTime"] == c1["PodScheduled"]["lastTransitionTime"]
    assert c2["Initialized"]["lastTransitionTime"] == c1["Initialized"]["lastTransitionTime"]
    assert second["startTime"] == first["startTime"]
    third = compute_status({**pod, "status": second}, [], [view(running(), ready=True)], pod_ip="127.98.1.2",
                           host_ip="127.0.0.1", initialized=True, init_failed=False, now=T0 + 120)
    assert third == second  # nothing changed: nothing to write


def test_terminal_pod_is_not_ready_with_pod_completed() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"restartPolicy": "Never"}, "status": {}}
    status = compute_status(pod, [], [view(exited(0))], pod_ip=None, host_ip="127.0.0.1", initialized=True,
                            init_failed=False, now=T0)
    assert status["phase"] == "Succeeded" and "podIP" not in status
    assert conds(status)["Ready"]["reason"] == "PodCompleted"


def test_pending_init_reports_pod_initializing() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"restartPolicy": "Always"}, "status": {}}
    init = [ContainerView("setup", "x", running("setup"))]
    status = compute_status(pod, init, [view(None)], pod_ip="127.98.1.3", host_ip="127.0.0.1", initialized=False,
                            init_failed=False, now=T0)
    assert status["phase"] == "Pending"
    assert conds(status)["Initialized"]["status"] == "False" and "[setup]" in conds(status)["Initialized"]["message"]
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert "running" in status["initContainerStatuses"][0]["state"]
