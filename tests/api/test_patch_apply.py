"""Server-side apply and managedFields: ownership, conflicts, force, pruning, no-ops."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from raftkube.api.errors import APIError
from raftkube.api.patch import decode_managed_fields, record_update, server_side_apply
from raftkube.api.patch.fieldset import from_fields_v1, path_string, to_fields_v1
from tests.api.test_patch_schema import CONFIGMAP, DEPLOYMENT, TYPES

T0, T1, T2, T3 = (f"2025-01-01T00:00:0{i}Z" for i in range(4))


def apply(live: dict[str, Any] | None, config: dict[str, Any], manager: str = "kubectl", *, force: bool = False,
          now: str = T1, root: str = DEPLOYMENT, subresource: str = "") -> dict[str, Any]:
    before = copy.deepcopy(live)
    config_before = copy.deepcopy(config)
    try:
        return server_side_apply(live, config, manager, force, TYPES, root_type=root, now=now,
                                 subresource=subresource)
    finally:
        assert live == before and config == config_before, "inputs must not be modified"


def update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, *, now: str = T1,
           subresource: str = "") -> dict[str, Any]:
    return record_update(old, new, manager, TYPES, root_type=DEPLOYMENT, now=now, subresource=subresource)


def managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def owned(obj: dict[str, Any], manager: str, operation: str = "Apply") -> set[str]:
    entry = managers(obj)[(manager, operation)]
    return {path_string(p) for p in from_fields_v1(entry["fieldsV1"])}


def config(replicas: int | None = 2, image: str = "nginx:1.25", **labels: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", **labels}}, "spec": spec}


def stored(obj: dict[str, Any]) -> dict[str, Any]:
    """What the server adds after a write: identity, defaults, status."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid="u1", resourceVersion="5", generation=1, creationTimestamp=T0)
    for c in out["spec"]["template"]["spec"]["containers"]:
        c.setdefault("imagePullPolicy", "IfNotPresent")
        for p in c.get("ports", []):
            p.setdefault("protocol", "TCP")
    out["status"] = {"replicas": out["spec"].get("replicas", 1)}
    return out


def test_fields_v1_matches_the_kubernetes_documentation_example() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
          "data": {"key": "some value"}}
    out = apply(None, cm, root=CONFIGMAP, now="2010-10-10T00:00:00Z")
    assert out["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": "2010-10-10T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}}}]
    assert {k: v for k, v in out.items() if k != "metadata"} == {"apiVersion": "v1", "kind": "ConfigMap",
                                                                 "data": {"key": "some value"}}


def test_create_owns_list_items_by_key_with_defaulted_key_fields() -> None:
    out = apply(None, config())
    assert out["spec"]["template"]["spec"]["containers"] == config()["spec"]["template"]["spec"]["containers"]
    fields = managers(out)[("kubectl", "Apply")]["fieldsV1"]
    web = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert web == {".": {}, "f:image": {}, "f:name": {},
                   "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}
    assert '.spec.template.spec.containers[name="web"].image' in owned(out, "kubectl")


def test_reapplying_after_server_defaulting_does_not_duplicate_ports() -> None:
    live = stored(apply(None, config()))
    out = apply(live, config(), now=T2)
    assert out == live
    assert out["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_apply_of_an_unchanged_config_is_a_no_op() -> None:
    live = stored(apply(None, config(), now=T0))
    again = apply(live, config(), now=T3)
    assert again == live
    assert managers(again)[("kubectl", "Apply")]["time"] == T0


def test_two_managers_own_different_fields() -> None:
    live = stored(apply(None, config()))
    ops = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "labels": {"team": "ops"}, "annotations": {"oncall": "alice"}}}
    both = apply(live, ops, "ops", now=T2)
    assert both["metadata"]["labels"] == {"app": "web", "team": "ops"}
    assert owned(both, "ops") == {".metadata.labels.team", ".metadata.annotations.oncall"}
    assert ".metadata.labels.team" not in owned(both, "kubectl")
    # kubectl re-applies its own config: ops' fields stay, nothing conflicts
    again = apply(stored(both), config(image="nginx:1.26"), now=T3)
    assert again["metadata"]["labels"]["team"] == "ops"
    assert again["metadata"]["annotations"] == {"oncall": "alice"}
    assert again["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    # and ops removing its config removes only its fields
    gone = apply(again, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}, "ops", now=T3)
    assert gone["metadata"]["labels"] == {"app": "web"}
    assert "annotations" not in gone["metadata"]
    assert ("ops", "Apply") not in managers(gone)


def test_conflict_without_force_names_the_field_and_the_manager() -> None:
    created = update(None, stored(config(replicas=2)), "kubectl-client-side-apply", now=T0)
    with pytest.raises(APIError) as err:
        apply(created, config(replicas=3))
    e = err.value
    assert (e.code, e.reason) == (409, "Conflict")
    assert e.message == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
                         ".spec.replicas")
    assert [c.to_json() for c in e.causes] == [{"field": ".spec.replicas", "reason": "FieldManagerConflict",
                                               "message": 'conflict with "kubectl-client-side-apply" using apps/v1'}]
    assert e.status()["details"]["causes"][0]["field"] == ".spec.replicas"


def test_same_value_is_shared_not_a_conflict() -> None:
    created = update(None, stored(config(replicas=2)), "kubectl-client-side-apply", now=T0)
    out = apply(created, config(replicas=2))
    assert ".spec.replicas" in owned(out, "kubectl")
    assert ".spec.replicas" in owned(out, "kubectl-client-side-apply", "Update")


def test_force_takes_ownership() -> None:
    created = update(None, stored(config(replicas=2)), "kubectl-client-side-apply", now=T0)
    out = apply(created, config(replicas=3, image="nginx:1.26"), force=True)
    assert out["spec"]["replicas"] == 3
    assert ".spec.replicas" in owned(out, "kubectl")
    csa = owned(out, "kubectl-client-side-apply", "Update")
    assert ".spec.replicas" not in csa
    assert '.spec.template.spec.containers[name="web"].image' not in csa
    assert ".metadata.labels.app" in csa  # same value: still shared


def test_several_conflicts_are_grouped_by_manager() -> None:
    live = stored(apply(None, config()))
    scaled = update(live, {**live, "spec": {**live["spec"], "replicas": 9}}, "kubectl-scale", now=T2)
    labelled = update(scaled, {**scaled, "metadata": {**scaled["metadata"], "labels": {"app": "web2"}}},
                      "kubectl-label", now=T2)
    with pytest.raises(APIError) as err:
        apply(labelled, config(replicas=4), "other")
    msg = err.value.message
    assert msg.startswith("Apply failed with 2 conflicts: ")
    assert 'conflicts with "kubectl-label" using apps/v1:\n- .metadata.labels.app' in msg
    assert 'conflicts with "kubectl-scale" using apps/v1:\n- .spec.replicas' in msg
    assert {c.field for c in err.value.causes} == {".metadata.labels.app", ".spec.replicas"}
    # another Apply manager is named without a version
    with pytest.raises(APIError) as err:
        apply(live, config(image="mine"), "other")
    assert err.value.causes[0].message == 'conflict with "kubectl"'


def test_a_manager_that_stops_applying_a_field_removes_it() -> None:
    cfg = config(tier="front")
    cfg["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    live = stored(apply(None, cfg))
    out = apply(live, config(), now=T2)
    assert out["metadata"]["labels"] == {"app": "web"}
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web"]
    assert out["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"  # unowned, kept
    assert out["status"] == live["status"]
    assert '.spec.template.spec.containers[name="sidecar"]' not in owned(out, "kubectl")


def test_a_field_someone_else_also_owns_is_kept_when_the_applier_drops_it() -> None:
    live = stored(apply(None, config(tier="front")))
    shared = apply(live, {"apiVersion": "apps/v1", "kind": "Deployment",
                          "metadata": {"name": "web", "labels": {"tier": "front"}}}, "ops", now=T2)
    out = apply(shared, config(), now=T3)
    assert out["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert owned(out, "ops") == {".metadata.labels.tier"}


def test_dropping_replicas_keeps_them_when_a_controller_updated_them() -> None:
    live = stored(apply(None, config(replicas=2)))
    scaled = update(live, {**live, "spec": {**live["spec"], "replicas": 5}}, "autoscaler", now=T2)
    assert ".spec.replicas" not in owned(scaled, "kubectl")
    out = apply(scaled, config(replicas=None), now=T3)
    assert out["spec"]["replicas"] == 5


def test_update_takes_changed_fields_and_only_bumps_time_on_change() -> None:
    live = stored(apply(None, config(), now=T0))
    same = update(live, copy.deepcopy(live), "kubectl-edit", now=T2)
    assert same["metadata"]["managedFields"] == live["metadata"]["managedFields"]
    edited = copy.deepcopy(live)
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:edited"
    edited["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "X", "value": "1"}]
    out = update(live, edited, "kubectl-edit", now=T2)
    entry = managers(out)[("kubectl-edit", "Update")]
    assert entry["time"] == T2 and entry["apiVersion"] == "apps/v1"
    assert owned(out, "kubectl-edit", "Update") == {
        '.spec.template.spec.containers[name="web"].image',
        '.spec.template.spec.containers[name="web"].env[name="X"]',
        '.spec.template.spec.containers[name="web"].env[name="X"].name',
        '.spec.template.spec.containers[name="web"].env[name="X"].value'}
    assert '.spec.template.spec.containers[name="web"].image' not in owned(out, "kubectl")
    # an applier now conflicts with the editor, and a second edit merges into the same entry
    with pytest.raises(APIError) as err:
        apply(out, config(image="nginx:1.30"), now=T3)
    assert err.value.causes[0].message == 'conflict with "kubectl-edit" using apps/v1'
    again = copy.deepcopy(out)
    again["spec"]["replicas"] = 7
    out2 = update(out, again, "kubectl-edit", now=T3)
    assert ".spec.replicas" in owned(out2, "kubectl-edit", "Update")
    assert '.spec.template.spec.containers[name="web"].image' in owned(out2, "kubectl-edit", "Update")


def test_removed_fields_leave_every_owner() -> None:
    live = stored(apply(None, config(tier="x")))
    new = copy.deepcopy(live)
    del new["metadata"]["labels"]["tier"]
    out = update(live, new, "kubectl-label", now=T2)
    assert ".metadata.labels.tier" not in owned(out, "kubectl")
    assert ("kubectl-label", "Update") not in managers(out)  # it took nothing


def test_managed_fields_sent_by_the_client_replace_or_reset() -> None:
    live = stored(apply(None, config(), now=T0))
    mine = [{"manager": "migrated", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = mine
    assert update(live, new, "kubectl", now=T2)["metadata"]["managedFields"] == mine
    new["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in update(live, new, "kubectl", now=T2)["metadata"]
    new["metadata"]["managedFields"] = []
    kept = update(live, new, "kubectl", now=T2)
    assert kept["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_status_is_tracked_only_through_the_status_subresource() -> None:
    live = stored(apply(None, config()))
    new = copy.deepcopy(live)
    new["status"] = {"replicas": 2, "readyReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    out = update(live, new, "kube-controller-manager", now=T2, subresource="status")
    entry = managers(out)[("kube-controller-manager", "Update")]
    assert entry["subresource"] == "status"
    assert owned(out, "kube-controller-manager", "Update") == {
        ".status.readyReplicas", '.status.conditions[type="Available"]',
        '.status.conditions[type="Available"].type', '.status.conditions[type="Available"].status'}
    # a main-resource write that also changes status does not record status ownership
    main = update(live, new, "someone", now=T2)
    assert ("someone", "Update") not in managers(main)
    # and an apply of the spec leaves status and its owner alone
    applied = apply(stored(out) | {"status": out["status"]}, config(image="nginx:2"), now=T3)
    assert applied["status"] == new["status"]
    assert ("kube-controller-manager", "Update") in managers(applied)


def test_kubectl_apply_keeps_the_last_applied_annotation_in_sync() -> None:
    last = "kubectl.kubernetes.io/last-applied-configuration"
    live = stored(apply(None, config()))
    live["metadata"]["annotations"] = {last: "{}"}
    out = apply(live, config(image="nginx:9"), now=T2)
    assert json.loads(out["metadata"]["annotations"][last]) == config(image="nginx:9")
    other = apply(live, config(image="nginx:9"), "kubectl", now=T2, force=True)
    assert other["metadata"]["annotations"][last] == out["metadata"]["annotations"][last]


@pytest.mark.parametrize("mutate, code, words", [
    (lambda c: c["spec"]["template"]["spec"]["containers"].append({"image": "x"}), 422, "name"),
    (lambda c: c["spec"]["template"]["spec"]["containers"].append({"name": "web", "image": "x"}), 422, "duplicate"),
    (lambda c: c["metadata"].update(managedFields=[{"manager": "x"}]), 400, "managedFields must be nil"),
    (lambda c: c.pop("apiVersion"), 400, "apiVersion"),
])
def test_bad_configurations(mutate: Any, code: int, words: str) -> None:
    cfg = config()
    mutate(cfg)
    with pytest.raises(APIError) as err:
        apply(None, cfg)
    assert err.value.code == code and words in err.value.message


def test_null_in_a_configuration_means_not_specified() -> None:
    cfg = config()
    cfg["spec"]["paused"] = None
    out = apply(None, cfg)
    assert "paused" not in out["spec"] and ".spec.paused" not in owned(out, "kubectl")


def test_fields_v1_round_trip_and_entry_order() -> None:
    paths = {("f:a",), ("f:a", "f:b"), ("f:l", 'k:{"name":"x"}'), ("f:l", 'k:{"name":"x"}', "f:name"),
             ("f:s", 'v:"fin"')}
    encoded = to_fields_v1(paths)
    assert encoded == {"f:a": {".": {}, "f:b": {}}, "f:l": {'k:{"name":"x"}': {".": {}, "f:name": {}}},
                       "f:s": {'v:"fin"': {}}}
    assert from_fields_v1(encoded) == paths
    assert path_string(("f:s", 'v:"fin"')) == '.s[="fin"]'
    raw = [{"manager": "b", "operation": "Update", "apiVersion": "v1", "time": T1, "fieldsV1": {"f:x": {}}},
           {"manager": "a", "operation": "Update", "apiVersion": "v1", "time": T1, "fieldsV1": {"f:y": {}}},
           "garbage"]
    assert [e.manager for e in decode_managed_fields(raw)] == ["b", "a"]


def test_force_between_two_appliers_and_the_loser_no_longer_prunes() -> None:
    live = stored(apply(None, config(image="a")))
    taken = apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                         "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "b"}]}}}},
                  "deployer", force=True, now=T2)
    image = '.spec.template.spec.containers[name="web"].image'
    assert image in owned(taken, "deployer") and image not in owned(taken, "kubectl")
    with pytest.raises(APIError) as err:
        apply(taken, config(image="a"), now=T3)
    assert err.value.causes[0].message == 'conflict with "deployer"' and err.value.causes[0].field == image
    # kubectl drops the container's image from its config: the image is deployer's, so it stays
    cfg = config()
    del cfg["spec"]["template"]["spec"]["containers"][0]["image"]
    kept = apply(taken, cfg, now=T3)
    assert kept["spec"]["template"]["spec"]["containers"][0]["image"] == "b"


def test_atomic_maps_sets_and_free_form_fields() -> None:
    cfg = config()
    pod_spec = cfg["spec"]["template"]["spec"]
    pod_spec["nodeSelector"] = {"disk": "ssd", "zone": "a"}
    pod_spec["containers"][0]["env"] = [{"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    cfg["metadata"]["finalizers"] = ["example.com/a", "example.com/b"]
    live = stored(apply(None, cfg))
    paths = owned(live, "kubectl")
    assert ".spec.template.spec.nodeSelector" in paths  # atomic: owned whole
    assert ".spec.template.spec.nodeSelector.disk" not in paths
    assert '.metadata.finalizers[="example.com/a"]' in paths
    assert '.spec.template.spec.containers[name="web"].env[name="E"].valueFrom.fieldRef.fieldPath' in paths
    pod_spec["nodeSelector"] = {"disk": "hdd"}
    cfg["metadata"]["finalizers"] = ["example.com/b"]
    out = apply(live, cfg, now=T2)
    assert out["spec"]["template"]["spec"]["nodeSelector"] == {"disk": "hdd"}
    assert out["metadata"]["finalizers"] == ["example.com/b"]
    # another manager's finalizer is merged into the set, not replaced
    other = apply(out, {"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "web", "finalizers": ["x/y"]}}, "gc", now=T3)
    assert other["metadata"]["finalizers"] == ["example.com/b", "x/y"]


def test_dropping_a_list_item_removes_it_even_if_another_manager_set_a_field_inside() -> None:
    # structured-merge-diff semantics: the item itself belonged to the applier
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    live = stored(apply(None, cfg))
    edited = copy.deepcopy(live)
    edited["spec"]["template"]["spec"]["containers"][1]["args"] = ["sleep"]
    live = update(live, edited, "kubectl-edit", now=T2)
    out = apply(live, config(), now=T3)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web"]
    assert ("kubectl-edit", "Update") not in managers(out)


def test_kubectl_server_side_takes_over_client_side_applied_fields_without_force() -> None:
    # `kubectl apply` then `kubectl apply --server-side` with a new replicas value: Kubernetes lets the
    # "kubectl" manager take the fields whose live value is still the last-applied one
    last = "kubectl.kubernetes.io/last-applied-configuration"
    live = stored(config(replicas=2))
    live["metadata"]["annotations"] = {last: json.dumps(config(replicas=2))}
    live = update(None, live, "kubectl-client-side-apply", now=T0)
    out = apply(live, config(replicas=3), "kubectl", now=T2)
    assert out["spec"]["replicas"] == 3
    assert ".spec.replicas" in owned(out, "kubectl")
    assert ".spec.replicas" not in owned(out, "kubectl-client-side-apply", "Update")
    # another field manager gets the conflict
    with pytest.raises(APIError):
        apply(live, config(replicas=3), "other", now=T2)
    # and so does kubectl when the live value drifted from last-applied
    drifted = copy.deepcopy(live)
    drifted["spec"]["replicas"] = 5
    with pytest.raises(APIError) as err:
        apply(drifted, config(replicas=3), "kubectl", now=T2)
    assert err.value.causes[0].field == ".spec.replicas"
