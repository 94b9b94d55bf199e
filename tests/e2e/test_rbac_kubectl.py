"""RBAC with the real kubectl 1.32 as three users: an admin, an editor (RoleBinding to `edit` in one
namespace) and a viewer (`view` there), plus a team lead (`admin` there) for escalation and a newcomer
whose binding arrives while the servers run. Also `auth can-i` (and `--list`), `auth whoami`, `--as`,
the default policy's aggregation through the controller, and the official Python client on RBAC kinds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from .cluster import E2ECluster, Kubectl, parse_table, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]

TEAM, OTHER = "rbac-team", "rbac-other"
USERS = {"editor": ("devs",), "viewer": (), "lead": (), "newbie": ()}
RBAC = "rbac.authorization.k8s.io"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("rbac-plane"), controllers=True)
    for name, groups in USERS.items():
        plane.plane.add_token(f"{name}-token-0123456789", name, f"{name}-uid", groups)
    plane.start()
    try:
        plane.create_namespace(TEAM)
        plane.create_namespace(OTHER)
        yield plane
    finally:
        plane.close()


@pytest.fixture(scope="module")
def kubectl(cluster: E2ECluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Kubectl]:
    """kubectl per user (default namespace: the team's), with the editor's and viewer's bindings made by kubectl."""
    base = tmp_path_factory.mktemp("rbac-kubeconfigs")
    out = {"admin": Kubectl(cluster.write_kubeconfig(base / "admin", 0, namespace=TEAM))}
    for name in USERS:
        out[name] = Kubectl(cluster.write_kubeconfig(base / name, 0, f"{name}-token-0123456789", namespace=TEAM))
    admin = out["admin"]
    admin("create", "rolebinding", "editor-edit", "--clusterrole=edit", "--user=editor")  # protobuf body
    admin("apply", "-f", "-", input=f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: viewer-view, namespace: {TEAM}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: viewer}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: lead-admin, namespace: {TEAM}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: lead}}]
""")
    for name in ("editor", "viewer", "lead"):  # every replica sees the bindings through its watch
        wait_until(lambda n=name: out[n].run("auth", "can-i", "list", "pods", check=False).stdout.strip() == "yes",
                   20, f"{name}'s binding")
    return out


def forbidden(k: Kubectl, *args: str) -> str:
    stderr = k.fail(*args).stderr  # "Error from server (Forbidden): ..." or, from `create <kind>`, "error: ..."
    assert "is forbidden: " in stderr, stderr
    return stderr


def test_editor_and_viewer_verbs(kubectl: dict[str, Kubectl]) -> None:
    editor, viewer = kubectl["editor"], kubectl["viewer"]
    assert "deployment.apps/web created" in editor("create", "deployment", "web", "--image=nginx:1.27")
    assert editor.json("get", "deployment", "web")["metadata"]["name"] == "web"
    editor("create", "secret", "generic", "s", "--from-literal=a=b")
    assert editor.json("get", "secret", "s")["data"] == {"a": "Yg=="}
    assert viewer.json("get", "deployment", "web")["spec"]["replicas"] == 1
    assert "web" in viewer("get", "deployments")
    stderr = forbidden(viewer, "get", "secret", "s")
    assert 'secrets "s" is forbidden: User "viewer" cannot get resource "secrets" in API group "" in the ' \
           f'namespace "{TEAM}"' in stderr
    forbidden(viewer, "delete", "deployment", "web")
    forbidden(viewer, "create", "deployment", "other", "--image=nginx:1.27")
    stderr = forbidden(editor, "create", "deployment", "web", "--image=nginx:1.27", "-n", OTHER)
    assert ('deployments.apps is forbidden: User "editor" cannot create resource "deployments" in API group '
            f'"apps" in the namespace "{OTHER}"') in stderr
    forbidden(editor, "get", "pods", "-n", OTHER)
    forbidden(editor, "get", "nodes")
    forbidden(editor, "create", "rolebinding", "x", "--clusterrole=admin", "--user=editor")  # edit has no RBAC
    assert 'deployment.apps "web" deleted' in editor("delete", "deployment", "web")


def test_auth_can_i(kubectl: dict[str, Kubectl]) -> None:
    editor, viewer, admin = kubectl["editor"], kubectl["viewer"], kubectl["admin"]

    def answer(k: Kubectl, *args: str) -> tuple[str, int]:
        result = k.run("auth", "can-i", *args, check=False)
        return result.stdout.strip(), result.returncode
    assert answer(editor, "create", "deployments") == ("yes", 0)
    assert answer(editor, "create", "deployments", "-n", OTHER) == ("no", 1)
    assert answer(editor, "get", "secrets") == ("yes", 0)
    assert answer(viewer, "get", "secrets") == ("no", 1)
    assert answer(viewer, "list", "pods") == ("yes", 0)
    assert answer(viewer, "get", "pods", "--subresource=log") == ("yes", 0)
    assert answer(viewer, "delete", "pods") == ("no", 1)
    assert answer(admin, "*", "*") == ("yes", 0)
    assert answer(editor, "get", "/version") == ("yes", 0)  # system:public-info-viewer, system:discovery
    assert answer(admin, "create", "deployments", "--as=viewer") == ("no", 1)
    listing = viewer("auth", "can-i", "--list")
    table = parse_table(listing)  # (multi-word headers such as "Non-Resource URLs" are one column each)
    by_resource = {row["Resources"]: row["Verbs"] for row in table}
    assert by_resource["deployments.apps"] == "[get list watch]"
    assert by_resource["selfsubjectaccessreviews.authorization.k8s.io"] == "[create]"
    assert "secrets" not in by_resource
    assert any(line.split() == ["[/version]", "[]", "[get]"] for line in listing.splitlines()), listing


def test_auth_whoami_and_impersonation(kubectl: dict[str, Kubectl]) -> None:
    editor, admin = kubectl["editor"], kubectl["admin"]
    who = parse_table(editor("auth", "whoami"))
    assert {row["ATTRIBUTE"]: row["VALUE"] for row in who} == {
        "Username": "editor", "UID": "editor-uid", "Groups": "[devs system:authenticated]"}
    stderr = forbidden(editor, "get", "pods", "--as=viewer")
    assert 'users "viewer" is forbidden: User "editor" cannot impersonate resource "users" in API group "" at ' \
           'the cluster scope' in stderr
    as_jane = admin.json("auth", "whoami", "--as=jane", "--as-group=devs", "--as-group=qa")
    assert as_jane["status"]["userInfo"] == {"username": "jane", "groups": ["devs", "qa", "system:authenticated"]}
    stderr = forbidden(admin, "get", "secrets", "--as=viewer")
    assert 'User "viewer" cannot list resource "secrets"' in stderr
    assert "No resources found" in admin.run("get", "deployments", "--as=viewer").stderr


def test_escalation_is_refused(kubectl: dict[str, Kubectl]) -> None:
    lead = kubectl["lead"]
    assert "role.rbac.authorization.k8s.io/pod-reader created" in lead(
        "create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    stderr = forbidden(lead, "create", "role", "node-reader", "--verb=get", "--resource=nodes,pods")
    assert ('roles.rbac.authorization.k8s.io "node-reader" is forbidden: user "lead" (groups=["system:authenticated"])'
            ' is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], '
            'Verbs:["get"]}') in stderr
    stderr = forbidden(lead, "create", "rolebinding", "grab", "--clusterrole=cluster-admin", "--user=lead")
    assert "is attempting to grant RBAC permissions not currently held" in stderr
    assert "rolebinding.rbac.authorization.k8s.io/viewer-edit created" in lead(
        "create", "rolebinding", "viewer-edit", "--clusterrole=edit", "--user=viewer")  # lead holds edit here
    forbidden(lead, "create", "rolebinding", "viewer-edit", "--clusterrole=edit", "--user=viewer", "-n", OTHER)
    lead("delete", "rolebinding", "viewer-edit")


def test_bindings_take_effect_without_restart(kubectl: dict[str, Kubectl]) -> None:
    newbie, admin = kubectl["newbie"], kubectl["admin"]
    forbidden(newbie, "get", "configmaps")
    admin("create", "rolebinding", "newbie-view", "--clusterrole=view", "--user=newbie")
    wait_until(lambda: newbie.run("get", "configmaps", check=False).returncode == 0, 20, "binding took effect")
    admin("delete", "rolebinding", "newbie-view")
    wait_until(lambda: newbie.run("get", "configmaps", check=False).returncode != 0, 20, "unbinding took effect")
    forbidden(newbie, "get", "configmaps")


def test_rbac_objects_in_kubectl(kubectl: dict[str, Kubectl]) -> None:
    admin = kubectl["admin"]
    lines = admin("get", "rolebinding", "editor-edit").splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "AGE"] and lines[1].split()[:2] == ["editor-edit", "ClusterRole/edit"]
    wide = parse_table(admin("get", "rolebinding", "editor-edit", "-o", "wide"))
    assert wide[0]["USERS"] == "editor"
    lines = admin("get", "clusterrole", "view").splitlines()
    assert lines[0].split() == ["NAME", "CREATED", "AT"] and lines[1].split()[0] == "view"
    assert "ClusterRole/cluster-admin" in admin("get", "clusterrolebinding", "cluster-admin")
    described = admin("describe", "rolebinding", "editor-edit")
    assert re.search(r"Kind:\s+ClusterRole\s+Name:\s+edit", described) and re.search(r"User\s+editor", described)
    reviews = parse_table(admin("api-resources", "--api-group=authorization.k8s.io", "-o", "wide"))
    assert {row["NAME"]: row["VERBS"] for row in reviews}["selfsubjectaccessreviews"] == "create"
    explain = admin("explain", "clusterrole.aggregationRule")
    assert "clusterRoleSelectors" in explain
    assert "subjects" in admin("explain", "rolebinding")


def test_a_labelled_cluster_role_is_aggregated_into_view(kubectl: dict[str, Kubectl]) -> None:
    admin = kubectl["admin"]
    manifest = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widgets-view
  labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
rules: [{apiGroups: [example.com], resources: [widgets], verbs: [VERBS]}]
"""
    admin("apply", "-f", "-", input=manifest.replace("VERBS", "get, list"))
    wanted = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}
    for role in ("view", "edit", "admin"):  # admin takes edit, which takes view
        wait_until(lambda r=role: wanted in admin.json("get", "clusterrole", r)["rules"], 30, f"{role} aggregated")
    assert "widgets-view configured" in admin("apply", "-f", "-", input=manifest.replace("VERBS", "get, list, watch"))
    wanted = {**wanted, "verbs": ["get", "list", "watch"]}
    wait_until(lambda: admin.json("get", "clusterrole", "view")["rules"][-1:] == [wanted] or None, 30, "re-aggregated")
    admin("delete", "clusterrole", "widgets-view")
    wait_until(lambda: wanted not in admin.json("get", "clusterrole", "view")["rules"], 30, "view shrank")


def test_python_client_creates_roles_and_bindings(cluster: E2ECluster, tmp_path: Path) -> None:
    config = client.Configuration(host=cluster.api_url(1))
    config.ssl_ca_cert = str(cluster.ca_cert)
    config.api_key = {"authorization": cluster.token}
    config.api_key_prefix = {"authorization": "Bearer"}
    with client.ApiClient(config) as api:
        rbac = client.RbacAuthorizationV1Api(api)
        role = client.V1Role(metadata=client.V1ObjectMeta(name="py-reader"), rules=[
            client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get", "list"])])
        created = rbac.create_namespaced_role(TEAM, role)
        assert created.rules[0].verbs == ["get", "list"]
        binding = client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="py-reader"),
            role_ref=client.V1RoleRef(api_group=RBAC, kind="Role", name="py-reader"),
            subjects=[client.RbacV1Subject(kind="User", name="newbie", api_group=RBAC)])
        assert rbac.create_namespaced_role_binding(TEAM, binding).role_ref.name == "py-reader"
        assert "py-reader" in [b.metadata.name for b in rbac.list_namespaced_role_binding(TEAM).items]
        names = [r.metadata.name for r in rbac.list_cluster_role().items]
        assert {"cluster-admin", "admin", "edit", "view"} <= set(names)
        review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(verb="delete", resource="nodes")))
        assert client.AuthorizationV1Api(api).create_self_subject_access_review(review).status.allowed is True
        rbac.delete_namespaced_role_binding("py-reader", TEAM)
        rbac.delete_namespaced_role("py-reader", TEAM)
