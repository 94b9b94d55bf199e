"""RBAC through the API: refusals and grants that follow bindings as they are written (watched, no restart),
the review APIs, impersonation, escalation prevention and the reconciled default policy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from raftkube.api.auth import User

from .inproc import InProcessAPI, configmap, expect_status, namespace, nothing_written, running_api

G = "rbac.authorization.k8s.io"
RBAC = f"/apis/{G}/v1"
USERS = {"jane-token": User("jane", "jane-uid", ("devs",)), "bob-token": User("bob", "bob-uid"),
         "olga-token": User("olga", "olga-uid"), "carl-token": User("carl", "carl-uid")}


@pytest.fixture(scope="module")
def api() -> Iterator[InProcessAPI]:
    with running_api(tokens=USERS) as server:
        admin = server.client()
        for name in ("team", "other"):
            assert admin.post("/api/v1/namespaces", json=namespace(name)).status_code == 201
        yield server


def binding(name: str, role_kind: str, role: str, *subjects: dict[str, Any], namespace: str | None = "team"
            ) -> dict[str, Any]:
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{G}/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": G, "kind": role_kind, "name": role}, "subjects": list(subjects)}


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "apiGroup": G, "name": name}


def eventually(check: Any, what: str) -> None:
    """A binding reaches the authorizer through its watch: poll, bounded."""
    import time
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def can(client: httpx.Client, verb: str, resource: str, namespace: str = "", group: str = "",
        name: str = "", subresource: str = "") -> bool:
    body = {"spec": {"resourceAttributes": {"verb": verb, "resource": resource, "namespace": namespace,
                                            "group": group, "name": name, "subresource": subresource}}}
    response = client.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=body)
    assert response.status_code == 201, response.text
    return bool(response.json()["status"]["allowed"])


def test_nobody_but_admin_by_default_and_grants_follow_the_bindings(api: InProcessAPI) -> None:
    admin, jane = api.client(), api.client("jane-token")
    status = expect_status(jane.get("/api/v1/namespaces/team/configmaps"), 403, "Forbidden")
    assert status["message"] == ('configmaps is forbidden: User "jane" cannot list resource "configmaps" in API '
                                 'group "" in the namespace "team"')
    assert jane.get("/version").status_code == 200 and jane.get("/apis").status_code == 200  # system:discovery
    created = admin.post(f"{RBAC}/namespaces/team/rolebindings", json=binding("jane-edit", "ClusterRole", "edit",
                                                                               user("jane")))
    assert created.status_code == 201, created.text
    eventually(lambda: jane.get("/api/v1/namespaces/team/configmaps").status_code == 200, "binding took effect")
    assert jane.post("/api/v1/namespaces/team/configmaps", json=configmap("c")).status_code == 201
    expect_status(jane.get("/api/v1/namespaces/other/configmaps"), 403, "Forbidden")
    expect_status(jane.get("/api/v1/nodes"), 403, "Forbidden")
    assert admin.delete(f"{RBAC}/namespaces/team/rolebindings/jane-edit").status_code == 200
    eventually(lambda: jane.get("/api/v1/namespaces/team/configmaps").status_code == 403, "unbinding took effect")


def test_groups_and_service_accounts_are_subjects(api: InProcessAPI) -> None:
    admin, jane = api.client(), api.client("jane-token")
    group = {"kind": "Group", "apiGroup": G, "name": "devs"}
    assert admin.post(f"{RBAC}/namespaces/other/rolebindings",
                      json=binding("devs-view", "ClusterRole", "view", group, namespace="other")).status_code == 201
    eventually(lambda: can(jane, "list", "pods", "other"), "group binding")
    assert not can(jane, "get", "secrets", "other") and not can(jane, "create", "pods", "other")
    sa = {"kind": "ServiceAccount", "name": "builder", "namespace": "team"}
    assert admin.post(f"{RBAC}/namespaces/team/rolebindings",
                      json=binding("builder", "ClusterRole", "edit", sa)).status_code == 201
    review = {"spec": {"user": "system:serviceaccount:team:builder",
                       "resourceAttributes": {"verb": "create", "group": "apps", "resource": "deployments",
                                              "namespace": "team"}}}
    eventually(lambda: admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review)
               .json()["status"]["allowed"], "service account binding")
    local = {"spec": {**review["spec"], "resourceAttributes": {**review["spec"]["resourceAttributes"],
                                                               "namespace": ""}}}
    answer = admin.post("/apis/authorization.k8s.io/v1/namespaces/other/localsubjectaccessreviews", json=local)
    assert answer.status_code == 201 and answer.json()["status"]["allowed"] is False  # not in "other"


def test_reviews(api: InProcessAPI) -> None:
    jane = api.client("jane-token")
    who = jane.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                    json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert who.status_code == 201
    assert who.json()["status"]["userInfo"] == {"username": "jane", "uid": "jane-uid",
                                                "groups": ["devs", "system:authenticated"]}
    rules = jane.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", json={"spec": {"namespace": "team"}})
    assert rules.status_code == 201
    status = rules.json()["status"]
    assert {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]} in status["resourceRules"]
    assert any("/version" in r["nonResourceURLs"] for r in status["nonResourceRules"])
    assert status["incomplete"] is False
    bad = jane.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json={"spec": {}})
    expect_status(bad, 422, "Invalid")
    expect_status(api.client().get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"), 405, "MethodNotAllowed")
    expect_status(jane.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json={"spec": {
        "user": "x", "resourceAttributes": {"verb": "get", "resource": "pods"}}}), 403, "Forbidden")
    with nothing_written(api):
        assert can(jane, "get", "pods", "team") is False


def test_impersonation(api: InProcessAPI) -> None:
    admin, bob = api.client(), api.client("bob-token")
    refused = expect_status(bob.get("/api/v1/namespaces/team/pods", headers={"Impersonate-User": "jane"}),
                            403, "Forbidden")
    assert refused["message"] == ('users "jane" is forbidden: User "bob" cannot impersonate resource "users" in '
                                  'API group "" at the cluster scope')
    who = admin.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={},
                     headers=[("Impersonate-User", "jane"), ("Impersonate-Group", "devs"),
                              ("Impersonate-Group", "qa")])
    assert who.json()["status"]["userInfo"]["username"] == "jane"
    assert who.json()["status"]["userInfo"]["groups"] == ["devs", "qa", "system:authenticated"]
    expect_status(admin.get("/api/v1/namespaces/team/secrets", headers={"Impersonate-User": "jane"}), 403,
                  "Forbidden")
    sa = admin.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={}, headers=[
        ("Impersonate-User", "system:serviceaccount:team:builder"), ("Impersonate-Uid", "u-1"),
        ("Impersonate-Extra-Scopes", "view"), ("Impersonate-Extra-Scopes", "edit"),
        ("Impersonate-Extra-acme.com%2Fproject", "p1")]).json()["status"]["userInfo"]
    assert sa == {"username": "system:serviceaccount:team:builder", "uid": "u-1",
                  "groups": ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"],
                  "extra": {"scopes": ["view", "edit"], "acme.com/project": ["p1"]}}
    expect_status(admin.get("/api/v1/pods", headers={"Impersonate-Group": "devs"}), 400, "BadRequest")
    # a user allowed to impersonate users only may not add groups
    role = {"apiVersion": f"{G}/v1", "kind": "ClusterRole", "metadata": {"name": "impersonate-users"},
            "rules": [{"verbs": ["impersonate"], "apiGroups": [""], "resources": ["users"]}]}
    assert admin.post(f"{RBAC}/clusterroles", json=role).status_code == 201
    assert admin.post(f"{RBAC}/clusterrolebindings", json=binding("bob-imp", "ClusterRole", "impersonate-users",
                                                                  user("bob"), namespace=None)).status_code == 201
    eventually(lambda: bob.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={},
                                headers={"Impersonate-User": "jane"}).status_code == 201, "impersonation granted")
    refused = expect_status(bob.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={},
                                     headers={"Impersonate-User": "jane", "Impersonate-Group": "system:masters"}),
                            403, "Forbidden")
    assert refused["message"].startswith('groups "system:masters" is forbidden: User "bob" cannot impersonate')
    refused = expect_status(bob.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={}, headers={
        "Impersonate-User": "jane", "Impersonate-Extra-scopes": "all"}), 403, "Forbidden")
    assert refused["message"] == ('userextras.authentication.k8s.io "all" is forbidden: User "bob" cannot impersonate '
                                  'resource "userextras/scopes" in API group "authentication.k8s.io" at the cluster '
                                  'scope')


def test_escalation_is_refused(api: InProcessAPI) -> None:
    admin, olga = api.client(), api.client("olga-token")
    assert admin.post(f"{RBAC}/namespaces/team/rolebindings",
                      json=binding("olga-admin", "ClusterRole", "admin", user("olga"))).status_code == 201
    eventually(lambda: can(olga, "create", "roles", "team", G), "admin binding")
    held = {"apiVersion": f"{G}/v1", "kind": "Role", "metadata": {"name": "pods"},
            "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]}
    assert olga.post(f"{RBAC}/namespaces/team/roles", json=held).status_code == 201
    # a binding to the role just written (before its watch event, the role is read from the store)
    assert olga.post(f"{RBAC}/namespaces/team/rolebindings", json=binding(
        "bob-pods", "Role", "pods", user("bob"))).status_code == 201
    grabby = {**held, "metadata": {"name": "nodes"},
              "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "nodes"]}]}
    with nothing_written(api):
        status = expect_status(olga.post(f"{RBAC}/namespaces/team/roles", json=grabby), 403, "Forbidden")
    assert status["message"] == (
        'roles.rbac.authorization.k8s.io "nodes" is forbidden: user "olga" (groups=["system:authenticated"]) is '
        'attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], '
        'Verbs:["get"]}')
    with nothing_written(api):
        status = expect_status(olga.post(f"{RBAC}/namespaces/team/rolebindings", json=binding(
            "take-all", "ClusterRole", "cluster-admin", user("olga"))), 403, "Forbidden")
    assert "is attempting to grant RBAC permissions not currently held" in status["message"]
    assert olga.post(f"{RBAC}/namespaces/team/rolebindings", json=binding(
        "bob-view", "ClusterRole", "view", user("bob"))).status_code == 201  # she holds view's rules in team
    expect_status(olga.post(f"{RBAC}/namespaces/other/rolebindings", json=binding(
        "bob-view", "ClusterRole", "view", user("bob"), namespace="other")), 403, "Forbidden")  # not hers


def test_bind_and_escalate_verbs_and_aggregation_rules(api: InProcessAPI) -> None:
    admin, carl = api.client(), api.client("carl-token")
    rules = [{"verbs": ["create"], "apiGroups": [G], "resources": ["clusterroles", "clusterrolebindings"]}]
    powers = {"apiVersion": f"{G}/v1", "kind": "ClusterRole", "metadata": {"name": "carl-powers"}, "rules": rules}
    assert admin.post(f"{RBAC}/clusterroles", json=powers).status_code == 201
    assert admin.post(f"{RBAC}/clusterrolebindings", json=binding("carl", "ClusterRole", "carl-powers", user("carl"),
                                                                  namespace=None)).status_code == 201
    eventually(lambda: can(carl, "create", "clusterroles", group=G), "carl's binding")
    aggregated = {"apiVersion": f"{G}/v1", "kind": "ClusterRole", "metadata": {"name": "carl-agg"},
                  "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}}
    status = expect_status(carl.post(f"{RBAC}/clusterroles", json=aggregated), 403, "Forbidden")
    assert status["message"] == ('clusterroles.rbac.authorization.k8s.io "carl-agg" is forbidden: must have '
                                 'cluster-admin privileges to use the aggregationRule')
    grab = binding("carl-admin", "ClusterRole", "cluster-admin", user("carl"), namespace=None)
    expect_status(carl.post(f"{RBAC}/clusterrolebindings", json=grab), 403, "Forbidden")
    nodes = {**powers, "metadata": {"name": "carl-nodes"},
             "rules": [{"verbs": ["delete"], "apiGroups": [""], "resources": ["nodes"]}]}
    expect_status(carl.post(f"{RBAC}/clusterroles", json=nodes), 403, "Forbidden")
    rules += [{"verbs": ["escalate"], "apiGroups": [G], "resources": ["clusterroles"]},
              {"verbs": ["bind"], "apiGroups": [G], "resources": ["clusterroles"], "resourceNames": ["carl-nodes"]}]
    current = admin.get(f"{RBAC}/clusterroles/carl-powers").json()
    assert admin.put(f"{RBAC}/clusterroles/carl-powers", json={**current, "rules": rules}).status_code == 200
    eventually(lambda: can(carl, "escalate", "clusterroles", group=G), "escalate granted")
    assert carl.post(f"{RBAC}/clusterroles", json=nodes).status_code == 201  # escalate: any rules
    mine = binding("carl-nodes", "ClusterRole", "carl-nodes", user("carl"), namespace=None)
    assert carl.post(f"{RBAC}/clusterrolebindings", json=mine).status_code == 201  # bind on that role only
    expect_status(carl.post(f"{RBAC}/clusterrolebindings", json=grab), 403, "Forbidden")


def test_validation(api: InProcessAPI) -> None:
    admin = api.client()
    no_ref = binding("x", "Role", "r", user("jane"))
    del no_ref["roleRef"]
    causes = expect_status(admin.post(f"{RBAC}/namespaces/team/rolebindings", json=no_ref), 422, "Invalid")
    assert [c["field"] for c in causes["details"]["causes"]] == ["roleRef"]
    bad = binding("x", "Deployment", "r", {"kind": "Robot", "name": "r2"}, {"kind": "ServiceAccount", "name": "a",
                                                                             "apiGroup": "x"})
    fields = [c["field"] for c in expect_status(admin.post(f"{RBAC}/namespaces/team/rolebindings", json=bad), 422,
                                                "Invalid")["details"]["causes"]]
    assert fields == ["roleRef.kind", "subjects[0].kind", "subjects[1].apiGroup"]
    ok = admin.post(f"{RBAC}/namespaces/team/rolebindings", json=binding("fixed", "ClusterRole", "view"))
    assert ok.status_code == 201
    changed = {**ok.json(), "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "edit"}}
    status = expect_status(admin.put(f"{RBAC}/namespaces/team/rolebindings/fixed", json=changed), 422, "Invalid")
    assert "cannot change roleRef" in status["message"]
    no_verbs = {"apiVersion": f"{G}/v1", "kind": "Role", "metadata": {"name": "nv"},
                "rules": [{"apiGroups": [""], "resources": ["pods"]}]}
    expect_status(admin.post(f"{RBAC}/namespaces/team/roles", json=no_verbs), 422, "Invalid")
    urls = {**no_verbs, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]}
    expect_status(admin.post(f"{RBAC}/namespaces/team/roles", json=urls), 422, "Invalid")


def test_default_policy_is_there(api: InProcessAPI) -> None:
    admin = api.client()
    roles = {r["metadata"]["name"]: r for r in admin.get(f"{RBAC}/clusterroles").json()["items"]}
    for name in ("cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
                 "system:public-info-viewer", "system:node", "system:kube-controller-manager",
                 "system:kube-scheduler"):
        assert roles[name]["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    assert roles["view"]["rules"] and roles["edit"]["aggregationRule"]
    bindings = {b["metadata"]["name"]: b for b in admin.get(f"{RBAC}/clusterrolebindings").json()["items"]}
    assert bindings["cluster-admin"]["subjects"] == [{"apiGroup": G, "kind": "Group", "name": "system:masters"}]
    assert [s["name"] for s in bindings["system:public-info-viewer"]["subjects"]] == [
        "system:authenticated", "system:unauthenticated"]
    assert bindings["system:kube-scheduler"]["subjects"][0]["name"] == "system:kube-scheduler"
    table = admin.get(f"{RBAC}/namespaces/team/rolebindings",
                      headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert [c["name"] for c in table["columnDefinitions"]][:3] == ["Name", "Role", "Age"]
