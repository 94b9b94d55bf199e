"""The discovery and OpenAPI v3 documents themselves: complete, cached, with the extensions kubectl reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from raftkube.api import discovery, openapi


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):  # (JSONSchemaProps has a property named "$ref")
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_openapi_documents_are_complete_and_cached() -> None:
    index = openapi.openapi_v3_index()
    assert set(index["paths"]) >= {"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/coordination.k8s.io/v1",
                                   "apis/rbac.authorization.k8s.io/v1", "apis/authorization.k8s.io/v1",
                                   "apis/authentication.k8s.io/v1", "apis/networking.k8s.io/v1", "apis/autoscaling/v2",
                                   "apis/autoscaling/v1", "apis/metrics.k8s.io/v1beta1",
                                   "apis/storage.k8s.io/v1", "apis/apiextensions.k8s.io/v1", "apis/policy/v1"}
    assert index == openapi.openapi_v3_index()
    for path, entry in index["paths"].items():
        assert entry["serverRelativeURL"].startswith(f"/openapi/v3/{path}?hash=")
        doc = openapi.openapi_v3_document(path)
        assert doc is not None and doc is openapi.openapi_v3_document("/" + path)
        assert json.loads(openapi.openapi_v3_document_json(path) or b"") == doc
        schemas = doc["components"]["schemas"]
        for ref in _refs(doc):
            assert ref.removeprefix("#/components/schemas/") in schemas, ref
        patches = [op for item in doc["paths"].values() for verb, op in item.items() if verb == "patch"]
        assert patches or path in ("apis/authorization.k8s.io/v1", "apis/authentication.k8s.io/v1",  # reviews
                                   "apis/metrics.k8s.io/v1beta1")  # (read from the agents, no schema here)
        for op in patches:
            assert "fieldValidation" in [p["name"] for p in op["parameters"]]
            assert set(op["requestBody"]["content"]) == set(openapi.PATCH_TYPES)
    assert openapi.openapi_v3_document("apis/extensions/v1beta1") is None


def test_openapi_kind_schemas_carry_gvk_and_extensions() -> None:
    doc = openapi.openapi_v3_document("apis/apps/v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    assert schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert schemas["io.k8s.api.autoscaling.v1.Scale"]["x-kubernetes-group-version-kind"] == [
        {"group": "autoscaling", "kind": "Scale", "version": "v1"}]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    ports = schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert schemas["io.k8s.api.apps.v1.DeploymentSpec"]["required"] == ["selector", "template"]
    strategy = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    assert schemas["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]["x-kubernetes-map-type"] == "atomic"
    free = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry"]["properties"]["fieldsV1"]
    assert free["type"] == "object" and free["x-kubernetes-preserve-unknown-fields"] is True
    gce = schemas["io.k8s.api.core.v1.Volume"]["properties"]["gcePersistentDisk"]
    assert gce["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.GCEPersistentDiskVolumeSource"}]
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    core = openapi.openapi_v3_document("api/v1")
    assert core is not None
    assert "get" in core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/log"]
    assert "post" in core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/binding"]
    assert {"get", "put", "patch", "delete"} <= core["paths"]["/api/v1/nodes/{name}"].keys()
    assert {"get", "post", "delete"} <= core["paths"]["/api/v1/namespaces/{namespace}/pods"].keys()
    assert "get" in core["paths"]["/api/v1/pods"]


def test_discovery_documents() -> None:
    info = discovery.version_info()
    assert (info["major"], info["minor"]) == ("1", "32") and info["gitVersion"].startswith("v1.32.0+raftkube")
    assert discovery.api_versions()["versions"] == ["v1"]
    groups = {g["name"]: g for g in discovery.api_group_list()["groups"]}
    assert set(groups) == {"apps", "batch", "coordination.k8s.io", "rbac.authorization.k8s.io", "authorization.k8s.io",
                           "authentication.k8s.io", "networking.k8s.io", "autoscaling", "metrics.k8s.io",
                           "storage.k8s.io", "apiextensions.k8s.io", "policy"}
    assert groups["autoscaling"]["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    assert groups["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    apps = discovery.resource_list("apps", "v1")
    assert apps is not None and apps["groupVersion"] == "apps/v1"
    by_name = {r["name"]: r for r in apps["resources"]}
    assert by_name["deployments/scale"] == {"name": "deployments/scale", "singularName": "", "namespaced": True,
                                            "group": "autoscaling", "version": "v1", "kind": "Scale",
                                            "verbs": ["get", "patch", "update"]}
    assert by_name["deployments"]["shortNames"] == ["deploy"] and by_name["deployments"]["categories"] == ["all"]
    core = discovery.resource_list("", "v1")
    assert core is not None
    core_names = {r["name"]: r for r in core["resources"]}
    assert core_names["pods/log"]["kind"] == "Pod" and core_names["pods/binding"]["kind"] == "Binding"
    assert core_names["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert discovery.resource_list("apps", "v1beta1") is None
    aggregated = discovery.aggregated_discovery(legacy=False)
    assert [item["metadata"]["name"] for item in aggregated["items"]] == [
        "apps", "batch", "policy", "coordination.k8s.io", "rbac.authorization.k8s.io", "networking.k8s.io",
        "autoscaling", "storage.k8s.io", "apiextensions.k8s.io", "authorization.k8s.io", "authentication.k8s.io",
        "metrics.k8s.io"]
    deploy = next(r for r in aggregated["items"][0]["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deploy["scope"] == "Namespaced" and deploy["shortNames"] == ["deploy"]
    assert [s["subresource"] for s in deploy["subresources"]] == ["scale", "status"]
    legacy = discovery.aggregated_discovery(legacy=True)
    assert len(legacy["items"]) == 1 and legacy["items"][0]["versions"][0]["version"] == "v1"
    assert discovery.wants_aggregated("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                                      "application/json")
    assert not discovery.wants_aggregated("application/json, */*")
