"""Every error reason through the real HTTP layer: a `Status` with the right code and reason, and no write.

One in-process server (store replica + uvicorn on 127.0.0.1) serves the whole module; each test
works in a namespace of its own. Every refused write is checked against the store's revision.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from raftkube.store import Unavailable

from .inproc import (
    TOKEN,
    InProcessAPI,
    cause_fields,
    configmap,
    deployment,
    expect_status,
    namespace,
    nothing_written,
    pod,
    running_api,
)

_names = itertools.count()
MERGE = {"content-type": "application/merge-patch+json"}
JSON = {"content-type": "application/json"}
YAML = {"content-type": "application/yaml"}


@pytest.fixture(scope="module")
def api() -> Iterator[InProcessAPI]:
    with running_api() as server:
        yield server


@pytest.fixture
def client(api: InProcessAPI) -> Iterator[httpx.Client]:
    with api.client() as c:
        yield c


@pytest.fixture
def ns(client: httpx.Client) -> str:
    name = f"errors-{next(_names)}"
    assert client.post("/api/v1/namespaces", json=namespace(name)).status_code == 201
    return name


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    obj: dict[str, Any] = response.json()
    return obj


def pods(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


def deployments(ns: str) -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments"


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


# -------------------------------------------------------------------- 422 Invalid
@pytest.mark.parametrize(("plural", "body", "field"), [
    ("pods", pod("Bad_Name"), "metadata.name"),
    ("pods", {**pod("p"), "metadata": {"name": "p", "labels": {"bad key!": "v"}}}, "metadata.labels"),
    ("pods", {**pod("p"), "metadata": {"name": "p", "labels": {"k": "bad value!"}}}, "metadata.labels"),
    ("pods", {**pod("p"), "metadata": {"name": "p", "annotations": {"": "v"}}}, "metadata.annotations"),
    ("pods", pod("p", containers=[]), "spec.containers"),
    ("pods", pod("p", containers=[{"name": "app"}]), "spec.containers[0].image"),
    ("pods", pod("p", restartPolicy="Sometimes"), "spec.restartPolicy"),
    ("pods", pod("p", terminationGracePeriodSeconds="soon"), "spec.terminationGracePeriodSeconds"),
    ("deployments", deployment("d", replicas=-1), "spec.replicas"),
    ("deployments", {**deployment("d"), "spec": {**deployment("d")["spec"], "replicas": "three"}}, "spec.replicas"),
    ("deployments", {**deployment("d"), "spec": {**deployment("d")["spec"],
                     "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": []}}}},
     "spec.template.spec.containers"),
    ("configmaps", {**configmap("c"), "binaryData": {"x": "not base64!"}}, "binaryData.x"),
])
def test_invalid_create_names_the_field(api: InProcessAPI, client: httpx.Client, ns: str, plural: str,
                                        body: dict[str, Any], field: str) -> None:
    group = "/apis/apps/v1" if plural == "deployments" else "/api/v1"
    with nothing_written(api):
        status = expect_status(client.post(f"{group}/namespaces/{ns}/{plural}", json=body), 422, "Invalid")
    assert field in cause_fields(status), status
    assert field in status["message"]
    assert status["details"]["kind"] == body["kind"]


def test_invalid_update_of_an_immutable_field(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    live = created(client.post(deployments(ns), json=deployment("web")))
    live["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    live["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with nothing_written(api):
        status = expect_status(client.put(f"{deployments(ns)}/web", json=live), 422, "Invalid")
    assert "spec.selector" in cause_fields(status)


def test_invalid_json_patch_that_cannot_apply(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    created(client.post(deployments(ns), json=deployment("web")))
    patch = [{"op": "test", "path": "/spec/replicas", "value": 7}, {"op": "replace", "path": "/spec/replicas",
                                                                    "value": 8}]
    with nothing_written(api):
        status = expect_status(client.patch(f"{deployments(ns)}/web", json=patch,
                                            headers={"content-type": "application/json-patch+json"}), 422, "Invalid")
    assert "/spec/replicas" in cause_fields(status)


def test_invalid_merge_patch_result(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    created(client.post(deployments(ns), json=deployment("web")))
    with nothing_written(api):
        status = expect_status(client.patch(f"{deployments(ns)}/web", json={"spec": {"replicas": -3}},
                                            headers=MERGE), 422, "Invalid")
    assert cause_fields(status) == ["spec.replicas"]


@pytest.mark.parametrize("verb", ["PUT", "PATCH"])
def test_invalid_scale_names_the_field(api: InProcessAPI, client: httpx.Client, ns: str, verb: str) -> None:
    """An Invalid Status carries details.causes (kubectl and clients print the field from there)."""
    created(client.post(deployments(ns), json=deployment("web")))
    body = {"spec": {"replicas": -1}}
    if verb == "PUT":
        body = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": ns}, **body}
    with nothing_written(api):
        status = expect_status(client.request(verb, f"{deployments(ns)}/web/scale", json=body,
                                              headers=MERGE if verb == "PATCH" else JSON), 422, "Invalid")
    assert cause_fields(status) == ["spec.replicas"]


# ----------------------------------------------------------------- 400 BadRequest
@pytest.mark.parametrize(("content", "headers", "words"), [
    (b'{"apiVersion": "v1", "kind": "Pod", ', JSON, "JSON"),
    (b"apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n", YAML, "YAML"),
    (b"", JSON, "empty"),
    (b"[1, 2]", JSON, "object"),
    (b'"a string"', JSON, "object"),
    (b"\xff\xfe\x00garbage", JSON, "JSON"),
    (b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": NaN}', JSON, "JSON"),
])
def test_bad_request_malformed_body(api: InProcessAPI, client: httpx.Client, ns: str, content: bytes,
                                    headers: dict[str, str], words: str) -> None:
    with nothing_written(api):
        status = expect_status(client.post(pods(ns), content=content, headers=headers), 400, "BadRequest")
    assert words in status["message"]


@pytest.mark.parametrize(("change", "words"), [
    ({"kind": "Service"}, "kind"),
    ({"apiVersion": "apps/v1"}, "apiVersion"),
    ({"metadata": {"name": "p", "namespace": "kube-system"}}, "namespace"),
    ({"metadata": "not an object"}, "metadata"),
])
def test_bad_request_body_does_not_fit_the_url(api: InProcessAPI, client: httpx.Client, ns: str,
                                               change: dict[str, Any], words: str) -> None:
    with nothing_written(api):
        status = expect_status(client.post(pods(ns), json={**pod("p"), **change}), 400, "BadRequest")
    assert words in status["message"]


def test_bad_request_name_mismatch_on_update(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    created(client.post(pods(ns), json=pod("right")))
    with nothing_written(api):
        status = expect_status(client.put(f"{pods(ns)}/right", json=pod("wrong")), 400, "BadRequest")
    assert "wrong" in status["message"]


def test_bad_request_unknown_field_under_strict_validation(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    body = pod("p")
    body["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with nothing_written(api):
        status = expect_status(client.post(pods(ns), params={"fieldValidation": "Strict"}, json=body), 400,
                               "BadRequest")
    assert 'unknown field "spec.containers[0].imagePullPolcy"' in status["message"]


@pytest.mark.parametrize("params", [
    {"labelSelector": "app in (web"}, {"labelSelector": "a=b=c"}, {"labelSelector": "!"},
    {"fieldSelector": "spec.noSuchField=x"}, {"fieldSelector": "metadata.labels=x"},
    {"limit": "many"}, {"limit": "-1"},
    {"continue": "not-a-token"}, {"limit": "1", "continue": "e30="},
    {"watch": "1", "resourceVersion": "yesterday"}, {"watch": "1", "timeoutSeconds": "soon"},
])
def test_bad_request_list_and_watch_parameters(client: httpx.Client, ns: str, params: dict[str, str]) -> None:
    expect_status(client.get(pods(ns), params=params), 400, "BadRequest")


@pytest.mark.parametrize("params", [{"fieldValidation": "Loose"}, {"dryRun": "Some"},
                                    {"fieldManager": "m" * 200}])
def test_bad_request_write_parameters(api: InProcessAPI, client: httpx.Client, ns: str,
                                      params: dict[str, str]) -> None:
    with nothing_written(api):
        expect_status(client.post(pods(ns), params=params, json=pod("p")), 400, "BadRequest")


@pytest.mark.parametrize(("content", "params"), [
    (b'{"propagationPolicy": "Sideways"}', {}),
    (b"[1]", {}),
    (b"{", {}),
    (b'{"gracePeriodSeconds": -5}', {}),
    (b'{"preconditions": "uid"}', {}),
    (b"", {"gracePeriodSeconds": "later"}),
])
def test_bad_request_delete_options(api: InProcessAPI, client: httpx.Client, ns: str, content: bytes,
                                    params: dict[str, str]) -> None:
    created(client.post(pods(ns), json=pod("victim")))
    with nothing_written(api):
        expect_status(client.request("DELETE", f"{pods(ns)}/victim", content=content, params=params,
                                     headers=JSON), 400, "BadRequest")
    assert client.get(f"{pods(ns)}/victim").status_code == 200


def test_bad_request_apply_patch_without_field_manager(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    with nothing_written(api):
        expect_status(client.patch(f"{pods(ns)}/applied", content=json.dumps(pod("applied")),
                                   headers={"content-type": "application/apply-patch+yaml"}), 400, "BadRequest")


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


# ------------------------------------------------------------ 410 Gone / Expired
def _compact_past(api: InProcessAPI, client: httpx.Client, ns: str) -> int:
    """Write a few objects, compact the store through the latest revision, return an older one."""
    old = api.revision()
    for i in range(3):
        created(client.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap(f"c{i}")))
    assert api.compact(api.revision()) > old + 1
    return old


def test_gone_watch_from_a_compacted_resource_version(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    old = _compact_past(api, client, ns)
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
