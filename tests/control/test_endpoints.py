"""Endpoints planning: ready and not-ready addresses, port resolution, subsets, change detection."""

from __future__ import annotations

from typing import Any

from raftkube.control.endpoints import desired_endpoints, has_selector, needs_update, plan_subsets, resolve_port

Obj = dict[str, Any]


def service(ports: list[Obj] | None = None, selector: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "ns", "labels": {"tier": "front"}},
            "spec": {"selector": {"app": "web"} if selector is None else selector,
                     "ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": 8080,
                                                                "protocol": "TCP"}], **spec}}


def pod(name: str, ip: str | None, ready: bool = True, labels: dict[str, str] | None = None,
        container_ports: list[Obj] | None = None, phase: str = "Running", terminating: bool = False) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": labels or {"app": "web"}}
    if terminating:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    status: Obj = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ip:
        status["podIP"] = ip
    return {"metadata": meta, "spec": {"nodeName": f"node-{name}",
                                       "containers": [{"name": "c", "ports": container_ports or []}]},
            "status": status}


def test_ready_and_not_ready_addresses_with_target_refs() -> None:
    pods = [pod("b", "10.0.0.2"), pod("a", "10.0.0.1"), pod("c", "10.0.0.3", ready=False)]
    subsets = plan_subsets(service(), pods)
    assert len(subsets) == 1
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.0.0.1", "10.0.0.2"]
    assert subsets[0]["addresses"][0]["targetRef"] == {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"}
    assert subsets[0]["addresses"][0]["nodeName"] == "node-a"
    assert [a["ip"] for a in subsets[0]["notReadyAddresses"]] == ["10.0.0.3"]
    assert subsets[0]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]


def test_pods_without_ip_terminating_finished_or_unselected_are_left_out() -> None:
    pods = [pod("noip", None), pod("going", "10.0.0.2", terminating=True), pod("done", "10.0.0.3", phase="Succeeded"),
            pod("other", "10.0.0.4", labels={"app": "db"}), pod("ok", "10.0.0.5")]
    subsets = plan_subsets(service(), pods)
    assert [a["targetRef"]["name"] for s in subsets for a in s.get("addresses", [])] == ["ok"]
    assert all("notReadyAddresses" not in s for s in subsets)


def test_named_target_ports_group_pods_by_resolved_ports() -> None:
    svc = service([{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}])
    pods = [pod("a", "10.0.0.1", container_ports=[{"name": "web", "containerPort": 8080}]),
            pod("b", "10.0.0.2", container_ports=[{"name": "web", "containerPort": 9090}]),
            pod("c", "10.0.0.3", container_ports=[{"name": "other", "containerPort": 1}])]
    subsets = plan_subsets(svc, pods)
    assert [(s["ports"][0]["port"], [a["ip"] for a in s["addresses"]]) for s in subsets] == [
        (8080, ["10.0.0.1"]), (9090, ["10.0.0.2"])]


def test_resolve_port_rules() -> None:
    p = pod("a", "1.1.1.1", container_ports=[{"name": "dns", "containerPort": 53, "protocol": "UDP"}])
    assert resolve_port(p, {"port": 80}) == 80
    assert resolve_port(p, {"port": 80, "targetPort": "8081"}) == 8081
    assert resolve_port(p, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) == 53
    assert resolve_port(p, {"port": 53, "targetPort": "dns", "protocol": "TCP"}) is None


def test_publish_not_ready_and_portless_services() -> None:
    subsets = plan_subsets(service(publishNotReadyAddresses=True), [pod("a", "10.0.0.1", ready=False)])
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.0.0.1"]
    headless = plan_subsets(service(ports=[]), [pod("a", "10.0.0.1")])
    assert headless == [{"addresses": headless[0]["addresses"]}]
    assert plan_subsets(service(), []) == []


def test_selector_rules() -> None:
    assert has_selector(service())
    assert not has_selector(service(selector={}))
    assert not has_selector(service(type="ExternalName"))


def test_desired_object_and_change_detection() -> None:
    svc = service(clusterIP="None")
    wanted = desired_endpoints(svc, [pod("a", "10.0.0.1")])
    assert wanted["metadata"]["name"] == "web"
    assert wanted["metadata"]["labels"] == {"tier": "front", "service.kubernetes.io/headless": ""}
    current = {"metadata": {"name": "web", "labels": dict(wanted["metadata"]["labels"]), "resourceVersion": "7"},
               "subsets": wanted["subsets"]}
    assert not needs_update(current, wanted)
    assert needs_update({**current, "subsets": []}, wanted)
    assert needs_update({**current, "metadata": {"name": "web"}}, wanted)
    empty = desired_endpoints(service(), [])
    assert not needs_update({"metadata": {"name": "web", "labels": {"tier": "front"}}}, empty)


def test_hostname_only_for_pods_whose_subdomain_is_the_service() -> None:
    named, other, plain = pod("web-0", "10.0.0.1"), pod("web-1", "10.0.0.2"), pod("x", "10.0.0.3")
    named["spec"].update(hostname="web-0", subdomain="web")
    other["spec"].update(hostname="web-1", subdomain="elsewhere")
    addresses = plan_subsets(service(clusterIP="None"), [named, other, plain])[0]["addresses"]
    assert [(a["ip"], a.get("hostname")) for a in addresses] == [
        ("10.0.0.1", "web-0"), ("10.0.0.2", None), ("10.0.0.3", None)]
