"""The controllers against a real 3-replica control plane (each replica runs the controller-manager under
leader election); the test plays the nodes (tests/control/fake_nodes.py) and, for pods it pins, the
scheduler (their schedulerName is one no scheduler serves). Behaviour is asserted; timings are printed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from raftkube.client import ApiClient, ApiError, NotFound
from raftkube.control.daemonset import HASH_LABEL
from raftkube.local.control_plane import LocalControlPlane
from tests.control.fake_nodes import FakeNodes, bind, set_pod_status

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio(loop_scope="module")]
Obj = dict[str, Any]
T = TypeVar("T")
POD, NS, NODE = ("v1", "Pod"), ("v1", "Namespace"), ("v1", "Node")
RS, DS, JOB = ("apps/v1", "ReplicaSet"), ("apps/v1", "DaemonSet"), ("batch/v1", "Job")
SERVICE, ENDPOINTS, CM = ("v1", "Service"), ("v1", "Endpoints"), ("v1", "ConfigMap")
WORKERS = ["n1", "n2", "n3"]
MANUAL = "test-plays-scheduler"  # a schedulerName nobody serves: these pods stay where the test puts them


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    """Poll `check` until it returns something other than None/False (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    for _ in range(100_000):
        try:
            value = await check()
        except ApiError:
            value = None  # e.g. a replica failing over mid-test; poll again
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


@dataclass
class Cluster:
    client: ApiClient
    nodes: FakeNodes

    async def namespace(self, name: str) -> str:
        await self.client.create(NS, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name

    async def pods(self, namespace: str, active_only: bool = True) -> list[Obj]:
        items = (await self.client.list(POD, namespace)).get("items") or []
        return [p for p in items if not (active_only and p["metadata"].get("deletionTimestamp"))]

    async def gone(self, ref: tuple[str, str], name: str, namespace: str | None = None) -> bool:
        try:
            await self.client.get(ref, name, namespace)
        except NotFound:
            return True
        return False


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane]:
    cluster = LocalControlPlane(str(tmp_path_factory.mktemp("controllers")))
    try:
        cluster.start(timeout=60)
        yield cluster
    finally:
        cluster.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(plane: LocalControlPlane) -> AsyncIterator[Cluster]:
    client = ApiClient(plane.api_urls, plane.token, plane.ca_file)
    await eventually(lambda: client.get(NS, "kube-node-lease"), 60, "API ready with the system namespaces")
    nodes = FakeNodes(client, WORKERS, labels={"pool": "workers"})
    await nodes.register()
    nodes.start()
    try:
        yield Cluster(client, nodes)
    finally:
        await nodes.stop()
        await client.close()


def pod_template(labels: dict[str, str], manual: bool = True, **spec: Any) -> Obj:
    pod_spec: Obj = {"containers": [{"name": "c", "image": "busybox", "ports": [
        {"name": "http", "containerPort": 8080}]}], **spec}
    if manual:
        pod_spec["schedulerName"] = MANUAL
    return {"metadata": {"labels": labels}, "spec": pod_spec}


def replicaset(name: str, replicas: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"rs": name}},
                     "template": pod_template({"rs": name})}}


async def rs_pods(cluster: Cluster, namespace: str, count: int) -> list[Obj]:
    async def check() -> list[Obj] | None:
        pods = await cluster.pods(namespace)
        return pods if len(pods) == count else None
    return await eventually(check, 20, f"{count} pods in {namespace}")


async def test_job_completes_and_a_failing_one_hits_its_backoff_limit(cluster: Cluster) -> None:
    ns, api = await cluster.namespace("jobs"), cluster.client
    started = time.monotonic()
    template = pod_template({}, restartPolicy="Never")
    await api.create(JOB, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "work"},
                           "spec": {"completions": 2, "parallelism": 2, "template": template}}, ns)
    pods = await rs_pods(cluster, ns, 2)
    for i, pod in enumerate(pods):
        assert pod["spec"]["restartPolicy"] == "Never"
        assert {"controller-uid", "job-name", "batch.kubernetes.io/job-name"} <= set(pod["metadata"]["labels"])
        await set_pod_status(api, pod, phase="Succeeded", ready=False, ip=f"10.9.0.{i + 1}")

    async def complete() -> Obj | None:
        job = await api.get(JOB, "work", ns)
        done = [c for c in job["status"].get("conditions") or [] if c["type"] == "Complete" and c["status"] == "True"]
        return job if done else None
    job = await eventually(complete, 20, "Job Complete")
    assert job["status"]["succeeded"] == 2 and job["status"]["active"] == 0
    assert job["status"]["startTime"] and job["status"]["completionTime"]
    print(f"\njob complete {time.monotonic() - started:.2f}s after creation")

    await api.create(JOB, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "doomed"},
                           "spec": {"backoffLimit": 0, "template": template}}, ns)
    [pod] = [p for p in await rs_pods(cluster, ns, 3) if p["metadata"]["labels"]["job-name"] == "doomed"]
    await set_pod_status(api, pod, phase="Failed", ready=False)

    async def failed() -> Obj | None:
        job = await api.get(JOB, "doomed", ns)
        return next((c for c in job["status"].get("conditions") or [] if c["type"] == "Failed"), None)
    assert (await eventually(failed, 20, "Job Failed"))["reason"] == "BackoffLimitExceeded"
    assert len(await cluster.pods(ns)) == 3  # no replacement for the failed pod


async def test_daemonset_runs_one_bound_pod_per_node_and_rolls_updates(cluster: Cluster) -> None:
    ns, api = await cluster.namespace("daemons"), cluster.client
    started = time.monotonic()
    body = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": pod_template({"app": "agent"}, manual=False, nodeSelector={"pool": "workers"})}}
    await api.create(DS, body, ns)

    async def all_ready(revision: str | None) -> Obj | None:
        pods = await cluster.pods(ns)
        for pod in pods:  # the fake node agents start whatever lands on them
            if not any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or []):
                await set_pod_status(api, pod, ip="10.8.0.1")
        ds = await api.get(DS, "agent", ns)
        hashes = {p["metadata"]["labels"][HASH_LABEL] for p in pods}
        fresh = revision is None or revision not in hashes
        status = ds.get("status") or {}
        done = (len(pods) == 3 and fresh and len(hashes) == 1 and status.get("numberReady") == 3
                and status.get("updatedNumberScheduled") == 3 and status.get("observedGeneration") ==
                ds["metadata"]["generation"])
        return {"pods": pods, "status": status} if done else None
    state = await eventually(lambda: all_ready(None), 30, "a ready daemon pod on each worker")
    assert sorted(p["spec"]["nodeName"] for p in state["pods"]) == WORKERS
    assert state["status"]["desiredNumberScheduled"] == 3 and state["status"]["numberAvailable"] == 3
    print(f"daemonset ready on 3 nodes in {time.monotonic() - started:.2f}s")

    old = state["pods"][0]["metadata"]["labels"][HASH_LABEL]
    ds = await api.get(DS, "agent", ns)
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2"
    await api.update(DS, ds, ns)
    started = time.monotonic()
    state = await eventually(lambda: all_ready(old), 40, "the rolling update done")
    assert sorted(p["spec"]["nodeName"] for p in state["pods"]) == WORKERS
    assert all(p["spec"]["containers"][0]["image"] == "busybox:2" for p in state["pods"])
    print(f"daemonset rolled to a new template in {time.monotonic() - started:.2f}s")


async def test_endpoints_list_ready_pods_and_follow_the_service(cluster: Cluster) -> None:
    ns, api = await cluster.namespace("endpoints"), cluster.client
    await api.create(SERVICE, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                               "spec": {"selector": {"app": "web"},
                                        "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}, ns)
    pods = []
    for i, node in enumerate(WORKERS):
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"web-{i}", "labels": {"app": "web"}},
                "spec": {"nodeName": node, **pod_template({})["spec"]}}
        pods.append(await api.create(POD, body, ns))
    for i, pod in enumerate(pods):
        await set_pod_status(api, pod, ready=i < 2, ip=f"10.7.0.{i + 1}")

    async def endpoints(ready: list[str], not_ready: list[str]) -> Obj | None:
        ep = await api.get(ENDPOINTS, "web", ns)
        subsets = ep.get("subsets") or []
        seen = sorted(a["ip"] for s in subsets for a in s.get("addresses") or [])
        pending = sorted(a["ip"] for s in subsets for a in s.get("notReadyAddresses") or [])
        return ep if (seen, pending) == (ready, not_ready) else None
    ep = await eventually(lambda: endpoints(["10.7.0.1", "10.7.0.2"], ["10.7.0.3"]), 20, "endpoints of ready pods")
    assert ep["subsets"][0]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    address = ep["subsets"][0]["addresses"][0]
    assert address["targetRef"]["kind"] == "Pod" and address["nodeName"] in WORKERS
    await set_pod_status(api, pods[2], ready=True, ip="10.7.0.3")
    await set_pod_status(api, pods[0], ready=False, ip="10.7.0.1")
    await eventually(lambda: endpoints(["10.7.0.2", "10.7.0.3"], ["10.7.0.1"]), 20, "endpoints follow readiness")
    await api.delete(SERVICE, "web", ns)
    await eventually(lambda: cluster.gone(ENDPOINTS, "web", ns), 20, "endpoints deleted with the service")


async def watch_changes(api: ApiClient, ns: str, log: list[tuple[int, str, str, bool]], rv: str) -> None:
    """(revision, event, kind, being deleted) for the pods and ReplicaSets of `ns` from `rv` on."""
    async def one(ref: tuple[str, str]) -> None:
        async for event, obj in api.watch(ref, ns, resource_version=rv):
            if event != "BOOKMARK":
                meta = obj["metadata"]
                log.append((int(meta["resourceVersion"]), event, ref[1], bool(meta.get("deletionTimestamp"))))
    await asyncio.gather(one(POD), one(RS))


async def test_foreground_deletion_removes_the_pods_before_the_replicaset(cluster: Cluster) -> None:
    ns, api = await cluster.namespace("foreground"), cluster.client
    await api.create(RS, replicaset("fg", 3), ns)
    for pod in await rs_pods(cluster, ns, 3):
        await bind(api, pod, "n1")  # bound pods go gracefully: the owner really has to wait for them
    rv = (await api.list(POD, ns))["metadata"]["resourceVersion"]
    log: list[tuple[int, str, str, bool]] = []
    watcher = asyncio.create_task(watch_changes(api, ns, log, rv))

    async def rs_deletion_seen() -> bool:
        return any(e[1:3] == ("DELETED", "ReplicaSet") for e in log)
    started = time.monotonic()
    try:
        await api.delete(RS, "fg", ns, propagation_policy="Foreground")
        await eventually(lambda: cluster.gone(RS, "fg", ns), 30, "the ReplicaSet gone")
        await eventually(rs_deletion_seen, 10, "the watch saw the ReplicaSet go")
    finally:
        watcher.cancel()
    print(f"foreground deletion of a ReplicaSet and 3 bound pods took {time.monotonic() - started:.2f}s")
    history = sorted(log)  # two streams: their events in revision order
    deletions = [kind for _, event, kind, _ in history if event == "DELETED"]
    assert deletions == ["Pod", "Pod", "Pod", "ReplicaSet"], history
    marked = next(i for i, e in enumerate(history) if e[2] == "ReplicaSet" and e[3])
    first_pod_gone = next(i for i, e in enumerate(history) if e[1:3] == ("DELETED", "Pod"))
    assert marked < first_pod_gone  # the owner waited, marked for deletion, while its pods went
    assert await cluster.pods(ns, active_only=False) == []


async def test_orphan_deletion_leaves_the_pods_without_owner(cluster: Cluster) -> None:
    ns, api = await cluster.namespace("orphans"), cluster.client
    await api.create(RS, replicaset("keep", 2), ns)
    before = await rs_pods(cluster, ns, 2)
    await api.delete(RS, "keep", ns, propagation_policy="Orphan")
    await eventually(lambda: cluster.gone(RS, "keep", ns), 20, "the ReplicaSet gone")
    after = await cluster.pods(ns, active_only=False)
    assert sorted(p["metadata"]["uid"] for p in after) == sorted(p["metadata"]["uid"] for p in before)
    assert all(not p["metadata"].get("ownerReferences") and not p["metadata"].get("deletionTimestamp")
               for p in after)


async def test_deleting_a_namespace_empties_it_then_removes_it(cluster: Cluster) -> None:
    ns, api = await cluster.namespace("doomed-ns"), cluster.client
    await api.create(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"}},
                     ns)
    await api.create(RS, replicaset("app", 2), ns)
    for pod in await rs_pods(cluster, ns, 2):
        await bind(api, pod, "n2")
    started = time.monotonic()
    marked = await api.delete(NS, ns)
    assert marked["status"]["phase"] == "Terminating"
    await eventually(lambda: cluster.gone(NS, ns), 30, "the namespace gone")
    print(f"namespace with a ReplicaSet, 2 bound pods and a ConfigMap removed in {time.monotonic() - started:.2f}s")
    for ref in (POD, RS, CM):
        assert (await api.list(ref, ns)).get("items") == []


async def test_a_node_whose_lease_stops_goes_not_ready_and_its_pods_are_replaced(cluster: Cluster) -> None:
    ns, api = await cluster.namespace("evictions"), cluster.client
    lost = FakeNodes(api, ["lost"])
    await lost.register()
    lost.start()
    try:
        await api.create(RS, replicaset("svc", 2), ns)
        originals = await rs_pods(cluster, ns, 2)
        for pod in originals:
            await bind(api, pod, "lost")
            await set_pod_status(api, pod, ip="10.6.0.1")
        lost.stop_renewing("lost")
        stopped = time.monotonic()

        async def node_state() -> Obj | None:
            node = await api.get(NODE, "lost")
            ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
            taints = {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}
            down = ready["status"] == "Unknown" and ("node.kubernetes.io/unreachable", "NoExecute") in taints
            return node if down else None
        await eventually(node_state, 45, "the node Unknown and tainted unreachable")
        not_ready_after = time.monotonic() - stopped

        async def marked() -> bool:
            pods = [p for p in await cluster.pods(ns, active_only=False) if p["spec"].get("nodeName") == "lost"]
            return len(pods) == 2 and all(
                any(c["type"] == "Ready" and c["status"] == "False" for c in p["status"]["conditions"]) for p in pods)
        uids = {p["metadata"]["uid"] for p in originals}

        async def replaced() -> list[Obj] | None:
            pods = await cluster.pods(ns, active_only=False)
            fresh = [p for p in pods if p["metadata"]["uid"] not in uids]
            return fresh if len(pods) == 2 and len(fresh) == 2 else None
        await eventually(marked, 10, "the pods on the lost node marked not Ready")
        new_pods = await eventually(replaced, 30, "the pods replaced by the ReplicaSet")
        replaced_after = time.monotonic() - stopped
        assert all(not p["spec"].get("nodeName") for p in new_pods)  # the replacements are not on the lost node
        print(f"lease stopped -> node NotReady {not_ready_after:.2f}s -> pods replaced {replaced_after:.2f}s")

        lost.resume_renewing("lost")

        async def back() -> bool:
            node = await api.get(NODE, "lost")
            ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
            return ready["status"] == "True" and not node["spec"].get("taints")
        await eventually(back, 30, "the node Ready again without the taint")
    finally:
        await lost.stop()
