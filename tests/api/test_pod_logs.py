"""pods/{name}/log: the API server finds the node's agent and relays its answer (container choice, params, errors)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from raftkube.api.errors import APIError
from raftkube.api.pod_logs import KubeletClientTLS, agent_address
from raftkube.pki import APISERVER_KUBELET_CLIENT, CertificateAuthority
from tests.api.inproc import InProcessAPI, running_api

LOGS = {("default", "web", "app"): "first line\nsecond line\n", ("default", "web", "sidecar"): "sidecar says hi\n"}


class FakeAgent(BaseHTTPRequestHandler):
    """Answers /containerLogs/<ns>/<pod>/<container> like the node agent; echoes the query it got."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        parts = url.path.split("/")
        key = tuple(parts[2:5]) if len(parts) == 5 and parts[1] == "containerLogs" else None
        if key not in LOGS:
            body, code = b"container not found on this node", 404
        else:
            query = parse_qs(url.query)
            body, code = (LOGS[key] + "".join(f"{k}={v[0]}\n" for k, v in sorted(query.items()))).encode(), 200
        self.send_response(code)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cluster CA, the agent's serving certificate for 127.0.0.1 and the API server's client certificate."""
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create(str(directory))
    ca.issue(str(directory), "agent", "system:node:n1", hosts=["127.0.0.1"], server=True)
    ca.issue(str(directory), "apiserver-kubelet-client", APISERVER_KUBELET_CLIENT, client=True)
    return directory


@pytest.fixture(scope="module")
def agent_port(pki: Path) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAgent)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "agent.crt", pki / "agent.key")
    context.load_verify_locations(pki / "ca.crt")
    context.verify_mode = ssl.CERT_REQUIRED  # as the real agent: only clients with a cluster certificate
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def api(agent_port: int, pki: Path) -> Iterator[InProcessAPI]:
    kubelet = KubeletClientTLS(str(pki / "apiserver-kubelet-client.crt"), str(pki / "apiserver-kubelet-client.key"),
                               str(pki / "ca.crt"))
    with running_api(kubelet) as api, api.client() as http:
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
        assert http.post("/api/v1/nodes", json=node).status_code == 201
        status = {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                  "daemonEndpoints": {"kubeletEndpoint": {"Port": agent_port}}}
        live = http.get("/api/v1/nodes/n1").json()
        assert http.put("/api/v1/nodes/n1/status", json={**live, "status": status}).status_code == 200
        gone = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gone"},
                "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                           "daemonEndpoints": {"kubeletEndpoint": {"Port": 9}}}}
        assert http.post("/api/v1/nodes", json=gone).status_code == 201
        live = http.get("/api/v1/nodes/gone").json()
        assert http.put("/api/v1/nodes/gone/status", json={**live, "status": gone["status"]}).status_code == 200
        for name, node_name, containers in (("web", "n1", ["app", "sidecar"]), ("solo", "n1", ["app"]),
                                            ("pending", None, ["app"]), ("lost", "gone", ["app"])):
            labels = {"app": "demo"} if name in ("web", "solo") else {}
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
                   "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers],
                            **({"nodeName": node_name} if node_name else {})}}
            assert http.post("/api/v1/namespaces/default/pods", json=pod).status_code == 201
        # "web" runs and is ready, "solo" is not: `logs rs/demo` reads "web" (kubectl's choice)
        live = http.get("/api/v1/namespaces/default/pods/web").json()
        ready = {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        live["status"] = {"phase": "Running", "conditions": [ready]}
        assert http.put("/api/v1/namespaces/default/pods/web/status", json=live).status_code == 200
        template = {"metadata": {"labels": {"app": "demo"}}, "spec": {"containers": [{"name": "app", "image": "b"}]}}
        replicaset = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "demo"},
                      "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "demo"}}, "template": template}}
        assert http.post("/apis/apps/v1/namespaces/default/replicasets", json=replicaset).status_code == 201
        bare = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bare"},
                "spec": {"ports": [{"port": 80}]}}
        assert http.post("/api/v1/namespaces/default/services", json=bare).status_code == 201
        yield api


def test_log_is_relayed_from_the_nodes_agent_with_the_query(api: InProcessAPI) -> None:
    with api.client() as http:
        r = http.get("/api/v1/namespaces/default/pods/web/log",
                     params={"container": "app", "tailLines": "5", "previous": "true", "pretty": "1"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("first line\nsecond line\n")
    assert "tailLines=5" in r.text and "previous=true" in r.text and "pretty" not in r.text


def test_a_single_container_pod_needs_no_container_name(api: InProcessAPI) -> None:
    with api.client() as http:
        r = http.get("/api/v1/namespaces/default/pods/solo/log")
    # the fake agent knows no "solo" pod: its 404 comes back as a Status naming the problem
    assert r.status_code == 404 and "container not found" in r.json()["message"]


def test_several_containers_and_no_name_is_a_400_listing_them(api: InProcessAPI) -> None:
    with api.client() as http:
        r = http.get("/api/v1/namespaces/default/pods/web/log")
        wrong = http.get("/api/v1/namespaces/default/pods/web/log", params={"container": "nope"})
    assert r.status_code == 400 and "choose one of: [app sidecar]" in r.json()["message"]
    assert wrong.status_code == 400 and "container nope is not valid" in wrong.json()["message"]


def test_unbound_pod_and_unreachable_agent_are_clear_errors(api: InProcessAPI) -> None:
    with api.client() as http:
        pending = http.get("/api/v1/namespaces/default/pods/pending/log")
        lost = http.get("/api/v1/namespaces/default/pods/lost/log")
        missing = http.get("/api/v1/namespaces/default/pods/nobody/log")
    assert pending.status_code == 400 and "does not have a host assigned" in pending.json()["message"]
    assert lost.status_code == 503 and "node gone" in lost.json()["message"]
    assert missing.status_code == 404


def test_raftkube_logs_prints_the_log_and_fails_clearly(api: InProcessAPI) -> None:
    from click.testing import CliRunner

    from raftkube.cli import main
    from raftkube.client import ApiClient
    from tests.api.inproc import TOKEN

    factory = {"client_factory": lambda _path, _ctx: ApiClient(api.url, TOKEN)}
    ok = CliRunner().invoke(main, ["logs", "pod/web", "-c", "sidecar", "--tail", "3"], obj=factory)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("sidecar says hi\n") and "tailLines=3" in ok.output
    bad = CliRunner().invoke(main, ["logs", "web"], obj=factory)
    assert bad.exit_code == 1 and "choose one of: [app sidecar]" in bad.output


def test_raftkube_logs_of_a_workload_reads_the_pod_kubectl_would(api: InProcessAPI) -> None:
    from click.testing import CliRunner

    from raftkube.cli import main
    from raftkube.client import ApiClient
    from tests.api.inproc import TOKEN

    factory = {"client_factory": lambda _path, _ctx: ApiClient(api.url, TOKEN)}
    ok = CliRunner().invoke(main, ["logs", "rs/demo", "-c", "sidecar"], obj=factory)
    assert ok.exit_code == 0, ok.output
    assert "Found 2 pods, using pod/web" in ok.output and "sidecar says hi\n" in ok.output
    no_selector = CliRunner().invoke(main, ["logs", "svc/bare"], obj=factory)
    assert no_selector.exit_code == 1 and "Service is defined without a selector" in no_selector.output
    not_a_workload = CliRunner().invoke(main, ["logs", "node/n1"], obj=factory)
    assert not_a_workload.exit_code == 1 and "cannot get the logs from Node" in not_a_workload.output
    missing = CliRunner().invoke(main, ["logs", "deploy/nothing"], obj=factory)
    assert missing.exit_code == 1 and "not found" in missing.output


async def test_first_pod_waits_for_a_pod_to_appear(api: InProcessAPI) -> None:
    import asyncio
    from typing import Any

    from raftkube.cli.common import CliError
    from raftkube.cli.logs_target import first_pod
    from raftkube.client import ApiClient
    from tests.api.inproc import TOKEN

    class ListingClient(ApiClient):
        """Says when a list has answered: a pod created after that reaches first_pod through its watch."""
        listed = asyncio.Event()

        async def list(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            answer = await super().list(*args, **kwargs)
            self.listed.set()
            return answer

    client = ListingClient(api.url, TOKEN)
    try:
        waiting = asyncio.create_task(first_pod(client, "default", "app=late", timeout=30))
        await asyncio.wait_for(client.listed.wait(), 30)
        assert not waiting.done()
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "late", "labels": {"app": "late"}},
               "spec": {"containers": [{"name": "app", "image": "busybox"}]}}
        await client.create(("v1", "Pod"), pod, "default")
        chosen, found = await asyncio.wait_for(waiting, 30)
        assert chosen["metadata"]["name"] == "late" and found == 1
        with pytest.raises(CliError, match="timed out waiting for the condition"):
            await first_pod(client, "default", "app=never", timeout=1)
    finally:
        await client.close()


@pytest.mark.parametrize("address, port, field", [
    ("evil.example.com", 10250, "status.addresses[0].address"),
    ("999.1.1.1", 10250, "status.addresses[0].address"),
    ("127.0.0.1", -1, "status.daemonEndpoints.kubeletEndpoint.Port"),
    ("127.0.0.1", 65536, "status.daemonEndpoints.kubeletEndpoint.Port"),
])
def test_a_node_address_that_is_not_an_ip_or_a_bad_port_is_refused(api: InProcessAPI, address: str, port: int,
                                                                    field: str) -> None:
    """No Node can point pods/log at a DNS name (SSRF through DNS) or a port outside 0-65535 (0: no log
    server, which pods/log refuses to dial)."""
    with api.client() as http:
        live = http.get("/api/v1/nodes/n1").json()
        status = {**live["status"], "addresses": [{"type": "InternalIP", "address": address}],
                  "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}
        response = http.put("/api/v1/nodes/n1/status", json={**live, "status": status})
        assert response.status_code == 422
        assert field in [c["field"] for c in response.json()["details"]["causes"]]
        created = http.post("/api/v1/nodes", json={"apiVersion": "v1", "kind": "Node", "metadata": {"name": "x"},
                                                    "status": status})
        assert created.status_code == 422


def test_the_agent_must_present_a_certificate_from_the_cluster_ca(api: InProcessAPI, pki: Path,
                                                                  tmp_path: Path) -> None:
    """An agent whose serving certificate another CA signed is not trusted (503 naming the node)."""
    other = CertificateAuthority.create(str(tmp_path))
    other.issue(str(tmp_path), "agent", "system:node:n1", hosts=["127.0.0.1"], server=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAgent)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "agent.crt", tmp_path / "agent.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with api.client() as http:
            node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "impostor"}}
            assert http.post("/api/v1/nodes", json=node).status_code == 201
            live = http.get("/api/v1/nodes/impostor").json()
            live["status"] = {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                              "daemonEndpoints": {"kubeletEndpoint": {"Port": server.server_address[1]}}}
            assert http.put("/api/v1/nodes/impostor/status", json=live).status_code == 200
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "on-impostor"},
                   "spec": {"nodeName": "impostor", "containers": [{"name": "app", "image": "busybox"}]}}
            assert http.post("/api/v1/namespaces/default/pods", json=pod).status_code == 201
            response = http.get("/api/v1/namespaces/default/pods/on-impostor/log")
            assert response.status_code == 503 and "impostor" in response.json()["message"]
    finally:
        server.shutdown()


@pytest.mark.parametrize("addresses, port, message", [
    ([{"type": "Hostname", "address": "127.0.0.1"}], 10250, "does not advertise"),
    ([{"type": "InternalIP", "address": "evil.example.com"}], 10250, "is not an IP address"),
    ([{"type": "InternalIP", "address": "127.0.0.1"}], 0, "does not advertise"),
    ([{"type": "InternalIP", "address": "127.0.0.1"}], 70000, "not in 1-65535"),
])
def test_pod_logs_dials_only_an_internal_ip_and_a_real_port(addresses: list[dict[str, str]], port: int,
                                                            message: str) -> None:
    """Objects already stored (from before validation) are checked again where the API server dials."""
    node = {"metadata": {"name": "n"}, "status": {"addresses": addresses,
                                                  "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}
    with pytest.raises(APIError, match=message) as caught:
        agent_address(node)
    assert caught.value.code == 503


def test_an_ipv6_internal_ip_is_bracketed() -> None:
    node = {"metadata": {"name": "n"}, "status": {"addresses": [{"type": "InternalIP", "address": "::1"}],
                                                  "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}}
    assert agent_address(node) == "[::1]:10250"
