"""Probes: exec liveness failure restarts the container, readiness flips Ready, startup gates the
others; httpGet and tcpSocket against a real listener on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from raftkube.node.hollow_runtime import HollowRuntime
from raftkube.node.probes import run_probe
from raftkube.node.runtime import SandboxSpec
from tests.api.inproc import InProcessAPI

from .test_agent_support import (
    EVENT,
    POD,
    api,  # noqa: F401  (module fixture)
    api_client,
    condition,
    container_status,
    eventually,
    namespace,
    pod_body,
    running_agent,
    running_ready,
    unique,
    wait_pod,
)

EXEC = {"exec": {"command": ["true"]}, "periodSeconds": 1, "failureThreshold": 1, "successThreshold": 1,
        "timeoutSeconds": 1}


async def test_exec_liveness_failure_restarts_the_container(api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node = unique("live")
    runtime = HollowRuntime(node)
    async with api_client(api) as client, running_agent(client, node, tmp_path, runtime):
        ns = await namespace(client)
        body = pod_body("l", node, [{"name": "app", "image": "busybox:1", "livenessProbe": EXEC}])
        uid = (await client.create(POD, body, ns))["metadata"]["uid"]
        first = container_status(await wait_pod(client, "l", ns, running_ready))
        runtime.set_exec_result(uid, "app", 1)
        pod = await wait_pod(client, "l", ns, lambda p: container_status(p).get("restartCount", 0) >= 1, 15,
                             "restarted after liveness failure")
        runtime.set_exec_result(uid, "app", 0)
        cs = container_status(pod)
        assert cs["containerID"] != first["containerID"]
        assert cs["lastState"]["terminated"]["exitCode"] in (137, 143)
        events = {e["reason"] for e in (await client.list(EVENT, ns))["items"] if e["involvedObject"]["uid"] == uid}

        async def both() -> bool:
            found = {e["reason"] for e in (await client.list(EVENT, ns))["items"] if e["involvedObject"]["uid"] == uid}
            events.update(found)
            return {"Unhealthy", "Killing"} <= found
        await eventually(both, 10, f"Unhealthy and Killing events (saw {events})")
        await wait_pod(client, "l", ns, running_ready)


async def test_readiness_failure_flips_ready_false_then_true(api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node = unique("ready")
    runtime = HollowRuntime(node)
    async with api_client(api) as client, running_agent(client, node, tmp_path, runtime):
        ns = await namespace(client)
        body = pod_body("r", node, [{"name": "app", "image": "busybox:1", "readinessProbe": EXEC}])
        uid = (await client.create(POD, body, ns))["metadata"]["uid"]
        await wait_pod(client, "r", ns, running_ready)
        runtime.set_exec_result(uid, "app", 1)
        pod = await wait_pod(client, "r", ns, lambda p: condition(p, "Ready") == "False", what="Ready False")
        assert condition(pod, "ContainersReady") == "False" and pod["status"]["phase"] == "Running"
        assert container_status(pod)["restartCount"] == 0 and not container_status(pod)["ready"]
        runtime.set_exec_result(uid, "app", 0)
        pod = await wait_pod(client, "r", ns, running_ready, what="Ready True again")
        assert container_status(pod)["restartCount"] == 0


async def test_startup_probe_gates_readiness(api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node = unique("startup")
    runtime = HollowRuntime(node)
    async with api_client(api) as client, running_agent(client, node, tmp_path, runtime):
        ns = await namespace(client)
        startup = {**EXEC, "failureThreshold": 30, "initialDelaySeconds": 1}
        body = pod_body("s", node, [{"name": "app", "image": "busybox:1", "startupProbe": startup}])
        runtime_pod = await client.create(POD, body, ns)
        uid = runtime_pod["metadata"]["uid"]

        async def sandbox_up() -> bool:
            return any(s.uid == uid and s.containers for s in await runtime.list_sandboxes())
        await eventually(sandbox_up, 10)
        runtime.set_exec_result(uid, "app", 1)
        pod = await wait_pod(client, "s", ns, lambda p: "running" in container_status(p).get("state", {}))
        assert container_status(pod)["started"] is False and condition(pod, "Ready") == "False"
        runtime.set_exec_result(uid, "app", 0)
        pod = await wait_pod(client, "s", ns, running_ready)
        assert container_status(pod)["started"] is True


async def _serve(status: int) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_http_and_tcp_probes_against_a_listener() -> None:
    runtime = HollowRuntime("p")
    sandbox = await runtime.ensure_sandbox(SandboxSpec("u", "default", "p", "p", "127.0.0.1"))
    ok_server, ok_port = await _serve(204)
    bad_server, bad_port = await _serve(500)
    async with httpx.AsyncClient() as http, ok_server, bad_server:
        container = {"name": "app", "ports": [{"name": "web", "containerPort": ok_port}]}
        ok, _ = await run_probe({"httpGet": {"port": "web", "path": "/healthz"}}, container, runtime, sandbox,
                                "127.0.0.1", http)
        assert ok
        ok, message = await run_probe({"httpGet": {"port": bad_port, "path": "/"}}, container, runtime, sandbox,
                                      "127.0.0.1", http)
        assert not ok and "500" in message
        ok, _ = await run_probe({"tcpSocket": {"port": ok_port}}, container, runtime, sandbox, "127.0.0.1", http)
        assert ok
    closed_port = ok_port  # the server is closed now
    async with httpx.AsyncClient() as http:
        ok, message = await run_probe({"tcpSocket": {"port": closed_port}, "timeoutSeconds": 1}, container, runtime,
                                      sandbox, "127.0.0.1", http)
        assert not ok and message
