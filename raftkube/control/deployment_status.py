"""A Deployment's status from its ReplicaSets: counters, the Available and Progressing
conditions (with the progress deadline), the paused condition, and kubectl's reading of it."""

from __future__ import annotations

import copy
from typing import Any

from ..machinery.times import parse_rfc3339
from . import deployment_util as du

Obj = dict[str, Any]


def _name(obj: Obj | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("name", ""))


def paused_condition(d: Obj, status: Obj, now: float) -> None:
    """Progressing Unknown/DeploymentPaused while paused, DeploymentResumed once resumed."""
    if not du.has_deadline(d):
        return
    cond = du.get_condition(status, du.PROGRESSING)
    if cond is not None and cond.get("reason") == du.TIMED_OUT:
        return  # a reported lack of progress is not hidden by a pause
    paused, shown = bool((d.get("spec") or {}).get("paused")), cond is not None and cond.get("reason") == du.PAUSED
    if paused and not shown:
        du.set_condition(status, du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED, "Deployment is paused", now))
    elif not paused and shown:
        du.set_condition(status, du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED, "Deployment is resumed",
                                                  now))


def calculate_status(d: Obj, current: Obj, sets: list[Obj], new: Obj | None, now: float) -> Obj:
    """Counters from the sets' own status; the conditions of `current` carried over, Available set."""
    available = sum(du.status_int(rs, "availableReplicas") for rs in sets)
    total = sum(du.spec_replicas(rs) for rs in sets)
    status: Obj = {
        "observedGeneration": int(d["metadata"].get("generation") or 1),
        "replicas": sum(du.status_int(rs, "replicas") for rs in sets),
        "updatedReplicas": du.status_int(new, "replicas") if new else 0,
        "readyReplicas": sum(du.status_int(rs, "readyReplicas") for rs in sets),
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
        "conditions": copy.deepcopy(current.get("conditions") or []),
    }
    if current.get("collisionCount") is not None:
        status["collisionCount"] = current["collisionCount"]
    if available >= du.spec_replicas(d) - du.max_unavailable(d):
        du.set_condition(status, du.new_condition(du.AVAILABLE, "True", du.MIN_AVAILABLE,
                                                  "Deployment has minimum availability.", now))
    else:
        du.set_condition(status, du.new_condition(du.AVAILABLE, "False", du.MIN_UNAVAILABLE,
                                                  "Deployment does not have minimum availability.", now))
    failure = next((c for rs in sets for c in (rs.get("status") or {}).get("conditions") or []
                    if c.get("type") == du.REPLICA_FAILURE and c.get("status") == "True"), None)
    if failure is not None:
        du.set_condition(status, {**failure, "lastUpdateTime": failure.get("lastTransitionTime")})
    else:
        du.remove_condition(status, du.REPLICA_FAILURE)
    return status


def rollout_status(d: Obj, current: Obj, old: list[Obj], new: Obj | None, now: float) -> tuple[Obj, float | None]:
    """Kubernetes' syncRolloutStatus: the status with Progressing estimated against the deadline,
    and the seconds after which to look again (so a stuck rollout is reported on time)."""
    status = calculate_status(d, current, [*old, *([new] if new else [])], new, now)
    if not du.has_deadline(d):
        du.remove_condition(status, du.PROGRESSING)
    cond = du.get_condition(current, du.PROGRESSING)
    complete = status["replicas"] == status["updatedReplicas"] and cond is not None \
        and cond.get("reason") == du.NEW_RS_AVAILABLE
    what = f'ReplicaSet "{_name(new)}"' if new else f'Deployment "{_name(d)}"'
    if du.has_deadline(d) and not complete:
        if du.deployment_complete(d, status):
            du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE,
                                                      f"{what} has successfully progressed.", now))
        elif du.deployment_progressing(d, status):
            progressing = du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED, f"{what} is progressing.", now)
            if cond is not None and cond.get("status") == "True":
                progressing["lastTransitionTime"] = cond.get("lastTransitionTime")
            du.remove_condition(status, du.PROGRESSING)
            du.set_condition(status, progressing)
        elif du.deployment_timed_out(d, status, now):
            du.set_condition(status, du.new_condition(du.PROGRESSING, "False", du.TIMED_OUT,
                                                      f"{what} has timed out progressing.", now))
    return status, stuck_requeue(d, status, now)


def stuck_requeue(d: Obj, status: Obj, now: float) -> float | None:
    cond = du.get_condition(status, du.PROGRESSING)
    if not du.has_deadline(d) or cond is None or du.deployment_complete(d, status) \
            or cond.get("reason") in (du.TIMED_OUT, du.NEW_RS_AVAILABLE):
        return None
    since = parse_rfc3339(cond.get("lastUpdateTime"))
    if since is None:
        return None
    return max(since + int(d["spec"]["progressDeadlineSeconds"]) - now, 0.0) + 1.0


def rollout_message(d: Obj) -> tuple[str, bool, str | None]:
    """kubectl's rollout status of a Deployment: (message, done, error)."""
    name, meta = d["metadata"]["name"], d["metadata"]
    status = d.get("status") or {}
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return "Waiting for deployment spec update to be observed...", False, None
    cond = du.get_condition(status, du.PROGRESSING)
    if cond is not None and cond.get("reason") == du.TIMED_OUT:
        return "", False, f'deployment "{name}" exceeded its progress deadline'
    want, updated = du.spec_replicas(d), int(status.get("updatedReplicas") or 0)
    replicas, available = int(status.get("replicas") or 0), int(status.get("availableReplicas") or 0)
    if updated < want:
        return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {want} new replicas '
                "have been updated..."), False, None
    if replicas > updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {replicas - updated} old replicas '
                "are pending termination..."), False, None
    if available < updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated '
                "replicas are available..."), False, None
    return f'deployment "{name}" successfully rolled out', True, None
