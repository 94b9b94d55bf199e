"""What the CronJob controller does at a moment: a pure function of (CronJob, its Jobs, now), as
Kubernetes' cronjob controller v2 (syncCronJob, mostRecentScheduleTime, cleanupFinishedJobs).

- status.active loses finished Jobs (event SawCompletedJob) and Jobs gone (MissingJob), and
  lastSuccessfulTime follows the newest completed Job;
- the most recent unmet schedule time since lastScheduleTime (or creation), bounded by
  startingDeadlineSeconds: too late is MissSchedule; more than 100 missed is TooManyMissedTimes
  (and only the latest is started); an already started time, suspend, or Forbid with a Job
  active (JobAlreadyActive) starts nothing; Replace deletes the active Jobs first;
- the Job is `<cronjob>-<scheduled time in unix minutes>`, controlled by the CronJob, annotated
  with its scheduled time in the CronJob's time zone;
- finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit are pruned, oldest
  start first;
- the requeue is 100 ms after the next schedule time.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from ..machinery.cron import Schedule, ScheduleError, as_utc, load_zone, parse_schedule, unix_minutes
from ..machinery.times import parse_rfc3339, rfc3339
from .job import finished

Obj = dict[str, Any]
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_DELTA = 0.1
MANY_MISSED = 100


@dataclass
class CronPlan:
    status: Obj
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    create: Obj | None = None  # the Job to create
    replace: list[Obj] = field(default_factory=list)  # active Jobs to delete before creating (Replace)
    prune: list[Obj] = field(default_factory=list)  # finished Jobs beyond the history limits
    requeue: float | None = None  # clock seconds until the next look


def job_name(cronjob: Obj, scheduled: float) -> str:
    return f"{cronjob['metadata']['name']}-{unix_minutes(scheduled)}"


def _go_rfc3339(moment: float, schedule: Schedule) -> str:
    text = datetime.fromtimestamp(int(moment), schedule.zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def most_recent(schedule: Schedule, earliest: float, now: float) -> tuple[float | None, int]:
    """(the latest activation in (earliest, now], or None; how many were missed, roughly as Kubernetes
    counts them: the time since the first over the interval between the first two)."""
    first = schedule.next_after(earliest)
    if first is None or now < first:
        return None, 0
    second = schedule.next_after(first)
    if second is None or now < second:
        return first, 1
    interval = round(second - first)
    if interval < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    missed = int((now - first) // interval) + 1
    latest: float | None = None
    moment = schedule.next_after(first + (missed - 2) * interval)
    while moment is not None and moment <= now:
        latest = moment
        moment = schedule.next_after(moment)
    return latest, missed


def _earliest(cronjob: Obj) -> float:
    status = cronjob.get("status") or {}
    last = parse_rfc3339(status.get("lastScheduleTime"))
    return last if last is not None else parse_rfc3339(cronjob["metadata"].get("creationTimestamp")) or 0.0


def _requeue(cronjob: Obj, schedule: Schedule, now: float) -> float | None:
    """Seconds until 100 ms after the next activation (from now when some were missed)."""
    earliest = _earliest(cronjob)
    try:
        latest, missed = most_recent(schedule, earliest, now)
    except ScheduleError:
        latest, missed = now, 0
    base = latest if latest is not None else (earliest if missed == 0 else now)
    nxt = schedule.next_after(base)
    return None if nxt is None else max(nxt + NEXT_DELTA - now, NEXT_DELTA)


def job_ref(job: Obj) -> Obj:
    meta = job["metadata"]
    return {"kind": "Job", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"],
            "apiVersion": "batch/v1", "resourceVersion": meta.get("resourceVersion", "")}


def job_from_template(cronjob: Obj, scheduled: float, schedule: Schedule) -> Obj:
    template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    meta = template.get("metadata") or {}
    annotations = {**(meta.get("annotations") or {}), SCHEDULED_ANNOTATION: _go_rfc3339(scheduled, schedule)}
    owner = cronjob["metadata"]
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": job_name(cronjob, scheduled), "namespace": owner["namespace"],
                         "labels": dict(meta.get("labels") or {}), "annotations": annotations,
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": owner["name"],
                                              "uid": owner["uid"], "controller": True, "blockOwnerDeletion": True}]},
            "spec": copy.deepcopy(template.get("spec") or {})}


def _sync_active(cronjob: Obj, jobs: list[Obj], gone: set[str], plan: CronPlan) -> None:
    status = plan.status
    active = list(status.get("active") or [])
    active_uids = {ref.get("uid") for ref in active}
    last_success = parse_rfc3339(status.get("lastSuccessfulTime"))
    for job in jobs:
        uid, name = job["metadata"]["uid"], job["metadata"]["name"]
        state = finished(job)
        if uid not in active_uids and state is None:
            plan.events.append(("Warning", "UnexpectedJob", f"Saw a job that the controller did not create or "
                                                            f"forgot: {name}"))
        elif uid in active_uids and state is not None:
            active = [ref for ref in active if ref.get("uid") != uid]
            plan.events.append(("Normal", "SawCompletedJob", f"Saw completed job: {name}, condition: {state}"))
        elif state == "Complete":
            done = parse_rfc3339((job.get("status") or {}).get("completionTime"))
            if done is not None and (last_success is None or done > last_success):
                last_success = done
    for ref in list(active):
        if ref.get("uid") in gone:
            active.remove(ref)
            plan.events.append(("Normal", "MissingJob", f"Active job went missing: {ref.get('name')}"))
    status["active"] = active
    if last_success is not None:
        status["lastSuccessfulTime"] = rfc3339(last_success)
    if not active:
        status.pop("active")


def _start_key(job: Obj) -> tuple[int, float, str]:
    start = parse_rfc3339((job.get("status") or {}).get("startTime"))
    return (1, 0.0, job["metadata"]["name"]) if start is None else (0, start, job["metadata"]["name"])


def _prune(cronjob: Obj, jobs: list[Obj], replaced: set[str]) -> list[Obj]:
    spec = cronjob.get("spec") or {}
    out: list[Obj] = []
    for state, key in (("Complete", "successfulJobsHistoryLimit"), ("Failed", "failedJobsHistoryLimit")):
        limit = spec.get(key)
        if limit is None:
            continue
        done = sorted((j for j in jobs if finished(j) == state and j["metadata"]["uid"] not in replaced),
                      key=_start_key)
        out.extend(done[:max(len(done) - int(limit), 0)])
    return out


def plan_cronjob(cronjob: Obj, jobs: list[Obj], now: float, gone: set[str] | None = None) -> CronPlan:
    """`jobs`: the Jobs this CronJob controls; `gone`: uids of active Jobs confirmed deleted."""
    plan = CronPlan(status=copy.deepcopy(cronjob.get("status") or {}))
    _sync_active(cronjob, jobs, gone or set(), plan)
    if cronjob["metadata"].get("deletionTimestamp"):
        return plan
    plan.prune = _prune(cronjob, jobs, set())
    spec = cronjob.get("spec") or {}
    zone = spec.get("timeZone")
    try:
        load_zone(zone or "")
    except ScheduleError as err:
        plan.events.append(("Warning", "UnknownTimeZone", f'invalid timeZone: "{zone}": {err}'))
        return plan
    try:
        schedule = parse_schedule(str(spec.get("schedule", "")), zone)
    except ScheduleError as err:
        plan.events.append(("Warning", "UnparseableSchedule",
                            f'unparseable schedule: "{spec.get("schedule")}" : {err}'))
        return plan
    if spec.get("suspend"):
        return plan
    plan.requeue = _requeue(cronjob, schedule, now)
    earliest = _earliest(cronjob)
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        earliest = max(earliest, now - int(deadline))
    try:
        scheduled, missed = most_recent(schedule, earliest, now)
    except ScheduleError as err:
        plan.events.append(("Warning", "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {err}"))
        return plan
    if scheduled is None:
        return plan
    if missed > MANY_MISSED:
        plan.events.append(("Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
                                                             ".spec.startingDeadlineSeconds or check clock skew"))
    if deadline is not None and scheduled + int(deadline) < now:
        plan.events.append(("Warning", "MissSchedule", "Missed scheduled time to start a job: "
                                                       + format_datetime(as_utc(scheduled)).replace("-0000", "+0000")))
        return plan
    name = job_name(cronjob, scheduled)
    active = plan.status.get("active") or []
    if any(ref.get("name") == name for ref in active) or \
            parse_rfc3339(plan.status.get("lastScheduleTime")) == scheduled:
        return plan
    policy = spec.get("concurrencyPolicy", "Allow")
    if policy == "Forbid" and active:
        plan.events.append(("Normal", "JobAlreadyActive", "Not starting job because prior execution is running "
                                                          "and concurrency policy is Forbid"))
        return plan
    if policy == "Replace":
        by_uid = {j["metadata"]["uid"]: j for j in jobs}
        plan.replace = [by_uid[ref["uid"]] for ref in active if ref.get("uid") in by_uid]
    plan.create = job_from_template(cronjob, scheduled, schedule)
    plan.status["lastScheduleTime"] = rfc3339(scheduled)
    plan.prune = _prune(cronjob, jobs, {j["metadata"]["uid"] for j in plan.replace})
    return plan
