"""The agent's log server: hollow logs for a pod's container, 404s that say what is missing;
mutual TLS: only the API server's client certificate (cluster CA, CN system:apiserver) is served."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from raftkube.api.pod_logs import KubeletClientTLS
from raftkube.local.store_cluster import free_port
from raftkube.pki import APISERVER_KUBELET_CLIENT, CertificateAuthority
from tests.api.inproc import InProcessAPI, running_api

from .test_agent_support import (
    NODE,
    POD,
    api_client,
    namespace,
    pod_body,
    running_agent,
    running_ready,
    unique,
    wait_pod,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cluster CA with the node's serving certificate (127.0.0.1), the API server's client
    certificate, a node's client certificate (same CA, another CN) and one from another CA."""
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create(str(directory))
    ca.issue(str(directory), "node", "system:node:logs", hosts=["127.0.0.1"], server=True)
    ca.issue(str(directory), "apiserver-kubelet-client", APISERVER_KUBELET_CLIENT, client=True)
    ca.issue(str(directory), "other-node", "system:node:x", ["system:nodes"], client=True)
    other = CertificateAuthority.create(str(directory / "other"))
    other.issue(str(directory / "other"), "apiserver-kubelet-client", APISERVER_KUBELET_CLIENT, client=True)
    return directory


@pytest.fixture(scope="module")
def api(pki: Path) -> Iterator[InProcessAPI]:
    kubelet = KubeletClientTLS(str(pki / "apiserver-kubelet-client.crt"), str(pki / "apiserver-kubelet-client.key"),
                               str(pki / "ca.crt"))
    with running_api(kubelet) as server:
        yield server


def tls_options(pki: Path) -> dict[str, str]:
    return {"tls_cert": str(pki / "node.crt"), "tls_key": str(pki / "node.key"), "client_ca_file": str(pki / "ca.crt")}


def client_context(pki: Path, cert: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if cert is not None:
        context.load_cert_chain(str(pki / f"{cert}.crt"), str(pki / f"{cert}.key"))
    return context


async def test_log_server_serves_hollow_logs_and_404s(api: InProcessAPI, pki: Path, tmp_path: Path) -> None:
    node, port = unique("logs"), free_port()
    async with api_client(api) as client, running_agent(client, node, tmp_path, port=port, **tls_options(pki)):
        ns = await namespace(client)
        await client.create(POD, pod_body("web", node), ns)
        await wait_pod(client, "web", ns, running_ready)
        advertised = (await client.get(NODE, node))["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        assert advertised == port
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", timeout=10,
                                     verify=client_context(pki, "apiserver-kubelet-client")) as http:
            assert (await http.get("/healthz")).text == "ok"
            answer = await http.get(f"/containerLogs/{ns}/web/app", params={"timestamps": "true"})
            assert answer.status_code == 200 and "hollow container app" in answer.text
            assert answer.text[:4].isdigit()  # a timestamp first
            unknown_pod = await http.get(f"/containerLogs/{ns}/nope/app")
            assert unknown_pod.status_code == 404 and f"{ns}/nope" in unknown_pod.text
            unknown_container = await http.get(f"/containerLogs/{ns}/web/sidecar")
            assert unknown_container.status_code == 404 and "sidecar" in unknown_container.text
            previous = await http.get(f"/containerLogs/{ns}/web/app", params={"previous": "true"})
            assert previous.status_code == 404 and "previous" in previous.text
            bad = await http.get(f"/containerLogs/{ns}/web/app", params={"tailLines": "x"})
            assert bad.status_code == 400
        # through the API server's pods/log proxy
        chunks = [chunk async for chunk in client.logs("web", ns)]
        assert b"hollow container app" in b"".join(chunks)


@pytest.mark.parametrize("cert", [None, "other/apiserver-kubelet-client"])
async def test_a_client_without_a_cluster_certificate_fails_the_handshake(api: InProcessAPI, pki: Path,
                                                                          tmp_path: Path, cert: str | None) -> None:
    node, port = unique("logs"), free_port()
    async with api_client(api) as client, running_agent(client, node, tmp_path, port=port, **tls_options(pki)):
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", timeout=10,
                                     verify=client_context(pki, cert)) as http:
            with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
                await http.get("/containerLogs/default/web/app")


async def test_a_cluster_certificate_of_another_user_is_forbidden(api: InProcessAPI, pki: Path,
                                                                  tmp_path: Path) -> None:
    node, port = unique("logs"), free_port()
    async with api_client(api) as client, running_agent(client, node, tmp_path, port=port, **tls_options(pki)):
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", timeout=10,
                                     verify=client_context(pki, "other-node")) as http:
            answer = await http.get("/containerLogs/default/web/app")
            assert answer.status_code == 403 and "system:node:x" in answer.text


async def test_the_log_server_does_not_start_without_tls(api: InProcessAPI, tmp_path: Path) -> None:
    async with api_client(api) as client:
        with pytest.raises(ValueError, match="--client-ca-file"):
            async with running_agent(client, unique("logs"), tmp_path, port=free_port()):
                pass
