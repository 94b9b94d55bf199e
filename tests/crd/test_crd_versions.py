"""Custom resources across versions and over time: watches in the version asked for, defaults applied on
read after the CRD gains one, storedVersions as the storage version moves, deletecollection and finalizers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.inproc import InProcessAPI, running_api

from .crds import GROUP, widget, widget_crd

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
NS_PATH = f"/apis/{GROUP}/{{version}}/namespaces/default/widgets"


@pytest.fixture(scope="module")
def api() -> Iterator[InProcessAPI]:
    with running_api() as server:
        assert server.client().post(CRDS, json=widget_crd()).status_code == 201
        yield server


def path(version: str = "v1") -> str:
    return NS_PATH.format(version=version)


def crd_update(admin: httpx.Client, change: Any) -> dict[str, Any]:
    crd = admin.get(f"{CRDS}/widgets.{GROUP}").json()
    change(crd)
    response = admin.put(f"{CRDS}/widgets.{GROUP}", json=crd)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_watch_speaks_the_version_asked_for(admin: httpx.Client) -> None:
    rv = admin.get(path()).json()["metadata"]["resourceVersion"]
    assert admin.post(path(), json=widget("watched", 2)).status_code == 201
    with admin.stream("GET", path("v1beta1"), params={"watch": "true", "resourceVersion": rv,
                                                      "timeoutSeconds": "5"}) as stream:
        for line in stream.iter_lines():
            event = json.loads(line)
            if event["object"]["metadata"]["name"] == "watched":
                break
    assert event["type"] == "ADDED"
    assert event["object"]["apiVersion"] == f"{GROUP}/v1beta1" and event["object"]["spec"]["size"] == 2


def test_defaults_apply_on_read_after_the_schema_gains_one(admin: httpx.Client) -> None:
    assert admin.post(path(), json=widget("old", 1)).status_code == 201

    def add_default(crd: dict[str, Any]) -> None:
        spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        spec["properties"]["owner"] = {"type": "string", "default": "nobody"}
    crd_update(admin, add_default)
    assert admin.get(f"{path()}/old").json()["spec"]["owner"] == "nobody"
    listed = {i["metadata"]["name"]: i for i in admin.get(path()).json()["items"]}
    assert listed["old"]["spec"]["owner"] == "nobody"


def test_stored_versions_follow_the_storage_version(admin: httpx.Client) -> None:
    def move_storage(crd: dict[str, Any]) -> None:
        crd["spec"]["versions"][0]["storage"] = False
        crd["spec"]["versions"][1]["storage"] = True
    updated = crd_update(admin, move_storage)
    assert updated["status"]["storedVersions"] == ["v1", "v1beta1"]
    assert admin.post(path(), json=widget("new-storage", 1)).status_code == 201
    assert admin.get(f"{path('v1beta1')}/new-storage").json()["apiVersion"] == f"{GROUP}/v1beta1"
    assert admin.get(f"{path()}/new-storage").json()["apiVersion"] == f"{GROUP}/v1"

    def move_back(crd: dict[str, Any]) -> None:
        crd["spec"]["versions"][0]["storage"] = True
        crd["spec"]["versions"][1]["storage"] = False
    crd_update(admin, move_back)


def test_immutable_crd_fields(admin: httpx.Client) -> None:
    crd = admin.get(f"{CRDS}/widgets.{GROUP}").json()
    crd["spec"]["scope"] = "Cluster"
    response = admin.put(f"{CRDS}/widgets.{GROUP}", json=crd)
    assert response.status_code == 422 and 'spec.scope: Invalid value: "Cluster": field is immutable' \
        in response.json()["message"]


def test_deletecollection_and_finalizers(admin: httpx.Client) -> None:
    for name in ("dc-1", "dc-2", "dc-keep"):
        body = widget(name, 1)
        body["metadata"]["labels"] = {"batch": "dc" if name != "dc-keep" else "other"}
        if name == "dc-2":
            body["metadata"]["finalizers"] = ["example.com/hold"]
        assert admin.post(path(), json=body).status_code == 201
    deleted = admin.delete(path(), params={"labelSelector": "batch=dc"})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["kind"] == "WidgetList"
    assert admin.get(f"{path()}/dc-1").status_code == 404
    held = admin.get(f"{path()}/dc-2").json()
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["finalizers"] == ["example.com/hold"]
    released = admin.patch(f"{path()}/dc-2", content=json.dumps({"metadata": {"finalizers": None}}),
                           headers={"Content-Type": "application/merge-patch+json"})
    assert released.status_code == 200
    assert admin.get(f"{path()}/dc-2").status_code == 404
    assert admin.get(f"{path()}/dc-keep").status_code == 200
