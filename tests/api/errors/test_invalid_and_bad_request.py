"""Error reasons 422 Invalid and 400 BadRequest through the real HTTP layer: a `Status` naming the
field, and no write. Each refused write is checked against the store's revision."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.errors.support import JSON, MERGE, YAML, created, deployments, pods
from tests.api.inproc import (
    InProcessAPI,
    cause_fields,
    configmap,
    deployment,
    expect_status,
    nothing_written,
    pod,
)


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
