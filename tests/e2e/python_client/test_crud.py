"""The official kubernetes Python client (37.x) against raftkube: create, read, update, delete, scale and status of
core/v1, apps/v1, batch/v1 and Lease objects, and a stale update's Conflict (the cluster:
tests/e2e/python_client/conftest.py)."""

from __future__ import annotations

import datetime

import pytest
from kubernetes import client

from tests.e2e.cluster import E2ECluster
from tests.e2e.python_client.support import configmap, meta, pod_spec, status_of

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


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
