"""JSON patch (RFC 6902): `kubectl rollout undo` and the errors Kubernetes gives."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from raftkube.api.errors import APIError
from raftkube.api.patch import apply_json_patch

DEPLOY: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "resourceVersion": "42", "annotations": {
        "deployment.kubernetes.io/revision": "3", "kubernetes.io/change-cause": "set image v3"}},
    "spec": {"replicas": 2, "template": {
        "metadata": {"labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "x"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
}


def test_rollout_undo_replaces_template_and_annotations() -> None:
    # what kubectl rollout undo sends: the old ReplicaSet's template (pod-template-hash label removed)
    # and the Deployment's annotations with the change-cause of that revision
    old_template = {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}
    annotations = {"deployment.kubernetes.io/revision": "3", "kubernetes.io/change-cause": "set image v1"}
    patch = [{"op": "replace", "path": "/spec/template", "value": old_template},
             {"op": "replace", "path": "/metadata/annotations", "value": annotations}]
    before = copy.deepcopy(DEPLOY)
    out = apply_json_patch(DEPLOY, patch)
    assert DEPLOY == before
    assert out["spec"]["template"] == old_template
    assert out["metadata"]["annotations"] == annotations
    assert out["spec"]["replicas"] == 2


def test_test_op_guards_the_patch() -> None:
    ok = [{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
          {"op": "replace", "path": "/metadata/managedFields", "value": []}]
    with pytest.raises(APIError):  # managedFields is absent: replace needs an existing member
        apply_json_patch(DEPLOY, ok)
    ok[1]["op"] = "add"
    assert apply_json_patch(DEPLOY, ok)["metadata"]["managedFields"] == []


def test_failed_test_is_422_invalid_and_names_the_operation() -> None:
    patch = [{"op": "test", "path": "/metadata/resourceVersion", "value": "41"},
             {"op": "replace", "path": "/spec/replicas", "value": 9}]
    with pytest.raises(APIError) as err:
        apply_json_patch(DEPLOY, patch)
    assert err.value.code == 422 and err.value.reason == "Invalid"
    assert "operation 0" in err.value.message and "test" in err.value.message
    assert err.value.causes[0].field == "/metadata/resourceVersion"


@pytest.mark.parametrize("patch, words", [
    ([{"op": "remove", "path": "/spec/nothing"}], "operation 0"),
    ([{"op": "replace", "path": "/spec/template/spec/containers/5/image", "value": "x"}], "containers/5"),
    ([{"op": "add", "path": "/no/such/parent", "value": 1}], "/no/such/parent"),
    ([{"op": "frobnicate", "path": "/spec"}], "unexpected op"),
    ([{"path": "/spec", "value": 1}], "unexpected op"),
    ([{"op": "add", "value": 1}], "path"),
    ([{"op": "replace", "path": "/spec/replicas"}], "value"),
    ([{"op": "move", "path": "/spec/x"}], "from"),
])
def test_operations_that_cannot_apply_are_422(patch: list[dict[str, Any]], words: str) -> None:
    with pytest.raises(APIError) as err:
        apply_json_patch(DEPLOY, patch)
    assert err.value.code == 422, err.value.message
    assert words in err.value.message


@pytest.mark.parametrize("body", [{"op": "add"}, "x", [1, 2], None])
def test_a_body_that_is_not_a_list_of_operations_is_400(body: Any) -> None:
    with pytest.raises(APIError) as err:
        apply_json_patch(DEPLOY, body)
    assert err.value.code == 400 and err.value.reason == "BadRequest"


def test_too_many_operations_is_413() -> None:
    with pytest.raises(APIError) as err:
        apply_json_patch(DEPLOY, [{"op": "test", "path": "/kind", "value": "Deployment"}] * 10001)
    assert err.value.code == 413


def test_all_operations_and_array_append() -> None:
    patch = [
        {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "side", "image": "busybox"}},
        {"op": "copy", "from": "/spec/replicas", "path": "/spec/minReadySeconds"},
        {"op": "move", "from": "/metadata/annotations/kubernetes.io~1change-cause", "path": "/metadata/cause"},
        {"op": "remove", "path": "/spec/template/metadata/annotations"},
        {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "side"},
    ]
    out = apply_json_patch(DEPLOY, patch)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web", "side"]
    assert out["spec"]["minReadySeconds"] == 2
    assert out["metadata"]["cause"] == "set image v3"
    assert "kubernetes.io/change-cause" not in out["metadata"]["annotations"]
    assert "annotations" not in out["spec"]["template"]["metadata"]


def test_a_failure_midway_leaves_the_input_untouched() -> None:
    before = copy.deepcopy(DEPLOY)
    with pytest.raises(APIError):
        apply_json_patch(DEPLOY, [{"op": "replace", "path": "/spec/replicas", "value": 7},
                                  {"op": "remove", "path": "/nope"}])
    assert DEPLOY == before
