"""`apply_patch`: content types, body decoding errors, atomicity, managedFields recording."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from raftkube.api.errors import APIError
from raftkube.api.patch import apply_patch
from tests.api.test_patch_schema import DEPLOYMENT, TYPES

NOW = "2025-02-03T04:05:06Z"
LIVE: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
}


def patch(content_type: str, body: Any, live: dict[str, Any] | None = LIVE, *, manager: str | None = None,
          force: bool = False) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    before = copy.deepcopy(live)
    try:
        return apply_patch(content_type, live, raw, DEPLOYMENT, field_manager=manager, force=force, now=NOW,
                           types=TYPES)
    finally:
        assert live == before, "the live object must never be modified"


def error(*args: Any, **kwargs: Any) -> APIError:
    with pytest.raises(APIError) as err:
        patch(*args, **kwargs)
    return err.value


def test_dispatch_on_content_type_with_parameters() -> None:
    assert patch("application/merge-patch+json", {"spec": {"replicas": 3}})["spec"]["replicas"] == 3
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}
    out = patch("application/strategic-merge-patch+json; charset=utf-8", smp)
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "web", "image": "nginx:2"}]
    out = patch("application/json-patch+json", [{"op": "replace", "path": "/spec/replicas", "value": 4}])
    assert out["spec"]["replicas"] == 4
    # a merge patch replaces the list: the difference with strategic merge
    merged = patch("application/merge-patch+json", {"spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}})
    assert merged["spec"]["template"]["spec"]["containers"] == [{"name": "x"}]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/yaml", ""])
def test_unknown_content_types_are_415(content_type: str) -> None:
    err = error(content_type, {"spec": {}})
    assert (err.code, err.reason) == (415, "UnsupportedMediaType")


@pytest.mark.parametrize("content_type", ["application/merge-patch+json", "application/strategic-merge-patch+json",
                                          "application/json-patch+json"])
@pytest.mark.parametrize("body, words", [(b"{not json", "error decoding patch"), (b"", "empty"),
                                         (b"\xff\xfe", "UTF-8"), (b'{"a": NaN}', "NaN")])
def test_malformed_bodies_are_400(content_type: str, body: bytes, words: str) -> None:
    err = error(content_type, body)
    assert (err.code, err.reason) == (400, "BadRequest")
    assert words in err.message


@pytest.mark.parametrize("content_type, body", [
    ("application/merge-patch+json", [1]), ("application/merge-patch+json", "x"),
    ("application/strategic-merge-patch+json", [{"spec": {}}]), ("application/json-patch+json", {"op": "add"}),
    ("application/json-patch+json", [{"op": "replace", "path": "", "value": 5}]),
])
def test_bodies_of_the_wrong_shape_are_400(content_type: str, body: Any) -> None:
    assert error(content_type, body).code == 400


def test_force_is_only_for_apply() -> None:
    err = error("application/merge-patch+json", {"spec": {"replicas": 2}}, force=True)
    assert err.code == 400 and "force" in err.message


def test_non_apply_patches_need_a_live_object() -> None:
    with pytest.raises(ValueError):
        patch("application/merge-patch+json", {"spec": {}}, None)


def test_apply_creates_from_json_and_from_yaml() -> None:
    cfg = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}
    out = patch("application/apply-patch+yaml", cfg, None, manager="kubectl")
    assert out["spec"] == {"replicas": 2}
    assert out["metadata"]["managedFields"][0]["manager"] == "kubectl"
    yaml_body = (b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n"
                 b"    when: 2024-01-01T00:00:00Z\n    plain: 2024-01-01\nspec:\n  replicas: 2\n")
    out = patch("application/apply-patch+yaml", yaml_body, None, manager="kubectl")
    assert out["metadata"]["annotations"] == {"when": "2024-01-01T00:00:00Z", "plain": "2024-01-01"}
    assert out["spec"] == {"replicas": 2}


@pytest.mark.parametrize("body, words", [
    (b"a: [1, 2", "YAML"), (b"- 1\n- 2\n", "must be an object"), (b"a: 1\n---\nb: 2\n", "YAML"),
    (b"apiVersion: v1\nkind: X\nx: .nan\n", "not a JSON number"), (b"   ", "empty"),
])
def test_malformed_apply_bodies_are_400(body: bytes, words: str) -> None:
    err = error("application/apply-patch+yaml", body, manager="kubectl")
    assert err.code == 400 and words in err.message


def test_apply_without_a_field_manager_is_invalid() -> None:
    err = error("application/apply-patch+yaml", {"apiVersion": "apps/v1", "kind": "Deployment"})
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                           "is required for apply patch")


def test_apply_conflict_leaves_live_untouched() -> None:
    owned = patch("application/merge-patch+json", {"spec": {"replicas": 5}}, manager="kubectl-scale")
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}
    err = error("application/apply-patch+yaml", body, owned, manager="kubectl")
    assert err.code == 409
    out = patch("application/apply-patch+yaml", body, owned, manager="kubectl", force=True)
    assert out["spec"]["replicas"] == 2


def test_field_manager_records_non_apply_patches() -> None:
    out = patch("application/merge-patch+json", {"metadata": {"labels": {"env": "prod"}}}, manager="kubectl-label")
    assert out["metadata"]["managedFields"] == [{
        "manager": "kubectl-label", "operation": "Update", "apiVersion": "apps/v1", "time": NOW,
        "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:env": {}}}}}]
    untracked = patch("application/merge-patch+json", {"metadata": {"labels": {"env": "prod"}}})
    assert "managedFields" not in untracked["metadata"]


def test_csa_upgrade_style_json_patch_replaces_managed_fields() -> None:
    # kubectl apply --server-side migrating from client-side apply: test + replace of managedFields
    live = patch("application/merge-patch+json", {"spec": {"replicas": 3}}, manager="kubectl-client-side-apply")
    live["metadata"]["resourceVersion"] = "12"
    migrated = [{"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": NOW,
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": "12"},
           {"op": "replace", "path": "/metadata/managedFields", "value": migrated}]
    out = patch("application/json-patch+json", ops, live, manager="kubectl")
    assert out["metadata"]["managedFields"] == migrated
    ops[0]["value"] = "11"
    assert error("application/json-patch+json", ops, live, manager="kubectl").code == 422


def test_with_the_real_schema_when_available() -> None:
    schema = pytest.importorskip("raftkube.api.schema")
    types = getattr(schema, "TYPES", None)
    kinds = getattr(schema, "KIND_TYPES", None)
    if not types or not kinds or ("apps/v1", "Deployment") not in kinds:
        pytest.skip("the schema table is not filled in yet")
    root = kinds[("apps/v1", "Deployment")]
    live = {**copy.deepcopy(LIVE), "spec": {"replicas": 1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": "25%"}}, "template": {"spec": {
            "containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
            "volumes": [{"name": "v", "emptyDir": {}}]}}}}
    smp = {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"},
                    "template": {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
                                          "containers": [{"name": "side", "image": "busybox"}],
                                          "volumes": [{"$retainKeys": ["configMap", "name"], "name": "v",
                                                       "configMap": {"name": "c"}}]}}}}
    out = apply_patch("application/strategic-merge-patch+json", live, json.dumps(smp).encode(), root,
                      field_manager="kubectl-client-side-apply", force=False, now=NOW)
    spec = out["spec"]
    assert spec["strategy"] == {"type": "Recreate"}
    assert [c["name"] for c in spec["template"]["spec"]["containers"]] == ["web", "side"]
    assert spec["template"]["spec"]["volumes"] == [{"name": "v", "configMap": {"name": "c"}}]
    cfg = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {
        "spec": {"containers": [{"name": "web", "image": "nginx:2", "ports": [{"containerPort": 80}]}]}}}}
    applied = apply_patch("application/apply-patch+yaml", out, json.dumps(cfg).encode(), root,
                          field_manager="kubectl", force=True, now=NOW)
    web = applied["spec"]["template"]["spec"]["containers"][0]
    assert web["image"] == "nginx:2" and web["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
