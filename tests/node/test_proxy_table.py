"""The service proxy's table: which listeners a set of Services and Endpoints asks for, with which backends."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from raftkube.node.proxy_table import Backend, Listener, endpoint_backends, plan

Obj = dict[str, Any]


def svc(name: str, ports: list[Obj], *, kind: str = "ClusterIP", ip: str | None = "127.96.0.10",
        namespace: str = "default", selector: dict[str, str] | None = None, **spec: Any) -> Obj:
    body: Obj = {"type": kind, "ports": ports, **spec}
    if ip is not None:
        body["clusterIP"] = ip
        body["clusterIPs"] = [ip]
    if selector:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": body}


def eps(name: str, *subsets: Obj, namespace: str = "default") -> Obj:
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": namespace},
            "subsets": list(subsets)}


def subset(ips: list[str], ports: list[Obj], not_ready: list[str] | None = None) -> Obj:
    out: Obj = {"addresses": [{"ip": ip} for ip in ips], "ports": ports}
    if not_ready:
        out["notReadyAddresses"] = [{"ip": ip} for ip in not_ready]
    return out


def test_cluster_ip_port_gets_the_ready_addresses_only() -> None:
    table = plan([svc("web", [{"port": 80, "targetPort": 8080, "protocol": "TCP"}])],
                 [eps("web", subset(["127.98.0.2", "127.98.0.3"], [{"port": 8080}], not_ready=["127.98.0.4"]))])
    assert table == {Listener("127.96.0.10", 80, "TCP", "default", "web", ""):
                     (Backend("127.98.0.2", 8080), Backend("127.98.0.3", 8080))}


def test_node_port_service_listens_on_the_cluster_ip_and_the_node_address() -> None:
    service = svc("web", [{"name": "http", "port": 80, "nodePort": 30080, "protocol": "TCP"}], kind="NodePort")
    endpoints = [eps("web", subset(["127.98.0.2"], [{"name": "http", "port": 80}]))]
    table = plan([service], endpoints, nodeport_address="127.0.0.7")
    backends = (Backend("127.98.0.2", 80),)
    assert table == {Listener("127.96.0.10", 80, "TCP", "default", "web", "http"): backends,
                     Listener("127.0.0.7", 30080, "TCP", "default", "web", "http"): backends}
    lb = svc("lb", [{"port": 81, "nodePort": 30081}], kind="LoadBalancer", ip="127.96.0.11")
    assert Listener("127.0.0.1", 30081, "TCP", "default", "lb", "") in plan([lb], [])


def test_ports_are_matched_to_endpoints_by_name_and_protocol() -> None:
    service = svc("app", [{"name": "http", "port": 80, "targetPort": "web"},
                          {"name": "metrics", "port": 9090, "targetPort": "prom"}])
    endpoints = eps("app", subset(["127.98.0.2"], [{"name": "metrics", "port": 9100}, {"name": "http", "port": 8080}]),
                    subset(["127.98.0.3"], [{"name": "http", "port": 8081},
                                            {"name": "metrics", "port": 9101, "protocol": "UDP"}]))
    table = plan([service], [endpoints])
    assert table[Listener("127.96.0.10", 80, "TCP", "default", "app", "http")] == (
        Backend("127.98.0.2", 8080), Backend("127.98.0.3", 8081))
    assert table[Listener("127.96.0.10", 9090, "TCP", "default", "app", "metrics")] == (Backend("127.98.0.2", 9100),)


def test_udp_sctp_headless_and_external_name_get_no_listener() -> None:
    services = [svc("dns", [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "tcp", "port": 53}]),
                svc("sctp", [{"port": 99, "protocol": "SCTP"}], ip="127.96.0.12"),
                svc("headless", [{"port": 80}], ip="None"),
                svc("ext", [], kind="ExternalName", ip=None, externalName="example.com")]
    table = plan(services, [eps(s["metadata"]["name"], subset(["127.98.0.2"], [{"port": 53}])) for s in services])
    assert list(table) == [Listener("127.96.0.10", 53, "TCP", "default", "dns", "tcp")]
    assert table[Listener("127.96.0.10", 53, "TCP", "default", "dns", "tcp")] == ()  # the endpoints port is unnamed


def test_service_without_selector_uses_the_endpoints_written_by_hand_and_namespaces_do_not_mix() -> None:
    services = [svc("db", [{"port": 5432}], namespace="a"), svc("db", [{"port": 5432}], namespace="b",
                                                                  ip="127.96.0.20", selector={"app": "db"})]
    endpoints = [eps("db", subset(["127.98.1.1"], [{"port": 15432}]), namespace="a"),
                 eps("db", subset(["127.98.2.1"], [{"port": 25432}]), namespace="b")]
    table = plan(services, endpoints)
    assert table == {Listener("127.96.0.10", 5432, "TCP", "a", "db"): (Backend("127.98.1.1", 15432),),
                     Listener("127.96.0.20", 5432, "TCP", "b", "db"): (Backend("127.98.2.1", 25432),)}


def test_missing_or_empty_endpoints_give_a_listener_without_backends() -> None:
    table = plan([svc("a", [{"port": 80}]), svc("b", [{"port": 80}], ip="127.96.0.11")],
                 [eps("b", subset([], [{"port": 80}], not_ready=["127.98.0.9"]))])
    assert sorted(table.values()) == [(), ()] and len(table) == 2


def test_an_address_listed_twice_is_one_backend() -> None:
    endpoints = eps("a", subset(["127.98.0.2", "127.98.0.2"], [{"port": 80}]), subset(["127.98.0.2"], [{"port": 80}]))
    assert endpoint_backends(endpoints, "") == (Backend("127.98.0.2", 80),)


def test_two_services_asking_for_the_same_address_and_port_the_first_keeps_it() -> None:
    table = plan([svc("b", [{"port": 80}]), svc("a", [{"port": 80}])], [])
    assert list(table) == [Listener("127.96.0.10", 80, "TCP", "default", "a")]


names = st.sampled_from(["a", "b", "c"])
ports = st.lists(st.fixed_dictionaries({"name": st.sampled_from(["", "http", "x"]), "port": st.integers(1, 5),
                                        "protocol": st.sampled_from(["TCP", "UDP"]),
                                        "nodePort": st.integers(30000, 30005)}), max_size=3)


@given(st.lists(st.tuples(names, ports, st.sampled_from(["ClusterIP", "NodePort"]), st.integers(1, 4)), max_size=4),
       st.lists(st.tuples(names, st.lists(st.integers(1, 9), max_size=3), ports), max_size=4))
def test_every_listener_is_tcp_on_a_service_address_and_every_backend_is_ready(
        service_specs: list[tuple[str, list[Obj], str, int]], endpoint_specs: list[tuple[str, list[int], list[Obj]]]
) -> None:
    services = [svc(name, p, kind=kind, ip=f"127.96.0.{ip}") for name, p, kind, ip in service_specs]
    endpoints = [eps(name, subset([f"127.98.0.{i}" for i in ips], p, not_ready=["127.98.9.9"]))
                 for name, ips, p in endpoint_specs]
    table = plan(services, endpoints)
    binds = [(listener.address, listener.port) for listener in table]
    assert len(binds) == len(set(binds))
    for listener, backends in table.items():
        assert listener.protocol == "TCP"
        assert listener.address.startswith("127.96.0.") or listener.address == "127.0.0.1"
        assert all(b.ip.startswith("127.98.0.") for b in backends)
        assert len(backends) == len(set(backends))
