"""Custom resources through the REST API: the CRD kind, served versions, every verb, status, scale, tables."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.api.inproc import InProcessAPI, expect_status, running_api

from .crds import GROUP, gadget_crd, widget, widget_crd

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


@pytest.fixture(scope="module")
def api() -> Iterator[InProcessAPI]:
    with running_api() as server:
        admin = server.client()
        for crd in (widget_crd(), gadget_crd()):
            response = admin.post(CRDS, json=crd)
            assert response.status_code == 201, response.text
        yield server


def test_crd_is_established_with_kubernetes_conditions(admin: httpx.Client) -> None:
    crd = admin.get(f"{CRDS}/widgets.{GROUP}").json()
    conditions = {c["type"]: c for c in crd["status"]["conditions"]}
    assert conditions["NamesAccepted"]["reason"] == "NoConflicts"
    assert conditions["Established"]["status"] == "True"
    assert conditions["Established"]["reason"] == "InitialNamesAccepted"
    assert crd["status"]["acceptedNames"]["kind"] == "Widget"
    assert crd["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]


def test_crd_table_has_created_at(admin: httpx.Client) -> None:
    table = admin.get(CRDS, headers={"Accept": TABLE}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
    assert f"widgets.{GROUP}" in [row["cells"][0] for row in table["rows"]]


def test_crd_name_must_be_plural_dot_group(admin: httpx.Client) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = "wrong.example.com"
    status = expect_status(admin.post(CRDS, json=crd), 422, "Invalid")
    assert 'metadata.name: Invalid value: "wrong.example.com": must be spec.names.plural+"."+spec.group' \
        in status["message"]


def test_crd_needs_exactly_one_storage_version(admin: httpx.Client) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = crd["spec"]["names"]["plural"] = "others"
    crd["metadata"]["name"] = f"others.{GROUP}"
    crd["spec"]["names"]["kind"] = "Other"
    crd["spec"]["versions"][1]["storage"] = True
    status = expect_status(admin.post(CRDS, json=crd), 422, "Invalid")
    assert "spec.versions: Invalid value" in status["message"]
    assert "must have exactly one version marked as storage version" in status["message"]


def test_protected_groups_need_approval(admin: httpx.Client) -> None:
    crd = gadget_crd()
    crd["metadata"]["name"] = "gadgets.rbac.authorization.k8s.io"
    crd["spec"]["group"] = "rbac.authorization.k8s.io"
    status = expect_status(admin.post(CRDS, json=crd), 422, "Invalid")
    assert ('metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval '
            'annotation "api-approved.kubernetes.io"') in status["message"]
    crd["metadata"]["annotations"] = {"api-approved.kubernetes.io": "unapproved, testing only"}
    crd["spec"]["versions"][0]["name"] = "v2"
    assert admin.post(CRDS, json=crd).status_code == 201
    groups = {g["name"]: g for g in admin.get("/apis").json()["groups"]}
    rbac = groups["rbac.authorization.k8s.io"]  # the built-in version stays, first and preferred
    assert [v["version"] for v in rbac["versions"]] == ["v1", "v2"] and rbac["preferredVersion"]["version"] == "v1"
    assert admin.get("/apis/rbac.authorization.k8s.io/v1/clusterroles").status_code == 200
    assert admin.get("/apis/rbac.authorization.k8s.io/v2/gadgets").status_code == 200
    crd["spec"]["versions"][0]["name"] = "v1"  # a custom resource beside the built-ins of rbac v1
    crd["spec"]["names"] = {"plural": "gizmos", "kind": "Gizmo"}
    crd["metadata"]["name"] = "gizmos.rbac.authorization.k8s.io"
    assert admin.post(CRDS, json=crd).status_code == 201
    document = admin.get("/openapi/v3/apis/rbac.authorization.k8s.io/v1").json()
    assert {"/apis/rbac.authorization.k8s.io/v1/gizmos", "/apis/rbac.authorization.k8s.io/v1/clusterroles"} <= \
        set(document["paths"])
    names = {r["name"] for r in admin.get("/apis/rbac.authorization.k8s.io/v1").json()["resources"]}
    assert {"gizmos", "clusterroles", "roles"} <= names


def test_non_structural_schema_is_refused(admin: httpx.Client) -> None:
    crd = gadget_crd()
    crd["metadata"]["name"] = f"things.{GROUP}"
    crd["spec"]["names"] = {"plural": "things", "kind": "Thing"}
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {"type": "object",
                                                               "properties": {"spec": {"properties": {}}}}
    status = expect_status(admin.post(CRDS, json=crd), 422, "Invalid")
    assert ("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty "
            "for specified object fields") in status["message"]
    del crd["spec"]["versions"][0]["schema"]
    status = expect_status(admin.post(CRDS, json=crd), 422, "Invalid")
    assert "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required" in status["message"]


def test_discovery_lists_the_custom_group(admin: httpx.Client) -> None:
    groups = {g["name"]: g for g in admin.get("/apis").json()["groups"]}
    assert [v["version"] for v in groups[GROUP]["versions"]] == ["v1", "v1beta1"]
    assert groups[GROUP]["preferredVersion"]["version"] == "v1"
    resources = {r["name"]: r for r in admin.get(f"/apis/{GROUP}/v1").json()["resources"]}
    assert resources["widgets"]["shortNames"] == ["wd"] and resources["widgets"]["categories"] == ["all"]
    assert resources["widgets"]["namespaced"] and not resources["gadgets"]["namespaced"]
    assert resources["widgets/scale"]["kind"] == "Scale" and "widgets/status" in resources
    aggregated = admin.get("/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}).json()
    custom = next(item for item in aggregated["items"] if item["metadata"].get("name") == GROUP)
    assert {r["resource"] for r in custom["versions"][0]["resources"]} == {"widgets", "gadgets"}


def test_create_defaults_and_get_in_both_versions(admin: httpx.Client) -> None:
    created = admin.post(WIDGETS, json={**widget("w1", 5), "status": {"phase": "ignored"}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["spec"]["color"] == "red" and body["spec"]["replicas"] == 1
    assert "status" not in body  # written through /status only
    beta = admin.get(f"/apis/{GROUP}/v1beta1/namespaces/default/widgets/w1").json()
    assert beta["apiVersion"] == f"{GROUP}/v1beta1" and beta["spec"]["size"] == 5
    stored = admin.post(f"/apis/{GROUP}/v1beta1/namespaces/default/widgets", json=widget("w2", 2, version="v1beta1"))
    assert stored.status_code == 201, stored.text
    assert admin.get(f"{WIDGETS}/w2").json()["apiVersion"] == f"{GROUP}/v1"


def test_invalid_values_name_the_field(admin: httpx.Client) -> None:
    status = expect_status(admin.post(WIDGETS, json=widget("bad", "string")), 422, "Invalid")
    assert ('spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"'
            in status["message"])
    assert status["details"]["kind"] == "Widget"
    cases = {
        "spec.size: Invalid value: 200: spec.size in body should be less than or equal to 100": {"size": 200},
        'spec.color: Unsupported value: "pink": supported values: "red", "green", "blue"': {"color": "pink"},
        "spec.name: Too long: may not be more than 8 bytes": {"name": "abcdefghijk"},
        "spec.name in body should match '^[a-z]+$'": {"name": "A1"},
        "spec.tags: Too many: 3: must have at most 2 items": {"tags": ["a", "b", "c"]},
    }
    for message, spec in cases.items():
        body = widget("bad", 1)
        body["spec"].update(spec)
        assert message in expect_status(admin.post(WIDGETS, json=body), 422, "Invalid")["message"]
    missing = widget("bad")
    del missing["spec"]["size"]
    assert "spec.size: Required value" in expect_status(admin.post(WIDGETS, json=missing), 422, "Invalid")["message"]
    assert admin.post(WIDGETS, json=widget("ios", 1, port="http")).status_code == 201
    assert admin.post(WIDGETS, json=widget("ioi", 1, port=80)).status_code == 201


def test_unknown_fields_are_pruned_or_refused(admin: httpx.Client) -> None:
    body = widget("pruned", 1, unknown=1, extra={"kept": True})
    status = expect_status(admin.post(WIDGETS, json=body), 400, "BadRequest")
    assert 'strict decoding error: unknown field "spec.unknown"' in status["message"]
    created = admin.post(WIDGETS, params={"fieldValidation": "Ignore"}, json=body).json()
    assert "unknown" not in created["spec"] and created["spec"]["extra"] == {"kept": True}


def test_patches_and_strategic_merge_refused(admin: httpx.Client) -> None:
    admin.post(WIDGETS, json=widget("p", 1))
    merge = admin.patch(f"{WIDGETS}/p", content=json.dumps({"spec": {"size": 7}}),
                        headers={"Content-Type": "application/merge-patch+json"})
    assert merge.status_code == 200 and merge.json()["spec"]["size"] == 7
    jp = admin.patch(f"{WIDGETS}/p", content=json.dumps([{"op": "replace", "path": "/spec/size", "value": 8}]),
                     headers={"Content-Type": "application/json-patch+json"})
    assert jp.json()["spec"]["size"] == 8 and jp.json()["metadata"]["generation"] == 3
    smp = admin.patch(f"{WIDGETS}/p", content=json.dumps({"spec": {"size": 9}}),
                      headers={"Content-Type": "application/strategic-merge-patch+json"})
    expect_status(smp, 415, "UnsupportedMediaType")
    bad = admin.patch(f"{WIDGETS}/p", content=json.dumps({"spec": {"size": "x"}}),
                      headers={"Content-Type": "application/merge-patch+json"})
    assert "spec.size in body must be of type integer" in expect_status(bad, 422, "Invalid")["message"]


def test_server_side_apply_creates_and_owns(admin: httpx.Client) -> None:
    body = json.dumps(widget("applied", 4, color="blue"))
    response = admin.patch(f"{WIDGETS}/applied", params={"fieldManager": "me"}, content=body,
                           headers={"Content-Type": "application/apply-patch+yaml"})
    assert response.status_code == 201, response.text
    managers = [m["manager"] for m in response.json()["metadata"]["managedFields"]]
    assert managers == ["me"]
    again = admin.patch(f"{WIDGETS}/applied", params={"fieldManager": "me"},
                        content=json.dumps(widget("applied", 6)),
                        headers={"Content-Type": "application/apply-patch+yaml"})
    assert again.status_code == 200 and again.json()["spec"]["size"] == 6


def test_status_and_scale_subresources(admin: httpx.Client) -> None:
    admin.post(WIDGETS, json=widget("s", 1))
    live = admin.get(f"{WIDGETS}/s").json()
    live["status"] = {"replicas": 1, "selector": "app=s", "phase": "Ready"}
    live["spec"]["size"] = 99  # ignored through /status
    updated = admin.put(f"{WIDGETS}/s/status", json=live)
    assert updated.status_code == 200, updated.text
    assert updated.json()["status"]["phase"] == "Ready" and updated.json()["spec"]["size"] == 1
    scale = admin.get(f"{WIDGETS}/s/scale").json()
    assert scale["spec"]["replicas"] == 1 and scale["status"] == {"replicas": 1, "selector": "app=s"}
    patched = admin.patch(f"{WIDGETS}/s/scale", content=json.dumps({"spec": {"replicas": 4}}),
                          headers={"Content-Type": "application/merge-patch+json"})
    assert patched.status_code == 200, patched.text
    assert admin.get(f"{WIDGETS}/s").json()["spec"]["replicas"] == 4


def test_table_uses_printer_columns(admin: httpx.Client) -> None:
    admin.post(WIDGETS, json=widget("t", 42, color="green"))
    table = admin.get(WIDGETS, headers={"Accept": TABLE}, params={"fieldSelector": "metadata.name=t"}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Color", "Phase", "Age"]
    assert table["rows"][0]["cells"][:4] == ["t", 42, "green", None]
    gadgets = admin.get(f"/apis/{GROUP}/v1/gadgets", headers={"Accept": TABLE}).json()
    assert [c["name"] for c in gadgets["columnDefinitions"]] == ["Name", "Age"]


def test_list_selectors_and_cluster_scope(admin: httpx.Client) -> None:
    labelled = widget("l", 1)
    labelled["metadata"]["labels"] = {"tier": "x"}
    admin.post(WIDGETS, json=labelled)
    names = [i["metadata"]["name"] for i in admin.get(WIDGETS, params={"labelSelector": "tier=x"}).json()["items"]]
    assert names == ["l"]
    all_ns = admin.get(f"/apis/{GROUP}/v1/widgets", params={"fieldSelector": "metadata.namespace=default"}).json()
    assert all_ns["kind"] == "WidgetList" and len(all_ns["items"]) >= 1
    gadget = {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": "g"}, "anything": {"a": 1}}
    assert admin.post(f"/apis/{GROUP}/v1/gadgets", json=gadget).json()["anything"] == {"a": 1}


def test_openapi_publishes_the_schema(admin: httpx.Client) -> None:
    index = admin.get("/openapi/v3").json()["paths"]
    assert f"apis/{GROUP}/v1" in index
    document = admin.get("/openapi/v3/" + index[f"apis/{GROUP}/v1"]["serverRelativeURL"].lstrip("/")
                         .removeprefix("openapi/v3/")).json()
    schema = document["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["properties"]["spec"]["properties"]["size"]["type"] == "integer"
    assert schema["x-kubernetes-group-version-kind"] == [{"group": GROUP, "kind": "Widget", "version": "v1"}]
    assert f"/apis/{GROUP}/v1/namespaces/{{namespace}}/widgets/{{name}}/scale" in document["paths"]


def test_a_crd_whose_names_collide_is_not_established(admin: httpx.Client) -> None:
    crd = gadget_crd()
    crd["metadata"]["name"] = f"doohickeys.{GROUP}"
    crd["spec"]["names"] = {"plural": "doohickeys", "kind": "Doohickey", "shortNames": ["wd"]}  # widgets' short name
    created = admin.post(CRDS, json=crd)
    assert created.status_code == 201, created.text
    conditions = {c["type"]: c for c in created.json()["status"]["conditions"]}
    assert (conditions["NamesAccepted"]["status"], conditions["NamesAccepted"]["reason"],
            conditions["NamesAccepted"]["message"]) == ("False", "ShortNamesConflict", '"wd" is already in use')
    assert (conditions["Established"]["status"], conditions["Established"]["reason"]) == ("False", "NotAccepted")
    assert created.json()["status"]["acceptedNames"] == {}
    expect_status(admin.get(f"/apis/{GROUP}/v1/doohickeys"), 404, "NotFound")
    crd = created.json()
    crd["spec"]["names"]["shortNames"] = ["dh"]
    fixed = admin.put(f"{CRDS}/doohickeys.{GROUP}", json=crd)
    assert fixed.status_code == 200, fixed.text
    assert {c["type"]: c["status"] for c in fixed.json()["status"]["conditions"]} == {
        "NamesAccepted": "True", "Established": "True"}
    assert admin.get(f"/apis/{GROUP}/v1/doohickeys").status_code == 200
