"""Error reasons 404 NotFound, 409 AlreadyExists and 409 Conflict through the real HTTP layer: a `Status`
with the right code and reason, and no write. Each refused write is checked against the store's revision."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.errors.support import JSON, MERGE, created, deployments, pods
from tests.api.inproc import (
    InProcessAPI,
    configmap,
    deployment,
    expect_status,
    namespace,
    nothing_written,
    pod,
)


# ------------------------------------------------------------------ 404 NotFound
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_not_found_object(api: InProcessAPI, client: httpx.Client, ns: str, method: str) -> None:
    bodies = {"PUT": json.dumps(pod("ghost")), "DELETE": '{"kind": "DeleteOptions", "apiVersion": "v1"}'}
    body = bodies.get(method, "{}")
    headers = MERGE if method == "PATCH" else JSON
    with nothing_written(api):
        status = expect_status(client.request(method, f"{pods(ns)}/ghost", content=body, headers=headers),
                               404, "NotFound")
    assert status["details"]["name"] == "ghost" and status["details"]["kind"] == "pods"
    assert "ghost" in status["message"]


def test_not_found_group_resource_names_the_group(client: httpx.Client, ns: str) -> None:
    status = expect_status(client.get(f"{deployments(ns)}/ghost"), 404, "NotFound")
    assert status["details"] == {"name": "ghost", "group": "apps", "kind": "deployments"}
    assert status["message"] == 'deployments.apps "ghost" not found'


@pytest.mark.parametrize("path", ["/api/v1/nosuchthings", "/apis/apps/v1/namespaces/default/nosuchthings/x",
                                  "/api/v1/namespaces/default/pods/p/nosuchsub"])
def test_not_found_unknown_resource(client: httpx.Client, path: str) -> None:
    expect_status(client.get(path), 404, "NotFound")


def test_not_found_unknown_path_is_a_status(client: httpx.Client) -> None:
    """kube-apiserver answers any unknown path with a NotFound Status, not a bare text page."""
    expect_status(client.get("/no/such/path"), 404, "NotFound")


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/namespaces/{ns}/pods", pod("p")),
    ("/api/v1/namespaces/{ns}/configmaps", configmap("c")),
    ("/apis/apps/v1/namespaces/{ns}/deployments", deployment("d")),
])
def test_not_found_namespace_on_create(api: InProcessAPI, client: httpx.Client, path: str,
                                       body: dict[str, Any]) -> None:
    with nothing_written(api):
        status = expect_status(client.post(path.format(ns="no-such-namespace"), json=body), 404, "NotFound")
    assert status["details"] == {"name": "no-such-namespace", "kind": "namespaces"}
    assert client.get(f"{path.format(ns='no-such-namespace')}").json()["items"] == []


# -------------------------------------------------------------- 409 AlreadyExists
def test_already_exists(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    first = created(client.post(pods(ns), json=pod("twice")))
    with nothing_written(api):
        status = expect_status(client.post(pods(ns), json=pod("twice", restartPolicy="Never")), 409,
                               "AlreadyExists")
    assert status["details"] == {"name": "twice", "kind": "pods"}
    assert client.get(f"{pods(ns)}/twice").json()["metadata"]["uid"] == first["metadata"]["uid"]


def test_already_exists_cluster_scoped(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    with nothing_written(api):
        status = expect_status(client.post("/api/v1/namespaces", json=namespace(ns)), 409, "AlreadyExists")
    assert status["details"]["name"] == ns


# ------------------------------------------------------------------- 409 Conflict
def test_conflict_update_with_stale_resource_version(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    stale = created(client.post(deployments(ns), json=deployment("web")))
    fresh = client.patch(f"{deployments(ns)}/web", json={"metadata": {"labels": {"v": "2"}}}, headers=MERGE)
    assert fresh.status_code == 200
    stale["spec"]["replicas"] = 5
    with nothing_written(api):
        status = expect_status(client.put(f"{deployments(ns)}/web", json=stale), 409, "Conflict")
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    assert "modified" in status["message"]
    assert client.get(f"{deployments(ns)}/web").json()["spec"]["replicas"] == 1


def test_conflict_patch_with_stale_resource_version(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    old = created(client.post(deployments(ns), json=deployment("web")))
    assert client.patch(f"{deployments(ns)}/web", json={"spec": {"replicas": 2}}, headers=MERGE).status_code == 200
    patch = {"metadata": {"resourceVersion": old["metadata"]["resourceVersion"]}, "spec": {"replicas": 7}}
    with nothing_written(api):
        expect_status(client.patch(f"{deployments(ns)}/web", json=patch, headers=MERGE), 409, "Conflict")


def test_conflict_scale_with_stale_resource_version(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    old = created(client.post(deployments(ns), json=deployment("web")))
    assert client.patch(f"{deployments(ns)}/web", json={"spec": {"replicas": 2}}, headers=MERGE).status_code == 200
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale",
             "metadata": {"name": "web", "namespace": ns, "resourceVersion": old["metadata"]["resourceVersion"]},
             "spec": {"replicas": 9}}
    with nothing_written(api):
        expect_status(client.put(f"{deployments(ns)}/web/scale", json=scale), 409, "Conflict")


@pytest.mark.parametrize("field", ["resourceVersion", "uid"])
def test_conflict_delete_with_stale_precondition(api: InProcessAPI, client: httpx.Client, ns: str,
                                                 field: str) -> None:
    obj = created(client.post(pods(ns), json=pod("keep")))
    wrong = {"resourceVersion": str(int(obj["metadata"]["resourceVersion"]) - 1), "uid": "not-the-uid"}[field]
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {field: wrong}}
    with nothing_written(api):
        status = expect_status(client.request("DELETE", f"{pods(ns)}/keep", json=options), 409, "Conflict")
    assert "Precondition failed" in status["message"] and wrong in status["message"]
    assert client.get(f"{pods(ns)}/keep").status_code == 200
