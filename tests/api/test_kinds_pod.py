"""Pods: defaults, validation with Kubernetes field paths, the update rule, and kubectl's STATUS."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from raftkube.api.errors import Cause
from raftkube.api.kinds import strategy_for, validate_metadata
from raftkube.api.kinds.pod import pod_status_cells, qos_class
from tests.api.kinds_support import NOW, deserialize, fields

POD = strategy_for("Pod")


def pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.25"}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "uid": "u1",
                         "creationTimestamp": "2023-11-14T22:00:00Z"},
            "spec": base}


def check(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    """What the server does on a write: defaults, then metadata and the pod's own checks."""
    POD.default(obj)
    return validate_metadata(obj, True, old) + POD.validate(obj, old)


def container(**fields_: Any) -> dict[str, Any]:
    return {"name": "app", "image": "nginx:1.25", **fields_}


def test_minimal_pod_is_valid_and_the_client_can_read_it() -> None:
    obj = pod()
    assert check(obj) == []
    model = deserialize(obj, "V1Pod")
    assert model.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert model.status.phase == "Pending"
    assert model.status.qos_class == "BestEffort"


def test_spec_defaults() -> None:
    obj = pod(containers=[container(
        ports=[{"containerPort": 80}],
        env=[{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        readinessProbe={"httpGet": {"port": 80}},
        volumeMounts=[{"name": "cfg", "mountPath": "/etc/cfg"}])],
        volumes=[{"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "tls", "secret": {"secretName": "tls"}}])
    assert check(obj) == []
    spec = obj["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["schedulerName"], spec["terminationGracePeriodSeconds"],
            spec["enableServiceLinks"], spec["securityContext"]) == ("Always", "ClusterFirst", "default-scheduler",
                                                                     30, True, {})
    c = spec["containers"][0]
    assert c["ports"][0]["protocol"] == "TCP"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert c["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert spec["volumes"][0]["configMap"]["defaultMode"] == 0o644
    assert spec["volumes"][1]["secret"]["defaultMode"] == 420
    deserialize(obj, "V1Pod")


def test_defaults_are_idempotent_and_keep_explicit_values() -> None:
    obj = pod(restartPolicy="Never", terminationGracePeriodSeconds=0,
              containers=[container(imagePullPolicy="Never", livenessProbe={"exec": {"command": ["true"]},
                                                                            "periodSeconds": 3})])
    POD.default(obj)
    once = copy.deepcopy(obj)
    POD.default(obj)
    assert obj == once
    assert obj["spec"]["restartPolicy"] == "Never"
    assert obj["spec"]["terminationGracePeriodSeconds"] == 0
    assert obj["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    assert obj["spec"]["containers"][0]["livenessProbe"]["periodSeconds"] == 3


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("registry.local:5000/nginx", "Always"), ("registry.local:5000/team/nginx:1.2", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
])
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    obj = pod(containers=[{"name": "app", "image": image}])
    POD.default(obj)
    assert obj["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_requests_default_to_limits_and_quantities_are_canonical() -> None:
    obj = pod(containers=[container(resources={"limits": {"cpu": 0.5, "memory": "1Gi"}, "requests": {"cpu": "0.25"}})])
    assert check(obj) == []
    resources = obj["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "250m", "memory": "1Gi"}}
    assert obj["status"]["qosClass"] == "Burstable"


@pytest.mark.parametrize(("resources", "qos"), [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
    ({"limits": {"cpu": "1"}}, "Burstable"),
])
def test_qos_class(resources: dict[str, Any], qos: str) -> None:
    obj = pod(containers=[container(resources=resources)])
    POD.default(obj)
    assert obj["status"]["qosClass"] == qos == qos_class(obj["spec"])


@pytest.mark.parametrize(("spec", "expected"), [
    ({"containers": []}, [("spec.containers", "Required value")]),
    ({"containers": [{"name": "app"}]}, [("spec.containers[0].image", "Required value")]),
    ({"containers": [{"image": "x"}]}, [("spec.containers[0].name", "Required value")]),
    ({"containers": [container(), container()]}, [("spec.containers[1].name", 'Duplicate value: "app"')]),
    ({"containers": [container(name="App")]}, [("spec.containers[0].name", None)]),
    ({"containers": [container(ports=[{"containerPort": 70000}])]},
     [("spec.containers[0].ports[0].containerPort",
       "Invalid value: 70000: must be between 1 and 65535, inclusive")]),
    ({"containers": [container(ports=[{"containerPort": 80, "protocol": "HTTP"}])]},
     [("spec.containers[0].ports[0].protocol", 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"')]),
    ({"containers": [container(ports=[{"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}])]},
     [("spec.containers[0].ports[1].name", 'Duplicate value: "web"')]),
    ({"containers": [container(env=[{"name": "A=B", "value": "x"}])]}, [("spec.containers[0].env[0].name", None)]),
    ({"containers": [container(env=[{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg"}}}])]},
     [("spec.containers[0].env[0].valueFrom.configMapKeyRef.key", "Required value")]),
    ({"containers": [container(env=[{"name": "A", "valueFrom": {
        "configMapKeyRef": {"name": "c", "key": "k"}, "secretKeyRef": {"name": "s", "key": "k"}}}])]},
     [("spec.containers[0].env[0].valueFrom",
       'Invalid value: "": may not have more than one field specified at a time')]),
    ({"containers": [container(env=[{"name": "A", "value": "x", "valueFrom": {
        "secretKeyRef": {"name": "s", "key": "k"}}}])]},
     [("spec.containers[0].env[0].valueFrom", 'Invalid value: "": may not be specified when `value` is not empty')]),
    ({"containers": [container(env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.hostname"}}}])]},
     [("spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", None)]),
    ({"containers": [container(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "2"}})]},
     [("spec.containers[0].resources.requests", 'Invalid value: "2": must be less than or equal to cpu limit of 1')]),
    ({"containers": [container(resources={"limits": {"memory": "lots"}})]},
     [("spec.containers[0].resources.limits[memory]", None)]),
    ({"containers": [container(resources={"requests": {"cpu": "-1"}})]},
     [("spec.containers[0].resources.requests[cpu]", 'Invalid value: "-1": must be greater than or equal to 0')]),
    ({"containers": [container(resources={"requests": {"gpu": "1"}})]},
     [("spec.containers[0].resources.requests[gpu]", 'Invalid value: "gpu": must be a standard resource for '
                                                     'containers')]),
    ({"volumes": [{"name": "v"}]}, [("spec.volumes[0]", "Required value: must specify a volume type")]),
    ({"volumes": [{"name": "v", "emptyDir": {}, "secret": {"secretName": "s"}}]},
     [("spec.volumes[0].secret", "Forbidden: may not specify more than 1 volume type")]),
    ({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]},
     [("spec.volumes[1].name", 'Duplicate value: "v"')]),
    ({"volumes": [{"name": "v", "hostPath": {"path": "/x", "type": "Dir"}}]},
     [("spec.volumes[0].hostPath.type", None)]),
    ({"volumes": [{"name": "v", "configMap": {}}]}, [("spec.volumes[0].configMap.name", "Required value")]),
    ({"containers": [container(volumeMounts=[{"name": "data", "mountPath": "/data"}])]},
     [("spec.containers[0].volumeMounts[0].name", 'Not found: "data"')]),
    ({"restartPolicy": "Sometimes"}, [("spec.restartPolicy", None)]),
    ({"dnsPolicy": "Cluster"}, [("spec.dnsPolicy", None)]),
    ({"containers": [container(livenessProbe={"periodSeconds": 5})]},
     [("spec.containers[0].livenessProbe", "Required value: must specify a handler type")]),
    ({"containers": [container(readinessProbe={"exec": {"command": ["true"]}, "httpGet": {"port": 80}})]},
     [("spec.containers[0].readinessProbe.httpGet", "Forbidden: may not specify more than 1 handler type")]),
    ({"containers": [container(livenessProbe={"tcpSocket": {"port": 80}, "successThreshold": 2})]},
     [("spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1")]),
    ({"containers": [container(readinessProbe={"httpGet": {"port": "Web_Port"}})]},
     [("spec.containers[0].readinessProbe.httpGet.port", None)]),
    ({"activeDeadlineSeconds": 0}, [("spec.activeDeadlineSeconds", None)]),
    ({"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoRun"}]}, [("spec.tolerations[0].effect", None)]),
    ({"nodeSelector": {"disk": "fast ssd"}}, [("spec.nodeSelector", None)]),
])
def test_invalid_specs_name_the_field(spec: dict[str, Any], expected: list[tuple[str, str | None]]) -> None:
    causes = check(pod(**spec))
    assert fields(causes) == [f for f, _ in expected]
    for cause, (_, message) in zip(causes, expected, strict=True):
        if message is not None:
            assert cause.message == message


def test_init_containers() -> None:
    probe = {"exec": {"command": ["true"]}}
    sidecar = {"name": "proxy", "image": "envoy", "restartPolicy": "Always", "readinessProbe": probe,
               "livenessProbe": probe}
    assert check(pod(initContainers=[{"name": "setup", "image": "busybox"}, sidecar])) == []
    causes = check(pod(initContainers=[{"name": "setup", "image": "busybox", "readinessProbe": probe}]))
    assert [(c.field, c.reason) for c in causes] == [("spec.initContainers[0].readinessProbe", "FieldValueForbidden")]
    assert fields(check(pod(initContainers=[{"name": "app", "image": "busybox"}]))) == [
        "spec.initContainers[0].name"]  # names are unique across init and regular containers
    assert fields(check(pod(initContainers=[{"name": "setup", "image": "busybox", "restartPolicy": "Never"}]))) == [
        "spec.initContainers[0].restartPolicy"]
    assert fields(check(pod(containers=[container(restartPolicy="Always")]))) == ["spec.containers[0].restartPolicy"]


def test_valid_volume_sources_and_mounts() -> None:
    obj = pod(containers=[container(volumeMounts=[{"name": "data", "mountPath": "/data"},
                                                   {"name": "meta", "mountPath": "/meta"},
                                                   {"name": "all", "mountPath": "/all", "subPath": "x"}])],
              volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "pvc"}},
                       {"name": "meta", "downwardAPI": {"items": [{"path": "labels",
                                                                   "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                       {"name": "all", "projected": {"sources": [{"configMap": {"name": "c"}},
                                                                 {"secret": {"name": "s"}}]}}])
    assert check(obj) == []
    deserialize(obj, "V1Pod")


def test_spec_is_immutable_except_images_deadline_tolerations_and_binding() -> None:
    old = pod(tolerations=[{"key": "a", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}],
              activeDeadlineSeconds=100)
    assert check(old) == []
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.26"
    new["spec"]["activeDeadlineSeconds"] = 50
    new["spec"]["tolerations"][0]["tolerationSeconds"] = 30
    new["spec"]["tolerations"].append({"key": "b", "operator": "Exists"})
    new["spec"]["nodeName"] = "node-1"
    new["metadata"]["labels"] = {"extra": "yes"}
    assert check(new, old) == []

    moved = copy.deepcopy(new)
    moved["spec"]["nodeName"] = "node-2"
    causes = check(moved, new)
    assert [(c.field, c.reason) for c in causes] == [("spec", "FieldValueForbidden")]
    assert causes[0].message.startswith("Forbidden: pod updates may not change fields other than "
                                        "`spec.containers[*].image`")
    assert "spec.nodeName" in causes[0].message

    ported = copy.deepcopy(old)
    ported["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
    assert fields(check(ported, old)) == ["spec"]

    later = copy.deepcopy(old)
    later["spec"]["activeDeadlineSeconds"] = 200
    assert fields(check(later, old)) == ["spec.activeDeadlineSeconds"]

    dropped = copy.deepcopy(old)
    dropped["spec"]["tolerations"] = []
    assert fields(check(dropped, old)) == ["spec.tolerations"]

    cleared = copy.deepcopy(old)
    cleared["spec"]["containers"][0]["image"] = ""
    assert fields(check(cleared, old)) == ["spec.containers[0].image"]


def test_status_written_by_the_agent_is_completed_and_checked() -> None:
    obj = pod()
    obj["status"] = {"phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}],
                     "conditions": [{"type": "Ready", "status": "True"}],
                     "containerStatuses": [{"name": "app", "state": {"terminated": {"reason": "Completed"}},
                                            "lastState": {}}]}
    assert check(obj) == []
    cs = obj["status"]["containerStatuses"][0]
    assert (cs["ready"], cs["restartCount"], cs["image"], cs["imageID"]) == (False, 0, "", "")
    assert cs["state"]["terminated"]["exitCode"] == 0
    model = deserialize(obj, "V1Pod")
    assert model.status.container_statuses[0].state.terminated.exit_code == 0
    obj["status"] = {"phase": "Sleeping", "conditions": [{"type": "Ready"}], "podIPs": [{"ip": "10.1.0.300"}],
                     "containerStatuses": [{"restartCount": -1}]}
    assert fields(check(obj)) == ["status.phase", "status.conditions[0].status", "status.containerStatuses[0].name",
                                  "status.containerStatuses[0].restartCount", "status.podIPs[0].ip"]


def status(phase: str = "Running", **extra: Any) -> dict[str, Any]:
    return {"phase": phase, **extra}


def running(name: str = "app", ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": restarts, "image": "x", "imageID": "",
            "state": {"running": {"startedAt": "2023-11-14T22:00:00Z"}}, **extra}


def waiting(reason: str, name: str = "app", restarts: int = 0) -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": restarts, "image": "x", "imageID": "",
            "state": {"waiting": {"reason": reason}}}


@pytest.mark.parametrize(("st", "cells"), [
    (status("Pending"), ("0/1", "Pending", 0)),
    (status(containerStatuses=[running()]), ("1/1", "Running", 0)),
    (status(containerStatuses=[running(ready=False)]), ("0/1", "Running", 0)),
    (status("Pending", containerStatuses=[waiting("ContainerCreating")]), ("0/1", "ContainerCreating", 0)),
    (status("Pending", containerStatuses=[waiting("ErrImagePull")]), ("0/1", "ErrImagePull", 0)),
    (status(containerStatuses=[{**waiting("CrashLoopBackOff", restarts=4), "lastState": {"terminated": {
        "exitCode": 1, "finishedAt": "2023-11-14T22:10:00Z"}}}]), ("0/1", "CrashLoopBackOff", "4 (3m20s ago)")),
    (status("Succeeded", containerStatuses=[{**running(ready=False), "state": {"terminated": {
        "exitCode": 0, "reason": "Completed"}}}]), ("0/1", "Completed", 0)),
    (status("Failed", containerStatuses=[{**running(ready=False), "state": {"terminated": {"exitCode": 137}}}]),
     ("0/1", "ExitCode:137", 0)),
    (status("Failed", reason="Evicted"), ("0/1", "Evicted", 0)),
])
def test_status_column(st: dict[str, Any], cells: tuple[str, str, Any]) -> None:
    obj = pod()
    obj["status"] = st
    assert pod_status_cells(obj, NOW) == cells


def test_status_column_with_init_containers_and_deletion() -> None:
    obj = pod(initContainers=[{"name": "init", "image": "busybox"}])
    obj["status"] = status("Pending", initContainerStatuses=[waiting("PodInitializing", name="init")],
                           containerStatuses=[waiting("PodInitializing")])
    assert pod_status_cells(obj, NOW)[1] == "Init:0/1"
    obj["status"]["initContainerStatuses"] = [{**waiting("x", name="init"), "state": {"terminated": {
        "exitCode": 1, "reason": "Error"}}}]
    assert pod_status_cells(obj, NOW)[1] == "Init:Error"
    obj["status"]["initContainerStatuses"] = [waiting("CrashLoopBackOff", name="init")]
    assert pod_status_cells(obj, NOW)[1] == "Init:CrashLoopBackOff"
    done = pod()
    done["status"] = status(containerStatuses=[running()])
    done["metadata"]["deletionTimestamp"] = "2023-11-14T22:13:00Z"
    assert pod_status_cells(done, NOW)[1] == "Terminating"


def test_table_row_matches_columns() -> None:
    obj = pod(nodeName="node-1", readinessGates=[{"conditionType": "example.com/ready"}])
    obj["status"] = status(podIP="10.1.0.5", containerStatuses=[running()],
                           conditions=[{"type": "example.com/ready", "status": "True"}])
    columns = [c.name for c in POD.table_columns()]
    row = POD.table_row(obj, NOW)
    assert dict(zip(columns, row, strict=True)) == {
        "Name": "web", "Ready": "1/1", "Status": "Running", "Restarts": 0, "Age": "13m", "IP": "10.1.0.5",
        "Node": "node-1", "Nominated Node": "<none>", "Readiness Gates": "1/1"}
    assert [c.priority for c in POD.table_columns()] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
