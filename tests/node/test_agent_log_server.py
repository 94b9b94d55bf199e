"""The agent's log server: hollow logs for a pod's container, 404s that say what is missing."""

from __future__ import annotations

from pathlib import Path

import httpx

from raftkube.local.store_cluster import free_port
from tests.api.inproc import InProcessAPI

from .test_agent_support import (
    NODE,
    POD,
    api,  # noqa: F401  (module fixture)
    api_client,
    namespace,
    pod_body,
    running_agent,
    running_ready,
    unique,
    wait_pod,
)


async def test_log_server_serves_hollow_logs_and_404s(api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node, port = unique("logs"), free_port()
    async with api_client(api) as client, running_agent(client, node, tmp_path, port=port):
        ns = await namespace(client)
        await client.create(POD, pod_body("web", node), ns)
        await wait_pod(client, "web", ns, running_ready)
        advertised = (await client.get(NODE, node))["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        assert advertised == port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
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
