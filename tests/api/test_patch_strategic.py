"""Strategic merge patch with the patches kubectl really sends (apply, edit, set image, rollout)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raftkube.api.errors import APIError
from raftkube.api.patch import merge_patch, strategic_merge
from tests.api.test_patch_schema import CONFIGMAP, DEPLOYMENT, POD, TYPES

LAST = "kubectl.kubernetes.io/last-applied-configuration"


def smp(live: dict[str, Any], patch: dict[str, Any], root: str = DEPLOYMENT) -> dict[str, Any]:
    before = copy.deepcopy(live)
    out = strategic_merge(live, patch, root, TYPES)
    assert live == before, "the live object must not be modified"
    return out


def deployment() -> dict[str, Any]:
    """A live Deployment as the server stores it: defaults and status filled in."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "7", "generation": 1,
                     "labels": {"app": "web", "tier": "front"}, "annotations": {LAST: "{...}"}},
        "spec": {
            "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                         "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"}, {"name": "Z", "value": "26"}]},
                        {"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                },
            },
        },
        "status": {"observedGeneration": 1, "replicas": 2},
    }


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["name"] for i in items]


def test_client_side_apply_removes_a_container_adds_env_and_drops_a_label() -> None:
    # kubectl apply after editing the manifest: sidecar removed, env B added, image bumped,
    # label tier removed; the 3-way patch from last-applied-configuration
    new_last = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment"}) + "\n"
    patch = {
        "metadata": {"annotations": {LAST: new_last}, "labels": {"tier": None}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [
                {"$setElementOrder/env": [{"name": "A"}, {"name": "B"}, {"name": "Z"}],
                 "env": [{"name": "B", "value": "2"}], "image": "nginx:1.26", "name": "web"},
                {"$patch": "delete", "name": "sidecar"},
            ]}}},
    }
    out = smp(deployment(), patch)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert names(containers) == ["web"]
    web = containers[0]
    assert web["image"] == "nginx:1.26"
    assert web["imagePullPolicy"] == "IfNotPresent"  # server defaults survive
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "Z", "value": "26"}]
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["metadata"]["annotations"][LAST] == new_last
    assert out["status"] == deployment()["status"]
    assert out["spec"]["strategy"] == deployment()["spec"]["strategy"]


def test_set_image() -> None:
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                                            "containers": [{"image": "nginx:1.27", "name": "web"}]}}}}
    out = smp(deployment(), patch)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert names(containers) == ["web", "sidecar"]
    assert containers[0]["image"] == "nginx:1.27"
    assert containers[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert containers[1] == deployment()["spec"]["template"]["spec"]["containers"][1]


def test_rollout_restart_pause_resume() -> None:
    restart = {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2025-01-02T03:04:05Z"}}}}}
    out = smp(deployment(), restart)
    assert out["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-02T03:04:05Z"}}
    assert smp(out, {"spec": {"paused": True}})["spec"]["paused"] is True
    assert "paused" not in smp(out, {"spec": {"paused": None}})["spec"]


def test_edit_adds_a_port_and_changes_replicas() -> None:
    patch = {"spec": {"replicas": 4, "template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
        "containers": [{"$setElementOrder/ports": [{"containerPort": 80}, {"containerPort": 443}], "name": "web",
                        "ports": [{"containerPort": 443, "protocol": "TCP"}]}]}}}}
    out = smp(deployment(), patch)
    assert out["spec"]["replicas"] == 4
    assert out["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}]


def test_set_element_order_reorders_and_keeps_server_only_items_in_place() -> None:
    live = deployment()
    live["spec"]["template"]["spec"]["containers"].append({"name": "injected", "image": "proxy"})
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}]}}}}
    out = smp(live, patch)
    assert names(out["spec"]["template"]["spec"]["containers"]) == ["sidecar", "web", "injected"]


def test_new_items_without_set_element_order_go_first_as_in_apimachinery() -> None:
    # the kubernetes.io "kubectl patch" tutorial: the patched-in container comes first
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "redis", "image": "redis"}]}}}}
    out = smp(deployment(), patch)
    assert names(out["spec"]["template"]["spec"]["containers"]) == ["redis", "web", "sidecar"]


def test_apply_switches_strategy_with_retain_keys() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}}
    assert smp(deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}
    # $retainKeys also clears fields the patch does not mention (server defaults)
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_apply_switches_a_volume_source_with_retain_keys() -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "data"}],
        "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}, "name": "data"}]}}}}
    out = smp(deployment(), patch)
    assert out["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cfg"}}]


def test_retain_keys_must_list_every_field_the_patch_sets() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {}}}}
    with pytest.raises(APIError) as err:
        smp(deployment(), patch)
    assert err.value.code == 400 and "rollingUpdate" in err.value.message


def test_finalizers_union_delete_and_order() -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a", "b"]}}
    out = smp(live, {"metadata": {"finalizers": ["b", "c"]}}, CONFIGMAP)
    assert sorted(out["metadata"]["finalizers"]) == ["a", "b", "c"]
    # what apply sends when the manifest goes from [a, b] to [b, c]
    patch = {"metadata": {"$setElementOrder/finalizers": ["b", "c"], "$deleteFromPrimitiveList/finalizers": ["a"],
                          "finalizers": ["c"]}}
    assert smp(live, patch, CONFIGMAP)["metadata"]["finalizers"] == ["b", "c"]
    only_delete = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "zz"]}}
    assert smp(live, only_delete, CONFIGMAP)["metadata"]["finalizers"] == ["a"]
    missing = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert smp(missing, only_delete, CONFIGMAP) == missing


def test_replace_directives() -> None:
    env_replace = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"$patch": "replace"}, {"name": "ONLY", "value": "x"}]}]}}}}
    out = smp(deployment(), env_replace)
    assert out["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "ONLY", "value": "x"}]
    map_replace = {"metadata": {"labels": {"$patch": "replace", "new": "1"}}}
    assert smp(deployment(), map_replace)["metadata"]["labels"] == {"new": "1"}
    map_delete = {"spec": {"strategy": {"$patch": "delete"}}}
    assert smp(deployment(), map_delete)["spec"]["strategy"] == {}


def test_atomic_lists_and_null_deletes() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "args": ["sleep", "2d"]}],
                                            "restartPolicy": None}}}}
    out = smp(deployment(), patch)
    assert out["spec"]["template"]["spec"]["containers"][1]["args"] == ["sleep", "2d"]
    assert "restartPolicy" not in out["spec"]["template"]["spec"]


def test_new_values_have_their_directives_resolved() -> None:
    patch = {"spec": {"template": {"spec": {"initContainers": [
        {"name": "init", "image": "busybox", "env": [{"name": "X", "value": "1"}, {"$patch": "delete", "name": "Y"}],
         "command": None}]}}}}
    out = smp(deployment(), patch)
    assert out["spec"]["template"]["spec"]["initContainers"] == [
        {"name": "init", "image": "busybox", "env": [{"name": "X", "value": "1"}]}]


def test_kubectl_patch_tolerations_are_replaced_and_pod_containers_merged() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "nginx"}],
        "tolerations": [{"key": "a", "operator": "Exists"}]}}
    out = smp(pod, {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}],
                             "containers": [{"name": "c", "image": "nginx:2"}]}}, POD)
    assert out["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    assert out["spec"]["containers"] == [{"name": "c", "image": "nginx:2"}]


def test_free_form_fields_merge_like_a_merge_patch() -> None:
    live = deployment()
    live["spec"]["template"]["spec"]["containers"][0]["env"][0] = {
        "name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}, "x": [1, 2]}}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [
        {"name": "A", "valueFrom": {"fieldRef": {"apiVersion": None}, "x": [3]}}]}]}}}}
    env = smp(live, patch)["spec"]["template"]["spec"]["containers"][0]["env"][0]
    assert env == {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}, "x": [3]}}


@pytest.mark.parametrize("patch, words", [
    ({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}, "merge key"),
    ({"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}}, "merge key"),
    ({"spec": {"template": {"spec": {"containers": [{"$patch": "merge", "name": "web"}]}}}}, "merging lists"),
    ({"spec": {"template": {"spec": {"containers": [{"$patch": "bogus", "name": "web"}]}}}}, "bogus"),
    ({"spec": {"strategy": {"$patch": "bogus"}}}, "bogus"),
    ({"spec": {"strategy": {"$retainKeys": "type"}}}, "$retainKeys"),
    ({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, "deleteFromPrimitiveList"),
    ({"spec": {"template": {"spec": {"$setElementOrder/containers": {"name": "web"}}}}}, "setElementOrder"),
    ({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}],
                                     "containers": [{"name": "sidecar", "image": "x"}]}}}}, "does not match"),
    ({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"image": "x"}]}}}}, "merge key"),
])
def test_malformed_patches_are_400(patch: dict[str, Any], words: str) -> None:
    with pytest.raises(APIError) as err:
        smp(deployment(), patch)
    assert err.value.code == 400 and err.value.reason == "BadRequest"
    assert words in err.value.message


def test_non_object_patch_is_400_and_list_of_lists_is_422() -> None:
    with pytest.raises(APIError) as err:
        strategic_merge(deployment(), [1], DEPLOYMENT, TYPES)
    assert err.value.code == 400
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a"]}}
    with pytest.raises(APIError) as err:
        strategic_merge(live, {"metadata": {"finalizers": [["x"]]}}, CONFIGMAP, TYPES)
    assert err.value.code == 422


def test_patch_result_shares_nothing_with_the_patch() -> None:
    patch = {"spec": {"template": {"spec": {"initContainers": [{"name": "i", "args": ["a"]}]}}}}
    out = smp(deployment(), patch)
    out["spec"]["template"]["spec"]["initContainers"][0]["args"].append("b")
    assert patch["spec"]["template"]["spec"]["initContainers"][0]["args"] == ["a"]


# property: without lists or directives, strategic merge is a JSON merge patch ----------------
keys = st.text(alphabet="abcxyz", min_size=1, max_size=2)
scalars = st.one_of(st.booleans(), st.integers(-3, 3), st.text(max_size=2))
maps = st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, max_size=3), max_leaves=10)
patches = st.recursive(st.one_of(scalars, st.none()),
                       lambda inner: st.dictionaries(keys, inner, max_size=3), max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, maps, max_size=4), st.dictionaries(keys, patches, max_size=4))
def test_on_maps_without_directives_it_equals_merge_patch(live: dict[str, Any], patch: dict[str, Any]) -> None:
    # free-form data, under a free-form field of a typed object, and at a map[string]string
    assert strategic_merge(live, patch, "object", TYPES) == merge_patch(live, patch)
    wrapped = {"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [
        {"name": "e", "valueFrom": live}]}]}}}}
    wrapped_patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [
        {"name": "e", "valueFrom": patch}]}]}}}}
    out = strategic_merge(wrapped, wrapped_patch, DEPLOYMENT, TYPES)
    got = out["spec"]["template"]["spec"]["containers"][0]["env"][0].get("valueFrom", {})
    assert got == merge_patch(live, patch)
