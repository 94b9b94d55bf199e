"""Job planning: parallelism and completions, backoffLimit, activeDeadlineSeconds, status and conditions."""

from __future__ import annotations

from typing import Any

from raftkube.control.job import finished, job_labels, plan_job, rfc3339

Obj = dict[str, Any]
NOW = 1_700_000_000.0


def job(completions: int | None = 1, parallelism: int = 1, backoff: int = 6, deadline: int | None = None,
        restart: str = "Never", status: Obj | None = None) -> Obj:
    spec: Obj = {"parallelism": parallelism, "backoffLimit": backoff,
                 "template": {"metadata": {"labels": {"job-name": "work"}},
                              "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "i"}]}}}
    if completions is not None:
        spec["completions"] = completions
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "work", "namespace": "ns", "uid": "job-uid"},
            "spec": spec, "status": status or {}}


def pod(name: str, phase: str = "Running", restarts: int = 0, owner: str = "job-uid") -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                         "ownerReferences": [{"kind": "Job", "name": "work", "uid": owner, "controller": True}]},
            "spec": {"nodeName": "n1"},
            "status": {"phase": phase, "containerStatuses": [{"name": "c", "restartCount": restarts}],
                       "conditions": [{"type": "Ready", "status": "True" if phase == "Running" else "False"}]}}


def types(plan_status: Obj) -> list[str]:
    return [c["type"] for c in plan_status.get("conditions") or []]


def test_starts_parallelism_pods_bounded_by_completions() -> None:
    plan = plan_job(job(completions=5, parallelism=3), [], NOW)
    assert plan.create == 3
    assert plan.status["active"] == 3
    assert plan.status["startTime"] == rfc3339(NOW)
    plan = plan_job(job(completions=5, parallelism=3), [pod(f"s{i}", "Succeeded") for i in range(4)], NOW)
    assert plan.create == 1
    assert plan.status["succeeded"] == 4


def test_completes_when_enough_pods_succeed_and_deletes_extra_active() -> None:
    pods = [pod("a", "Succeeded"), pod("b", "Succeeded"), pod("c")]
    plan = plan_job(job(completions=2, parallelism=3), pods, NOW)
    assert types(plan.status) == ["Complete"]
    assert plan.status["completionTime"] == rfc3339(NOW)
    assert [p["metadata"]["name"] for p in plan.delete] == ["c"]
    assert plan.status["active"] == 0 and plan.status["succeeded"] == 2
    assert plan.events[0][1] == "Completed"
    done = job(completions=2, status=plan.status)
    assert finished(done) == "Complete"
    again = plan_job(done, pods[:2], NOW + 10)
    assert again.create == 0 and again.status == plan.status  # a finished Job stays as it is


def test_work_queue_job_completes_when_one_succeeded_and_none_active() -> None:
    running = plan_job(job(completions=None, parallelism=2), [pod("a", "Succeeded"), pod("b")], NOW)
    assert running.create == 0 and not types(running.status)
    done = plan_job(job(completions=None, parallelism=2), [pod("a", "Succeeded"), pod("b", "Succeeded")], NOW)
    assert types(done.status) == ["Complete"]


def test_failed_pods_are_replaced_until_backoff_limit_exceeded() -> None:
    plan = plan_job(job(backoff=2), [pod("f1", "Failed"), pod("f2", "Failed")], NOW)
    assert plan.create == 1 and plan.status["failed"] == 2 and not types(plan.status)
    plan = plan_job(job(backoff=2), [pod("f1", "Failed"), pod("f2", "Failed"), pod("f3", "Failed"), pod("r")], NOW)
    failed = plan.status["conditions"][0]
    assert (failed["type"], failed["reason"], failed["status"]) == ("Failed", "BackoffLimitExceeded", "True")
    assert [p["metadata"]["name"] for p in plan.delete] == ["r"]
    assert plan.create == 0 and plan.status["active"] == 0
    assert "completionTime" not in plan.status


def test_on_failure_restarts_count_as_failures() -> None:
    plan = plan_job(job(backoff=3, restart="OnFailure"), [pod("a", restarts=4)], NOW)
    assert plan.status["conditions"][0]["reason"] == "BackoffLimitExceeded"
    plan = plan_job(job(backoff=3, restart="Never"), [pod("a", restarts=4)], NOW)
    assert not types(plan.status)


def test_active_deadline() -> None:
    started = {"startTime": rfc3339(NOW - 30)}
    plan = plan_job(job(deadline=60, status=started), [pod("a")], NOW)
    assert plan.requeue is not None and 29 < plan.requeue < 31
    assert not types(plan.status)
    plan = plan_job(job(deadline=20, status=started), [pod("a")], NOW)
    assert plan.status["conditions"][0]["reason"] == "DeadlineExceeded"
    assert [p["metadata"]["name"] for p in plan.delete] == ["a"]


def test_counts_never_decrease_when_pods_vanish() -> None:
    plan = plan_job(job(completions=3, status={"succeeded": 2, "failed": 1, "startTime": rfc3339(NOW)}), [], NOW)
    assert plan.status["succeeded"] == 2 and plan.status["failed"] == 1
    assert plan.create == 1


def test_other_pods_are_ignored_and_labels() -> None:
    plan = plan_job(job(), [pod("x", "Succeeded", owner="other")], NOW)
    assert plan.create == 1 and plan.status["succeeded"] == 0
    labels = job_labels(job())
    assert labels["controller-uid"] == "job-uid" and labels["batch.kubernetes.io/job-name"] == "work"


def test_suspended_or_deleting_job_runs_nothing() -> None:
    suspended = job()
    suspended["spec"]["suspend"] = True
    plan = plan_job(suspended, [pod("a")], NOW)
    assert plan.create == 0 and [p["metadata"]["name"] for p in plan.delete] == ["a"]
    deleting = job()
    deleting["metadata"]["deletionTimestamp"] = rfc3339(NOW)
    plan = plan_job(deleting, [pod("a")], NOW)
    assert plan.create == 0 and plan.delete == []
