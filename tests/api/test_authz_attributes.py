"""Requests become Kubernetes' authorization attributes; the union stops at the first Allow or Deny."""

from __future__ import annotations

import pytest

from raftkube.api.auth import User
from raftkube.api.authz import (
    ALLOW,
    NO_OPINION,
    Attributes,
    Decision,
    SystemMastersAuthorizer,
    UnionAuthorizer,
    deny,
    forbidden_message,
    request_attributes,
)

JANE = User("jane", "u1", ("devs",))


@pytest.mark.parametrize("selector, verb, name", [
    ("metadata.name=cfg", "list", "cfg"),
    ("metadata.name==cfg,metadata.namespace=default", "list", "cfg"),
    ("metadata.name!=cfg", "list", ""),
    ("spec.nodeName=n1", "list", ""),
    ("metadata.name=a/b", "list", ""),
])
def test_a_list_pinned_to_one_name_carries_that_name(selector: str, verb: str, name: str) -> None:
    attrs = request_attributes(JANE, "GET", "/api/v1/namespaces/default/configmaps", False, selector)
    assert (attrs.verb, attrs.name) == (verb, name)
    watch = request_attributes(JANE, "GET", "/api/v1/namespaces/default/configmaps", True, selector)
    assert (watch.verb, watch.name) == ("watch", name)
    assert request_attributes(JANE, "DELETE", "/api/v1/namespaces/default/configmaps", False, selector).name == ""


@pytest.mark.parametrize("method, path, watch, expected", [
    ("GET", "/api/v1/namespaces/default/pods", False, ("list", "", "pods", "", "default", "")),
    ("GET", "/api/v1/namespaces/default/pods", True, ("watch", "", "pods", "", "default", "")),
    ("GET", "/api/v1/pods", False, ("list", "", "pods", "", "", "")),
    ("GET", "/api/v1/namespaces/default/pods/web", False, ("get", "", "pods", "", "default", "web")),
    ("GET", "/api/v1/namespaces/default/pods/web/log", False, ("get", "", "pods", "log", "default", "web")),
    ("POST", "/api/v1/namespaces/default/pods/web/binding", False,
     ("create", "", "pods", "binding", "default", "web")),
    ("PATCH", "/apis/apps/v1/namespaces/x/deployments/d/scale", False,
     ("patch", "apps", "deployments", "scale", "x", "d")),
    ("DELETE", "/apis/apps/v1/namespaces/x/deployments", False, ("deletecollection", "apps", "deployments", "", "x",
                                                                  "")),
    ("PUT", "/api/v1/nodes/n1/status", False, ("update", "", "nodes", "status", "", "n1")),
    ("GET", "/api/v1/namespaces/kube-system", False, ("get", "", "namespaces", "", "kube-system", "kube-system")),
    ("POST", "/api/v1/namespaces", False, ("create", "", "namespaces", "", "", "")),
])
def test_resource_requests(method: str, path: str, watch: bool, expected: tuple[str, ...]) -> None:
    a = request_attributes(JANE, method, path, watch)
    assert a.resource_request
    assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) == expected


@pytest.mark.parametrize("path", ["/version", "/api", "/apis", "/apis/apps", "/apis/apps/v1", "/api/v1",
                                  "/openapi/v3/apis/apps/v1"])
def test_non_resource_requests(path: str) -> None:
    a = request_attributes(JANE, "GET", path)
    assert not a.resource_request and a.verb == "get" and a.path == path


def test_every_user_is_authenticated() -> None:
    assert request_attributes(JANE, "GET", "/api").groups == ("devs", "system:authenticated")


def test_forbidden_message_matches_kubernetes() -> None:
    a = request_attributes(JANE, "GET", "/api/v1/namespaces/default/pods")
    assert forbidden_message(a) == ('pods is forbidden: User "jane" cannot list resource "pods" in API group "" '
                                    'in the namespace "default"')
    b = request_attributes(JANE, "GET", "/apis/apps/v1/namespaces/x/deployments/d/scale")
    assert forbidden_message(b) == ('deployments.apps "d" is forbidden: User "jane" cannot get resource '
                                    '"deployments/scale" in API group "apps" in the namespace "x"')
    c = request_attributes(JANE, "GET", "/api/v1/nodes")
    assert forbidden_message(c).endswith("at the cluster scope")


class Fixed:
    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.asked = 0

    def authorize(self, attrs: Attributes) -> Decision:
        self.asked += 1
        return self.decision


def test_union_stops_at_the_first_opinion_and_fails_closed() -> None:
    a = request_attributes(JANE, "GET", "/api/v1/pods")
    later = Fixed(ALLOW)
    assert UnionAuthorizer([Fixed(deny("no")), later]).authorize(a).denied and later.asked == 0
    assert UnionAuthorizer([Fixed(NO_OPINION), later]).authorize(a).allowed and later.asked == 1
    refused = UnionAuthorizer([Fixed(NO_OPINION)]).authorize(a)
    assert not refused.allowed
    admin = request_attributes(User("root", "r", ("system:masters",)), "DELETE", "/api/v1/nodes/x")
    assert UnionAuthorizer([SystemMastersAuthorizer(), Fixed(deny("no"))]).authorize(admin).allowed
