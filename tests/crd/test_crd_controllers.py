"""Custom resources and the controllers: garbage collection of their dependents, the CRD cleanup finalizer,
namespace deletion, RBAC (the aggregated roles gain a custom kind only through an aggregate-to-* ClusterRole),
and a second registry (another API replica) converging through its CRD watch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from raftkube.api.auth import User
from raftkube.api.resource_registry import ResourceRegistry
from raftkube.client import ApiClient
from raftkube.control.clusterrole_aggregation import ClusterRoleAggregationController
from raftkube.control.crd_cleanup import CRDCleanupController
from raftkube.control.garbage_collector import GarbageCollector
from raftkube.control.manager import ControllerManager
from raftkube.control.namespace import NamespaceController
from tests.api.inproc import TOKEN, InProcessAPI, configmap, expect_status, namespace, running_api

from .crds import GROUP, gadget_crd, widget, widget_crd

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"


def wait_until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def api() -> Iterator[InProcessAPI]:
    with running_api(tokens={"jane-token": User("jane", "jane-uid")}) as server:
        async def controllers() -> None:
            client = ApiClient(server.url, TOKEN)
            try:
                await ControllerManager(client, identity="crd-test", factories=[
                    GarbageCollector, CRDCleanupController, NamespaceController,
                    ClusterRoleAggregationController]).run()
            finally:
                await client.close()
        assert server.loop is not None
        running = asyncio.run_coroutine_threadsafe(controllers(), server.loop)
        admin = server.client()
        assert admin.post(CRDS, json=widget_crd()).status_code == 201
        yield server
        running.cancel()


def test_a_dependent_of_a_custom_resource_is_garbage_collected(admin: httpx.Client) -> None:
    owner = admin.post(WIDGETS, json=widget("owner", 1)).json()
    cm = configmap("owned", a="1")
    cm["metadata"]["ownerReferences"] = [{"apiVersion": f"{GROUP}/v1", "kind": "Widget", "name": "owner",
                                          "uid": owner["metadata"]["uid"], "controller": True}]
    assert admin.post("/api/v1/namespaces/default/configmaps", json=cm).status_code == 201
    assert admin.delete(f"{WIDGETS}/owner").status_code == 200
    wait_until(lambda: admin.get("/api/v1/namespaces/default/configmaps/owned").status_code == 404,
               "the ConfigMap owned by the deleted Widget to be collected")


def test_a_custom_resource_owned_by_a_configmap_is_collected(admin: httpx.Client) -> None:
    owner = admin.post("/api/v1/namespaces/default/configmaps", json=configmap("parent")).json()
    child = widget("child", 1)
    child["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "parent",
                                             "uid": owner["metadata"]["uid"]}]
    assert admin.post(WIDGETS, json=child).status_code == 201
    admin.delete("/api/v1/namespaces/default/configmaps/parent")
    wait_until(lambda: admin.get(f"{WIDGETS}/child").status_code == 404, "the owned Widget to be collected")


def test_namespace_deletion_deletes_its_custom_resources(admin: httpx.Client) -> None:
    assert admin.post("/api/v1/namespaces", json=namespace("doomed")).status_code == 201
    path = f"/apis/{GROUP}/v1/namespaces/doomed/widgets"
    assert admin.post(path, json=widget("w", 1, namespace="doomed")).status_code == 201
    admin.delete("/api/v1/namespaces/doomed")
    wait_until(lambda: admin.get("/api/v1/namespaces/doomed").status_code == 404, "the namespace to go")
    assert admin.get(f"/apis/{GROUP}/v1/widgets").json()["items"] == [] or all(
        i["metadata"]["namespace"] != "doomed" for i in admin.get(f"/apis/{GROUP}/v1/widgets").json()["items"])


def test_deleting_a_crd_deletes_its_instances_first(admin: httpx.Client) -> None:
    assert admin.post(CRDS, json=gadget_crd()).status_code == 201
    gadgets = f"/apis/{GROUP}/v1/gadgets"
    kept = {"apiVersion": f"{GROUP}/v1", "kind": "Gadget",
            "metadata": {"name": "kept", "finalizers": ["example.com/hold"]}}
    assert admin.post(gadgets, json=kept).status_code == 201
    assert admin.post(gadgets, json={**kept, "metadata": {"name": "plain"}}).status_code == 201
    assert admin.delete(f"{CRDS}/gadgets.{GROUP}").status_code == 200
    wait_until(lambda: admin.get(f"{gadgets}/plain").status_code == 404, "the plain Gadget to be deleted")
    held = wait_until(lambda: admin.get(f"{gadgets}/kept").json()["metadata"].get("deletionTimestamp"),
                      "the held Gadget to be marked for deletion")
    assert held
    crd = admin.get(f"{CRDS}/gadgets.{GROUP}").json()
    terminating = next(c for c in crd["status"]["conditions"] if c["type"] == "Terminating")
    assert terminating["reason"] == "InstanceDeletionInProgress"
    refused = admin.post(gadgets, json={**kept, "metadata": {"name": "late"}})
    assert "create not allowed while custom resource definition is terminating" in \
        expect_status(refused, 405, "MethodNotAllowed")["message"]
    admin.patch(f"{gadgets}/kept", json={"metadata": {"finalizers": None}},
                headers={"Content-Type": "application/merge-patch+json"})
    wait_until(lambda: admin.get(f"{CRDS}/gadgets.{GROUP}").status_code == 404, "the CRD to be deleted")
    wait_until(lambda: admin.get(gadgets).status_code == 404, "the Gadget routes to go")


def test_another_registry_converges_through_its_watch(api: InProcessAPI, admin: httpx.Client) -> None:
    """A second API replica (its own registry over the same store) serves a new CRD once its watch sees it,
    without re-reading the CRDs itself."""
    assert api.storage is not None and api.loop is not None
    other = ResourceRegistry(api.storage)
    asyncio.run_coroutine_threadsafe(other.ready(), api.loop).result(10)
    assert other.find(GROUP, "v1", "widgets") is not None
    crd = gadget_crd()
    crd["metadata"]["name"] = f"sprockets.{GROUP}"
    crd["spec"]["names"] = {"plural": "sprockets", "kind": "Sprocket"}
    assert other.find(GROUP, "v1", "sprockets") is None
    assert admin.post(CRDS, json=crd).status_code == 201
    wait_until(lambda: other.find(GROUP, "v1", "sprockets") is not None, "the other registry to serve sprockets")
    admin.delete(f"{CRDS}/sprockets.{GROUP}")
    wait_until(lambda: other.find(GROUP, "v1", "sprockets") is None, "the other registry to drop sprockets")
    asyncio.run_coroutine_threadsafe(other.stop(), api.loop).result(10)


def test_custom_resources_are_authorized_like_any_resource(api: InProcessAPI, admin: httpx.Client) -> None:
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "jane-edit", "namespace": "default"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
               "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]}
    assert admin.post(f"{rbac}/namespaces/default/rolebindings", json=binding).status_code == 201
    with api.client(token="jane-token") as jane:
        wait_until(lambda: jane.get("/api/v1/namespaces/default/configmaps").status_code == 200, "edit bound")
        refused = expect_status(jane.get(WIDGETS), 403, "Forbidden")
        assert refused["message"].startswith('widgets.example.com is forbidden: User "jane" cannot list resource '
                                             '"widgets" in API group "example.com" in the namespace "default"')
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "widgets-edit", "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
                "rules": [{"apiGroups": [GROUP], "resources": ["widgets"], "verbs": ["get", "list", "create"]}]}
        assert admin.post(f"{rbac}/clusterroles", json=role).status_code == 201
        wait_until(lambda: jane.get(WIDGETS).status_code == 200, "edit to aggregate the widgets rule")
        assert jane.post(WIDGETS, json=widget("janes", 1)).status_code == 201
        assert jane.get(f"/apis/{GROUP}/v1/widgets").status_code == 403  # edit is bound in default only
