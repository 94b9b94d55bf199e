"""Error reasons 401, 403, 405, 410 Gone, 413, 415 and 5xx through the real HTTP layer: a `Status` with
the right code and reason, and no write. Each refused write is checked against the store's revision."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from raftkube.store import Unavailable
from tests.api.errors.support import JSON, compact_past, created, deployments, pods
from tests.api.inproc import (
    TOKEN,
    InProcessAPI,
    configmap,
    deployment,
    expect_status,
    nothing_written,
    pod,
)


# --------------------------------------------------------------- 401 Unauthorized
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", TOKEN])
def test_unauthorized(api: InProcessAPI, authorization: str | None, ns: str) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    with api.client(token=None) as anonymous, nothing_written(api):
        expect_status(anonymous.get(pods(ns), headers=headers), 401, "Unauthorized")
        expect_status(anonymous.post(pods(ns), json=pod("p"), headers=headers), 401, "Unauthorized")
        expect_status(anonymous.delete(f"/api/v1/namespaces/{ns}", headers=headers), 401, "Unauthorized")
        assert anonymous.get("/version", headers=headers).status_code == 200


# ------------------------------------------------------------------ 403 Forbidden
def test_forbidden_create_in_a_terminating_namespace(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    assert client.delete(f"/api/v1/namespaces/{ns}").status_code == 200
    assert client.get(f"/api/v1/namespaces/{ns}").json()["status"]["phase"] == "Terminating"
    for path, body in ((pods(ns), pod("late")), (f"/api/v1/namespaces/{ns}/configmaps", configmap("late"))):
        with nothing_written(api):
            status = expect_status(client.post(path, json=body), 403, "Forbidden")
        assert "terminat" in status["message"]


# ---------------------------------------------------------- 405 MethodNotAllowed
@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/api/v1/namespaces/{ns}/pods"),
    ("PATCH", "/api/v1/namespaces/{ns}/pods"),
    ("POST", "/api/v1/namespaces/{ns}/pods/p"),
    ("DELETE", "/apis/apps/v1/namespaces/{ns}/deployments/d/scale"),
    ("POST", "/apis/apps/v1/namespaces/{ns}/deployments/d/scale"),
    ("PATCH", "/api/v1/namespaces/{ns}/pods/p/binding"),
])
def test_method_not_allowed(api: InProcessAPI, client: httpx.Client, ns: str, method: str, path: str) -> None:
    created(client.post(pods(ns), json=pod("p")))
    created(client.post(deployments(ns), json=deployment("d")))
    with nothing_written(api):
        expect_status(client.request(method, path.format(ns=ns), json={}), 405, "MethodNotAllowed")


@pytest.mark.parametrize(("method", "path"), [("OPTIONS", "/api/v1/namespaces/default/pods"),
                                              ("POST", "/version"), ("DELETE", "/openapi/v3")])
def test_method_not_allowed_outside_the_resource_verbs_is_a_status(client: httpx.Client, method: str,
                                                                   path: str) -> None:
    expect_status(client.request(method, path), 405, "MethodNotAllowed")


def test_gone_watch_from_a_compacted_resource_version(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    old = compact_past(api, client, ns)
    params = {"watch": "1", "resourceVersion": str(old), "timeoutSeconds": "10"}
    with client.stream("GET", f"/api/v1/namespaces/{ns}/configmaps", params=params) as response:
        if response.status_code == 410:
            response.read()
            expect_status(response, 410, "Expired")
            return
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.strip()]
    assert lines, "the watch ended without an event"
    event = json.loads(lines[0])
    assert event["type"] == "ERROR", event
    status = event["object"]
    assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired", status
    assert status["status"] == "Failure" and status["message"]
    assert len(lines) == 1, "nothing may follow the ERROR event"


def test_gone_list_continue_after_compaction(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    """A continue token of a list whose revision was compacted away is 410 Expired (clients relist)."""
    for i in range(3):
        created(client.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap(f"c{i}")))
    first = client.get(f"/api/v1/namespaces/{ns}/configmaps", params={"limit": "1"}).json()
    token = first["metadata"]["continue"]
    created(client.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("later")))
    api.compact(api.revision())
    response = client.get(f"/api/v1/namespaces/{ns}/configmaps", params={"limit": "1", "continue": token})
    expect_status(response, 410, "Expired")


# ------------------------------------------------------- 415 UnsupportedMediaType
@pytest.mark.parametrize(("method", "content_type"), [
    ("PATCH", "text/plain"), ("PATCH", "application/json"), ("PATCH", "application/xml"),
    ("PUT", "text/plain"), ("POST", "text/plain"), ("POST", "application/xml"),
])
def test_unsupported_media_type(api: InProcessAPI, client: httpx.Client, ns: str, method: str,
                                content_type: str) -> None:
    live = created(client.post(pods(ns), json=pod("p")))
    path = pods(ns) if method == "POST" else f"{pods(ns)}/p"
    body = json.dumps(pod("p2") if method == "POST" else live)
    with nothing_written(api):
        status = expect_status(client.request(method, path, content=body, headers={"content-type": content_type}),
                               415, "UnsupportedMediaType")
    assert content_type in status["message"]


def test_unsupported_media_type_is_checked_before_the_object_is_looked_up(api: InProcessAPI, client: httpx.Client,
                                                                          ns: str) -> None:
    """As in Kubernetes, a patch in a format the server cannot read is 415 whether or not the object exists."""
    with nothing_written(api):
        expect_status(client.patch(f"{pods(ns)}/ghost", content=b"replicas=3", headers={"content-type": "text/plain"}),
                      415, "UnsupportedMediaType")


# ------------------------------------------------------ 413 RequestEntityTooLarge
@pytest.mark.parametrize("chunked", [False, True])
def test_request_entity_too_large(api: InProcessAPI, client: httpx.Client, ns: str, chunked: bool) -> None:
    body = json.dumps(configmap("huge", blob="x" * (4 * 1024 * 1024))).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            yield body[start:start + 256 * 1024]
    with nothing_written(api):
        response = client.post(f"/api/v1/namespaces/{ns}/configmaps", content=chunks() if chunked else body,
                               headers=JSON)
        expect_status(response, 413, "RequestEntityTooLarge")
    expect_status(client.get(f"/api/v1/namespaces/{ns}/configmaps/huge"), 404, "NotFound")


def test_object_over_the_store_value_limit_is_413(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    """A body under the request cap whose object is over the store's per-value limit (1.5 MiB, etcd's):
    413 as kube-apiserver answers etcd's "request is too large", not a 400, and nothing is stored."""
    env = [{"name": "BLOB", "value": "x" * (2 * 1024 * 1024)}]  # a ConfigMap would stop at its own 1 MiB check
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big"},
           "spec": {"containers": [{"name": "c", "image": "busybox", "env": env}]}}
    with nothing_written(api):
        status = expect_status(client.post(pods(ns), content=json.dumps(pod).encode(), headers=JSON),
                               413, "RequestEntityTooLarge")
    assert "request is too large" in status["message"]
    expect_status(client.get(f"{pods(ns)}/big"), 404, "NotFound")


# ------------------------------------------------- 5xx: the store and the server
def test_store_without_quorum_is_service_unavailable(api: InProcessAPI, client: httpx.Client, ns: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert api.replica is not None

    async def no_quorum(*args: Any, **kwargs: Any) -> Any:
        raise Unavailable("no leader")
    monkeypatch.setattr(api.replica, "range", no_quorum)
    status = expect_status(client.get(f"{pods(ns)}/p"), 503, "ServiceUnavailable")
    assert client.get(f"{pods(ns)}/p").headers.get("retry-after") == "1"
    assert status["details"]["retryAfterSeconds"] == 1


def test_internal_error_is_a_status(client: httpx.Client, ns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    created(client.post(pods(ns), json=pod("p")))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")
    monkeypatch.setattr("raftkube.api.handlers.render_object", broken)
    status = expect_status(client.get(f"{pods(ns)}/p"), 500, "InternalError")
    assert "boom" in status["message"]
