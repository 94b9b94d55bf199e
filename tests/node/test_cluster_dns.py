"""The node's cluster DNS server against the in-process API: dnslib client queries over UDP and TCP to
127.0.0.1 for Services (A), headless Services (one A per ready endpoint, hostname records), SRV,
NODATA/NXDOMAIN with the SOA, REFUSED outside the zone, the pod-side view (aliases), what a pod's
search path turns a short name into; and the pure parts: resolv.conf per dnsPolicy, proxy aliases."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from raftkube.client import ApiClient
from raftkube.node.dns_server import ClusterDns, DnsListener
from raftkube.node.pod_dns import ClusterDnsSettings, parse_resolv_conf, pod_dns
from raftkube.node.pod_network import endpoint_alias, service_alias
from raftkube.node.proxy_table import plan
from tests.api.inproc import TOKEN, InProcessAPI

Obj = dict[str, Any]
SERVICE, ENDPOINTS, NAMESPACE = ("v1", "Service"), ("v1", "Endpoints"), ("v1", "Namespace")
WAIT = 10.0


@pytest.fixture
async def client(api: InProcessAPI) -> AsyncIterator[ApiClient]:
    async with ApiClient(api.url, TOKEN) as client:
        yield client


@pytest.fixture
async def ns(client: ApiClient, request: pytest.FixtureRequest) -> str:
    name = "dns-" + request.node.name.replace("_", "-")[5:40].strip("-") + f"-{os.getpid() % 1000}"
    await client.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


@pytest.fixture
async def dns(client: ApiClient) -> AsyncIterator[ClusterDns]:
    server = ClusterDns(client, [DnsListener("127.0.0.1", 0),
                                 DnsListener("127.0.0.1", 0, service_alias, endpoint_alias)])
    await server.start(timeout=WAIT)
    yield server
    await server.stop()


async def query(port: int, name: str, qtype: str = "A", tcp: bool = False) -> DNSRecord:
    packet = await asyncio.to_thread(DNSRecord.question(name, qtype).send, "127.0.0.1", port, tcp=tcp, timeout=5)
    return DNSRecord.parse(packet)


def values(reply: DNSRecord, qtype: str = "A") -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if QTYPE[rr.rtype] == qtype)


async def settled(port: int, name: str, check: Any, qtype: str = "A") -> DNSRecord:
    """Ask until `check(reply)` holds: the server's informers follow the API a moment later."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    for _ in range(10_000):
        reply = await query(port, name, qtype)
        if check(reply) or loop.time() > deadline:
            return reply
        await asyncio.sleep(0.05)
    raise AssertionError("unreachable")


async def service(client: ApiClient, ns: str, name: str, ports: list[Obj], headless: bool = False) -> Obj:
    spec: Obj = {"ports": ports, "selector": {"app": name}}
    if headless:
        spec["clusterIP"] = "None"
    return await client.create(SERVICE, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                                         "spec": spec}, ns)


async def endpoints(client: ApiClient, ns: str, name: str, ready: list[tuple[str, str]], ports: list[Obj],
                    not_ready: tuple[str, ...] = ()) -> None:
    subset: Obj = {"addresses": [{"ip": ip, **({"hostname": host} if host else {})} for ip, host in ready],
                   "ports": ports}
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": ip} for ip in not_ready]
    await client.create(ENDPOINTS, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
                                    "subsets": [subset]}, ns)


async def test_a_service_name_answers_its_cluster_ip_with_ttl_5(client: ApiClient, ns: str, dns: ClusterDns) -> None:
    svc = await service(client, ns, "web", [{"name": "http", "port": 80, "targetPort": 8080}])
    host_port, pod_port = dns.listeners[0].port, dns.listeners[1].port
    name = f"web.{ns}.svc.cluster.local"
    reply = await settled(host_port, name, lambda r: r.rr)
    assert values(reply) == [svc["spec"]["clusterIP"]] and svc["spec"]["clusterIP"].startswith("127.96.")
    assert reply.header.aa == 1 and reply.header.ra == 0 and {rr.ttl for rr in reply.rr} == {5}
    pod_view = await query(pod_port, name)  # pods get the alias they can reach
    assert values(pod_view) == [service_alias(svc["spec"]["clusterIP"])] == [
        "10.96." + ".".join(svc["spec"]["clusterIP"].split(".")[2:])]
    over_tcp = await query(host_port, name.upper(), tcp=True)  # case-insensitive, TCP framing
    assert values(over_tcp) == [svc["spec"]["clusterIP"]]
    srv = await query(host_port, f"_http._tcp.{name}", "SRV")
    assert [(rr.rdata.port, str(rr.rdata.target)) for rr in srv.rr] == [(80, name + ".")]
    assert values(srv, "A") == [] and [str(rr.rdata) for rr in srv.ar] == [svc["spec"]["clusterIP"]]
    await client.delete(SERVICE, "web", ns)
    gone = await settled(host_port, name, lambda r: r.header.rcode == RCODE.NXDOMAIN)
    assert gone.header.rcode == RCODE.NXDOMAIN


async def test_headless_service_answers_each_ready_endpoint_and_hostnames(client: ApiClient, ns: str,
                                                                         dns: ClusterDns) -> None:
    await service(client, ns, "db", [{"name": "pg", "port": 5432}], headless=True)
    await endpoints(client, ns, "db", [("127.98.7.1", "db-0"), ("127.98.7.2", "db-1"), ("127.98.7.3", "")],
                    [{"name": "pg", "port": 5432}], not_ready=("127.98.7.9",))
    port = dns.listeners[0].port
    base = f"db.{ns}.svc.cluster.local"
    reply = await settled(port, base, lambda r: len(r.rr) == 3)
    assert values(reply) == ["127.98.7.1", "127.98.7.2", "127.98.7.3"]  # never the not-ready one
    assert values(await query(port, f"db-1.{base}")) == ["127.98.7.2"]  # StatefulSet-style pod name
    assert values(await query(port, f"127-98-7-3.{base}")) == ["127.98.7.3"]  # no hostname: dashed IP
    srv = await query(port, f"_pg._tcp.{base}", "SRV")
    targets = sorted((str(rr.rdata.target), rr.rdata.port) for rr in srv.rr)
    assert targets == [(f"127-98-7-3.{base}.", 5432), (f"db-0.{base}.", 5432), (f"db-1.{base}.", 5432)]
    assert sorted(str(rr.rdata) for rr in srv.ar) == ["127.98.7.1", "127.98.7.2", "127.98.7.3"]
    pod_view = dns.listeners[1].port  # bridge pods get the pods' aliases, 10.98.c.d for 127.98.c.d
    assert values(await query(pod_view, base)) == ["10.98.7.1", "10.98.7.2", "10.98.7.3"]
    assert values(await query(pod_view, f"db-0.{base}")) == ["10.98.7.1"]


async def test_unknown_names_nxdomain_with_soa_existing_ones_nodata(client: ApiClient, ns: str,
                                                                    dns: ClusterDns) -> None:
    await service(client, ns, "api", [{"port": 443}])
    port = dns.listeners[0].port
    await settled(port, f"api.{ns}.svc.cluster.local", lambda r: r.rr)
    missing = await query(port, f"nope.{ns}.svc.cluster.local")
    assert missing.header.rcode == RCODE.NXDOMAIN and missing.rr == []
    soa = missing.auth[0]
    assert QTYPE[soa.rtype] == "SOA" and str(soa.rname) == "cluster.local." and soa.rdata.times[-1] == 5
    assert str(soa.rdata.mname) == "ns.dns.cluster.local."
    for nodata in [await query(port, f"api.{ns}.svc.cluster.local", "AAAA"),
                   await query(port, f"{ns}.svc.cluster.local")]:
        assert nodata.header.rcode == RCODE.NOERROR and nodata.rr == [] and QTYPE[nodata.auth[0].rtype] == "SOA"
    outside = await query(port, "example.com")
    assert outside.header.rcode == RCODE.REFUSED and outside.rr == [] and outside.header.ra == 0
    assert (await query(port, f"_x._tcp.api.{ns}.svc.cluster.local", "SRV")).header.rcode == RCODE.NXDOMAIN


async def test_a_pods_search_path_finds_a_service_by_its_short_name(client: ApiClient, ns: str,
                                                                   dns: ClusterDns) -> None:
    """What a resolver does with `backend` and the resolv.conf a pod of `ns` gets: ndots:5 makes it try
    the search domains in order, the first (its own namespace) answers."""
    svc = await service(client, ns, "backend", [{"port": 8080}])
    conf = pod_dns({"metadata": {"namespace": ns}, "spec": {"dnsPolicy": "ClusterFirst"}},
                   ClusterDnsSettings("10.96.0.10"))
    assert conf is not None and conf.resolv_conf() == (
        f"nameserver 10.96.0.10\nsearch {ns}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n")
    port = dns.listeners[1].port
    await settled(port, f"backend.{ns}.svc.cluster.local", lambda r: r.rr)
    answers = [(suffix, await query(port, f"backend.{suffix}")) for suffix in conf.searches]
    assert [(s, r.header.rcode) for s, r in answers] == [
        (f"{ns}.svc.cluster.local", RCODE.NOERROR), ("svc.cluster.local", RCODE.NXDOMAIN),
        ("cluster.local", RCODE.NXDOMAIN)]
    assert values(answers[0][1]) == [service_alias(svc["spec"]["clusterIP"])]
    assert values(await query(port, f"backend.{ns}")) == []  # `backend.<ns>` goes through the search list too
    assert (await query(port, f"backend.{ns}.svc.cluster.local.{ns}.svc.cluster.local")).header.rcode == 3


def test_resolv_conf_per_dns_policy() -> None:
    cluster = ClusterDnsSettings("10.96.0.10", "cluster.local")
    pod = {"metadata": {"namespace": "shop"}, "spec": {}}
    first = pod_dns(pod, cluster)
    assert first is not None and first.servers == ("10.96.0.10",) and first.options == ("ndots:5",)
    host = {"metadata": {"namespace": "shop"}, "spec": {"hostNetwork": True, "dnsPolicy": "ClusterFirst"}}
    assert pod_dns(host, cluster) is None  # ClusterFirst on the host network: the node's own resolv.conf
    host["spec"]["dnsPolicy"] = "ClusterFirstWithHostNet"
    assert pod_dns(host, cluster) == first
    assert pod_dns({"metadata": {}, "spec": {"dnsPolicy": "Default"}}, cluster) is None
    assert pod_dns(pod, None) is None  # a node without cluster DNS
    custom = {"metadata": {"namespace": "shop"}, "spec": {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": ["127.0.0.53"], "searches": ["corp.example"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}}
    none = pod_dns(custom, cluster)
    assert none is not None and none.resolv_conf() == (
        "nameserver 127.0.0.53\nsearch corp.example\noptions ndots:2 edns0\n")
    node = parse_resolv_conf("# the node's\nnameserver 192.0.2.53\nsearch corp.example lab.example\n"
                             "options rotate\n")
    custom["spec"]["dnsPolicy"] = "Default"
    default = pod_dns(custom, cluster, node)
    assert default is not None and default.servers == ("192.0.2.53", "127.0.0.53")
    assert default.searches == ("corp.example", "lab.example") and default.options == ("rotate", "ndots:2", "edns0")
    assert pod_dns(pod, cluster, node).searches[-2:] == ("corp.example", "lab.example")  # type: ignore[union-attr]
    custom["spec"]["dnsPolicy"] = "ClusterFirst"
    merged = pod_dns(custom, cluster)
    assert merged is not None and merged.servers == ("10.96.0.10", "127.0.0.53")
    assert merged.searches[-1] == "corp.example" and merged.options == ("ndots:2", "edns0")


def test_the_proxy_binds_every_cluster_listener_on_its_alias_too() -> None:
    svc = {"metadata": {"namespace": "a", "name": "web"},
           "spec": {"clusterIP": "127.96.1.2", "clusterIPs": ["127.96.1.2"], "type": "NodePort",
                    "ports": [{"name": "", "port": 80, "nodePort": 30080}]}}
    eps = {"metadata": {"namespace": "a", "name": "web"},
           "subsets": [{"addresses": [{"ip": "127.98.1.5"}], "ports": [{"port": 8080}]}]}
    bound = {(listener.address, listener.port): backends for listener, backends in
             plan([svc], [eps], alias=service_alias).items()}
    assert sorted(bound) == [("10.96.1.2", 80), ("127.0.0.1", 30080), ("127.96.1.2", 80)]
    assert {str(b[0]) for b in bound.values()} == {"127.98.1.5:8080"}
    assert sorted(listener.address for listener in plan([svc], [eps])) == ["127.0.0.1", "127.96.1.2"]
    headless = {"metadata": {"namespace": "a", "name": "db"},
                "spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"name": "", "port": 5432}]}}
    db = {"metadata": {"namespace": "a", "name": "db"}, "subsets": [
        {"addresses": [{"ip": "127.98.1.5"}, {"ip": "127.98.1.6"}], "ports": [{"port": 5432}]}]}
    per_pod = {(listener.address, listener.port): [str(b) for b in backends] for listener, backends in
               plan([headless], [db], alias=service_alias, endpoint_alias=endpoint_alias).items()}
    assert per_pod == {("10.98.1.5", 5432): ["127.98.1.5:5432"], ("10.98.1.6", 5432): ["127.98.1.6:5432"]}
    assert plan([headless], [db], alias=service_alias) == {}  # without endpoint aliases: nothing to bind


async def test_garbage_and_other_opcodes_do_not_break_the_server(dns: ClusterDns) -> None:
    port = dns.listeners[0].port
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=("127.0.0.1", port))
    with contextlib.closing(transport):
        transport.sendto(b"\x00\x01garbage")
    update = DNSRecord.question("x.cluster.local")
    update.header.opcode = 5
    reply = DNSRecord.parse(await asyncio.to_thread(update.send, "127.0.0.1", port, timeout=5))
    assert reply.header.rcode == RCODE.NOTIMP
    apex = await query(port, "cluster.local", "SOA")
    assert [QTYPE[rr.rtype] for rr in apex.rr] == ["SOA"] and apex.header.rcode == RCODE.NOERROR
