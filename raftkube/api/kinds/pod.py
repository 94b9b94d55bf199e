"""Pods: defaults (spec, requests from limits, status.phase and qosClass), validation with the
update rule (spec immutable but for images, activeDeadlineSeconds, tolerations additions and
a first nodeName), and kubectl's table (READY, STATUS with waiting/terminated reasons, RESTARTS)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from ...machinery.quantity import is_quantity, parse_quantity
from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef, validate_conditions
from .names import is_ip
from .podspec import default_pod_spec, validate_pod_spec
from .printing import age, int_field, since

Obj = dict[str, Any]

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
STATUS_LISTS = ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses")
UPDATABLE = ("pod updates may not change fields other than `spec.containers[*].image`,"
             "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
             "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
             "previously negative)")


def qos_class(spec: Obj) -> str:
    """Guaranteed, Burstable or BestEffort from the cpu/memory requests and limits (after defaults)."""
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for container in fe.as_list(spec.get("containers")) + fe.as_list(spec.get("initContainers")):
        resources = fe.as_dict(fe.as_dict(container).get("resources"))
        for bag, total in (("requests", requests), ("limits", limits)):
            found = set()
            for name, raw in fe.as_dict(resources.get(bag)).items():
                if name not in ("cpu", "memory"):
                    continue
                try:
                    value = parse_quantity(raw)
                except ValueError:
                    continue
                if value > 0:
                    found.add(name)
                    total[name] = total.get(name, Decimal(0)) + value
            if bag == "limits" and found != {"cpu", "memory"}:
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(k) == v for k, v in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if len(out) >= 8 or old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            _diff(old.get(key), new.get(key), f"{path}.{key}", out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
    else:
        out.append(f"  {path}: {fe.show(old)} -> {fe.show(new)}")


def _tolerations_only_added(new: list[Any], old: list[Any]) -> bool:
    """Every old toleration is still there (its tolerationSeconds may only decrease)."""
    for tol in old:
        if tol in new:
            continue
        base = {k: v for k, v in fe.as_dict(tol).items() if k != "tolerationSeconds"}
        seconds = fe.as_dict(tol).get("tolerationSeconds")
        if not any({k: v for k, v in fe.as_dict(n).items() if k != "tolerationSeconds"} == base
                   and fe.is_int(fe.as_dict(n).get("tolerationSeconds")) and fe.is_int(seconds)
                   and fe.as_dict(n)["tolerationSeconds"] <= seconds for n in new):
            return False
    return True


def validate_pod_update(spec: Obj, old_spec: Obj) -> list[Cause]:
    out: list[Cause] = []
    munged = copy.deepcopy(spec)
    for key in ("containers", "initContainers"):
        new_list, old_list = fe.as_list(munged.get(key)), fe.as_list(old_spec.get(key))
        if len(new_list) == len(old_list):
            for new_c, old_c in zip(new_list, old_list, strict=True):
                if isinstance(new_c, dict) and isinstance(old_c, dict):
                    _restore(new_c, old_c, "image")
    new_deadline, old_deadline = spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if old_deadline is not None and new_deadline is None:
        out.append(fe.invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil "
                                                                  "value"))
    elif fe.is_int(old_deadline) and fe.is_int(new_deadline) and new_deadline > old_deadline:
        out.append(fe.invalid("spec.activeDeadlineSeconds", new_deadline,
                              "must be less than or equal to previous value"))
    _restore(munged, old_spec, "activeDeadlineSeconds")
    if not _tolerations_only_added(fe.as_list(spec.get("tolerations")), fe.as_list(old_spec.get("tolerations"))):
        out.append(fe.forbidden("spec.tolerations", "existing toleration can not be modified except its "
                                                    "tolerationSeconds"))
    _restore(munged, old_spec, "tolerations")
    if not old_spec.get("nodeName"):  # binding: nodeName may be set once
        _restore(munged, old_spec, "nodeName")
    if fe.is_int(old_spec.get("terminationGracePeriodSeconds")) and old_spec["terminationGracePeriodSeconds"] < 0 \
            and spec.get("terminationGracePeriodSeconds") == 1:
        _restore(munged, old_spec, "terminationGracePeriodSeconds")
    if munged != old_spec:
        lines: list[str] = []
        _diff(old_spec, munged, "spec", lines)
        out.append(fe.forbidden("spec", UPDATABLE + "\n" + "\n".join(lines)))
    return out


def _restore(munged: Obj, old: Obj, key: str) -> None:
    if key in old:
        munged[key] = copy.deepcopy(old[key])
    else:
        munged.pop(key, None)


def pod_status_cells(pod: Obj, now: float) -> tuple[str, str, int | str]:
    """(READY, STATUS, RESTARTS) as kubectl's pod printer computes them."""
    spec, status = fe.as_dict(pod.get("spec")), fe.as_dict(pod.get("status"))
    meta = fe.as_dict(pod.get("metadata"))
    init_specs = {fe.key(fe.as_dict(c).get("name")): fe.as_dict(c) for c in fe.as_list(spec.get("initContainers"))}

    def sidecar(name: Any) -> bool:
        return init_specs.get(fe.key(name), {}).get("restartPolicy") == "Always"

    total = len(fe.as_list(spec.get("containers"))) + sum(1 for n in init_specs if sidecar(n))
    ready = restarts = sidecar_restarts = 0
    last_restart = last_sidecar_restart = ""
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in fe.as_list(status.get("conditions")):
        cond = fe.as_dict(cond)
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    initializing = False
    init_statuses = fe.as_list(status.get("initContainerStatuses"))
    for i, cs in enumerate(init_statuses):
        cs = fe.as_dict(cs)
        count = int_field(cs, "restartCount")
        restarts += count
        finished = str(fe.as_dict(fe.as_dict(cs.get("lastState")).get("terminated")).get("finishedAt") or "")
        last_restart = max(last_restart, finished)
        if sidecar(cs.get("name")):
            sidecar_restarts += count
            last_sidecar_restart = max(last_sidecar_restart, finished)
        state = fe.as_dict(cs.get("state"))
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if isinstance(terminated, dict) and terminated.get("exitCode") == 0:
            continue
        if sidecar(cs.get("name")) and cs.get("started") is True:
            ready += 1 if cs.get("ready") is True else 0
            continue
        if isinstance(terminated, dict):
            if terminated.get("reason"):
                reason = f"Init:{terminated['reason']}"
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif isinstance(waiting, dict) and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    initialized = any(fe.as_dict(c).get("type") == "Initialized" and fe.as_dict(c).get("status") == "True"
                      for c in fe.as_list(status.get("conditions")))
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(fe.as_list(status.get("containerStatuses"))):
            cs = fe.as_dict(cs)
            restarts += int_field(cs, "restartCount")
            finished = str(fe.as_dict(fe.as_dict(cs.get("lastState")).get("terminated")).get("finishedAt") or "")
            last_restart = max(last_restart, finished)
            state = fe.as_dict(cs.get("state"))
            waiting, terminated = fe.as_dict(state.get("waiting")), state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif isinstance(terminated, dict) and terminated.get("reason"):
                reason = terminated["reason"]
            elif isinstance(terminated, dict):
                reason = (f"Signal:{terminated['signal']}" if terminated.get("signal")
                          else f"ExitCode:{terminated.get('exitCode', 0)}")
            elif cs.get("ready") is True and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(fe.as_dict(c).get("type") == "Ready" and fe.as_dict(c).get("status") == "True"
                            for c in fe.as_list(status.get("conditions")))
            reason = "Running" if pod_ready else "NotReady"
    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restart_cell: int | str = restarts
    if restarts and last_restart:
        restart_cell = f"{restarts} ({since(last_restart, now)} ago)"
    return f"{ready}/{total}", str(reason), restart_cell


class PodStrategy(ObjectStrategy):
    kind = "Pod"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        default_pod_spec(spec)
        if not spec.get("priorityClassName"):
            setdef(spec, "priority", 0)
        for container in fe.as_list(spec.get("containers")) + fe.as_list(spec.get("initContainers")):
            resources = fe.as_dict(fe.as_dict(container).get("resources"))
            limits = resources.get("limits")
            if isinstance(limits, dict) and limits:
                requests = child(resources, "requests")
                for name, value in limits.items():
                    if is_quantity(value):  # a bad one is reported once, under limits
                        requests.setdefault(name, value)
        status = child(obj, "status")
        setdef(status, "phase", "Pending")
        setdef(status, "qosClass", qos_class(spec))
        for key in STATUS_LISTS:  # fields Kubernetes always serializes (clients require them)
            for cs in fe.as_list(status.get(key)):
                if not isinstance(cs, dict):
                    continue
                for field, value in (("ready", False), ("restartCount", 0), ("image", ""), ("imageID", "")):
                    setdef(cs, field, value)
                for state in ("state", "lastState"):
                    terminated = fe.as_dict(cs.get(state)).get("terminated")
                    if isinstance(terminated, dict):
                        setdef(terminated, "exitCode", 0)

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out = validate_pod_spec(obj.get("spec"), "spec")
        status = fe.as_dict(obj.get("status"))
        fe.check_enum(out, "status.phase", status.get("phase"), PHASES)
        out.extend(validate_conditions(status.get("conditions"), "status.conditions"))
        for key in STATUS_LISTS:
            for i, cs in enumerate(fe.as_list(status.get(key))):
                cs = fe.as_dict(cs)
                if not cs.get("name"):
                    out.append(fe.required(f"status.{key}[{i}].name", ""))
                fe.check_int(out, f"status.{key}[{i}].restartCount", cs.get("restartCount"), minimum=0)
        for key in ("podIPs", "hostIPs"):
            for i, entry in enumerate(fe.as_list(status.get(key))):
                ip = fe.as_dict(entry).get("ip")
                if not ip:
                    out.append(fe.required(f"status.{key}[{i}].ip", ""))
                else:
                    out.extend(fe.invalid(f"status.{key}[{i}].ip", ip, m) for m in is_ip(str(ip)))
        if old is not None and isinstance(obj.get("spec"), dict):
            out.extend(validate_pod_update(obj["spec"], fe.as_dict(old.get("spec"))))
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
                Column("Status", description="The aggregate status of the containers in this pod."),
                Column("Restarts", "integer", description="The number of times the containers in this pod have "
                                                         "been restarted and when the last container in this pod "
                                                         "has restarted."),
                Column("Age", description="CreationTimestamp is a timestamp representing the server time when "
                                          "this object was created."),
                Column("IP", priority=1, description="podIP address allocated to the pod."),
                Column("Node", priority=1, description="Name of the node the pod is assigned to."),
                Column("Nominated Node", priority=1, description="nominatedNodeName is set when this pod preempts "
                                                                 "other pods on the node."),
                Column("Readiness Gates", priority=1, description="If specified, all readiness gates will be "
                                                                  "evaluated for pod readiness.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec, status = fe.as_dict(obj.get("spec")), fe.as_dict(obj.get("status"))
        ready, reason, restarts = pod_status_cells(obj, now)
        ips = [fe.as_dict(ip).get("ip") for ip in fe.as_list(status.get("podIPs"))]
        pod_ip = (ips[0] if ips else None) or status.get("podIP") or "<none>"
        gates = fe.as_list(spec.get("readinessGates"))
        gates_cell = "<none>"
        if gates:
            conditions = {fe.key(fe.as_dict(c).get("type")): fe.as_dict(c).get("status")
                          for c in fe.as_list(status.get("conditions"))}
            true = sum(1 for g in gates if conditions.get(fe.key(fe.as_dict(g).get("conditionType"))) == "True")
            gates_cell = f"{true}/{len(gates)}"
        return [fe.as_dict(obj.get("metadata")).get("name", ""), ready, reason, restarts, age(obj, now), pod_ip,
                spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates_cell]
