"""The bind path the scheduler relies on: pods/binding semantics, its stale-read retry, the Event budget,
and a Lease holder renewing with one request (the scheduler's short Lease depends on it).

The binding tests run against the in-process API server (real store, real HTTP); the stale-read
tests drive `Subresources._bind` over a storage whose local (serializable) reads lag behind.
"""

from __future__ import annotations

import asyncio
import copy
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from raftkube.api.errors import APIError, conflict
from raftkube.api.resources import find
from raftkube.api.router import Target
from raftkube.api.subresources import Subresources
from raftkube.control.leader_election import ElectionConfig, LeaderElector
from raftkube.control.scheduler.event_budget import EventBudget
from raftkube.control.scheduler.runner import default_election, window_target
from tests.api.inproc import InProcessAPI, expect_status, nothing_written
from tests.control.fake_leases import FakeLeaseApi

Obj = dict[str, Any]
PODS = "/api/v1/namespaces/default/pods"


def make_pod(api: InProcessAPI, name: str) -> Obj:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}
    with api.client() as http:
        created = http.post(PODS, json=body)
        assert created.status_code == 201, created.text
        return dict(created.json())


def binding(name: str, node: str, uid: str | None = None) -> Obj:
    meta = {"name": name, **({"uid": uid} if uid else {})}
    return {"apiVersion": "v1", "kind": "Binding", "metadata": meta, "target": {"kind": "Node", "name": node}}


def test_a_bind_sets_the_node_and_condition_once_and_a_second_bind_is_refused(api: InProcessAPI) -> None:
    pod = make_pod(api, "once")
    with api.client() as http:
        answer = http.post(f"{PODS}/once/binding", json=binding("once", "n1", pod["metadata"]["uid"]))
        assert answer.status_code == 201, answer.text
        bound = http.get(f"{PODS}/once").json()
        assert bound["spec"]["nodeName"] == "n1"
        scheduled = [c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled"]
        assert [c["status"] for c in scheduled] == ["True"]
        assert bound["spec"]["containers"] == pod["spec"]["containers"]  # nothing else changed
        with nothing_written(api):
            again = http.post(f"{PODS}/once/binding", json=binding("once", "n2"))
        assert "already assigned" in expect_status(again, 409, "Conflict")["message"]
        assert http.get(f"{PODS}/once").json()["spec"]["nodeName"] == "n1"


def test_a_bind_is_refused_for_another_uid_a_missing_pod_a_missing_target_or_a_deleting_pod(
        api: InProcessAPI) -> None:
    make_pod(api, "other-uid")
    with api.client() as http, nothing_written(api):
        expect_status(http.post(f"{PODS}/other-uid/binding", json=binding("other-uid", "n1", "not-its-uid")),
                      409, "Conflict")
        expect_status(http.post(f"{PODS}/nobody/binding", json=binding("nobody", "n1")), 404, "NotFound")
        no_target = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "other-uid"}, "target": {}}
        expect_status(http.post(f"{PODS}/other-uid/binding", json=no_target), 422, "Invalid")
    assert "nodeName" not in api.client().get(f"{PODS}/other-uid").json()["spec"]
    held = make_pod(api, "deleting")
    with api.client() as http:
        held["metadata"]["finalizers"] = ["example.com/hold"]
        assert http.put(f"{PODS}/deleting", json=held).status_code == 200
        assert http.delete(f"{PODS}/deleting").status_code in (200, 202)
        refused = http.post(f"{PODS}/deleting/binding", json=binding("deleting", "n1"))
        assert "being deleted" in expect_status(refused, 409, "Conflict")["message"]
        live = http.get(f"{PODS}/deleting").json()
        live["metadata"]["finalizers"] = []
        assert http.put(f"{PODS}/deleting", json=live).status_code == 200


def test_concurrent_binds_of_one_pod_to_different_nodes_one_wins(api: InProcessAPI) -> None:
    make_pod(api, "raced")

    def bind(node: str) -> int:
        with api.client() as http:
            return http.post(f"{PODS}/raced/binding", json=binding("raced", node)).status_code
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(bind, [f"n{i}" for i in range(8)]))
    assert sorted(codes) == [201] + [409] * 7
    winner = api.client().get(f"{PODS}/raced").json()["spec"]["nodeName"]
    assert codes[int(winner[1:])] == 201


# ------------------------------------------------------------------ stale local reads
class LaggingStorage:
    """`get_or_none(serializable=True)` answers `stale` (a replica behind); `get` and `update` see `live`."""

    def __init__(self, stale: Obj | None, live: Obj) -> None:
        self.stale, self.live = stale, live
        self.reads: list[str] = []
        self.writes: list[Obj] = []

    async def get_or_none(self, resource: Any, namespace: str | None, name: str, serializable: bool = False) -> Any:
        self.reads.append("local" if serializable else "linearizable")
        return copy.deepcopy(self.stale if serializable else self.live)

    async def get(self, resource: Any, namespace: str | None, name: str, serializable: bool = False) -> Obj:
        self.reads.append("linearizable")
        return copy.deepcopy(self.live)

    async def update(self, resource: Any, obj: Obj, expected_revision: int, extras: Any = None) -> Obj:
        if expected_revision != int(self.live["metadata"]["resourceVersion"]):
            raise conflict("pods", obj["metadata"]["name"])
        self.writes.append(obj)
        self.live = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(expected_revision + 1)}}
        return self.live


def stored(rv: int, uid: str = "u1", node: str | None = None) -> Obj:
    return {"metadata": {"name": "p", "namespace": "default", "uid": uid, "resourceVersion": str(rv)},
            "spec": {"containers": [], **({"nodeName": node} if node else {})}, "status": {}}


def bind_with(storage: LaggingStorage, node: str = "n1", uid: str | None = None) -> None:
    pods = find("", "v1", "pods")
    assert pods is not None
    handler = Subresources(storage, None)  # type: ignore[arg-type]
    asyncio.run(handler._bind(Target(pods, "default", "p", "binding"), binding("p", node, uid)))


def test_a_stale_local_copy_is_caught_by_the_revision_compare_and_read_again() -> None:
    storage = LaggingStorage(stale=stored(5), live=stored(9, node="elsewhere"))
    with pytest.raises(APIError) as refused:
        bind_with(storage)
    assert refused.value.code == 409 and "already assigned" in refused.value.message
    assert storage.reads == ["local", "linearizable"] and storage.writes == []

    storage = LaggingStorage(stale=stored(5), live=stored(7))  # changed meanwhile, still unbound
    bind_with(storage)
    assert storage.reads == ["local", "linearizable"] and storage.writes[0]["spec"]["nodeName"] == "n1"


def test_a_refusal_from_a_local_read_is_confirmed_linearizably_first() -> None:
    # the local replica still has an older pod of that name (bound, another uid) or none at all
    for stale in (stored(3, uid="old", node="gone"), None):
        storage = LaggingStorage(stale=stale, live=stored(8))
        bind_with(storage, uid="u1")
        assert storage.reads == ["local", "linearizable"] and len(storage.writes) == 1


def test_an_up_to_date_local_read_binds_with_one_read_and_one_write() -> None:
    storage = LaggingStorage(stale=stored(4), live=stored(4))
    bind_with(storage)
    assert storage.reads == ["local"] and len(storage.writes) == 1


# ------------------------------------------------------------------ Events and the Lease
def test_event_budget_allows_a_burst_then_its_rate() -> None:
    now = [0.0]
    budget = EventBudget(rate=5.0, burst=3, clock=lambda: now[0])
    assert [budget.take() for _ in range(5)] == [True, True, True, False, False]
    now[0] = 0.2  # one more token
    assert [budget.take() for _ in range(2)] == [True, False]
    now[0] = 100.0  # never more than the burst
    assert sum(budget.take() for _ in range(10)) == 3
    assert budget.dropped == 3 + 7


def test_scheduler_lease_is_as_short_as_the_controller_managers_and_its_bind_window_fits_a_renewal() -> None:
    election = default_election("me")
    assert (election.lease_duration, election.renew_deadline, election.retry_period) == (1.2, 0.8, 0.2)
    assert 2 * window_target(election) + election.retry_period < election.renew_deadline


async def test_a_holder_renews_with_one_conditional_update_and_reads_only_after_a_conflict() -> None:
    now = [0.0]
    api = FakeLeaseApi()
    holder = LeaderElector(api, ElectionConfig("l", "h"), clock=lambda: now[0])  # type: ignore[arg-type]
    assert await holder.try_acquire_or_renew()
    api.calls.clear()
    for step in range(1, 4):
        now[0] = 0.2 * step
        assert await holder.try_acquire_or_renew() and holder.is_leader()
    assert api.calls == ["update"] * 3

    assert api.lease is not None  # someone else writes the Lease (e.g. takes it over after a pause)
    api._store({**api.lease, "spec": {**api.lease["spec"], "holderIdentity": "other"}})
    api.calls.clear()
    now[0] = 0.8
    assert not await holder.try_acquire_or_renew()  # the record is fresh: wait for it to expire
    assert api.calls == ["update", "get"]
    assert not holder.is_leader() and api.lease["spec"]["holderIdentity"] == "other"


class BindRecordingApi(FakeLeaseApi):
    """The Lease API plus `request` (how the runner posts a binding): records the paths posted."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[str] = []

    async def request(self, method: str, path: str, **_: object) -> Obj:
        self.posted.append(path)
        return {"kind": "Status", "status": "Success", "code": 201}


async def test_a_bind_is_not_sent_once_the_renew_deadline_is_closer_than_a_binds_latency() -> None:
    from raftkube.control.scheduler.cache import SchedulerCache
    from raftkube.control.scheduler.info import PodInfo
    from raftkube.control.scheduler.runner import SchedulerRunner

    now = [0.0]
    api = BindRecordingApi()
    runner = SchedulerRunner(api, identity="me")  # type: ignore[arg-type]
    runner.elector = LeaderElector(api, default_election("me"), clock=lambda: now[0])  # type: ignore[arg-type]
    runner.cache = SchedulerCache()
    assert await runner.elector.try_acquire_or_renew()
    for name in ("early", "late"):
        runner.queue.add({"metadata": {"name": name, "namespace": "ns", "uid": name}, "spec": {"containers": []}})
    for at, node in ((0.1, "n1"), (0.8 - runner.window.target / 2, "n2")):  # 0.7 s, then 0.1 s of the 0.8 s left
        now[0] = at
        queued = runner.queue.pop_nowait()
        assert queued is not None
        runner.cache.assume(PodInfo.of(queued.pod), node)
        await runner.window.acquire()
        await runner._bind(queued, node, runner.window)
    assert runner.elector.is_leader()  # still leading at 0.7 s, but too close to the deadline to bind
    assert api.posted == ["/api/v1/namespaces/ns/pods/early/binding"]
    assert runner.cache.is_assumed("ns/early") and "ns/late" not in runner.cache.pods  # forgotten, retried later
    assert "ns/late" in runner.queue and runner.window.in_flight == 0
