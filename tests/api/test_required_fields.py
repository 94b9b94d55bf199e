"""The schema's required fields at every depth: a 422 naming each missing one, and nothing written.

Through real HTTP (one in-process server for the module, a namespace per test): create, update,
the status subresource and every kind of patch, including server-side apply. Then the walker
itself (`RequiredFields`) on the served schema and on a small schema of its own.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest

from raftkube.api.resources import by_kind
from raftkube.api.schema import KIND_TYPES, Field
from raftkube.api.schema.required import RequiredFields, missing_required
from raftkube.api.storage import ObjectStorage

from .inproc import InProcessAPI, cause_fields, deployment, expect_status, namespace, nothing_written, pod

Obj = dict[str, Any]
_names = itertools.count()
MERGE = {"content-type": "application/merge-patch+json"}
JSON_PATCH = {"content-type": "application/json-patch+json"}
STRATEGIC = {"content-type": "application/strategic-merge-patch+json"}
APPLY = {"content-type": "application/apply-patch+yaml"}
POD_TYPE = KIND_TYPES[("v1", "Pod")]


@pytest.fixture
def ns(client: httpx.Client) -> str:
    name = f"required-{next(_names)}"
    assert client.post("/api/v1/namespaces", json=namespace(name)).status_code == 201
    return name


def pods(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


def deployments(ns: str) -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments"


def refused(response: httpx.Response) -> list[str]:
    """The fields a 422 Invalid names; every one is named once."""
    fields = cause_fields(expect_status(response, 422, "Invalid"))
    assert len(fields) == len(set(fields)), f"a field named twice: {fields}"
    return fields


def required_causes(response: httpx.Response) -> list[str]:
    """The fields of the `Required value` causes of a 422 (refused() checked first)."""
    refused(response)
    causes = response.json()["details"]["causes"]
    return [c["field"] for c in causes if c["reason"] == "FieldValueRequired" and c["message"] == "Required value"]


def created(response: httpx.Response) -> Obj:
    assert response.status_code == 201, response.text[:2000]
    obj: Obj = response.json()
    return obj


# ------------------------------------------------------------------ create
def test_nested_missing_fields_are_each_named_with_their_list_index(api: InProcessAPI, client: httpx.Client,
                                                                    ns: str) -> None:
    expressions = [{"key": "zone", "operator": "Exists"}, {"key": "x"}]
    body = pod("incomplete", hostAliases=[{"ip": "10.0.0.1", "hostnames": ["a"]}, {"hostnames": ["b"]}], os={},
               affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                   "nodeSelectorTerms": [{"matchExpressions": expressions}]}}})
    with nothing_written(api):
        response = client.post(pods(ns), json=body)
    assert required_causes(response) == [
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
        ".matchExpressions[1].operator",
        "spec.hostAliases[1].ip",
        "spec.os.name",
    ]
    assert 'Pod "incomplete" is invalid: ' in response.json()["message"]
    assert "spec.hostAliases[1].ip: Required value" in response.json()["message"]
    expect_status(client.get(f"{pods(ns)}/incomplete"), 404, "NotFound")


def test_missing_fields_join_the_kind_causes_in_one_answer(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    """The kind's own rules (the container's empty image) and the schema's (the host alias' ip) in one 422."""
    body = pod("both", hostAliases=[{}])
    body["spec"]["containers"][0]["image"] = ""
    with nothing_written(api):
        fields = refused(client.post(pods(ns), json=body))
    assert set(fields) == {"spec.containers[0].image", "spec.hostAliases[0].ip"}


def test_a_field_the_kind_rules_already_name_is_not_named_again(api: InProcessAPI, client: httpx.Client,
                                                                ns: str) -> None:
    body = pod("unnamed")
    body["spec"]["containers"][0].pop("name")
    body["spec"]["containers"][0]["env"] = [{"value": "v"}]
    with nothing_written(api):
        fields = refused(client.post(pods(ns), json=body))
    assert sorted(fields) == ["spec.containers[0].env[0].name", "spec.containers[0].name"]
    selectorless = deployment("selectorless")
    del selectorless["spec"]["selector"]
    with nothing_written(api):
        assert refused(client.post(deployments(ns), json=selectorless)) == ["spec.selector"]


def test_null_counts_as_missing(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    body = pod("nulls", hostAliases=[{"ip": None}], os={"name": None})
    with nothing_written(api):
        assert required_causes(client.post(pods(ns), json=body)) == ["spec.hostAliases[0].ip", "spec.os.name"]


def test_a_present_empty_string_is_enough(client: httpx.Client, ns: str) -> None:
    """Presence only: whether "" is a good value is the kind's rules' business."""
    obj = created(client.post(pods(ns), json=pod("empty", hostAliases=[{"ip": ""}], schedulingGates=[{"name": ""}])))
    assert obj["spec"]["hostAliases"] == [{"ip": ""}]


def test_server_side_apply_that_creates_an_incomplete_object_is_refused(api: InProcessAPI, client: httpx.Client,
                                                                        ns: str) -> None:
    manifest = json.dumps(pod("applied", os={}))  # JSON is YAML
    with nothing_written(api):
        response = client.patch(f"{pods(ns)}/applied", content=manifest, headers=APPLY,
                                params={"fieldManager": "test"})
    assert required_causes(response) == ["spec.os.name"]
    expect_status(client.get(f"{pods(ns)}/applied"), 404, "NotFound")


def test_a_node_brought_with_an_incomplete_status_is_refused(api: InProcessAPI, client: httpx.Client) -> None:
    name = f"node-{next(_names)}"
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"daemonEndpoints": {"kubeletEndpoint": {}}, "addresses": [{"type": "InternalIP"}]}}
    with nothing_written(api):
        fields = refused(client.post("/api/v1/nodes", json=body))
    assert sorted(fields) == ["status.addresses[0].address", "status.daemonEndpoints.kubeletEndpoint.Port"]
    expect_status(client.get(f"/api/v1/nodes/{name}"), 404, "NotFound")


# ------------------------------------------------------------------ updates and patches
def test_status_writes_are_checked(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    live = created(client.post(pods(ns), json=pod("reported")))
    mounts = [{"name": "data"}]  # mountPath missing
    status = {"phase": "Running", "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0,
                                                         "image": "nginx:1.27", "imageID": "", "volumeMounts": mounts}]}
    with nothing_written(api):
        response = client.put(f"{pods(ns)}/reported/status", json={**live, "status": status})
    assert required_causes(response) == ["status.containerStatuses[0].volumeMounts[0].mountPath"]
    patch = {"status": {"podIPs": [{"ip": "10.1.0.5"}], "conditions": [{"type": "Ready"}]}}
    with nothing_written(api):
        assert refused(client.patch(f"{pods(ns)}/reported/status", content=json.dumps(patch), headers=MERGE)) == [
            "status.conditions[0].status"]
    after = client.get(f"{pods(ns)}/reported").json()
    assert after["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]


def test_a_status_field_the_kind_defaults_is_completed_not_refused(client: httpx.Client, ns: str) -> None:
    """The check runs after the defaults: what Kubernetes always serializes (a container status'
    ready, restartCount, image, imageID) is filled in, as Kubernetes decodes it to the zero value."""
    live = created(client.post(pods(ns), json=pod("defaulted")))
    status = {"containerStatuses": [{"name": "app"}]}
    response = client.put(f"{pods(ns)}/defaulted/status", json={**live, "status": status})
    assert response.status_code == 200, response.text[:2000]
    cs = response.json()["status"]["containerStatuses"][0]
    assert (cs["ready"], cs["restartCount"], cs["image"], cs["imageID"]) == (False, 0, "", "")


@pytest.mark.parametrize(("headers", "patch"), [
    (JSON_PATCH, [{"op": "remove", "path": "/spec/template/spec/hostAliases/0/ip"}]),
    (MERGE, {"spec": {"template": {"spec": {"os": {"name": None}}}}}),
    (STRATEGIC, {"spec": {"template": {"spec": {"hostAliases": [{"ip": None, "hostnames": ["db"]}]}}}}),
], ids=["json-patch", "merge-patch", "strategic-merge-patch"])
def test_a_patch_that_removes_a_required_field_is_refused(api: InProcessAPI, client: httpx.Client, ns: str,
                                                          headers: dict[str, str], patch: Any) -> None:
    body = deployment("web")
    body["spec"]["template"]["spec"].update(hostAliases=[{"ip": "10.0.0.9", "hostnames": ["db"]}], os={"name": "linux"})
    live = created(client.post(deployments(ns), json=body))
    with nothing_written(api):
        fields = required_causes(client.patch(f"{deployments(ns)}/web", content=json.dumps(patch), headers=headers))
    assert len(fields) == 1 and fields[0] in ("spec.template.spec.hostAliases[0].ip", "spec.template.spec.os.name")
    after = client.get(f"{deployments(ns)}/web").json()
    assert after["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]


def test_an_apply_that_drops_a_required_field_it_owns_is_refused(api: InProcessAPI, client: httpx.Client,
                                                                 ns: str) -> None:
    body = deployment("owned")
    body["spec"]["template"]["spec"]["os"] = {"name": "linux"}
    params = {"fieldManager": "owner"}
    created(client.patch(f"{deployments(ns)}/owned", content=json.dumps(body), headers=APPLY, params=params))
    body["spec"]["template"]["spec"]["os"] = {}
    with nothing_written(api):
        response = client.patch(f"{deployments(ns)}/owned", content=json.dumps(body), headers=APPLY, params=params)
    assert required_causes(response) == ["spec.template.spec.os.name"]


def test_an_update_without_a_required_field_is_refused(api: InProcessAPI, client: httpx.Client, ns: str) -> None:
    live = created(client.post(deployments(ns), json=deployment("put")))
    live["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "http"}]
    with nothing_written(api):
        fields = refused(client.put(f"{deployments(ns)}/put", json=live))
    assert fields == ["spec.template.spec.containers[0].ports[0].containerPort"]


# ------------------------------------------------------------------ complete objects
def test_complete_objects_are_still_accepted(client: httpx.Client, ns: str) -> None:
    web = deployment("complete", replicas=2)
    web["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "name": "http"}]
    created(client.post(deployments(ns), json=web))
    created(client.post(pods(ns), json=pod("complete", hostAliases=[{"ip": "10.0.0.1"}], os={"name": "linux"})))
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "complete"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}}
    created(client.post(f"/api/v1/namespaces/{ns}/services", json=service))
    scaled = client.put(f"{deployments(ns)}/complete/scale", json={"apiVersion": "autoscaling/v1", "kind": "Scale",
                                                                  "metadata": {"name": "complete"},
                                                                  "spec": {"replicas": 3}})
    assert scaled.status_code == 200, scaled.text[:2000]


def test_a_job_pattern_without_status_gets_the_kubernetes_default(client: httpx.Client, ns: str) -> None:
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": "busybox:1.36"}]}}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "policy"},
           "spec": {"template": template, "podFailurePolicy": {"rules": [
               {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}}
    obj = created(client.post(f"/apis/batch/v1/namespaces/{ns}/jobs", json=job))
    assert obj["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"] == [
        {"type": "DisruptionTarget", "status": "True"}]


def test_binding_writes_a_complete_pod(client: httpx.Client, ns: str) -> None:
    created(client.post(pods(ns), json=pod("bound")))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}
    assert client.post(f"{pods(ns)}/bound/binding", json=binding).status_code == 201
    obj = client.get(f"{pods(ns)}/bound").json()
    assert obj["spec"]["nodeName"] == "n1"
    assert missing_required(obj, POD_TYPE) == []


def test_an_object_stored_without_a_required_field_stays_writable(api: InProcessAPI, client: httpx.Client,
                                                                   ns: str) -> None:
    """Ratcheting: what the stored object already lacked is not held against an update; what the
    update itself leaves out is. (Stored behind the API's back, as by a version before this check.)"""
    live = created(client.post(pods(ns), json=pod("old")))
    live["spec"]["hostAliases"] = [{"hostnames": ["db"]}]  # no ip: refused through the API today
    storage = ObjectStorage(api.store)  # type: ignore[arg-type]
    api.call(storage.update(by_kind("v1", "Pod"), live, int(live["metadata"]["resourceVersion"])))  # type: ignore[arg-type]
    stored = client.get(f"{pods(ns)}/old").json()
    stored["metadata"]["labels"]["tier"] = "kept"
    relabelled = client.put(f"{pods(ns)}/old", json=stored)
    assert relabelled.status_code == 200, relabelled.text[:2000]
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "old"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}
    assert client.post(f"{pods(ns)}/old/binding", json=binding).status_code == 201
    status = client.get(f"{pods(ns)}/old").json()
    status["status"]["phase"] = "Running"
    assert client.put(f"{pods(ns)}/old/status", json=status).status_code == 200
    worse = client.get(f"{pods(ns)}/old").json()
    worse["metadata"]["labels"]["tier"] = "changed"
    worse["spec"]["containers"][0]["env"] = [{"value": "no name"}]
    with nothing_written(api):
        assert required_causes(client.put(f"{pods(ns)}/old", json=worse)) == ["spec.containers[0].env[0].name"]


# ------------------------------------------------------------------ the walker
def test_walker_on_the_served_schema() -> None:
    obj = {"metadata": {"ownerReferences": [{}]},  # the root's metadata is validate_metadata's
           "spec": {"containers": [{"name": "a", "ports": [{"containerPort": 0}, {}]}],
                    "hostAliases": "not a list", "os": {"name": False},
                    "readinessGates": [1, None, {"conditionType": None}],
                    "template": {"metadata": {"ownerReferences": [{}]}}},  # not a pod field: not walked
           "status": {"containerStatuses": [{"name": "", "ready": False, "restartCount": 0, "image": "",
                                             "imageID": "", "state": {"terminated": {}}}]}}
    assert [c.field for c in missing_required(obj, POD_TYPE)] == [
        "spec.containers[0].ports[1].containerPort",
        "spec.readinessGates[2].conditionType",
        "status.containerStatuses[0].state.terminated.exitCode",
    ]
    cause = missing_required(obj, POD_TYPE)[0]
    assert (cause.message, cause.reason) == ("Required value", "FieldValueRequired")
    template_meta = {"spec": {"selector": {}, "template": {"metadata": {"ownerReferences": [{"kind": "X"}]}}}}
    assert [c.field for c in missing_required(template_meta, KIND_TYPES[("apps/v1", "Deployment")])] == [
        f"spec.template.metadata.ownerReferences[0].{key}" for key in ("apiVersion", "name", "uid")]
    assert missing_required({"items": [{}]}, KIND_TYPES[("v1", "PodList")]) == []
    assert missing_required({"rows": None}, KIND_TYPES[("meta.k8s.io/v1", "Table")]) == []
    assert missing_required({"data": {"a": "b"}}, KIND_TYPES[("v1", "ConfigMap")]) == []
    assert missing_required("not an object", POD_TYPE) == []


def test_walker_plans_only_what_can_be_missing_and_follows_lists_maps_and_cycles() -> None:
    def ref(type_: str, required: bool = False) -> Field:
        return Field(type_, required)

    types = {
        "Root": {"metadata": ref("Meta"), "spec": ref("Spec", required=True), "note": ref("string"),
                 "plain": ref("Plain")},
        "Meta": {"name": ref("string", required=True)},
        "Spec": {"items": ref("[]Item"), "byName": ref("map[string]Item"), "tree": ref("Node"),
                 "count": ref("integer", required=True)},
        "Item": {"key": ref("string", required=True), "value": ref("string")},
        "Node": {"label": ref("string", required=True), "children": ref("[]Node")},
        "Plain": {"anything": ref("string")},
        "ThingList": {"items": ref("[]Item", required=True)},
    }
    walker = RequiredFields(types, ("Root",))
    assert sorted(walker.plans) == ["Item", "Meta", "Node", "Root", "Spec"]  # Plain has nothing; lists are skipped
    assert [step[0] for step in walker.root_plans["Root"]] == ["spec"]
    obj = {"metadata": {}, "plain": {}, "spec": {
        "items": [{"key": "a"}, {"value": "b"}], "byName": {"x": {}, "y": {"key": ""}},
        "tree": {"label": "root", "children": [{"label": "a", "children": [{}]}]}}}
    assert [c.field for c in walker.missing(obj, "Root")] == [
        "spec.items[1].key", "spec.byName[x].key", "spec.tree.children[0].children[0].label", "spec.count"]
    assert [c.field for c in walker.missing({}, "Root")] == ["spec"]
    assert walker.missing({"items": [{}]}, "ThingList") == []
    with pytest.raises(ValueError, match="nests containers"):
        RequiredFields({"Outer": {"grid": ref("[][]Item")}, "Item": types["Item"]})
