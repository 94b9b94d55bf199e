"""CronJob planning (raftkube/control/cronjob_plan.py) driven by explicit times: Job names and
ownership, concurrency policies, suspend, startingDeadlineSeconds, too many missed starts, status
bookkeeping and history pruning, each with Kubernetes' event reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from raftkube.control.cronjob_plan import SCHEDULED_ANNOTATION, job_name, plan_cronjob
from raftkube.machinery.times import rfc3339

Obj = dict[str, Any]
CREATED = datetime(2026, 1, 1, tzinfo=UTC).timestamp()  # a minute boundary


def cronjob(schedule: str = "* * * * *", status: Obj | None = None, **spec: Any) -> Obj:
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "tick", "namespace": "ns", "uid": "cj-uid", "creationTimestamp": rfc3339(CREATED)},
            "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", "suspend": False,
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"metadata": {"labels": {"app": "tick"}},
                                     "spec": {"template": {"spec": {"restartPolicy": "Never",
                                                                    "containers": [{"name": "c", "image": "i"}]}}}},
                     **spec},
            "status": status or {}}


def job(minute: int, state: str | None = None, start: float | None = None) -> Obj:
    scheduled = CREATED + 60 * minute
    status: Obj = {"startTime": rfc3339(start if start is not None else scheduled)}
    if state:
        status["conditions"] = [{"type": state, "status": "True"}]
        if state == "Complete":
            status["completionTime"] = rfc3339(scheduled + 30)
    name = f"tick-{int(scheduled) // 60}"
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{minute}",
                         "ownerReferences": [{"kind": "CronJob", "name": "tick", "uid": "cj-uid", "controller": True}]},
            "status": status}


def ref(j: Obj) -> Obj:
    return {"kind": "Job", "name": j["metadata"]["name"], "namespace": "ns", "uid": j["metadata"]["uid"]}


def reasons(plan: Any) -> list[str]:
    return [reason for _, reason, _ in plan.events]


def test_nothing_before_the_first_minute_then_a_named_owned_job() -> None:
    plan = plan_cronjob(cronjob(), [], CREATED + 30)
    assert plan.create is None and abs(plan.requeue - 30.1) < 1e-6
    plan = plan_cronjob(cronjob(), [], CREATED + 61)
    assert plan.create is not None
    meta = plan.create["metadata"]
    assert meta["name"] == f"tick-{int(CREATED + 60) // 60}" == job_name(cronjob(), CREATED + 60)
    assert meta["ownerReferences"][0] | {} == {"apiVersion": "batch/v1", "kind": "CronJob", "name": "tick",
                                               "uid": "cj-uid", "controller": True, "blockOwnerDeletion": True}
    assert meta["labels"] == {"app": "tick"}
    assert meta["annotations"][SCHEDULED_ANNOTATION] == "2026-01-01T00:01:00Z"
    assert plan.create["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert plan.status["lastScheduleTime"] == "2026-01-01T00:01:00Z"
    assert abs(plan.requeue - 59.1) < 1e-6


def test_time_zone_annotation_and_already_started_time() -> None:
    plan = plan_cronjob(cronjob("0 1 * * *", timeZone="Europe/Berlin"), [], CREATED + 86400)
    assert plan.create["metadata"]["annotations"][SCHEDULED_ANNOTATION] == "2026-01-02T01:00:00+01:00"
    done = cronjob(status={"lastScheduleTime": rfc3339(CREATED + 60)})
    assert plan_cronjob(done, [], CREATED + 90).create is None


def test_forbid_waits_for_the_active_job_and_replace_deletes_it() -> None:
    running = job(1)
    status = {"active": [ref(running)], "lastScheduleTime": rfc3339(CREATED + 60)}
    forbid = plan_cronjob(cronjob(concurrencyPolicy="Forbid", status=status), [running], CREATED + 121)
    assert forbid.create is None and reasons(forbid) == ["JobAlreadyActive"]
    replace = plan_cronjob(cronjob(concurrencyPolicy="Replace", status=status), [running], CREATED + 121)
    assert replace.create is not None and [j["metadata"]["name"] for j in replace.replace] == ["tick-" + str(
        int(CREATED + 60) // 60)]
    allow = plan_cronjob(cronjob(status=status), [running], CREATED + 121)
    assert allow.create is not None and not allow.replace


def test_suspend_starts_nothing() -> None:
    plan = plan_cronjob(cronjob(suspend=True), [], CREATED + 600)
    assert plan.create is None and plan.requeue is None


def test_completed_jobs_leave_active_and_set_last_successful_time() -> None:
    finished = job(1, "Complete")
    plan = plan_cronjob(cronjob(status={"active": [ref(finished)], "lastScheduleTime": rfc3339(CREATED + 60)}),
                        [finished], CREATED + 100)
    assert "active" not in plan.status and reasons(plan) == ["SawCompletedJob"]
    assert plan.events[0][2] == f"Saw completed job: {finished['metadata']['name']}, condition: Complete"
    again = plan_cronjob(cronjob(status=plan.status), [finished], CREATED + 100)
    assert again.status["lastSuccessfulTime"] == rfc3339(CREATED + 90)


def test_missing_and_unexpected_jobs() -> None:
    lost, stray = job(1), job(2)
    plan = plan_cronjob(cronjob(status={"active": [ref(lost)], "lastScheduleTime": rfc3339(CREATED + 120)}),
                        [stray], CREATED + 130, gone={"uid-1"})
    assert reasons(plan) == ["UnexpectedJob", "MissingJob"] and "active" not in plan.status


def test_history_limits_prune_oldest_first() -> None:
    jobs = [job(i, "Complete") for i in range(1, 6)] + [job(6, "Failed"), job(7, "Failed"), job(8)]
    plan = plan_cronjob(cronjob(status={"lastScheduleTime": rfc3339(CREATED + 480), "active": [ref(jobs[-1])]}),
                        jobs, CREATED + 490)
    assert sorted(j["metadata"]["uid"] for j in plan.prune) == ["uid-1", "uid-2", "uid-6"]
    zero = plan_cronjob(cronjob(status={"lastScheduleTime": rfc3339(CREATED + 480)}, successfulJobsHistoryLimit=0),
                        jobs[:5], CREATED + 490)
    assert len(zero.prune) == 5


def test_starting_deadline_skips_old_times_and_too_many_missed() -> None:
    late = CREATED + 3600 * 5 + 30  # 300 missed minutes
    plan = plan_cronjob(cronjob(), [], late)
    assert "TooManyMissedTimes" in reasons(plan)
    assert plan.status["lastScheduleTime"] == rfc3339(CREATED + 3600 * 5)  # only the latest one starts
    bounded = plan_cronjob(cronjob(startingDeadlineSeconds=10), [], late)
    assert bounded.create is None and "TooManyMissedTimes" not in reasons(bounded)  # the last start is 30 s old
    inside = plan_cronjob(cronjob(startingDeadlineSeconds=40), [], late)
    assert inside.create is not None and reasons(inside) == []
    hourly = plan_cronjob(cronjob("0 * * * *"), [], CREATED + 3600 * 3 + 5)
    assert hourly.create is not None and "TooManyMissedTimes" not in reasons(hourly)


def test_unknown_time_zone_and_unparseable_schedule_are_events() -> None:
    plan = plan_cronjob(cronjob(timeZone="Mars/Olympus"), [], CREATED + 61)
    assert plan.create is None and reasons(plan) == ["UnknownTimeZone"]
    plan = plan_cronjob(cronjob("61 * * * *"), [], CREATED + 61)
    assert plan.create is None and reasons(plan) == ["UnparseableSchedule"]
