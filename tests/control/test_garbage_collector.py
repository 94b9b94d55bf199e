"""Garbage collector decisions: dangling owners, foreground waits, orphaning, the resources watched."""

from __future__ import annotations

from typing import Any

from raftkube.api.resources import Resource, by_kind
from raftkube.client import NotFound
from raftkube.client.events import EventRecorder
from raftkube.control.garbage_collector import (
    DANGLING,
    SOLID,
    WAITING,
    WATCHED,
    GarbageCollector,
    decide_dependent,
    foreground_state,
    item_key,
    owner_state,
    without_owner,
)
from raftkube.control.runtime import SharedInformers

Obj = dict[str, Any]


def ref(uid: str, block: bool = True) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"rs-{uid}", "uid": uid, "controller": True,
            "blockOwnerDeletion": block}


def obj(name: str, refs: list[Obj], deleting: bool = False, finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "ownerReferences": refs}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    if finalizers:
        meta["finalizers"] = finalizers
    return {"metadata": meta}


def test_owner_state() -> None:
    assert owner_state(None, "u1") == DANGLING
    assert owner_state({"metadata": {"uid": "other"}}, "u1") == DANGLING  # recreated under the same name
    assert owner_state({"metadata": {"uid": "u1"}}, "u1") == SOLID
    background = {"metadata": {"uid": "u1", "deletionTimestamp": "t", "finalizers": ["custom"]}}
    assert owner_state(background, "u1") == SOLID  # still there: dependents wait for it to go
    foreground = {"metadata": {"uid": "u1", "deletionTimestamp": "t", "finalizers": ["foregroundDeletion"]}}
    assert owner_state(foreground, "u1") == WAITING


def test_dependent_with_all_owners_gone_is_deleted_in_background() -> None:
    action = decide_dependent(obj("p", [ref("a"), ref("b")]), {"a": DANGLING, "b": DANGLING}, False)
    assert (action.kind, action.policy) == ("delete", "Background")


def test_dependent_of_a_waiting_owner_cascades_in_the_foreground_if_it_has_dependents() -> None:
    assert decide_dependent(obj("rs", [ref("d")]), {"d": WAITING}, True).policy == "Foreground"
    leaf = decide_dependent(obj("p", [ref("d")]), {"d": WAITING}, False)
    assert (leaf.kind, leaf.policy) == ("delete", "Background")


def test_a_solid_owner_keeps_the_dependent_and_only_stale_references_go() -> None:
    action = decide_dependent(obj("p", [ref("a"), ref("b"), ref("c")]), {"a": SOLID, "b": DANGLING, "c": WAITING},
                              False)
    assert action.kind == "patch" and sorted(action.remove) == ["b", "c"]
    assert decide_dependent(obj("p", [ref("a")]), {"a": SOLID}, False).kind == "none"


def test_objects_without_owners_or_being_deleted_are_left_alone() -> None:
    assert decide_dependent(obj("p", []), {}, False).kind == "none"
    assert decide_dependent(obj("p", [ref("a")], deleting=True), {"a": DANGLING}, False).kind == "none"


def test_unknown_owner_state_counts_as_solid() -> None:
    assert decide_dependent(obj("p", [ref("a")]), {}, False).kind == "none"


def test_foreground_owner_waits_for_blocking_dependents_only() -> None:
    owner = obj("rs", [])
    owner["metadata"]["uid"] = "o"
    blocking = obj("p1", [ref("o", block=True)])
    loose = obj("p2", [ref("o", block=False)])
    going = obj("p3", [ref("o", block=True)], deleting=True)
    pending, done = foreground_state(owner, [blocking, loose, going])
    assert [p["metadata"]["name"] for p in pending] == ["p1", "p2"]
    assert not done
    pending, done = foreground_state(owner, [loose])
    assert done and pending == [loose]
    assert foreground_state(owner, []) == ([], True)


def test_without_owner_removes_only_that_reference() -> None:
    dependent = obj("p", [ref("a"), ref("b")])
    assert [r["uid"] for r in without_owner(dependent, ["a"])] == ["b"]
    assert without_owner(dependent, ["a", "b"]) == []


def test_watches_every_namespaced_resource_but_events_and_nodes() -> None:
    kinds = {r.kind for r in WATCHED}
    assert {"Pod", "ReplicaSet", "Deployment", "DaemonSet", "Job", "ConfigMap", "Lease", "Node"} <= kinds
    assert "Event" not in kinds and "Namespace" not in kinds


class FakeClient:
    """Records the collector's writes; answers owner look-ups from `live` (name -> object)."""

    def __init__(self, live: dict[str, Obj] | None = None) -> None:
        self.live = live or {}
        self.calls: list[tuple[str, str, str, Any]] = []

    async def resolve(self, ref: tuple[str, str]) -> Resource:
        return resource(*ref)

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Obj:
        if name not in self.live:
            raise NotFound(message=f"{name} not found")
        return self.live[name]

    async def delete(self, resource: Resource, name: str, namespace: str | None = None, **options: Any) -> Obj:
        self.calls.append(("delete", resource.kind, name, options))
        return {}

    async def patch(self, resource: Resource, name: str, patch: Any, namespace: str | None = None,
                    **options: Any) -> Obj:
        self.calls.append(("patch", resource.kind, name, patch["metadata"]))
        return {}


def collector(client: FakeClient) -> GarbageCollector:
    api: Any = client  # never started: the informers make no request
    return GarbageCollector(api, SharedInformers(api), EventRecorder(api, "test"))


def put(gc: GarbageCollector, kind: str, obj: Obj) -> str:
    resource = {"Pod": POD_RES, "ReplicaSet": RS_RES}[kind]
    obj = {"apiVersion": resource.api_version, "kind": kind, **obj}
    obj["metadata"].setdefault("resourceVersion", "1")
    gc.informers[(resource.api_version, kind)].cache.put(obj)
    gc._observe(resource, obj)
    return item_key(resource, obj)


def owner(name: str, uid: str, finalizer: str | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": uid}
    if finalizer:
        meta.update(deletionTimestamp="2024-01-01T00:00:00Z", finalizers=[finalizer])
    return {"metadata": meta}


def resource(api_version: str, kind: str) -> Resource:
    found = by_kind(api_version, kind)
    assert found is not None
    return found


POD_RES, RS_RES = resource("v1", "Pod"), resource("apps/v1", "ReplicaSet")


async def test_dangling_owner_is_confirmed_through_the_api_before_deleting() -> None:
    client = FakeClient({"rs-alive": owner("rs-alive", "alive")})
    gc = collector(client)
    orphan = put(gc, "Pod", obj("p1", [ref("gone")]))
    kept = put(gc, "Pod", obj("p2", [{**ref("alive"), "name": "rs-alive"}]))
    assert gc.dependents == {"gone": {orphan}, "alive": {kept}}
    await gc.reconcile(orphan)
    await gc.reconcile(kept)
    assert client.calls == [("delete", "Pod", "p1", {"propagation_policy": "Background",
                                                     "preconditions": {"uid": "uid-p1"}})]
    assert "gone" in gc.absent


async def test_foreground_owner_waits_for_blocking_dependents_then_drops_its_finalizer() -> None:
    client = FakeClient()
    gc = collector(client)
    rs_key = put(gc, "ReplicaSet", owner("rs", "o", "foregroundDeletion"))
    pod_key = put(gc, "Pod", obj("p1", [{**ref("o"), "name": "rs"}]))
    assert await gc.reconcile(rs_key) is not None  # waits for p1 (and queued it)
    assert client.calls == []
    await gc.reconcile(pod_key)
    assert client.calls[0][:3] == ("delete", "Pod", "p1")
    gc.informers[("v1", "Pod")].cache.remove("ns/p1")
    gc._forget(POD_RES, obj("p1", [{**ref("o"), "name": "rs"}]))
    await gc.reconcile(rs_key)
    assert client.calls[-1] == ("patch", "ReplicaSet", "rs", {"finalizers": None, "resourceVersion": "1"})


async def test_orphaning_removes_the_references_then_the_finalizer() -> None:
    client = FakeClient()
    gc = collector(client)
    rs_key = put(gc, "ReplicaSet", owner("rs", "o", "orphan"))
    put(gc, "Pod", obj("p1", [{**ref("o"), "name": "rs"}, ref("other")]))
    await gc.reconcile(rs_key)
    assert client.calls == [
        ("patch", "Pod", "p1", {"ownerReferences": [ref("other")], "resourceVersion": "1"}),
        ("patch", "ReplicaSet", "rs", {"finalizers": None, "resourceVersion": "1"})]
