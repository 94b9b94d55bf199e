"""A node's token through the real API: the Node authorizer and NodeRestriction let it touch its
own Node, its Lease and pods bound to it (and what they reference), and nothing of another node's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.inproc import InProcessAPI, running_api

NS = "nodeauthz"
Obj = dict[str, Any]


def pod(name: str, node: str, secret: str, configmap: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "busybox:1", "env": [
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}}],
                "envFrom": [{"configMapRef": {"name": configmap}}]}],
                "volumes": [{"name": "creds", "secret": {"secretName": secret}}]}}


@pytest.fixture(scope="module")
def api() -> Iterator[InProcessAPI]:
    with running_api() as server:
        with server.client() as admin:
            assert admin.post("/api/v1/namespaces", json={"metadata": {"name": NS}}).status_code == 201
            for name in ("mine", "theirs", "unused"):
                assert admin.post(f"/api/v1/namespaces/{NS}/secrets", json={
                    "metadata": {"name": name}, "stringData": {"password": name}}).status_code == 201
                assert admin.post(f"/api/v1/namespaces/{NS}/configmaps", json={
                    "metadata": {"name": f"cm-{name}"}, "data": {"k": name}}).status_code == 201
            for name, node, ref in (("p1", "n1", "mine"), ("p2", "n2", "theirs")):
                assert admin.post(f"/api/v1/namespaces/{NS}/pods", json=pod(name, node, ref, f"cm-{ref}")
                                  ).status_code == 201, name
            assert admin.post("/api/v1/nodes", json={"metadata": {"name": "n2"}}).status_code == 201
        yield server


@pytest.fixture(scope="module")
def n1(api: InProcessAPI) -> Iterator[httpx.Client]:
    with api.client(api.node_token("n1")) as client:
        deadline = time.monotonic() + 10  # the authorizer's graph follows the pods by a watch
        while client.get(f"/api/v1/namespaces/{NS}/secrets/mine").status_code != 200:
            assert time.monotonic() < deadline, "the node never got its pod's secret"
            time.sleep(0.05)
        yield client


def refused(response: httpx.Response, *words: str) -> str:
    assert response.status_code == 403, (response.status_code, response.text[:400])
    message = response.json()["message"]
    for word in words:
        assert word in message, message
    return message


def test_reads_what_its_pods_reference_and_nothing_else(n1: httpx.Client) -> None:
    assert n1.get(f"/api/v1/namespaces/{NS}/secrets/mine").json()["data"]["password"]
    assert n1.get(f"/api/v1/namespaces/{NS}/configmaps/cm-mine").json()["data"] == {"k": "mine"}
    message = refused(n1.get(f"/api/v1/namespaces/{NS}/secrets/theirs"))
    assert message == (f'secrets "theirs" is forbidden: User "system:node:n1" cannot get resource "secrets" in API '
                       f'group "" in the namespace "{NS}": no relationship found between node \'n1\' and this object')
    refused(n1.get(f"/api/v1/namespaces/{NS}/secrets/unused"), "no relationship")
    refused(n1.get(f"/api/v1/namespaces/{NS}/configmaps/cm-theirs"), "no relationship")
    refused(n1.get(f"/api/v1/namespaces/{NS}/secrets"), "cannot list")
    refused(n1.get("/api/v1/secrets"), "cannot list")
    refused(n1.get("/api/v1/namespaces"), "cannot list")  # not a node's business
    refused(n1.post(f"/api/v1/namespaces/{NS}/configmaps", json={"metadata": {"name": "x"}}), "cannot create")


def test_lists_and_watches_one_referenced_object_by_its_name_as_the_kubelet_does(n1: httpx.Client) -> None:
    listing = n1.get(f"/api/v1/namespaces/{NS}/secrets", params={"fieldSelector": "metadata.name=mine"})
    assert listing.status_code == 200 and [i["metadata"]["name"] for i in listing.json()["items"]] == ["mine"]
    watch = n1.get(f"/api/v1/namespaces/{NS}/configmaps", params={
        "fieldSelector": "metadata.name=cm-mine", "watch": "true", "timeoutSeconds": "1"})
    assert watch.status_code == 200 and '"cm-mine"' in watch.text
    refused(n1.get(f"/api/v1/namespaces/{NS}/secrets", params={"fieldSelector": "metadata.name=theirs"}),
            'cannot list resource "secrets"', "no relationship")
    refused(n1.get(f"/api/v1/namespaces/{NS}/configmaps", params={
        "fieldSelector": "metadata.name=cm-theirs", "watch": "true"}), "cannot watch", "no relationship")
    refused(n1.get(f"/api/v1/namespaces/{NS}/secrets", params={"fieldSelector": "metadata.name!=theirs"}),
            "cannot list", "fieldSelector=metadata.name")
    refused(n1.get("/api/v1/secrets", params={"fieldSelector": "metadata.name=mine"}), "namespaced")


def test_reads_pods_services_endpoints_and_nodes(n1: httpx.Client) -> None:
    for path in ("/api/v1/pods", f"/api/v1/namespaces/{NS}/pods/p2", "/api/v1/services", "/api/v1/endpoints",
                 "/api/v1/nodes", "/api/v1/nodes/n2", "/version", "/api"):
        assert n1.get(path).status_code == 200, path


def test_own_node_and_status_yes_another_nodes_no(n1: httpx.Client) -> None:
    assert n1.post("/api/v1/nodes", json={"metadata": {"name": "n1", "labels": {"kubernetes.io/os": "linux"}}}
                   ).status_code == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    patched = n1.patch("/api/v1/nodes/n1", content=b'{"metadata":{"labels":{"pool":"a"}}}', headers=merge)
    assert patched.status_code == 200 and patched.json()["metadata"]["labels"]["pool"] == "a"
    status = n1.patch("/api/v1/nodes/n1/status", content=b'{"status":{"capacity":{"pods":"10"}}}', headers=merge)
    assert status.status_code == 200, status.text
    refused(n1.patch("/api/v1/nodes/n2/status", content=b'{"status":{"capacity":{"pods":"10"}}}', headers=merge),
            'node "n1" is not allowed to modify node "n2"')
    other = n1.get("/api/v1/nodes/n2").json()
    refused(n1.put("/api/v1/nodes/n2/status", json=other), "cannot update", 'not allowed to modify node "n2"')
    refused(n1.post("/api/v1/nodes", json={"metadata": {"name": "n3"}}),
            'nodes "n3" is forbidden: node "n1" is not allowed to modify node "n3"')
    refused(n1.delete("/api/v1/nodes/n1"), "cannot delete")


def test_own_node_labels_and_taints_restricted(n1: httpx.Client, api: InProcessAPI) -> None:
    merge = {"Content-Type": "application/merge-patch+json"}
    n1.post("/api/v1/nodes", json={"metadata": {"name": "n1"}})  # (the other test may have made it)
    refused(n1.patch("/api/v1/nodes/n1", headers=merge,
                     content=b'{"metadata":{"labels":{"node-restriction.kubernetes.io/secure":"yes"}}}'),
            "is not allowed to modify labels: node-restriction.kubernetes.io/secure")
    refused(n1.patch("/api/v1/nodes/n1", headers=merge,
                     content=b'{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":""}}}'),
            "node-role.kubernetes.io/control-plane")
    refused(n1.patch("/api/v1/nodes/n1", headers=merge,
                     content=b'{"spec":{"taints":[{"key":"x","effect":"NoSchedule"}]}}'),
            'node "n1" is not allowed to modify taints')
    refused(n1.post("/api/v1/nodes", json={"metadata": {"name": "n1x"}}), "not allowed to modify node")
    with api.client() as admin:  # an admin may taint it, and the node keeps working
        admin.patch("/api/v1/nodes/n1", headers=merge,
                    content=b'{"spec":{"taints":[{"key":"x","effect":"NoSchedule"}]}}').raise_for_status()
    relabel = n1.patch("/api/v1/nodes/n1", headers=merge, content=b'{"metadata":{"labels":{"zone":"b"}}}')
    assert relabel.status_code == 200 and relabel.json()["spec"]["taints"][0]["key"] == "x"


def test_pods_only_its_own_status_and_deletion(n1: httpx.Client, api: InProcessAPI) -> None:
    mine = n1.get(f"/api/v1/namespaces/{NS}/pods/p1").json()
    mine["status"] = {"phase": "Running"}
    assert n1.put(f"/api/v1/namespaces/{NS}/pods/p1/status", json=mine).status_code == 200
    theirs = n1.get(f"/api/v1/namespaces/{NS}/pods/p2").json()
    theirs["status"] = {"phase": "Failed"}
    refused(n1.put(f"/api/v1/namespaces/{NS}/pods/p2/status", json=theirs),
            'pods "p2" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself')
    relabelled = n1.get(f"/api/v1/namespaces/{NS}/pods/p1").json()
    relabelled["metadata"]["labels"] = {"app": "other"}
    kept = n1.put(f"/api/v1/namespaces/{NS}/pods/p1/status", json=relabelled)  # status keeps the labels as stored
    assert kept.status_code == 200 and kept.json()["metadata"]["labels"] == {"app": "p1"}
    refused(n1.delete(f"/api/v1/namespaces/{NS}/pods/p2"),
            'pods "p2" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself')
    refused(n1.put(f"/api/v1/namespaces/{NS}/pods/p1", json=mine), "cannot update")
    refused(n1.post(f"/api/v1/namespaces/{NS}/pods", json=pod("p3", "n1", "mine", "cm-mine")),
            "cannot create")  # no mirror pods here: the authorizer refuses, NodeRestriction would too
    with api.client() as admin:
        assert admin.get(f"/api/v1/namespaces/{NS}/pods/p2").json()["status"].get("phase") != "Failed"
        assert admin.get(f"/api/v1/namespaces/{NS}/pods/p3").status_code == 404


def test_own_lease_only(n1: httpx.Client) -> None:
    base = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    body = {"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}}
    assert n1.post(base, json=body).status_code in (201, 409)
    assert n1.get(f"{base}/n1").status_code == 200
    refused(n1.post(base, json={**body, "metadata": {"name": "n2"}}),
            'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name')
    refused(n1.get(f"{base}/n2"), "can only access node lease with the same name as the requesting node")
    refused(n1.get("/apis/coordination.k8s.io/v1/namespaces/default/leases/n1"),
            'can only access leases in the "kube-node-lease" system namespace')


def test_events_yes_other_users_untouched(n1: httpx.Client, api: InProcessAPI) -> None:
    event = {"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "p1", "namespace": NS},
             "reason": "Started", "message": "ok", "type": "Normal"}
    assert n1.post(f"/api/v1/namespaces/{NS}/events", json=event).status_code == 201
    token = api.add_token("system:node:n1")  # the name without the group is no node: RBAC decides (nothing bound)
    with api.client(token) as pretender:
        answer = pretender.get(f"/api/v1/namespaces/{NS}/secrets/theirs")
        assert answer.status_code == 403 and "no relationship" not in answer.json()["message"]
        assert 'cannot get resource "secrets"' in answer.json()["message"]
    token = api.add_token("mallory", ("system:nodes",))  # in the group without a node name: refused
    with api.client(token) as odd:
        refused(odd.get(f"/api/v1/namespaces/{NS}/secrets/mine"), "unknown node")


def test_deleted_pod_takes_its_references_away(n1: httpx.Client, api: InProcessAPI) -> None:
    with api.client() as admin:
        assert admin.post(f"/api/v1/namespaces/{NS}/pods", json=pod("p4", "n1", "unused", "cm-unused")
                          ).status_code == 201
        deadline = time.monotonic() + 10
        while n1.get(f"/api/v1/namespaces/{NS}/secrets/unused").status_code != 200:
            assert time.monotonic() < deadline, "the new pod's secret never became readable"
            time.sleep(0.05)
        assert n1.delete(f"/api/v1/namespaces/{NS}/pods/p4", params={"gracePeriodSeconds": "0"}).status_code == 200
        deadline = time.monotonic() + 10
        while n1.get(f"/api/v1/namespaces/{NS}/secrets/unused").status_code != 403:
            assert time.monotonic() < deadline, "the deleted pod's secret stayed readable"
            time.sleep(0.05)
