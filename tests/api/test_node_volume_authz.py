"""A node's token and PersistentVolumes through the real API: it may get a volume bound to a claim its pods
use, or pinned to it, and delete its own pinned volume once Released with reclaim policy Delete; it may
not list volumes, read another node's, or delete a volume still bound."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.inproc import InProcessAPI, running_api

NS = "nodevolumes"
Obj = dict[str, Any]
PVS = "/api/v1/persistentvolumes"


def volume(name: str, *, node: str | None = None, claim: str | None = None) -> Obj:
    meta: Obj = {"name": name}
    if node is not None:
        meta["annotations"] = {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path",
                               "local.path.provisioner/selected-node": node}
    spec: Obj = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": f"/x/{name}"},
                 "persistentVolumeReclaimPolicy": "Delete"}
    if claim is not None:
        spec["claimRef"] = {"namespace": NS, "name": claim}
    return {"metadata": meta, "spec": spec}


@pytest.fixture(scope="module")
def api() -> Iterator[InProcessAPI]:
    with running_api() as server:
        with server.client() as admin:
            assert admin.post("/api/v1/namespaces", json={"metadata": {"name": NS}}).status_code == 201
            for body in (volume("pinned-n1", node="n1"), volume("pinned-n2", node="n2"), volume("static"),
                         volume("unrelated")):
                assert admin.post(PVS, json=body).status_code == 201, body["metadata"]["name"]
            assert admin.post(f"/api/v1/namespaces/{NS}/persistentvolumeclaims", json={
                "metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "static",
                                                       "resources": {"requests": {"storage": "1Gi"}}}}
            ).status_code == 201
            assert admin.post(f"/api/v1/namespaces/{NS}/pods", json={
                "metadata": {"name": "user"}, "spec": {"nodeName": "n1", "containers": [
                    {"name": "app", "image": "busybox:1"}], "volumes": [
                    {"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}}).status_code == 201
        yield server


@pytest.fixture(scope="module")
def n1(api: InProcessAPI) -> Iterator[httpx.Client]:
    with api.client(api.node_token("n1")) as client:
        deadline = time.monotonic() + 10  # the graph follows pods, claims and volumes by watches
        while client.get(f"{PVS}/static").status_code != 200:
            assert time.monotonic() < deadline, "the node never got the volume of its pod's claim"
            time.sleep(0.05)
        yield client


def test_node_reads_volumes_of_its_claims_and_pinned_to_it(n1: httpx.Client) -> None:
    assert n1.get(f"{PVS}/pinned-n1").status_code == 200
    for name in ("pinned-n2", "unrelated"):
        response = n1.get(f"{PVS}/{name}")
        assert response.status_code == 403 and "no relationship found between node 'n1'" in response.json()["message"]
    assert n1.get(PVS).status_code == 403
    assert n1.put(f"{PVS}/pinned-n1", json=volume("pinned-n1", node="n1")).status_code == 403


def test_node_deletes_only_its_released_delete_volume(api: InProcessAPI, n1: httpx.Client) -> None:
    assert n1.delete(f"{PVS}/pinned-n1").status_code == 403  # not released yet
    with api.client() as admin:
        current = admin.get(f"{PVS}/pinned-n1").json()
        current["status"] = {"phase": "Released"}
        assert admin.put(f"{PVS}/pinned-n1/status", json=current).status_code == 200
        other = admin.get(f"{PVS}/pinned-n2").json()
        other["status"] = {"phase": "Released"}
        assert admin.put(f"{PVS}/pinned-n2/status", json=other).status_code == 200
    deadline = time.monotonic() + 10
    while (response := n1.delete(f"{PVS}/pinned-n1")).status_code == 403:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.05)
    assert response.status_code == 200
    assert n1.delete(f"{PVS}/pinned-n2").status_code == 403
