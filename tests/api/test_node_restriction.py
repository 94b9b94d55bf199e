"""NodeRestriction on its own: what a node may create or change, with Kubernetes' messages."""

from __future__ import annotations

from typing import Any

import pytest

from raftkube.api.admission_chain import AdmissionRequest
from raftkube.api.auth import User
from raftkube.api.errors import APIError, not_found
from raftkube.api.node_restriction import NodeRestriction, forbidden_labels
from raftkube.api.resources import Resource, find

Obj = dict[str, Any]
NODE_USER = User("system:node:n1", "n1-uid", ("system:nodes",))
PODS, NODES, LEASES = find("", "v1", "pods"), find("", "v1", "nodes"), find("coordination.k8s.io", "v1", "leases")
SERVICEACCOUNTS = Resource("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",), (),
                           ("token",))


class Pods:
    """Just enough storage for a token request's pod lookup."""

    def __init__(self, pods: dict[str, Obj]) -> None:
        self.pods = pods

    async def get(self, resource: Resource, namespace: str | None, name: str) -> Obj:
        if name not in self.pods:
            raise not_found("pods", name)
        return self.pods[name]


async def refusal(plugin: NodeRestriction, request: AdmissionRequest) -> str:
    with pytest.raises(APIError) as err:
        await plugin.validate(request)
    assert err.value.code == 403
    return err.value.message


def request(op: str, resource: Resource | None, name: str, obj: Obj | None = None, old: Obj | None = None,
            namespace: str | None = None, sub: str = "", user: User | None = NODE_USER) -> AdmissionRequest:
    assert resource is not None
    return AdmissionRequest(op, resource, sub, namespace, name, obj, old, user)


async def test_no_pod_creation() -> None:
    plugin = NodeRestriction()
    pod = {"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}}
    assert await refusal(plugin, request("CREATE", PODS, "p", pod, namespace="default")) == (
        'pods "p" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only '
        "create mirror pods")
    mirror = {"metadata": {"name": "p", "annotations": {"kubernetes.io/config.mirror": "x"}}}
    assert "no mirror pods" in await refusal(plugin, request("CREATE", PODS, "p", mirror, namespace="default"))
    await plugin.validate(request("CREATE", PODS, "p", pod, namespace="default", user=User("admin", "a")))


async def test_node_create_labels_and_lease_name_in_the_body() -> None:
    plugin = NodeRestriction()
    labelled = {"metadata": {"name": "n1", "labels": {"node-restriction.kubernetes.io/a": "1",
                                                      "kubernetes.io/hostname": "n1", "pool": "x"}}}
    assert await refusal(plugin, request("CREATE", NODES, "n1", labelled)) == (
        'nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: '
        "node-restriction.kubernetes.io/a")
    assert forbidden_labels({"kubelet.kubernetes.io/x", "node.kubernetes.io/exclude", "example.com/a",
                             "kubernetes.io/role", "a.k8s.io/b", "x.node-restriction.kubernetes.io/y"}) == [
        "a.k8s.io/b", "kubernetes.io/role", "x.node-restriction.kubernetes.io/y"]
    lease = {"metadata": {"name": "n2", "namespace": "kube-node-lease"}}
    assert await refusal(plugin, request("CREATE", LEASES, "n2", lease, namespace="kube-node-lease")) == (
        'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the '
        "requesting node")


async def test_token_requests_bound_to_its_own_pods_only() -> None:
    pods = {"mine": {"metadata": {"name": "mine", "uid": "u1"}, "spec": {"nodeName": "n1"}},
            "theirs": {"metadata": {"name": "theirs", "uid": "u2"}, "spec": {"nodeName": "n2"}}}
    plugin = NodeRestriction(Pods(pods))  # type: ignore[arg-type]

    def token(ref: Obj | None) -> AdmissionRequest:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": ["api"], **({"boundObjectRef": ref} if ref else {})}}
        return request("CREATE", SERVICEACCOUNTS, "default", body, namespace="ns", sub="token")

    pod_ref = {"apiVersion": "v1", "kind": "Pod"}
    await plugin.validate(token({**pod_ref, "name": "mine", "uid": "u1"}))
    assert await refusal(plugin, token(None)) == (
        'serviceaccounts "default" is forbidden: node requested token not bound to a pod')
    assert "without a uid" in await refusal(plugin, token({**pod_ref, "name": "mine"}))
    assert "does not match the UID in record" in await refusal(plugin, token({**pod_ref, "name": "mine", "uid": "x"}))
    assert "scheduled on a different node" in await refusal(plugin, token({**pod_ref, "name": "theirs", "uid": "u2"}))
    with pytest.raises(APIError) as err:
        await plugin.validate(token({**pod_ref, "name": "gone", "uid": "u3"}))
    assert err.value.code == 404
