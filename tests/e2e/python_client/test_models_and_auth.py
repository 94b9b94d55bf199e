"""The official kubernetes Python client against raftkube: namespace deletion, every kind round-trips
through the client's models, a wrong token is Unauthorized (the cluster: tests/e2e/python_client/conftest.py)."""

from __future__ import annotations

import datetime
import secrets

import pytest
from kubernetes import client

from tests.e2e.cluster import E2ECluster
from tests.e2e.python_client.support import api_client, configmap, meta, pod_spec, status_of

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


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
