"""The official kubernetes Python client (37.x) against a 3-replica raftkube control plane.

CRUD through the typed APIs (whose models raise on missing required fields, so every read
also checks the server defaulted the object), optimistic concurrency, pagination, selectors,
a watch that survives the death of the replica it was connected to, 410 after compaction,
Lease micro-times and namespace termination.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from raftkube.store import HttpClient

from .cluster import E2ECluster, namespace_for, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]
T = TypeVar("T")
TRANSIENT = (urllib3.exceptions.HTTPError, OSError)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("python-plane")).start()
    try:
        yield plane
    finally:
        plane.close()


def api_client(cluster: E2ECluster, replica: int, token: str | None = None) -> client.ApiClient:
    config = client.Configuration(host=cluster.api_url(replica))
    config.ssl_ca_cert = str(cluster.ca_cert)
    config.api_key = {"authorization": token or cluster.token}
    config.api_key_prefix = {"authorization": "Bearer"}
    config.retries = 1
    return client.ApiClient(config)


@pytest.fixture
def api(cluster: E2ECluster) -> Iterator[client.ApiClient]:
    with api_client(cluster, 0) as c:
        yield c


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def ns(cluster: E2ECluster, request: pytest.FixtureRequest) -> str:
    name = namespace_for(request.node.name)
    cluster.create_namespace(name)
    return name


def meta(name: str, **labels: str) -> client.V1ObjectMeta:
    return client.V1ObjectMeta(name=name, labels=labels or None)


def configmap(name: str, data: dict[str, str] | None = None, **labels: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=meta(name, **labels), data=data or {"k": "v"})


def status_of(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """Run a call that must fail; return its HTTP status and decoded Status body."""
    with pytest.raises(ApiException) as info:
        call()
    return info.value.status, json.loads(info.value.body or "{}")


def pod_spec(*names: str) -> client.V1PodSpec:
    return client.V1PodSpec(containers=[
        client.V1Container(name=n, image="docker.io/library/busybox:1.36", command=["sleep", "3600"],
                           ports=[client.V1ContainerPort(container_port=8000 + i)],
                           resources=client.V1ResourceRequirements(requests={"cpu": "50m", "memory": "32Mi"}))
        for i, n in enumerate(names)])


# -------------------------------------------------------------------- core CRUD
def test_core_v1_crud(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(ns, configmap("cfg", {"a": "1"}, app="demo"))
    assert created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp
    read = core.read_namespaced_config_map("cfg", ns)
    assert read.data == {"a": "1"} and read.metadata.labels == {"app": "demo"}
    assert read.metadata.resource_version == created.metadata.resource_version
    assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == ["cfg"]

    read.data = {"a": "2", "b": "3"}
    replaced = core.replace_namespaced_config_map("cfg", ns, read)
    assert replaced.data == {"a": "2", "b": "3"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    patched = core.patch_namespaced_config_map("cfg", ns, {"data": {"b": None, "c": "4"}},
                                               _content_type="application/merge-patch+json")
    assert patched.data == {"a": "2", "c": "4"}
    patched = core.patch_namespaced_config_map("cfg", ns, [{"op": "add", "path": "/data/d", "value": "5"}])
    assert patched.data == {"a": "2", "c": "4", "d": "5"}
    deleted = core.delete_namespaced_config_map("cfg", ns)
    assert deleted is not None
    code, body = status_of(lambda: core.read_namespaced_config_map("cfg", ns))
    assert (code, body["reason"], body["details"]["name"], body["details"]["kind"]) == (404, "NotFound", "cfg",
                                                                                        "configmaps")

    secret = core.create_namespaced_secret(ns, client.V1Secret(metadata=meta("creds"), string_data={"pw": "hunter2"}))
    assert secret.data == {"pw": "aHVudGVyMg=="} and secret.string_data is None and secret.type == "Opaque"

    service = core.create_namespaced_service(ns, client.V1Service(
        metadata=meta("front", app="demo"),
        spec=client.V1ServiceSpec(type="NodePort", selector={"app": "demo"},
                                  ports=[client.V1ServicePort(name="http", port=80, target_port=8080)])))
    port = service.spec.ports[0]
    assert service.spec.cluster_ip and service.spec.cluster_ip.startswith("127.96.")
    assert service.spec.cluster_ips == [service.spec.cluster_ip]
    assert 30000 <= port.node_port <= 32767 and port.protocol == "TCP" and port.target_port == 8080
    service.spec.ports[0].port = 81
    replaced_service = core.replace_namespaced_service("front", ns, service)
    assert replaced_service.spec.ports[0].port == 81
    assert replaced_service.spec.ports[0].node_port == port.node_port, "the node port is kept on update"
    assert replaced_service.spec.cluster_ip == service.spec.cluster_ip

    pod = core.create_namespaced_pod(ns, client.V1Pod(metadata=meta("two", app="demo"), spec=pod_spec("a", "b")))
    assert [c.name for c in pod.spec.containers] == ["a", "b"]
    assert pod.spec.restart_policy == "Always" and pod.spec.dns_policy == "ClusterFirst"
    assert pod.spec.containers[0].termination_message_path == "/dev/termination-log"
    assert pod.status.phase == "Pending"
    pods = core.list_pod_for_all_namespaces(label_selector="app=demo")
    assert [(p.metadata.namespace, p.metadata.name) for p in pods.items] == [(ns, "two")]
    core.patch_namespaced_pod("two", ns, {"metadata": {"labels": {"extra": "yes"}}})
    assert core.read_namespaced_pod("two", ns).metadata.labels == {"app": "demo", "extra": "yes"}
    core.delete_namespaced_pod("two", ns, grace_period_seconds=0)
    assert not core.list_namespaced_pod(ns).items

    namespaces = {n.metadata.name: n for n in core.list_namespace().items}
    assert namespaces[ns].status.phase == "Active"
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= set(namespaces)


def test_apps_v1_crud_scale_and_status(api: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api)
    template = client.V1PodTemplateSpec(metadata=meta("", app="web"), spec=pod_spec("web"))
    template.metadata.name = None
    deploy = client.V1Deployment(metadata=meta("web", app="web"), spec=client.V1DeploymentSpec(
        replicas=3, selector=client.V1LabelSelector(match_labels={"app": "web"}), template=template))
    created = apps.create_namespaced_deployment(ns, deploy)
    assert created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate" and created.spec.revision_history_limit == 10
    assert created.spec.progress_deadline_seconds == 600
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 3
    assert [d.metadata.name for d in apps.list_namespaced_deployment(ns).items] == ["web"]

    created.spec.replicas = 4
    replaced = apps.replace_namespaced_deployment("web", ns, created)
    assert (replaced.spec.replicas, replaced.metadata.generation) == (4, 2)
    patched = apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "docker.io/library/busybox:1.37"}]}}}})
    assert patched.spec.template.spec.containers[0].image == "docker.io/library/busybox:1.37"
    assert patched.spec.template.spec.containers[0].command == ["sleep", "3600"], "strategic merge by name"
    assert patched.metadata.generation == 3

    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert (scale.spec.replicas, scale.status.selector) == (4, "app=web")
    scale = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 6}})
    assert scale.spec.replicas == 6
    scale.spec.replicas = 0
    scale = apps.replace_namespaced_deployment_scale("web", ns, scale)
    assert scale.spec.replicas == 0
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 0

    # status is written only through /status, and does not bump the generation
    current = apps.read_namespaced_deployment("web", ns)
    current.status = client.V1DeploymentStatus(replicas=2, ready_replicas=1, observed_generation=5)
    written = apps.replace_namespaced_deployment_status("web", ns, current)
    assert written.status.replicas == 2 and written.status.observed_generation == 5
    assert written.metadata.generation == current.metadata.generation and written.spec.replicas == 0
    ignored = apps.patch_namespaced_deployment("web", ns, {"status": {"replicas": 9}})
    assert ignored.status.replicas == 2, "status in a main-resource write is ignored"
    apps.delete_namespaced_deployment("web", ns, propagation_policy="Background")
    assert not apps.list_namespaced_deployment(ns).items


def test_batch_v1_job_crud(api: client.ApiClient, ns: str) -> None:
    batch = client.BatchV1Api(api)
    spec = pod_spec("work")
    spec.restart_policy = "Never"
    job = client.V1Job(metadata=meta("once"), spec=client.V1JobSpec(
        backoff_limit=2, template=client.V1PodTemplateSpec(spec=spec)))
    created = batch.create_namespaced_job(ns, job)
    assert created.spec.completions == 1 and created.spec.parallelism == 1
    assert created.spec.selector is not None and created.spec.template.metadata.labels, "selector is generated"
    assert batch.read_namespaced_job("once", ns).spec.backoff_limit == 2
    assert [j.metadata.name for j in batch.list_namespaced_job(ns).items] == ["once"]
    created.metadata.labels = {"kind": "batch"}
    replaced = batch.replace_namespaced_job("once", ns, created)
    assert replaced.metadata.labels["kind"] == "batch"
    patched = batch.patch_namespaced_job("once", ns, {"spec": {"suspend": True}})
    assert patched.spec.suspend is True
    code, body = status_of(lambda: batch.patch_namespaced_job("once", ns, {"spec": {"completions": 0,
                                                                                      "parallelism": -1}}))
    assert code == 422 and body["reason"] == "Invalid"
    assert "spec.parallelism" in {c.get("field") for c in body["details"]["causes"]}
    batch.delete_namespaced_job("once", ns, propagation_policy="Background")
    assert not batch.list_namespaced_job(ns).items


def test_lease_micro_time_round_trip(cluster: E2ECluster, api: client.ApiClient, ns: str) -> None:
    coordination = client.CoordinationV1Api(api)
    acquired = datetime.datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=datetime.UTC)
    renewed = datetime.datetime(2024, 5, 1, 10, 20, 45, 654321, tzinfo=datetime.UTC)
    lease = client.V1Lease(metadata=meta("leader"), spec=client.V1LeaseSpec(
        holder_identity="replica-a", lease_duration_seconds=15, acquire_time=acquired, renew_time=renewed,
        lease_transitions=0))
    created = coordination.create_namespaced_lease(ns, lease)
    assert (created.spec.acquire_time, created.spec.renew_time) == (acquired, renewed)
    later = renewed + datetime.timedelta(seconds=10, microseconds=7)
    created.spec.renew_time = later
    created.spec.holder_identity = "replica-b"
    created.spec.lease_transitions = 1
    replaced = coordination.replace_namespaced_lease("leader", ns, created)
    assert (replaced.spec.renew_time, replaced.spec.holder_identity) == (later, "replica-b")
    patched = coordination.patch_namespaced_lease("leader", ns, {"spec": {"renewTime": "2024-05-01T10:21:00.000001Z"}})
    assert patched.spec.renew_time == datetime.datetime(2024, 5, 1, 10, 21, 0, 1, tzinfo=datetime.UTC)
    listed = coordination.list_namespaced_lease(ns).items
    assert [(item.metadata.name, item.spec.lease_transitions) for item in listed] == [("leader", 1)]
    code, body = status_of(lambda: coordination.patch_namespaced_lease(
        "leader", ns, {"spec": {"renewTime": "yesterday"}}))
    assert code in (400, 422) and "renewTime" in body["message"], body

    # the wire form is canonical, as metav1.MicroTime marshals it: UTC, six digits, "Z"
    coordination.patch_namespaced_lease("leader", ns, {"spec": {"acquireTime": "2024-05-01T12:20:30.123456+02:00",
                                                                "renewTime": "2024-05-01T10:21:00.5Z"}})
    raw = cluster.get(0, f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/leader").json()
    assert (raw["spec"]["acquireTime"], raw["spec"]["renewTime"]) == ("2024-05-01T10:20:30.123456Z",
                                                                      "2024-05-01T10:21:00.500000Z")
    coordination.delete_namespaced_lease("leader", ns)
    assert not coordination.list_namespaced_lease(ns).items


# ----------------------------------------------------- concurrency and listings
def test_replace_with_stale_resource_version_conflicts(core: client.CoreV1Api, ns: str) -> None:
    first = core.create_namespaced_config_map(ns, configmap("cas", {"n": "0"}))
    stale_rv = first.metadata.resource_version
    first.data = {"n": "1"}
    core.replace_namespaced_config_map("cas", ns, first)
    first.data = {"n": "2"}
    first.metadata.resource_version = stale_rv
    code, body = status_of(lambda: core.replace_namespaced_config_map("cas", ns, first))
    assert (code, body["reason"], body["details"]["name"]) == (409, "Conflict", "cas")
    assert "the object has been modified" in body["message"]
    assert core.read_namespaced_config_map("cas", ns).data == {"n": "1"}
    code, body = status_of(lambda: core.create_namespaced_config_map(ns, configmap("cas")))
    assert (code, body["reason"]) == (409, "AlreadyExists")
    code, body = status_of(lambda: core.delete_namespaced_config_map(
        "cas", ns, body=client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version=stale_rv))))
    assert (code, body["reason"]) == (409, "Conflict")


def test_pagination_returns_everything_exactly_once(core: client.CoreV1Api, ns: str) -> None:
    names = [f"page-{i:02d}" for i in range(23)]
    for i, name in enumerate(names):
        core.create_namespaced_config_map(ns, configmap(name, parity="even" if i % 2 == 0 else "odd"))
    seen: list[str] = []
    token, pages, versions = None, 0, set()
    while pages < 50:
        page = core.list_namespaced_config_map(ns, limit=5, _continue=token)
        pages += 1
        seen += [c.metadata.name for c in page.items]
        versions.add(page.metadata.resource_version)
        token = page.metadata._continue
        if not token:
            break
        assert len(page.items) == 5
    assert seen == names and pages == 5
    assert len(versions) == 1, "every page reports the snapshot the first one was read at"

    odd: list[str] = []
    token = None
    for _ in range(50):
        page = core.list_namespaced_config_map(ns, limit=4, _continue=token, label_selector="parity=odd")
        odd += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert odd == names[1::2]
    code, body = status_of(lambda: core.list_namespaced_config_map(ns, limit=5, _continue="not-a-token"))
    assert code in (400, 410) and body["kind"] == "Status"


def test_pagination_is_a_consistent_snapshot(core: client.CoreV1Api, ns: str) -> None:
    """Continue pages come from the first page's revision, as with etcd: later writes are not seen."""
    for i in range(10):
        core.create_namespaced_config_map(ns, configmap(f"snap-{i:02d}", {"v": "0"}))
    first = core.list_namespaced_config_map(ns, limit=5)
    list_rv = int(first.metadata.resource_version)
    core.create_namespaced_config_map(ns, configmap("zz-created-meanwhile"))
    core.patch_namespaced_config_map("snap-08", ns, {"data": {"v": "changed"}})
    rest = core.list_namespaced_config_map(ns, limit=100, _continue=first.metadata._continue)
    names = [c.metadata.name for c in first.items + rest.items]
    assert names == [f"snap-{i:02d}" for i in range(10)], "an object created after the snapshot was listed"
    late = next(c for c in rest.items if c.metadata.name == "snap-08")
    assert late.data == {"v": "0"} and int(late.metadata.resource_version) <= list_rv


def test_label_and_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    for name, labels in [("a", {"env": "dev", "tier": "web"}), ("b", {"env": "prod", "tier": "web"}),
                         ("c", {"env": "staging"}), ("d", {})]:
        core.create_namespaced_config_map(ns, configmap(name, **labels))

    def names(**kwargs: str) -> list[str]:
        return sorted(c.metadata.name for c in core.list_namespaced_config_map(ns, **kwargs).items)

    assert names(label_selector="env=dev") == ["a"]
    assert names(label_selector="env==prod") == ["b"]
    assert names(label_selector="env!=dev") == ["b", "c", "d"]
    assert names(label_selector="env in (dev,staging)") == ["a", "c"]
    assert names(label_selector="env notin (dev,staging)") == ["b", "d"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c", "d"]
    assert names(label_selector="tier=web,env in (prod)") == ["b"]
    assert names(field_selector="metadata.name=c") == ["c"]
    assert names(field_selector="metadata.name!=c,metadata.namespace=" + ns) == ["a", "b", "d"]
    assert names(field_selector="metadata.name=c", label_selector="env=dev") == []
    everywhere = core.list_config_map_for_all_namespaces(field_selector="metadata.name=b",
                                                         label_selector="env=prod")
    assert [(c.metadata.namespace, c.metadata.name) for c in everywhere.items] == [(ns, "b")]
    code, body = status_of(lambda: names(label_selector="env in (dev"))
    assert code == 400 and body["reason"] == "BadRequest"
    code, body = status_of(lambda: names(field_selector="data.k=v"))
    assert code == 400 and body["reason"] == "BadRequest"

    core.delete_collection_namespaced_config_map(ns, label_selector="tier=web")
    assert names() == ["c", "d"]

    core.create_namespaced_pod(ns, client.V1Pod(metadata=meta("p1"), spec=pod_spec("c")))
    pods = core.list_namespaced_pod(ns, field_selector="status.phase=Pending,spec.nodeName=")
    assert [p.metadata.name for p in pods.items] == ["p1"]
    assert not core.list_namespaced_pod(ns, field_selector="status.phase=Running").items


# ------------------------------------------------------------------------ watches
@dataclass
class ResumingWatcher:
    """A watch loop that moves to another replica when its connection dies, resuming from
    the last resourceVersion it saw. Runs in a thread; stops at the object named `end`."""

    cluster: E2ECluster
    namespace: str
    resource_version: str
    replica: int
    end: str = "zz-end"
    events: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.api = api_client(self.cluster, self.replica)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        core = client.CoreV1Api(self.api)
        try:
            for _attempt in range(60):
                self.connections.append(self.replica)
                try:
                    stream = watch.Watch().stream(core.list_namespaced_config_map, self.namespace,
                                                  resource_version=self.resource_version, _request_timeout=(2, 60))
                    for event in stream:
                        obj = event["object"]
                        self.events.append((event["type"], obj.metadata.name, obj.metadata.resource_version,
                                            (obj.data or {}).get("v")))
                        self.resource_version = obj.metadata.resource_version
                        if obj.metadata.name == self.end:
                            return
                except TRANSIENT as exc:
                    self.errors.append(exc)
                    self.replica = (self.replica + 1) % len(self.cluster.plane.replicas)
                    self.api.configuration.host = self.cluster.api_url(self.replica)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)
        finally:
            self.done.set()


def retry(call: Callable[[], T], done_on: Callable[[ApiException], T | None], what: str, timeout: float = 40) -> T:
    """Retry a write through outages (5xx, connection errors) until it succeeds or is known done."""
    retried = False

    def attempt() -> T | None:
        nonlocal retried
        try:
            try:
                return call()
            except ApiException as exc:
                if retried and (result := done_on(exc)) is not None:
                    return result
                raise
        except ApiException as exc:  # from the call or from the check of an earlier attempt
            if exc.status is not None and exc.status < 500:
                raise
        except TRANSIENT:
            pass
        retried = True
        return None
    return wait_until(attempt, timeout, what, interval=0.1)


class Writer:
    """Sequential writes through one replica, remembering each change and its resourceVersion."""

    def __init__(self, core: client.CoreV1Api, namespace: str) -> None:
        self.core, self.namespace = core, namespace
        self.changes: list[tuple[str, str, str, str | None]] = []
        self.current: dict[str, client.V1ConfigMap] = {}

    def create(self, name: str, value: str) -> None:
        def done(exc: ApiException) -> client.V1ConfigMap | None:
            return self.core.read_namespaced_config_map(name, self.namespace) if exc.status == 409 else None
        obj = retry(lambda: self.core.create_namespaced_config_map(self.namespace, configmap(name, {"v": value})),
                    done, f"create {name}")
        self.current[name] = obj
        self.changes.append(("ADDED", name, obj.metadata.resource_version, value))

    def update(self, name: str, value: str) -> None:
        obj = self.current[name]
        obj.data = {"v": value}

        def done(exc: ApiException) -> client.V1ConfigMap | None:
            live = self.core.read_namespaced_config_map(name, self.namespace)
            return live if exc.status == 409 and live.data == {"v": value} else None
        updated = retry(lambda: self.core.replace_namespaced_config_map(name, self.namespace, obj), done,
                        f"update {name}")
        self.current[name] = updated
        self.changes.append(("MODIFIED", name, updated.metadata.resource_version, value))

    def delete(self, name: str) -> None:
        value = self.current.pop(name).data["v"]
        retry(lambda: self.core.delete_namespaced_config_map(name, self.namespace),
              lambda exc: True if exc.status == 404 else None, f"delete {name}")
        self.changes.append(("DELETED", name, "", value))


def test_watch_survives_replica_kill(cluster: E2ECluster, ns: str) -> None:
    plane = cluster.plane
    victim = plane.leader_index()  # the hardest case: the watched replica is the Raft leader
    survivor = (victim + 1) % 3
    with api_client(cluster, survivor) as writer_api:
        core = client.CoreV1Api(writer_api)
        writer = Writer(core, ns)
        writer.create("pre-existing", "0")
        start_rv = core.list_namespaced_config_map(ns).metadata.resource_version
        writer.changes.clear()  # the watch starts after this
        watcher = ResumingWatcher(cluster, ns, start_rv, victim)
        watcher.thread.start()
        try:
            for i in range(4):  # before
                writer.create(f"before-{i}", str(i))
            writer.update("pre-existing", "1")
            wait_until(lambda: len(watcher.events) >= len(writer.changes), 20, "watcher saw the first writes")
            assert watcher.connections == [victim]

            plane.kill(victim)
            for i in range(4):  # during: the watcher's replica is gone, a new leader is being elected
                writer.create(f"during-{i}", str(i))
            writer.update("before-0", "during")
            writer.delete("before-1")
            wait_until(lambda: len(watcher.connections) >= 2 and len(watcher.events) >= len(writer.changes), 40,
                       "watcher resumed on another replica")
            for i in range(3):  # after
                writer.create(f"after-{i}", str(i))
            writer.update("during-0", "after")
            writer.delete("pre-existing")
            writer.create(watcher.end, "end")
            assert watcher.done.wait(40), f"watch did not reach the end: {watcher.events} {watcher.errors}"
        finally:
            plane.start_replica(victim)
            plane.wait_healthy(timeout=60)
            cluster.wait_api_ready(victim)
            watcher.thread.join(timeout=10)
            watcher.api.close()
    assert watcher.errors, "the watch was expected to lose its connection"
    assert not [e for e in watcher.errors if not isinstance(e, TRANSIENT)], watcher.errors
    assert watcher.connections[0] == victim and victim not in watcher.connections[-1:]
    seen = [(t, name, value) for t, name, _rv, value in watcher.events]
    expected = [(t, name, value) for t, name, _rv, value in writer.changes]
    assert seen == expected, "every change exactly once, in order"
    versions = [int(rv) for _t, _n, rv, _v in watcher.events]
    assert versions == sorted(set(versions)), "resourceVersions strictly increase"
    for (kind, name, rv, _v), (_k, _n, written_rv, _w) in zip(watcher.events, writer.changes, strict=True):
        assert kind == "DELETED" or rv == written_rv, f"{kind} {name}: {rv} != {written_rv}"


async def _compact(store_urls: list[str], token: str, revision: int) -> int:
    """Compact through the first replica, then wait until every replica has applied it (bounded)."""
    store = HttpClient(store_urls[:1], token=token)
    try:
        compacted = await store.compact(revision)
        for url in store_urls:
            for _ in range(200):
                if (await store.status_of(url)).get("compact_revision", 0) >= revision:
                    break
                await asyncio.sleep(0.02)
        return compacted
    finally:
        await store.close()


def test_watch_from_compacted_version_gets_410_then_relist_works(cluster: E2ECluster, core: client.CoreV1Api,
                                                                 ns: str) -> None:
    old = core.create_namespaced_config_map(ns, configmap("old-0")).metadata.resource_version
    for i in range(1, 4):
        core.create_namespaced_config_map(ns, configmap(f"old-{i}"))
    current = int(core.list_namespaced_config_map(ns).metadata.resource_version)
    urls = [cluster.store_url(i) for i in range(3)]
    assert asyncio.run(_compact(urls, cluster.plane.store_token, current)) == current

    with pytest.raises(ApiException) as info:
        for _event in watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version=old,
                                           _request_timeout=(2, 30)):
            pytest.fail("no event is expected from a compacted resourceVersion")
    assert info.value.status == 410, info.value
    raw = cluster.get(0, f"/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion={old}&timeoutSeconds=5")
    first = raw.json() if raw.status_code == 410 else json.loads(raw.text.splitlines()[0])
    status = first if raw.status_code == 410 else first["object"]
    assert (status["code"], status["reason"]) == (410, "Expired") and (raw.status_code == 410 or
                                                                       first["type"] == "ERROR")

    # relist, then watch from the list's version: only what happened after it is delivered
    relisted = core.list_namespaced_config_map(ns)
    assert sorted(c.metadata.name for c in relisted.items) == [f"old-{i}" for i in range(4)]
    core.create_namespaced_config_map(ns, configmap("new-0"))
    core.delete_namespaced_config_map("old-0", ns)
    events = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, ns, resource_version=relisted.metadata.resource_version,
                          _request_timeout=(2, 30)):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 2:
            w.stop()
    assert events == [("ADDED", "new-0"), ("DELETED", "old-0")]


def test_watch_with_label_selector_sees_objects_enter_and_leave(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, configmap("out", team="blue"))
    start = core.list_namespaced_config_map(ns, label_selector="team=red").metadata.resource_version
    core.create_namespaced_config_map(ns, configmap("in", team="red"))
    core.patch_namespaced_config_map("out", ns, {"metadata": {"labels": {"team": "red"}}})  # enters
    core.patch_namespaced_config_map("in", ns, {"data": {"k": "2"}})  # changes inside
    core.patch_namespaced_config_map("in", ns, {"metadata": {"labels": {"team": "blue"}}})  # leaves
    core.patch_namespaced_config_map("in", ns, {"data": {"k": "3"}})  # changes outside: not seen
    core.delete_namespaced_config_map("out", ns)
    events = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, ns, label_selector="team=red", resource_version=start,
                          _request_timeout=(2, 30)):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 5:
            w.stop()
    assert events == [("ADDED", "in"), ("ADDED", "out"), ("MODIFIED", "in"), ("DELETED", "in"), ("DELETED", "out")]


# --------------------------------------------------------------------- namespaces
def test_namespace_delete_turns_terminating(core: client.CoreV1Api) -> None:
    name = f"doomed-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=meta(name)))
    core.create_namespaced_config_map(name, configmap("inside"))
    core.delete_namespace(name)
    terminating = core.read_namespace(name)
    assert terminating.status.phase == "Terminating"
    assert terminating.metadata.deletion_timestamp is not None
    assert terminating.spec.finalizers == ["kubernetes"]
    code, body = status_of(lambda: core.create_namespaced_config_map(name, configmap("late")))
    assert (code, body["reason"]) == (403, "Forbidden") and "terminat" in body["message"], body
    assert core.read_namespaced_config_map("inside", name).data == {"k": "v"}, "no namespace controller yet"
    core.delete_namespace(name)  # deleting again is accepted and changes nothing
    assert core.read_namespace(name).status.phase == "Terminating"


def test_every_kind_round_trips_through_the_models(api: client.ApiClient, core: client.CoreV1Api, ns: str) -> None:
    """Create one object of each remaining kind, then list every kind everywhere: each item must deserialize."""
    apps = client.AppsV1Api(api)
    template = client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"app": "x"}), spec=pod_spec("x"))
    selector = client.V1LabelSelector(match_labels={"app": "x"})
    rs = apps.create_namespaced_replica_set(ns, client.V1ReplicaSet(
        metadata=meta("rs"), spec=client.V1ReplicaSetSpec(replicas=2, selector=selector, template=template)))
    assert rs.spec.replicas == 2
    ds = apps.create_namespaced_daemon_set(ns, client.V1DaemonSet(
        metadata=meta("ds"), spec=client.V1DaemonSetSpec(selector=selector, template=template)))
    assert ds.spec.update_strategy.type == "RollingUpdate"
    node_name = f"node-{secrets.token_hex(3)}"
    node = core.create_node(client.V1Node(metadata=meta(node_name, **{"kubernetes.io/hostname": node_name}),
                                          spec=client.V1NodeSpec(pod_cidr="10.244.1.0/24")))
    assert node.metadata.name == node_name and node.spec.pod_cidr == "10.244.1.0/24"
    endpoints = core.create_namespaced_endpoints(ns, client.V1Endpoints(metadata=meta("svc"), subsets=[
        client.V1EndpointSubset(addresses=[client.V1EndpointAddress(ip="10.244.1.5")],
                                ports=[client.CoreV1EndpointPort(port=80, protocol="TCP")])]))
    assert endpoints.subsets[0].addresses[0].ip == "10.244.1.5"
    event = core.create_namespaced_event(ns, client.CoreV1Event(
        metadata=meta("ev1"), involved_object=client.V1ObjectReference(kind="ReplicaSet", name="rs", namespace=ns),
        reason="Tested", message="hello", type="Normal", count=1,
        first_timestamp=datetime.datetime(2024, 5, 1, 10, 0, 0, tzinfo=datetime.UTC)))
    assert event.reason == "Tested" and event.first_timestamp == datetime.datetime(2024, 5, 1, 10, 0, 0,
                                                                                  tzinfo=datetime.UTC)
    assert [e.reason for e in core.list_namespaced_event(ns, field_selector="involvedObject.name=rs").items] == [
        "Tested"]

    listings = [core.list_namespace, core.list_node, core.list_pod_for_all_namespaces,
                core.list_service_for_all_namespaces, core.list_config_map_for_all_namespaces,
                core.list_secret_for_all_namespaces, core.list_endpoints_for_all_namespaces,
                core.list_event_for_all_namespaces, apps.list_deployment_for_all_namespaces,
                apps.list_replica_set_for_all_namespaces, apps.list_daemon_set_for_all_namespaces,
                client.BatchV1Api(api).list_job_for_all_namespaces,
                client.CoordinationV1Api(api).list_lease_for_all_namespaces]
    for listing in listings:
        result = listing()
        assert result.metadata.resource_version, listing.__name__
        for item in result.items:
            assert item.metadata.name and item.metadata.uid and item.metadata.creation_timestamp, item
    core.delete_node(node_name)


def test_wrong_token_is_unauthorized(cluster: E2ECluster) -> None:
    with api_client(cluster, 1, token="wrong") as bad:
        code, body = status_of(lambda: client.CoreV1Api(bad).list_namespace())
    assert (code, body["reason"]) == (401, "Unauthorized")
