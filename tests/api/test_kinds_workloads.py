"""Deployments, ReplicaSets, DaemonSets and Jobs: defaults the client can read, validation paths,
update rules and kubectl's columns."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from raftkube.api.kinds import strategy_for
from tests.api.kinds_support import NOW, check, deserialize, fields

UID = "0b7c4f3e-1111-2222-3333-444455556666"


def workload(kind: str, **spec: Any) -> dict[str, Any]:
    api = "batch/v1" if kind == "Job" else "apps/v1"
    base: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}
    if kind == "Job":
        base = {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}
    base.update(spec)
    return {"apiVersion": api, "kind": kind,
            "metadata": {"name": "web", "namespace": "default", "uid": UID,
                         "creationTimestamp": "2023-11-14T22:00:00Z"},
            "spec": base}


@pytest.mark.parametrize(("kind", "model"), [("Deployment", "V1Deployment"), ("ReplicaSet", "V1ReplicaSet"),
                                             ("DaemonSet", "V1DaemonSet"), ("Job", "V1Job")])
def test_minimal_manifests_are_valid_and_readable_by_the_client(kind: str, model: str) -> None:
    obj = workload(kind)
    assert check(obj) == []
    parsed = deserialize(obj, model)
    assert parsed.spec.template.spec.containers[0].termination_message_policy == "File"


def test_deployment_defaults() -> None:
    obj = workload("Deployment")
    check(obj)
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    recreate = workload("Deployment", strategy={"type": "Recreate"}, replicas=0)
    assert check(recreate) == []
    assert recreate["spec"]["strategy"] == {"type": "Recreate"}
    assert recreate["spec"]["replicas"] == 0


@pytest.mark.parametrize(("spec", "expected"), [
    ({"selector": None}, ["spec.selector"]),
    ({"selector": {}}, ["spec.selector"]),
    ({"selector": {"matchLabels": {"app": "other"}}}, ["spec.template.metadata.labels"]),
    ({"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}},
     ["spec.selector.matchExpressions[0].values"]),
    ({"selector": {"matchExpressions": [{"key": "app", "operator": "Like", "values": ["web"]}]}},
     ["spec.selector.matchExpressions[0].operator"]),
    ({"selector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}},
     ["spec.template.metadata.labels"]),
    ({"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}, []),
    ({"replicas": -1}, ["spec.replicas"]),
    ({"minReadySeconds": -1}, ["spec.minReadySeconds"]),
    ({"minReadySeconds": 600}, ["spec.progressDeadlineSeconds"]),
    ({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}, ["spec.strategy.rollingUpdate"]),
    ({"strategy": {"type": "BlueGreen"}}, ["spec.strategy.type"]),
    ({"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}},
     ["spec.strategy.rollingUpdate.maxUnavailable"]),
    ({"strategy": {"rollingUpdate": {"maxUnavailable": "150%"}}}, ["spec.strategy.rollingUpdate.maxUnavailable"]),
    ({"strategy": {"rollingUpdate": {"maxSurge": "25"}}}, ["spec.strategy.rollingUpdate.maxSurge"]),
    ({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web"}]}}},
     ["spec.template.spec.containers[0].image"]),
    ({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {
        "restartPolicy": "Never", "containers": [{"name": "web", "image": "x"}]}}},
     ["spec.template.spec.restartPolicy"]),
    ({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {
        "activeDeadlineSeconds": 5, "containers": [{"name": "web", "image": "x"}]}}},
     ["spec.template.spec.activeDeadlineSeconds"]),
    ({"template": {"metadata": {"labels": {"app": "web", "bad": "a b"}}, "spec": {
        "containers": [{"name": "web", "image": "x"}]}}}, ["spec.template.metadata.labels"]),
])
def test_deployment_validation_names_the_field(spec: dict[str, Any], expected: list[str]) -> None:
    obj = workload("Deployment", **spec)
    if spec.get("selector", 1) is None:
        del obj["spec"]["selector"]
    assert fields(check(obj)) == expected


def test_messages_are_worded_like_kubernetes() -> None:
    causes = check(workload("Deployment", selector={"matchLabels": {"app": "other"}}))
    assert causes[0].message == 'Invalid value: {"app":"web"}: `selector` does not match template `labels`'
    causes = check(workload("Deployment", strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}))
    assert causes[0].message == "Invalid value: 0: may not be 0 when `maxSurge` is 0"
    no_image = workload("Deployment")
    del no_image["spec"]["template"]["spec"]["containers"][0]["image"]
    assert [(c.field, c.message, c.reason) for c in check(no_image)] == [
        ("spec.template.spec.containers[0].image", "Required value", "FieldValueRequired")]


def test_status_counters_and_conditions() -> None:
    obj = workload("Deployment")
    obj["status"] = {"replicas": -1, "conditions": [{"type": "Progressing", "status": "Maybe"}]}
    assert fields(check(obj)) == ["status.replicas", "status.conditions[0].status"]
    ok = workload("Deployment")
    ok["status"] = {"replicas": 1, "observedGeneration": 2, "conditions": [
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}
    assert check(ok) == []


def test_selector_is_immutable() -> None:
    for kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        old = workload(kind)
        check(old)
        new = copy.deepcopy(old)
        new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
        new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
        assert fields(check(new, old)) == ["spec.selector"]
        scaled = copy.deepcopy(old)
        if kind != "DaemonSet":
            scaled["spec"]["replicas"] = 5
        scaled["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
        assert check(scaled, old) == []


def test_daemonset_defaults_and_strategy() -> None:
    obj = workload("DaemonSet")
    check(obj)
    assert obj["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                             "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    both = workload("DaemonSet", updateStrategy={"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}})
    assert fields(check(both)) == ["spec.updateStrategy.rollingUpdate.maxSurge"]
    neither = workload("DaemonSet", updateStrategy={"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}})
    assert fields(check(neither)) == ["spec.updateStrategy.rollingUpdate.maxUnavailable"]
    assert check(workload("DaemonSet", updateStrategy={"type": "OnDelete"})) == []


def test_job_defaults_generate_the_selector_from_the_uid() -> None:
    obj = workload("Job")
    assert check(obj) == []
    spec = obj["spec"]
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": UID, "controller-uid": UID,
        "batch.kubernetes.io/job-name": "web", "job-name": "web"}
    assert obj["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "web"
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"], spec["completionMode"],
            spec["suspend"], spec["manualSelector"]) == (1, 1, 6, "NonIndexed", False, False)
    parallel = workload("Job", parallelism=3)
    assert check(parallel) == []
    assert "completions" not in parallel["spec"]


def test_job_validation() -> None:
    job = workload("Job")
    del job["spec"]["template"]["spec"]["restartPolicy"]
    causes = check(job)
    assert [(c.field, c.message) for c in causes] == [
        ("spec.template.spec.restartPolicy", 'Unsupported value: "Always": supported values: "OnFailure", "Never"')]
    manual = workload("Job", manualSelector=True)
    assert fields(check(manual)) == ["spec.selector"]
    manual = workload("Job", manualSelector=True, selector={"matchLabels": {"app": "pi"}})
    manual["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    assert check(manual) == []
    assert "controller-uid" not in manual["spec"]["template"]["metadata"]["labels"]
    foreign = workload("Job", selector={"matchLabels": {"app": "pi"}})
    assert "spec.selector" in fields(check(foreign))
    assert fields(check(workload("Job", backoffLimit=-1))) == ["spec.backoffLimit"]
    assert fields(check(workload("Job", completionMode="Sometimes"))) == ["spec.completionMode"]


def test_job_template_is_immutable() -> None:
    old = workload("Job")
    check(old)
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5"
    assert fields(check(new, old)) == ["spec.template"]
    suspended = copy.deepcopy(old)
    suspended["spec"]["suspend"] = True
    assert check(suspended, old) == []


def test_table_rows() -> None:
    deploy = workload("Deployment", replicas=3)
    check(deploy)
    deploy["status"] = {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    strategy = strategy_for("Deployment")
    assert [c.name for c in strategy.table_columns()] == ["Name", "Ready", "Up-to-date", "Available", "Age",
                                                          "Containers", "Images", "Selector"]
    assert strategy.table_row(deploy, NOW) == ["web", "2/3", 3, 2, "13m", "web", "nginx:1.25", "app=web"]

    rs = workload("ReplicaSet", replicas=2)
    check(rs)
    rs["status"] = {"replicas": 2, "readyReplicas": 1}
    assert strategy_for("ReplicaSet").table_row(rs, NOW) == ["web", 2, 2, 1, "13m", "web", "nginx:1.25", "app=web"]

    ds = workload("DaemonSet")
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a", "disk": "ssd"}
    check(ds)
    ds["status"].update(desiredNumberScheduled=3, currentNumberScheduled=3, numberReady=2, updatedNumberScheduled=3,
                        numberAvailable=2)
    assert strategy_for("DaemonSet").table_row(ds, NOW)[:8] == ["web", 3, 3, 2, 3, 2, "disk=ssd,zone=a", "13m"]

    job = workload("Job")
    check(job)
    job["status"] = {"succeeded": 1, "startTime": "2023-11-14T22:00:00Z", "completionTime": "2023-11-14T22:00:42Z",
                     "conditions": [{"type": "Complete", "status": "True"}]}
    row = strategy_for("Job").table_row(job, NOW)
    assert row[:5] == ["web", "Complete", "1/1", "42s", "13m"]
    assert row[7] == f"batch.kubernetes.io/controller-uid={UID}"
    job["status"] = {"active": 1, "startTime": "2023-11-14T22:10:00Z"}
    assert strategy_for("Job").table_row(job, NOW)[1:4] == ["Running", "0/1", "3m20s"]
