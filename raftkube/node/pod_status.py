"""The pod status the agent reports: a pure function of the pod, what the runtime shows and what the
agent decided (waiting reasons, readiness, restart counts).

Phase follows the kubelet: Pending while init containers run or any container waits to start
for the first time; Running while a container runs (or will be restarted); Succeeded when all
exited 0 and none will restart; Failed otherwise. Conditions PodScheduled, Initialized,
ContainersReady and Ready keep their lastTransitionTime unless their status changes;
conditions owned by others (readiness gates, DisruptionTarget) are kept as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..machinery.times import rfc3339
from .runtime import ContainerState

Obj = dict[str, Any]
OWN_CONDITIONS = ("PodScheduled", "Initialized", "ContainersReady", "Ready")
KEPT_FIELDS = ("qosClass", "nominatedNodeName")


@dataclass
class ContainerView:
    """What the agent knows of one container of the pod."""

    name: str
    image: str
    state: ContainerState | None = None  # the current instance in the runtime
    waiting: tuple[str, str] | None = None  # (reason, message): not running, and why
    last_state: Obj | None = None  # the previous instance's {"terminated": {...}}
    restart_count: int = 0
    ready: bool = False
    started: bool = False


def terminated_state(state: ContainerState) -> Obj:
    code = state.exit_code if state.exit_code is not None else 0
    out: Obj = {"exitCode": code, "reason": state.reason or ("Completed" if code == 0 else "Error"),
                "containerID": f"podman://{state.id}"}
    if state.started_at:
        out["startedAt"] = rfc3339(state.started_at)
    if state.finished_at:
        out["finishedAt"] = rfc3339(state.finished_at)
    return {"terminated": out}


def container_status(view: ContainerView, default_waiting: str = "ContainerCreating") -> Obj:
    state = view.state
    out: Obj = {"name": view.name, "image": view.image, "imageID": "", "ready": view.ready,
                "restartCount": view.restart_count, "started": view.started}
    if state is not None:
        out["containerID"] = f"podman://{state.id}"
        out["imageID"] = state.labels.get("raftkube.io/image-id") or state.image
    if view.waiting is not None:
        out["state"] = {"waiting": {"reason": view.waiting[0], "message": view.waiting[1]}}
        out["ready"] = out["started"] = False
    elif state is not None and state.status == "running":
        out["state"] = {"running": {"startedAt": rfc3339(state.started_at)}}
    elif state is not None and state.status == "exited":
        out["state"] = terminated_state(state)
        out["ready"] = out["started"] = False
    else:
        out["state"] = {"waiting": {"reason": default_waiting}}
        out["ready"] = out["started"] = False
    if view.last_state:
        out["lastState"] = view.last_state
    else:
        out["lastState"] = {}
    return out


def _exited(view: ContainerView) -> bool:
    return view.state is not None and view.state.status == "exited" and view.waiting is None


def init_progress(init_views: list[ContainerView], restart_policy: str) -> tuple[bool, bool]:
    """(all init containers succeeded, the pod failed in an init container that will not restart)."""
    for view in init_views:
        state = view.state
        if state is not None and state.status == "exited" and state.exit_code == 0:
            continue
        failed = (state is not None and state.status == "exited" and (state.exit_code or 0) != 0
                  and restart_policy == "Never")
        return False, failed
    return True, False


def pod_phase(views: list[ContainerView], restart_policy: str, initialized: bool, init_failed: bool) -> str:
    if init_failed:
        return "Failed"
    if not initialized:
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for view in views:
        state = view.state
        if state is not None and state.status == "running" and view.waiting is None:
            running += 1
        elif _exited(view):
            stopped += 1
            succeeded += 1 if state is not None and state.exit_code == 0 else 0
        elif view.last_state:  # waiting to be restarted
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if not stopped:
        return "Pending"
    if restart_policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    if restart_policy == "OnFailure":
        return "Running"
    return "Failed"


def _condition(previous: dict[str, Obj], kind: str, ok: bool, now: str, reason: str | None = None,
               message: str | None = None) -> Obj:
    status = "True" if ok else "False"
    old = previous.get(kind) or {}
    cond: Obj = {"type": kind, "status": status, "lastProbeTime": None,
                 "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == status else now}
    if not cond["lastTransitionTime"]:
        cond["lastTransitionTime"] = now
    if not ok and reason:
        cond["reason"] = reason
        if message:
            cond["message"] = message
    return cond


def compute_status(pod: Obj, init_views: list[ContainerView], views: list[ContainerView], *, pod_ip: str | None,
                   host_ip: str, initialized: bool, init_failed: bool, now: float) -> Obj:
    """The whole pod status to write (compare with the pod's current one before writing)."""
    spec, old = pod.get("spec") or {}, pod.get("status") or {}
    stamp = rfc3339(now)
    restart_policy = spec.get("restartPolicy") or "Always"
    phase = pod_phase(views, restart_policy, initialized, init_failed)
    terminal = phase in ("Succeeded", "Failed")
    previous = {c.get("type"): c for c in old.get("conditions") or []}
    unready = [v.name for v in views if not v.ready]
    unready_text = f"containers with unready status: [{' '.join(unready)}]"
    incomplete = [v.name for v in init_views if not (v.state and v.state.status == "exited" and v.state.exit_code == 0)]
    gates = [g.get("conditionType") for g in spec.get("readinessGates") or []]
    gates_ok = all((previous.get(g) or {}).get("status") == "True" for g in gates)
    containers_ready = not unready and not terminal and initialized
    if terminal:
        ready_args: tuple[str, str | None] = ("PodCompleted", None)
    elif not initialized:
        ready_args = ("ContainersNotInitialized", f"containers with incomplete status: [{' '.join(incomplete)}]")
    else:
        ready_args = ("ContainersNotReady", unready_text)
    conditions = [
        _condition(previous, "PodScheduled", True, stamp),
        _condition(previous, "Initialized", initialized or terminal, stamp, "ContainersNotInitialized",
                   f"containers with incomplete status: [{' '.join(incomplete)}]"),
        _condition(previous, "ContainersReady", containers_ready, stamp, *ready_args),
        _condition(previous, "Ready", containers_ready and gates_ok, stamp,
                   *(ready_args if not containers_ready else ("ReadinessGatesNotReady", "readiness gates not ready"))),
    ]
    conditions += [c for kind, c in previous.items() if kind not in OWN_CONDITIONS]
    status: Obj = {k: old[k] for k in KEPT_FIELDS if k in old}
    status.update(phase=phase, conditions=conditions, hostIP=host_ip, hostIPs=[{"ip": host_ip}],
                  startTime=old.get("startTime") or stamp)
    if pod_ip:
        status.update(podIP=pod_ip, podIPs=[{"ip": pod_ip}])
    waiting_app = "ContainerCreating" if initialized else "PodInitializing"
    status["containerStatuses"] = [container_status(v, waiting_app) for v in views]
    if init_views:
        status["initContainerStatuses"] = [container_status(v, "PodInitializing") for v in init_views]
    return status


def same_status(a: Obj | None, b: Obj | None) -> bool:
    """Equal but for the order of conditions (and null lastProbeTime written or not)."""
    def norm(status: Obj | None) -> Obj:
        status = dict(status or {})
        conds = [{k: v for k, v in c.items() if v is not None} for c in status.get("conditions") or []]
        status["conditions"] = sorted(conds, key=lambda c: str(c.get("type")))
        return status
    return norm(a) == norm(b)
