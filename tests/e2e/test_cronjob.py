"""CronJobs through kubectl on a 3-replica control plane whose CronJob controller's clock runs 60 times
faster (`raftkube server --cronjob-clock-speed 60`: a minute's schedule fires every second, no test
waits a real minute): Jobs named <cronjob>-<unix minutes> and owned by their CronJob, Forbid
waiting for the active Job, history limits pruning completed Jobs, Replace deleting the running
Job, kubectl's columns, `kubectl create job --from=cronjob/x`, suspend, and validation messages.
No nodes run: a Job finishes when the test writes its Complete condition (its status subresource)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .cluster import E2ECluster, Kubectl, parse_table, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]
SPEED = 60


def cronjob(name: str, schedule: str = "* * * * *", **spec: Any) -> dict[str, Any]:
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "tick", "image": "example.local/tick:v1"}]}}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, "jobTemplate": {"metadata": {"labels": {"cron": name}},
                                                           "spec": {"template": template}}, **spec}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("cronjob-plane"), controllers=True)
    plane.plane.extra_args = ["--cronjob-clock-speed", str(SPEED)]
    plane.start()
    try:
        yield plane
    finally:
        plane.close()


@pytest.fixture
def k(cluster: E2ECluster, ns: str, tmp_path: Path) -> Kubectl:
    return Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns))


def apply(k: Kubectl, obj: dict[str, Any]) -> str:
    return k("apply", "-f", "-", input=yaml.safe_dump(obj))


def jobs_of(k: Kubectl, name: str) -> list[dict[str, Any]]:
    items = k.json("get", "jobs", "-l", f"cron={name}")["items"]
    return sorted((j for j in items if not j["metadata"].get("deletionTimestamp")),
                  key=lambda j: j["metadata"]["name"])


def complete(k: Kubectl, job: str) -> None:
    now = "2026-01-01T00:00:00Z"
    patch = {"status": {"startTime": now, "completionTime": now,
                        "conditions": [{"type": "Complete", "status": "True", "reason": "CompletionsReached"}]}}
    k("patch", "job", job, "--subresource=status", "--type=merge", "-p", json.dumps(patch))


def event_reasons(k: Kubectl, name: str) -> set[str]:
    events = k.json("get", "events", "--field-selector", f"involvedObject.name={name}")["items"]
    return {e.get("reason", "") for e in events}


def test_forbid_history_limits_and_columns(k: Kubectl) -> None:
    assert "cronjob.batch/tick created" in apply(k, cronjob("tick", concurrencyPolicy="Forbid",
                                                            successfulJobsHistoryLimit=2))
    stored = k.json("get", "cj", "tick")
    assert (stored["spec"]["suspend"], stored["spec"]["failedJobsHistoryLimit"]) == (False, 1)
    first = wait_until(lambda: jobs_of(k, "tick") or None, 30, "the first Job")[0]
    suffix = first["metadata"]["name"].removeprefix("tick-")
    assert suffix.isdigit() and len(suffix) >= 8  # the scheduled time in unix minutes
    owner = first["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("CronJob", "tick", True)
    assert "batch.kubernetes.io/cronjob-scheduled-timestamp" in first["metadata"]["annotations"]
    wait_until(lambda: "JobAlreadyActive" in event_reasons(k, "tick"), 30, "Forbid holding the next run back")
    assert len(jobs_of(k, "tick")) == 1
    row = parse_table(k("get", "cronjob", "tick"))[0]
    assert (row["SCHEDULE"], row["TIMEZONE"], row["SUSPEND"], row["ACTIVE"]) == ("* * * * *", "<none>", "False", "1")
    assert row["LAST SCHEDULE"] != "<none>" and "AGE" in row

    completed: list[str] = []
    for _ in range(4):  # each completion lets the next minute start a new Job
        current = [j["metadata"]["name"] for j in jobs_of(k, "tick") if j["metadata"]["name"] not in completed]
        assert len(current) == 1
        complete(k, current[0])
        completed.append(current[0])
        wait_until(lambda: [j for j in jobs_of(k, "tick") if j["metadata"]["name"] not in completed] or None, 30,
                   "the next Job after a completion")

    def pruned() -> list[str] | None:
        names = [j["metadata"]["name"] for j in jobs_of(k, "tick")]
        return names if len([n for n in names if n in completed]) == 2 else None
    kept = wait_until(pruned, 30, "successfulJobsHistoryLimit 2 pruning the oldest")
    assert [n for n in kept if n in completed] == completed[-2:]
    reasons = event_reasons(k, "tick")
    assert {"SuccessfulCreate", "SawCompletedJob", "SuccessfulDelete", "JobAlreadyActive"} <= reasons
    status = k.json("get", "cj", "tick")["status"]
    assert status["lastSuccessfulTime"] and len(status["active"]) == 1


def test_replace_deletes_the_running_job(k: Kubectl) -> None:
    apply(k, cronjob("swap", concurrencyPolicy="Replace"))
    first = wait_until(lambda: jobs_of(k, "swap") or None, 30, "the first Job")[0]["metadata"]["name"]

    def replaced() -> list[str] | None:
        names = [j["metadata"]["name"] for j in jobs_of(k, "swap")]
        return names if names and first not in names else None
    assert len(wait_until(replaced, 30, "the running Job replaced")) == 1
    assert "SuccessfulDelete" in event_reasons(k, "swap")


def test_create_job_from_cronjob_suspend_and_time_zone(k: Kubectl) -> None:
    apply(k, cronjob("yearly", "@yearly", timeZone="Europe/Berlin", suspend=True))
    row = parse_table(k("get", "cj", "yearly", "-o", "wide"))[0]
    assert (row["TIMEZONE"], row["SUSPEND"], row["ACTIVE"], row["LAST SCHEDULE"]) == (
        "Europe/Berlin", "True", "0", "<none>")
    assert (row["CONTAINERS"], row["IMAGES"]) == ("tick", "example.local/tick:v1")
    assert "job.batch/by-hand created" in k("create", "job", "by-hand", "--from=cronjob/yearly")
    job = k.json("get", "job", "by-hand")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["name"] == "yearly"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "example.local/tick:v1"
    assert "cronjob.batch/yearly" in k("get", "all")
    described = k("describe", "cronjob", "yearly")
    assert "Schedule:                      @yearly" in described and "Suspend:                       True" in described
    assert "cronjob.batch/made created" in k("create", "cronjob", "made", "--image=example.local/tick:v1",
                                            "--schedule=0 3 * * mon-fri", "--restart=OnFailure")
    made = k.json("get", "cj", "made")["spec"]
    assert (made["schedule"], made["concurrencyPolicy"], made["successfulJobsHistoryLimit"]) == (
        "0 3 * * mon-fri", "Allow", 3)


def test_validation_messages(k: Kubectl) -> None:
    result = k.fail("apply", "-f", "-", input=yaml.safe_dump(cronjob("bad", "61 * * * *")))
    assert 'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61' in result.stderr
    result = k.fail("apply", "-f", "-", input=yaml.safe_dump(cronjob("bad", timeZone="Mars/Olympus")))
    assert 'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus' in result.stderr
    result = k.fail("apply", "-f", "-", input=yaml.safe_dump(cronjob("bad", "TZ=UTC * * * * *")))
    assert "cannot use TZ or CRON_TZ in schedule, use timeZone field instead" in result.stderr
    result = k.fail("apply", "-f", "-", input=yaml.safe_dump(cronjob("bad", concurrencyPolicy="Sometimes")))
    assert 'spec.concurrencyPolicy: Unsupported value: "Sometimes"' in result.stderr
