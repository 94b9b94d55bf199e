"""Kubernetes' RBAC semantics, unit by unit: rule matching, subjects, bindings, the authorizer over an index,
covering (escalation), aggregation and the default policy."""

from __future__ import annotations

from typing import Any

import pytest

from raftkube.api.auth import User
from raftkube.api.authz import Attributes, request_attributes
from raftkube.api.authz.rbac import RBACAuthorizer
from raftkube.api.authz.rbac_index import CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, ROLE_BINDINGS, ROLES, RBACIndex
from raftkube.api.authz.rbac_rules import binding_applies, compact_rule, rule_allows, uncovered, url_matches
from raftkube.api.rbac_defaults import default_cluster_role_bindings, default_cluster_roles
from raftkube.api.resources import RESOURCES
from raftkube.machinery.rbac_aggregation import aggregate_all

JANE = User("jane", "u1", ("devs",))
G = "rbac.authorization.k8s.io"


def attrs(verb: str, path: str, user: User = JANE) -> Attributes:
    method = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT", "patch": "PATCH",
              "delete": "DELETE"}[verb]
    return request_attributes(user, method, path, watch=verb == "watch")


def rule(verbs: list[str], groups: list[str], resources: list[str], names: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if names:
        out["resourceNames"] = names
    return out


@pytest.mark.parametrize(("the_rule", "verb", "path", "allowed"), [
    (rule(["get"], [""], ["pods"]), "get", "/api/v1/namespaces/a/pods/p", True),
    (rule(["get"], [""], ["pods"]), "list", "/api/v1/namespaces/a/pods", False),
    (rule(["*"], [""], ["pods"]), "delete", "/api/v1/namespaces/a/pods/p", True),
    (rule(["get"], ["apps"], ["pods"]), "get", "/api/v1/namespaces/a/pods/p", False),
    (rule(["get"], ["*"], ["deployments"]), "get", "/apis/apps/v1/namespaces/a/deployments/d", True),
    (rule(["get"], [""], ["*"]), "get", "/api/v1/namespaces/a/secrets/s", True),
    (rule(["get"], [""], ["*"]), "get", "/api/v1/namespaces/a/pods/p/log", True),
    (rule(["get"], [""], ["pods"]), "get", "/api/v1/namespaces/a/pods/p/log", False),
    (rule(["get"], [""], ["pods/log"]), "get", "/api/v1/namespaces/a/pods/p/log", True),
    (rule(["get"], [""], ["pods/log"]), "get", "/api/v1/namespaces/a/pods/p", False),
    (rule(["update"], ["apps"], ["*/scale"]), "update", "/apis/apps/v1/namespaces/a/deployments/d/scale", True),
    (rule(["update"], ["apps"], ["*/scale"]), "update", "/apis/apps/v1/namespaces/a/deployments/d", False),
    (rule(["get"], [""], ["pods"], ["p"]), "get", "/api/v1/namespaces/a/pods/p", True),
    (rule(["get"], [""], ["pods"], ["p"]), "get", "/api/v1/namespaces/a/pods/q", False),
    (rule(["list"], [""], ["pods"], ["p"]), "list", "/api/v1/namespaces/a/pods", False),  # names never match a list
    (rule(["watch"], [""], ["pods"]), "watch", "/api/v1/namespaces/a/pods", True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, "get", "/healthz", True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, "get", "/healthz/etcd", False),
    ({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}, "get", "/apis/apps", True),
    ({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}, "get", "/api", False),
    ({"verbs": ["get"], "nonResourceURLs": ["*"]}, "get", "/anything", True),
    ({"verbs": ["get"], "nonResourceURLs": ["*"]}, "create", "/anything", False),
    (rule(["get"], ["*"], ["*"]), "get", "/version", False),  # resource rules never grant non-resource paths
])
def test_rule_matching(the_rule: dict[str, Any], verb: str, path: str, allowed: bool) -> None:
    a = attrs(verb, path) if path.startswith(("/api/", "/apis/")) and path.count("/") > 3 else \
        Attributes(JANE, verb, False, path=path)
    assert rule_allows(the_rule, a) is allowed


def test_url_prefixes() -> None:
    assert url_matches("/api/*", "/api/v1") and url_matches("/api/*", "/api/") and not url_matches("/api/*", "/api")


@pytest.mark.parametrize(("subject", "user", "applies"), [
    ({"kind": "User", "name": "jane"}, JANE, True),
    ({"kind": "User", "name": "bob"}, JANE, False),
    ({"kind": "Group", "name": "devs"}, JANE, True),
    ({"kind": "Group", "name": "system:authenticated"}, JANE, True),
    ({"kind": "ServiceAccount", "name": "builder"}, User("system:serviceaccount:ci:builder", ""), True),
    ({"kind": "ServiceAccount", "name": "builder"}, User("system:serviceaccount:other:builder", ""), False),
    ({"kind": "ServiceAccount", "name": "builder", "namespace": "other"},
     User("system:serviceaccount:other:builder", ""), True),
    ({"kind": "Group", "name": "system:serviceaccounts:ci"},
     User("system:serviceaccount:ci:x", "", ("system:serviceaccounts", "system:serviceaccounts:ci")), True),
])
def test_subjects(subject: dict[str, Any], user: User, applies: bool) -> None:
    binding = {"metadata": {"name": "b", "namespace": "ci"}, "subjects": [subject]}
    groups = (*user.groups, "system:authenticated")
    assert binding_applies(binding, user.name, groups) is applies


def _index(*objects: tuple[Any, dict[str, Any]]) -> RBACIndex:
    index = RBACIndex(None)
    for resource, obj in objects:
        index.put(resource, obj)
    return index


def _binding(kind: str, name: str, role_kind: str, role: str, subject: str, namespace: str = "") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": kind, "metadata": meta, "roleRef": {"apiGroup": G, "kind": role_kind, "name": role},
            "subjects": [{"kind": "User", "apiGroup": G, "name": subject}]}


def test_role_binding_to_a_cluster_role_grants_it_in_its_namespace_only() -> None:
    reader = {"metadata": {"name": "reader"}, "rules": [rule(["get", "list"], [""], ["pods"])]}
    index = _index((CLUSTER_ROLES, reader),
                   (ROLE_BINDINGS, _binding("RoleBinding", "b", "ClusterRole", "reader", "jane", "team")))
    rbac = RBACAuthorizer(index)
    assert rbac.authorize(attrs("list", "/api/v1/namespaces/team/pods")).allowed
    assert not rbac.authorize(attrs("list", "/api/v1/namespaces/other/pods")).allowed
    assert not rbac.authorize(attrs("list", "/api/v1/pods")).allowed  # every namespace: cluster scope
    index.forget(ROLE_BINDINGS, {"metadata": {"name": "b", "namespace": "team"}})
    assert not rbac.authorize(attrs("list", "/api/v1/namespaces/team/pods")).allowed


def test_roles_cluster_bindings_and_missing_roles() -> None:
    role = {"metadata": {"name": "cm", "namespace": "team"}, "rules": [rule(["create"], [""], ["configmaps"])]}
    index = _index((ROLES, role), (ROLE_BINDINGS, _binding("RoleBinding", "b", "Role", "cm", "jane", "team")),
                   (CLUSTER_ROLE_BINDINGS, _binding("ClusterRoleBinding", "c", "ClusterRole", "gone", "jane")))
    rbac = RBACAuthorizer(index)
    assert rbac.authorize(attrs("create", "/api/v1/namespaces/team/configmaps")).allowed
    decision = rbac.authorize(attrs("create", "/api/v1/namespaces/team/secrets"))
    assert not decision.allowed and not decision.denied
    assert decision.reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found'
    rules, errors = rbac.rules_for(JANE, "team")
    assert rules == role["rules"] and errors == ['clusterrole.rbac.authorization.k8s.io "gone" not found']


def test_covering() -> None:
    owner = [rule(["get", "list"], [""], ["pods", "secrets"]), rule(["*"], ["apps"], ["*"]),
             rule(["update"], [""], ["*/scale"]), {"verbs": ["get"], "nonResourceURLs": ["/logs/*"]}]
    assert uncovered(owner, [rule(["get"], [""], ["pods"])]) == []
    assert uncovered(owner, [rule(["delete", "patch"], ["apps"], ["deployments", "replicasets"])]) == []
    assert uncovered(owner, [rule(["update"], [""], ["replicationcontrollers/scale"])]) == []
    assert uncovered(owner, [{"verbs": ["get"], "nonResourceURLs": ["/logs/x"]}]) == []
    assert uncovered(owner, [rule(["get"], [""], ["pods"], ["p"])]) == []  # a name is less than every name
    assert uncovered([rule(["get"], [""], ["pods"], ["p"])], [rule(["get"], [""], ["pods"])]) == [
        rule(["get"], [""], ["pods"])]
    assert uncovered(owner, [rule(["get", "create"], [""], ["pods"])]) == [rule(["create"], [""], ["pods"])]
    assert uncovered(owner, [rule(["*"], [""], ["pods"])]) == [rule(["*"], [""], ["pods"])]
    assert compact_rule(rule(["create"], [""], ["pods"], ["p"])) == \
        '{APIGroups:[""], Resources:["pods"], ResourceNames:["p"], Verbs:["create"]}'


def test_default_policy_and_aggregation() -> None:
    roles = default_cluster_roles()
    aggregate_all(roles)
    by_name = {r["metadata"]["name"]: r for r in roles}
    for r in roles + default_cluster_role_bindings():
        assert r["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert r["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    index = RBACIndex(None)
    for r in roles:
        index.put(CLUSTER_ROLES, r)
    rbac = RBACAuthorizer(index)

    def holds(role: str, verb: str, group: str, resource: str) -> bool:
        index.replace(ROLE_BINDINGS, [_binding("RoleBinding", "b", "ClusterRole", role, "jane", "team")])
        return rbac.authorize(Attributes(JANE, verb, True, group, "v1", resource, "", "team")).allowed

    served = [r for r in RESOURCES if r.namespaced and r.group != G and r.kind != "Event"]
    extra = [("", "serviceaccounts"), ("", "persistentvolumeclaims"), ("", "replicationcontrollers")]
    for group, plural in [(r.group, r.plural) for r in served] + extra:
        assert holds("view", "list", group, plural) is (plural != "secrets"), plural
        assert holds("edit", "get", group, plural), plural
        assert holds("admin", "watch", group, plural), plural
        # as Kubernetes: editors may not write Endpoints (CVE-2021-25740), the namespace's quotas and limits, nor
        # ControllerRevisions (their controllers' own)
        if plural not in ("endpoints", "resourcequotas", "limitranges", "controllerrevisions"):
            assert holds("edit", "create", group, plural), plural
    assert not holds("admin", "create", "", "resourcequotas") and not holds("admin", "update", "", "limitranges")
    assert holds("edit", "create", "", "pods/eviction") and holds("view", "list", "policy", "poddisruptionbudgets")
    assert holds("edit", "create", "", "serviceaccounts") and not holds("view", "create", "", "serviceaccounts")
    assert rule(["create"], [""], ["serviceaccounts/token"]) in by_name["edit"]["rules"]
    assert holds("admin", "create", G, "rolebindings") and not holds("edit", "create", G, "rolebindings")
    assert holds("cluster-admin", "delete", "anything.example.com", "widgets")
    assert all(r in by_name["admin"]["rules"] for r in by_name["edit"]["rules"])
    assert all(r in by_name["edit"]["rules"] for r in by_name["view"]["rules"])


def test_a_labelled_role_joins_the_aggregation() -> None:
    roles = default_cluster_roles()
    widgets = {"metadata": {"name": "widgets-edit", "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
               "rules": [rule(["*"], ["example.com"], ["widgets"])]}
    changed = aggregate_all([*roles, widgets])
    names = {r["metadata"]["name"] for r in changed}
    assert {"admin", "edit", "view"} <= names
    by_name = {r["metadata"]["name"]: r for r in roles}
    assert widgets["rules"][0] in by_name["edit"]["rules"] and widgets["rules"][0] in by_name["admin"]["rules"]
    assert widgets["rules"][0] not in by_name["view"]["rules"]
