"""The agent's watched ConfigMaps, Secrets and Services (node/object_watches.py): each object a pod
uses is read once, then kept by a watch of that object alone (the Node authorizer lets a node watch
what its pods name); a change reaches the pod without waiting for its resync; an unused watch stops."""

from __future__ import annotations

import asyncio
from pathlib import Path

from raftkube.node.object_watches import ObjectWatches
from tests.api.inproc import InProcessAPI

from .test_agent_support import (
    CM,
    POD,
    api,  # noqa: F401  (module fixture)
    api_client,
    eventually,
    namespace,
    pod_body,
    running_agent,
    running_ready,
    unique,
    wait_pod,
)


def configmap(name: str, value: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"file.conf": value}}


async def test_a_changed_configmap_reaches_the_pod_through_its_watch_not_a_resync(
        api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node = unique("watch")
    from raftkube.node.hollow_runtime import HollowRuntime
    runtime = HollowRuntime(node)
    async with api_client(api) as client, running_agent(client, node, tmp_path, runtime, api=api,
                                                        resync_period=600.0) as agent:
        ns = await namespace(client)
        await client.create(CM, configmap("settings", "a=1"), ns)
        container = {"name": "app", "image": "busybox:1", "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]}
        body = pod_body("w", node, [container], volumes=[{"name": "cfg", "configMap": {"name": "settings"}}])
        uid = (await client.create(POD, body, ns))["metadata"]["uid"]
        await wait_pod(client, "w", ns, running_ready)
        assert agent.ctx is not None
        objects = agent.ctx.objects
        assert (ns, "ConfigMap", "settings") in objects.watched  # as the node itself: the authorizer allowed it

        async def watching() -> bool:
            return objects._watches[(ns, "ConfigMap", "settings")].informer.has_synced
        await eventually(watching, 15, "the ConfigMap's watch synced")
        gets = objects.gets
        spec = runtime.spec(uid, "app")
        assert spec is not None
        host = Path(spec.mounts[0].host_path, "file.conf")
        cm = await client.get(CM, "settings", ns)
        cm["data"]["file.conf"] = "a=2"
        await client.update(CM, cm, ns)

        async def refreshed() -> bool:
            return host.read_text() == "a=2"
        await eventually(refreshed, 15, "the volume refreshed (a resync would take 600 s)")
        assert objects.gets == gets  # the new content came from the watch, not from a GET


async def test_a_missing_object_is_none_until_created_and_unused_watches_stop(api: InProcessAPI) -> None:  # noqa: F811
    now, changed = [0.0], asyncio.Event()
    async with api_client(api) as client:
        ns = await namespace(client)
        objects = ObjectWatches(client, on_change=lambda *_: changed.set(), idle=10.0, clock=lambda: now[0])
        try:
            assert await objects.fetch(ns, [("ConfigMap", "later")]) == {("ConfigMap", "later"): None}
            informer = objects._watches[(ns, "ConfigMap", "later")].informer
            await informer.wait_synced(10)
            await client.create(CM, configmap("later", "x"), ns)
            await asyncio.wait_for(changed.wait(), 10)  # its creation, seen by the watch
            found = await objects.fetch(ns, [("ConfigMap", "later")])
            assert found[("ConfigMap", "later")]["data"] == {"file.conf": "x"} and objects.gets == 1
            now[0] = 11.0  # unused for longer than `idle`: the next fetch stops it
            await objects.fetch(ns, [("Service", "kubernetes")])
            assert objects.watched == {(ns, "Service", "kubernetes")}
        finally:
            await objects.close()
        assert objects.watched == set()
