"""Namespaces, ConfigMaps, Secrets, Nodes, Events and Leases; and every kind's table shape."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from raftkube.api.kinds import strategy_for, validate_metadata
from raftkube.api.resources import RESOURCES
from tests.api.kinds_support import NOW, check, deserialize, fields

CREATED = "2023-11-14T22:00:00Z"


def make(kind: str, name: str = "x", namespace: str | None = "default", **body: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": CREATED, "uid": "u-1"}
    if namespace:
        meta["namespace"] = namespace
    return {"kind": kind, "metadata": meta, **body}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_namespace_defaults() -> None:
    ns = make("Namespace", "dev", None, apiVersion="v1")
    assert check(ns) == []
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "dev"}
    deserialize(ns, "V1Namespace")
    emptied = make("Namespace", "dev", None, spec={"finalizers": []})
    assert check(emptied) == []
    assert emptied["spec"]["finalizers"] == []  # the namespace controller's explicit [] stays
    assert fields(check(make("Namespace", "dev", None, spec={"finalizers": ["cleanup"]}))) == ["spec.finalizers"]
    assert fields(check(make("Namespace", "dev.team", None))) == ["metadata.name"]
    assert fields(check(make("Namespace", "dev", "default"))) == ["metadata.namespace"]


def test_configmap() -> None:
    cm = make("ConfigMap", data={"app.conf": "x=1", "KEY_NAME": "v"}, binaryData={"blob": b64("\x00\x01")})
    assert check(cm) == []
    deserialize(cm, "V1ConfigMap")
    bad = check(make("ConfigMap", data={"a b": "x", "..": "y"}))
    assert [(c.field, c.message.split(":")[0]) for c in bad] == [("data[a b]", "Invalid value"),
                                                                  ("data[..]", "Invalid value")]
    assert bad[1].message == "Invalid value: \"..\": must not be '..'"
    assert fields(check(make("ConfigMap", data={"k": "x"}, binaryData={"k": b64("y")}))) == ["data[k]"]
    assert fields(check(make("ConfigMap", binaryData={"k": "%%%"}))) == ["binaryData[k]"]
    big = check(make("ConfigMap", data={"a": "x" * (1024 * 1024), "b": "y"}))
    assert [(c.field, c.reason) for c in big] == [("data", "FieldValueTooLong")]


def test_immutable_configmap() -> None:
    old = make("ConfigMap", data={"k": "v"}, immutable=True)
    check(old)
    changed = copy.deepcopy(old)
    changed["data"]["k"] = "w"
    assert [(c.field, c.reason) for c in check(changed, old)] == [("data", "FieldValueForbidden")]
    unset = copy.deepcopy(old)
    unset["immutable"] = False
    assert fields(check(unset, old)) == ["immutable"]
    relabeled = copy.deepcopy(old)
    relabeled["metadata"]["labels"] = {"a": "b"}
    assert check(relabeled, old) == []


def test_secret_defaults_merge_string_data() -> None:
    secret = make("Secret", data={"user": b64("admin")}, stringData={"password": "hunter2", "user": "root"})
    assert check(secret) == []
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    assert secret["data"] == {"user": b64("root"), "password": b64("hunter2")}
    deserialize(secret, "V1Secret")
    assert strategy_for("Secret").table_row(secret, NOW) == ["x", "Opaque", 2, "13m"]


def test_secret_validation() -> None:
    causes = check(make("Secret", data={"k": "not base64!"}))
    assert fields(causes) == ["data[k]"]
    assert "hunter" not in causes[0].message and "<secret contents redacted>" in causes[0].message
    assert fields(check(make("Secret", data={"bad key": b64("x")}))) == ["data[bad key]"]
    assert fields(check(make("Secret", type="kubernetes.io/tls", data={"tls.crt": b64("c")}))) == ["data[tls.key]"]
    assert check(make("Secret", type="kubernetes.io/tls", data={"tls.crt": b64("c"), "tls.key": b64("k")})) == []
    assert fields(check(make("Secret", type="kubernetes.io/dockerconfigjson"))) == ["data[.dockerconfigjson]"]
    assert fields(check(make("Secret", type="kubernetes.io/basic-auth"))) == ["data[username]", "data[password]"]
    old = make("Secret", data={"k": b64("v")})
    check(old)
    retyped = copy.deepcopy(old)
    retyped["type"] = "example.com/custom"
    assert fields(check(retyped, old)) == ["type"]


def node(**status: Any) -> dict[str, Any]:
    return make("Node", "node-1", None, apiVersion="v1",
                metadata={"name": "node-1", "creationTimestamp": CREATED,
                          "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "edge"}},
                status=status)


def test_node_defaults_and_validation() -> None:
    obj = node(capacity={"cpu": 4, "memory": "8388608Ki", "pods": "110"},
               conditions=[{"type": "Ready", "status": "True"}],
               addresses=[{"type": "InternalIP", "address": "192.0.2.7"}],
               nodeInfo={"kubeletVersion": "v1.32.0", "osImage": "Fedora"})
    assert check(obj) == []
    status = obj["status"]
    assert status["capacity"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}
    assert status["allocatable"] == status["capacity"]
    model = deserialize(obj, "V1Node")
    assert model.status.node_info.kubelet_version == "v1.32.0"
    assert model.status.node_info.boot_id == ""
    empty = make("Node", "node-2", None, apiVersion="v1")
    assert check(empty) == []
    assert empty["status"] == {"capacity": {}, "allocatable": {}, "conditions": []}
    assert fields(check(node(capacity={"cpu": "lots"}))) == ["status.capacity[cpu]"]
    assert fields(check(node(conditions=[{"type": "Ready"}]))) == ["status.conditions[0].status"]
    tainted = node()
    tainted["spec"] = {"taints": [{"key": "dedicated", "effect": "NoRun"},
                                  {"key": "gpu", "effect": "NoSchedule"}, {"key": "gpu", "effect": "NoSchedule"}]}
    assert fields(check(tainted)) == ["spec.taints[0].effect", "spec.taints[2]"]


def test_node_table() -> None:
    obj = node(conditions=[{"type": "Ready", "status": "False"}], nodeInfo={"kubeletVersion": "v1.32.0"},
               addresses=[{"type": "InternalIP", "address": "192.0.2.7"}])
    obj["spec"] = {"unschedulable": True}
    check(obj)
    strategy = strategy_for("Node")
    assert [c.name for c in strategy.table_columns()][:5] == ["Name", "Status", "Roles", "Age", "Version"]
    assert strategy.table_row(obj, NOW)[:7] == ["node-1", "NotReady,SchedulingDisabled", "control-plane,edge", "13m",
                                                "v1.32.0", "192.0.2.7", "<none>"]
    assert strategy.table_row(node(), NOW)[1] == "Unknown"


def event(**body: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
                            "reason": "BackOff", "message": "Back-off restarting failed container ", "type": "Warning",
                            "firstTimestamp": "2023-11-14T22:00:00Z", "lastTimestamp": "2023-11-14T22:12:20Z",
                            "source": {"component": "kubelet", "host": "node-1"}}
    base.update(body)
    return make("Event", "web.179", apiVersion="v1", **{k: v for k, v in base.items() if v is not None})


def test_event() -> None:
    obj = event()
    assert check(obj) == []
    assert obj["count"] == 1
    deserialize(obj, "CoreV1Event")
    assert fields(check(event(involvedObject=None))) == ["involvedObject"]
    assert fields(check(event(involvedObject={"kind": "Pod", "name": "web", "namespace": "other"}))) == [
        "involvedObject.namespace"]
    assert fields(check(event(type="Error"))) == ["type"]
    assert fields(check(event(lastTimestamp="yesterday"))) == ["lastTimestamp"]
    assert fields(check(event(eventTime="2023-11-14T22:00:00.000000Z"))) == [
        "reportingComponent", "reportingInstance", "action"]
    strategy = strategy_for("Event")
    columns = [c.name for c in strategy.table_columns()]
    row = dict(zip(columns, strategy.table_row(obj, NOW), strict=True))
    assert row == {"Last Seen": "60s", "Type": "Warning", "Reason": "BackOff", "Object": "pod/web", "Subobject": "",
                   "Source": "kubelet, node-1", "Message": "Back-off restarting failed container", "First Seen": "13m",
                   "Count": 1, "Name": "web.179"}
    assert [c.name for c in strategy.table_columns() if c.priority == 0] == ["Last Seen", "Type", "Reason", "Object",
                                                                             "Message"]


def test_lease() -> None:
    lease = make("Lease", "kube-scheduler", apiVersion="coordination.k8s.io/v1",
                 spec={"holderIdentity": "replica-1", "leaseDurationSeconds": 15, "leaseTransitions": 2,
                       "acquireTime": "2023-11-14T22:00:00.000000Z", "renewTime": "2023-11-14T22:13:18.123456Z"})
    assert check(lease) == []
    deserialize(lease, "V1Lease")
    assert strategy_for("Lease").table_row(lease, NOW) == ["kube-scheduler", "replica-1", "13m"]
    for spec, field in (({"leaseDurationSeconds": 0}, "spec.leaseDurationSeconds"),
                        ({"leaseTransitions": -1}, "spec.leaseTransitions"),
                        ({"renewTime": "2023-11-14 22:13:18"}, "spec.renewTime"),
                        ({"holderIdentity": 7}, "spec.holderIdentity"),
                        ({"preferredHolder": "b"}, "spec.preferredHolder")):
        assert fields(check(make("Lease", spec=spec))) == [field]
    causes = check(make("Lease", spec={"leaseDurationSeconds": 0}))
    assert causes[0].message == "Invalid value: 0: must be greater than 0"


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.kind)
def test_every_kind_has_a_strategy_whose_rows_fit_its_columns(resource: Any) -> None:
    strategy = strategy_for(resource.kind)
    assert strategy.kind == resource.kind
    obj = make(resource.kind, "thing", "default" if resource.namespaced else None,
               apiVersion=resource.api_version)
    strategy.default(obj)  # defaults must cope with a bare object, whatever validate says of it
    columns = strategy.table_columns()
    row = strategy.table_row(obj, NOW)
    assert len(row) == len(columns)
    assert columns[[c.format for c in columns].index("name")].name == "Name"
    assert row[[c.format for c in columns].index("name")] == "thing"
    age_index = [c.name for c in columns].index("Age") if any(c.name == "Age" for c in columns) else None
    if age_index is not None:
        assert row[age_index] == "13m"
    for column, cell in zip(columns, row, strict=True):
        if column.type == "integer" and column.name != "Restarts":
            assert isinstance(cell, int)


def test_unknown_kinds_get_metadata_checks_only() -> None:
    strategy = strategy_for("Widget")
    assert strategy.kind == "Widget"
    widget = {"kind": "Widget", "metadata": {"name": "Bad Name"}}
    assert strategy.validate(widget, None) == []
    assert fields(validate_metadata(widget, None, None)) == ["metadata.name"]
