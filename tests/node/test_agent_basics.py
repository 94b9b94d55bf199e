"""The agent against an in-process API server with a hollow runtime: registration, Lease, a pod
running and Ready with an IP from the node's CIDR, deletion, adoption after an agent restart."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from raftkube.client import NotFound
from raftkube.node.hollow_runtime import HollowMachine, HollowRuntime
from raftkube.node.runtime import owner_labels
from tests.api.inproc import InProcessAPI

from .test_agent_support import (
    LEASE,
    NODE,
    POD,
    PRIVILEGED_NS,
    api,  # noqa: F401  (module fixture)
    api_client,
    container_status,
    eventually,
    namespace,
    pod_body,
    running_agent,
    running_ready,
    unique,
    wait_pod,
)


async def test_node_registered_with_capacity_conditions_and_lease_renewed(api: InProcessAPI,  # noqa: F811
                                                                          tmp_path: Path) -> None:
    node_name = unique("reg")
    async with api_client(api) as client, \
            running_agent(client, node_name, tmp_path, labels={"pool": "a"}, api=api) as agent:
        node = await client.get(NODE, node_name)
        status = node["status"]
        assert status["capacity"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}
        assert status["allocatable"]["pods"] == "110"
        kinds = {c["type"]: c["status"] for c in status["conditions"]}
        assert kinds == {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False"}
        assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
        assert status["nodeInfo"]["kubeletVersion"].startswith("raftkube-")
        assert status["nodeInfo"]["containerRuntimeVersion"].startswith("hollow://")
        assert node["metadata"]["labels"]["pool"] == "a"
        assert node["metadata"]["labels"]["kubernetes.io/hostname"] == node_name
        assert node["spec"]["podCIDR"] == agent.config.pod_cidr
        first = (await client.get(LEASE, node_name, "kube-node-lease"))["spec"]["renewTime"]

        async def renewed() -> bool:
            lease = await client.get(LEASE, node_name, "kube-node-lease")
            return lease["spec"]["renewTime"] != first and lease["spec"]["holderIdentity"] == node_name
        await eventually(renewed, 10, "lease renewed")


async def test_register_keeps_taints_set_by_others(api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node_name = unique("taint")
    async with api_client(api) as client:
        taint = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}
        await client.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node_name},
                                   "spec": {"taints": [taint], "unschedulable": True}})
        async with running_agent(client, node_name, tmp_path, api=api):
            node = await client.get(NODE, node_name)
            assert node["spec"]["taints"] == [taint] and node["spec"]["unschedulable"] is True
            assert node["metadata"]["labels"]["kubernetes.io/os"] == "linux"


async def test_pod_runs_ready_with_ip_then_delete_removes_sandbox_and_object(api: InProcessAPI,  # noqa: F811
                                                                              tmp_path: Path) -> None:
    node_name = unique("run")
    runtime = HollowRuntime(node_name)
    async with api_client(api) as client, running_agent(client, node_name, tmp_path, runtime, api=api) as agent:
        ns = await namespace(client)
        created = await client.create(POD, pod_body("web", node_name), ns)
        pod = await wait_pod(client, "web", ns, running_ready, what="Running and Ready")
        ip = pod["status"]["podIP"]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(agent.config.pod_cidr)
        assert pod["status"]["podIPs"] == [{"ip": ip}] and pod["status"]["hostIP"] == "127.0.0.1"
        cs = container_status(pod)
        assert cs["ready"] and cs["started"] and cs["restartCount"] == 0 and "running" in cs["state"]
        assert cs["containerID"].startswith("podman://")
        uid = created["metadata"]["uid"]
        assert [s.uid for s in await runtime.list_sandboxes()] == [uid]

        await client.delete(POD, "web", ns)

        async def gone() -> bool:
            try:
                await client.get(POD, "web", ns)
            except NotFound:
                return True
            return False
        await eventually(gone, 15, "pod deleted for good")
        assert await runtime.list_sandboxes() == []
        assert agent.ctx is not None and agent.ctx.ips.get(uid) is None
        assert not (tmp_path / "pods" / uid).exists()


async def test_restarted_agent_adopts_containers_without_restarting(api: InProcessAPI,  # noqa: F811
                                                                    tmp_path: Path) -> None:
    node_name = unique("adopt")
    runtime = HollowRuntime(node_name, HollowMachine())
    async with api_client(api) as client:
        ns = await namespace(client)
        async with running_agent(client, node_name, tmp_path, runtime, api=api):
            await client.create(POD, pod_body("keep", node_name), ns)
            await wait_pod(client, "keep", ns, running_ready)
            runtime.crash((await client.get(POD, "keep", ns))["metadata"]["uid"], "app", 3)
            before = await wait_pod(client, "keep", ns, lambda p: running_ready(p)
                                    and container_status(p)["restartCount"] == 1, what="restarted once")
        started = runtime.started_containers
        async with running_agent(client, node_name, tmp_path, runtime, api=api) as agent:
            uid = before["metadata"]["uid"]

            async def synced() -> bool:
                return uid in agent.workers and agent.workers[uid].syncs >= 2
            await eventually(synced, 10, "the new agent synced the pod")
            after = await wait_pod(client, "keep", ns, running_ready)
            assert container_status(after)["containerID"] == container_status(before)["containerID"]
            assert container_status(after)["restartCount"] == 1
            assert after["status"]["podIP"] == before["status"]["podIP"]
            assert runtime.started_containers == started


async def test_sandbox_of_another_node_untouched_and_orphans_removed(api: InProcessAPI,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    node_name, other = unique("mine"), unique("other")
    machine = HollowMachine()
    mine, theirs = HollowRuntime(node_name, machine), HollowRuntime(other, machine)
    from raftkube.node.runtime import SandboxSpec
    await theirs.ensure_sandbox(SandboxSpec("uid-other", "default", "x", other, "127.0.0.9"))
    await mine.ensure_sandbox(SandboxSpec("uid-orphan", "default", "y", node_name, "127.0.0.10"))
    assert machine.sandboxes["uid-other"].labels["raftkube.io/node"] == other
    async with api_client(api) as client, running_agent(client, node_name, tmp_path, mine, api=api) as agent:
        assert agent.orphans_removed == 1
        assert "uid-orphan" not in machine.sandboxes
        assert "uid-other" in machine.sandboxes
        assert all(machine.sandboxes["uid-other"].labels[k] == v for k, v in owner_labels(other).items())


async def test_steady_pod_is_not_rewritten_and_host_network_uses_node_address(api: InProcessAPI,  # noqa: F811
                                                                             tmp_path: Path) -> None:
    import asyncio

    node_name = unique("steady")
    async with api_client(api) as client, \
            running_agent(client, node_name, tmp_path, resync_period=0.3, api=api) as agent:
        ns = await namespace(client, labels=PRIVILEGED_NS)  # a host-network pod needs a privileged namespace
        await client.create(POD, pod_body("host", node_name, hostNetwork=True), ns)
        pod = await wait_pod(client, "host", ns, running_ready)
        assert pod["status"]["podIP"] == agent.config.address
        assert agent.ctx is not None and agent.ctx.ips.held() == {}
        worker = agent.workers[pod["metadata"]["uid"]]
        syncs = worker.syncs
        for _ in range(200):  # until three more resyncs ran (bounded: 10 s); none of them may write
            if worker.syncs > syncs + 2:
                break
            await asyncio.sleep(0.05)
        assert worker.syncs > syncs + 2
        assert (await client.get(POD, "host", ns))["metadata"]["resourceVersion"] == pod["metadata"]["resourceVersion"]
