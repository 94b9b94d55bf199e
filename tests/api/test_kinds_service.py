"""Services and Endpoints: defaults, port rules, clusterIP immutability and kubectl's columns."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from raftkube.api.kinds import drop_type_dependent_fields, preserve_allocations, strategy_for
from tests.api.kinds_support import NOW, check, deserialize, fields

SVC = strategy_for("Service")
EP = strategy_for("Endpoints")


def service(name: str = "web", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2023-11-14T22:00:00Z"},
            "spec": {k: v for k, v in base.items() if v is not None}}


def test_minimal_service_defaults() -> None:
    obj = service()
    assert check(obj) == []
    spec = obj["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec
    model = deserialize(obj, "V1Service")
    assert model.spec.ports[0].target_port == 80


def test_type_dependent_defaults() -> None:
    node_port = service(type="NodePort", clusterIP="10.96.0.10")
    assert check(node_port) == []
    assert node_port["spec"]["externalTrafficPolicy"] == "Cluster"
    assert node_port["spec"]["clusterIPs"] == ["10.96.0.10"]
    lb = service(type="LoadBalancer", sessionAffinity="ClientIP")
    assert check(lb) == []
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    assert lb["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    named = service(ports=[{"name": "http", "port": 80, "targetPort": "http"}])
    assert check(named) == []
    assert named["spec"]["ports"][0]["targetPort"] == "http"
    deserialize(lb, "V1Service")


@pytest.mark.parametrize(("spec", "expected"), [
    ({"ports": []}, [("spec.ports", "Required value")]),
    ({"ports": [{"port": 80}, {"port": 443}]}, [("spec.ports[0].name", "Required value"),
                                                ("spec.ports[1].name", "Required value")]),
    ({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]},
     [("spec.ports[1].name", 'Duplicate value: "a"')]),
    ({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}, [("spec.ports[1]", None)]),
    # the defaulted targetPort (= port) is out of range too, as with Kubernetes
    ({"ports": [{"port": 0}]}, [("spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive"),
                                ("spec.ports[0].targetPort", None)]),
    ({"ports": [{"port": 70000, "targetPort": 8080}]}, [("spec.ports[0].port", None)]),
    ({"ports": [{"port": 80, "protocol": "HTTP"}]}, [("spec.ports[0].protocol", None)]),
    ({"ports": [{"port": 80, "targetPort": 0}], "type": "ExternalName", "externalName": "x.example.com"}, []),
    ({"ports": [{"port": 80, "targetPort": "not_a_port_name"}]}, [("spec.ports[0].targetPort", None)]),
    ({"ports": [{"port": 80, "nodePort": 30080}]},
     [("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'")]),
    ({"type": "NodePort", "ports": [{"port": 80, "nodePort": 8080}]},
     [("spec.ports[0].nodePort", "Invalid value: 8080: provided port is not in the valid range. The range of valid "
                                 "ports is 30000-32767")]),
    ({"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30080},
                                    {"name": "b", "port": 81, "nodePort": 30080}]},
     [("spec.ports[1].nodePort", "Duplicate value: 30080")]),
    ({"type": "Balanced"}, [("spec.type", None)]),
    ({"type": "ExternalName", "ports": None}, [("spec.externalName", "Required value")]),
    ({"type": "ExternalName", "externalName": "db.example.com.", "ports": None}, []),
    ({"clusterIP": "None", "ports": None}, []),
    ({"clusterIP": "None", "type": "NodePort"},
     [("spec.clusterIPs[0]", "Invalid value: \"None\": may not be set to 'None' for NodePort services")]),
    ({"clusterIP": "10.96.0.300"}, [("spec.clusterIPs[0]", None)]),
    ({"sessionAffinity": "Sticky"}, [("spec.sessionAffinity", None)]),
    ({"selector": {"app": "web app"}}, [("spec.selector", None)]),
    ({"externalTrafficPolicy": "Local", "type": "NodePort"}, []),
])
def test_service_validation(spec: dict[str, Any], expected: list[tuple[str, str | None]]) -> None:
    causes = check(service(**spec))
    assert fields(causes) == [f for f, _ in expected]
    for cause, (_, message) in zip(causes, expected, strict=True):
        if message is not None:
            assert cause.message == message


def test_service_names_are_dns1035_labels() -> None:
    assert fields(check(service(name="1web"))) == ["metadata.name"]
    assert fields(check(service(name="web.v1"))) == ["metadata.name"]
    assert check(service(name="web-1")) == []


def test_cluster_ip_may_not_change_once_set() -> None:
    old = service(clusterIP="10.96.0.10")
    check(old)
    moved = copy.deepcopy(old)
    moved["spec"]["clusterIP"] = "10.96.0.11"
    moved["spec"]["clusterIPs"] = ["10.96.0.11"]
    causes = check(moved, old)
    assert [(c.field, c.message) for c in causes] == [
        ("spec.clusterIPs[0]", 'Invalid value: ["10.96.0.11"]: may not change once set')]
    same = copy.deepcopy(old)
    same["spec"]["ports"] = [{"port": 8080}]
    assert check(same, old) == []
    to_external = copy.deepcopy(old)
    to_external["spec"] = {"type": "ExternalName", "externalName": "db.example.com"}
    assert check(to_external, old) == []


def test_preserve_allocations_keeps_ip_and_node_ports() -> None:
    old = service(type="NodePort", clusterIP="10.96.0.10", ports=[{"port": 80, "nodePort": 30080}])
    check(old)
    new = service(type="NodePort", ports=[{"port": 80}])
    preserve_allocations(new, old)
    assert check(new, old) == []
    assert new["spec"]["clusterIP"] == "10.96.0.10"
    assert new["spec"]["ports"][0]["nodePort"] == 30080


def test_type_changes_drop_what_was_carried_over() -> None:
    old = service(type="NodePort", clusterIP="10.96.0.10", ports=[{"port": 80, "nodePort": 30080}])
    check(old)
    to_cluster_ip = copy.deepcopy(old)  # `kubectl apply` changing only the type keeps the live nodePort
    to_cluster_ip["spec"]["type"] = "ClusterIP"
    assert check(copy.deepcopy(to_cluster_ip), old) == []
    drop_type_dependent_fields(to_cluster_ip, old)
    assert check(to_cluster_ip, old) == []
    assert "nodePort" not in to_cluster_ip["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in to_cluster_ip["spec"]
    new_port = copy.deepcopy(to_cluster_ip)
    new_port["spec"]["ports"][0]["nodePort"] = 30081
    assert fields(check(new_port, old)) == ["spec.ports[0].nodePort"]
    to_external = copy.deepcopy(old)
    to_external["spec"].update(type="ExternalName", externalName="db.example.com")
    drop_type_dependent_fields(to_external, old)
    assert check(to_external, old) == []
    assert "clusterIP" not in to_external["spec"] and "clusterIPs" not in to_external["spec"]
    assert "nodePort" not in to_external["spec"]["ports"][0]


def test_service_table() -> None:
    columns = [c.name for c in SVC.table_columns()]
    assert columns == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    obj = service(type="NodePort", clusterIP="10.96.0.10",
                  ports=[{"name": "http", "port": 80, "nodePort": 30080}, {"name": "dns", "port": 53,
                                                                          "protocol": "UDP"}])
    check(obj)
    assert SVC.table_row(obj, NOW) == ["web", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP", "13m",
                                       "app=web"]
    lb = service(type="LoadBalancer", clusterIP="10.96.0.11")
    check(lb)
    assert SVC.table_row(lb, NOW)[3] == "<pending>"
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}
    assert SVC.table_row(lb, NOW)[3] == "192.0.2.10"
    headless = service(clusterIP="None", ports=None, selector=None)
    check(headless)
    assert SVC.table_row(headless, NOW)[2:5] == ["None", "<none>", "<none>"]
    external = service(type="ExternalName", externalName="db.example.com", ports=None)
    check(external)
    assert SVC.table_row(external, NOW)[1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]


def endpoints(*subsets: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2023-11-14T22:00:00Z"},
            "subsets": list(subsets)}


def test_endpoints_validation_and_defaults() -> None:
    obj = endpoints({"addresses": [{"ip": "10.1.0.5", "nodeName": "node-1"}], "ports": [{"port": 80}]})
    assert check(obj) == []
    assert obj["subsets"][0]["ports"][0]["protocol"] == "TCP"
    deserialize(obj, "V1Endpoints")
    assert fields(check(endpoints({"addresses": [{"hostname": "a"}]}))) == ["subsets[0].addresses[0].ip"]
    assert fields(check(endpoints({"notReadyAddresses": [{"ip": "10.1.0.300"}]}))) == [
        "subsets[0].notReadyAddresses[0].ip"]
    assert fields(check(endpoints({"ports": [{"port": 80}]}))) == ["subsets[0]"]
    assert fields(check(endpoints({"addresses": [{"ip": "10.1.0.5"}], "ports": [{"port": 80}, {"port": 81}]}))) == [
        "subsets[0].ports[0].name", "subsets[0].ports[1].name"]
    assert fields(check(endpoints({"addresses": [{"ip": "10.1.0.5"}], "ports": [{"port": 0}]}))) == [
        "subsets[0].ports[0].port"]


def test_endpoints_column() -> None:
    assert EP.table_row(endpoints(), NOW) == ["web", "<none>", "13m"]
    many = endpoints({"addresses": [{"ip": f"10.1.0.{i}"} for i in range(1, 6)], "ports": [{"port": 80}]})
    assert EP.table_row(many, NOW)[1] == "10.1.0.1:80,10.1.0.2:80,10.1.0.3:80 + 2 more..."
    headless = endpoints({"addresses": [{"ip": "10.1.0.1"}, {"ip": "fd00::1"}]})
    assert EP.table_row(headless, NOW)[1] == "10.1.0.1,fd00::1"
    v6 = endpoints({"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 443}]})
    assert EP.table_row(v6, NOW)[1] == "[fd00::1]:443"
