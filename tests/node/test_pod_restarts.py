"""Restart policy, back-off, init containers, spec changes and container errors, through the agent."""

from __future__ import annotations

from pathlib import Path

from raftkube.node.hollow_runtime import HollowRuntime
from tests.api.inproc import InProcessAPI

from .test_agent_support import (
    EVENT,
    POD,
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


def phase(pod: dict) -> str:
    return str((pod.get("status") or {}).get("phase"))


async def test_crash_loop_counts_restarts_with_back_off_between(api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node = unique("crash")
    runtime = HollowRuntime(node)
    async with api_client(api) as client, running_agent(client, node, tmp_path, runtime):
        ns = await namespace(client)
        uid = (await client.create(POD, pod_body("c", node), ns))["metadata"]["uid"]
        await wait_pod(client, "c", ns, running_ready)
        seen_backoff = 0
        for restarts in (1, 2, 3):
            runtime.crash(uid, "app", 2)
            waiting = await wait_pod(client, "c", ns, lambda p: container_status(p).get("state", {}).get(
                "waiting", {}).get("reason") == "CrashLoopBackOff", what="CrashLoopBackOff")
            cs = container_status(waiting)
            assert cs["lastState"]["terminated"]["exitCode"] == 2 and not cs["ready"]
            assert waiting["status"]["phase"] == "Running"  # restartPolicy Always: it will run again
            seen_backoff += 1
            pod = await wait_pod(client, "c", ns, lambda p, n=restarts: running_ready(p)
                                 and container_status(p)["restartCount"] == n, what=f"restart {restarts}")
            assert container_status(pod)["lastState"]["terminated"]["reason"] == "Error"
        assert seen_backoff == 3

        async def backoff_event() -> bool:
            events = (await client.list(EVENT, ns))["items"]
            return any(e["reason"] == "BackOff" and e["involvedObject"]["uid"] == uid for e in events)
        await eventually(backoff_event, 10, "BackOff event")


async def test_never_and_onfailure_phases(api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node = unique("policy")
    runtime = HollowRuntime(node)
    async with api_client(api) as client, running_agent(client, node, tmp_path, runtime):
        ns = await namespace(client)
        uids = {}
        for name, policy in (("ok", "Never"), ("bad", "Never"), ("retry", "OnFailure"), ("done", "OnFailure")):
            uids[name] = (await client.create(POD, pod_body(name, node, restartPolicy=policy), ns))["metadata"]["uid"]
        for name in uids:
            await wait_pod(client, name, ns, running_ready)
        runtime.crash(uids["ok"], "app", 0)
        runtime.crash(uids["bad"], "app", 7)
        runtime.crash(uids["retry"], "app", 1)
        runtime.crash(uids["done"], "app", 0)
        ok = await wait_pod(client, "ok", ns, lambda p: phase(p) == "Succeeded")
        assert container_status(ok)["state"]["terminated"]["reason"] == "Completed"
        bad = await wait_pod(client, "bad", ns, lambda p: phase(p) == "Failed")
        assert container_status(bad)["state"]["terminated"]["exitCode"] == 7
        assert container_status(bad)["restartCount"] == 0
        await wait_pod(client, "done", ns, lambda p: phase(p) == "Succeeded")
        retried = await wait_pod(client, "retry", ns, lambda p: running_ready(p)
                                 and container_status(p)["restartCount"] == 1)
        assert phase(retried) == "Running"
        for name in ("ok", "bad"):
            pod = await client.get(POD, name, ns)
            ready = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"][0]
            assert ready["status"] == "False" and ready["reason"] == "PodCompleted"


async def test_init_containers_run_in_order_before_containers(api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node = unique("init")
    runtime = HollowRuntime(node)
    async with api_client(api) as client, running_agent(client, node, tmp_path, runtime):
        ns = await namespace(client)
        inits = [{"name": "one", "image": "busybox:1"}, {"name": "two", "image": "busybox:1"}]
        uid = (await client.create(POD, pod_body("i", node, initContainers=inits), ns))["metadata"]["uid"]
        pod = await wait_pod(client, "i", ns, lambda p: "running" in container_status(p, "one", True).get("state", {}))
        assert phase(pod) == "Pending" and container_status(pod, "two", True)["state"]["waiting"]
        assert container_status(pod)["state"]["waiting"]["reason"] == "PodInitializing"
        runtime.crash(uid, "one", 1)  # fails: restarted (restartPolicy Always -> init restarts on failure)
        await wait_pod(client, "i", ns, lambda p: container_status(p, "one", True).get("restartCount") == 1
                       and "running" in container_status(p, "one", True)["state"])
        runtime.crash(uid, "one", 0)
        await wait_pod(client, "i", ns, lambda p: "running" in container_status(p, "two", True).get("state", {}))
        assert (await client.get(POD, "i", ns))["status"]["phase"] == "Pending"
        runtime.crash(uid, "two", 0)
        pod = await wait_pod(client, "i", ns, running_ready)
        assert [c["status"] for c in pod["status"]["conditions"] if c["type"] == "Initialized"] == ["True"]
        assert container_status(pod, "two", True)["state"]["terminated"]["exitCode"] == 0


async def test_init_failure_with_never_fails_the_pod(api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node = unique("initfail")
    runtime = HollowRuntime(node)
    async with api_client(api) as client, running_agent(client, node, tmp_path, runtime):
        ns = await namespace(client)
        inits = [{"name": "setup", "image": "busybox:1"}]
        body = pod_body("f", node, initContainers=inits, restartPolicy="Never")
        uid = (await client.create(POD, body, ns))["metadata"]["uid"]
        await wait_pod(client, "f", ns, lambda p: "running" in container_status(p, "setup", True).get("state", {}))
        runtime.crash(uid, "setup", 4)
        pod = await wait_pod(client, "f", ns, lambda p: phase(p) == "Failed")
        assert not any(c.name == "app" for c in (await runtime.list_sandboxes())[0].containers)
        assert container_status(pod, "setup", True)["state"]["terminated"]["exitCode"] == 4


async def test_changed_image_restarts_the_container(api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node = unique("hash")
    async with api_client(api) as client, running_agent(client, node, tmp_path):
        ns = await namespace(client)
        await client.create(POD, pod_body("h", node), ns)
        before = container_status(await wait_pod(client, "h", ns, running_ready))
        await client.patch(POD, "h", {"spec": {"containers": [{"name": "app", "image": "busybox:2"}]}}, ns,
                           patch_type="strategic")
        after = container_status(await wait_pod(client, "h", ns, lambda p: running_ready(p) and container_status(
            p)["image"] == "busybox:2" and container_status(p)["containerID"] != before["containerID"]))
        assert after["restartCount"] == 1


async def test_missing_image_and_missing_configmap_wait_with_reasons(api: InProcessAPI,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    node = unique("errs")
    async with api_client(api) as client, running_agent(client, node, tmp_path):
        ns = await namespace(client)
        await client.create(POD, pod_body("img", node, [{"name": "app", "image": "missing:1"}]), ns)
        env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]
        await client.create(POD, pod_body("cfg", node, [{"name": "app", "image": "busybox:1", "env": env}]), ns)

        def reason(p: dict) -> str:
            return str(container_status(p).get("state", {}).get("waiting", {}).get("reason"))
        img = await wait_pod(client, "img", ns, lambda p: reason(p) in ("ErrImagePull", "ImagePullBackOff"))
        assert phase(img) == "Pending"
        cfg = await wait_pod(client, "cfg", ns, lambda p: reason(p) == "CreateContainerConfigError")
        assert "nope" in container_status(cfg)["state"]["waiting"]["message"]
        await wait_pod(client, "img", ns, lambda p: reason(p) == "ImagePullBackOff")

        async def failed_event() -> bool:
            events = (await client.list(EVENT, ns))["items"]
            return any(e["reason"] == "Failed" and e["involvedObject"]["name"] == "img" for e in events)
        await eventually(failed_event, 10, "Failed event")
