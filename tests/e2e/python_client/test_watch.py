"""The official kubernetes Python client against raftkube: a watch that resumes across a replica kill without gap
or duplicate, 410 Gone from a compacted version then relist, selectors on a watch (the cluster:
tests/e2e/python_client/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from raftkube.store import HttpClient
from tests.e2e.cluster import E2ECluster, wait_until
from tests.e2e.python_client.support import TRANSIENT, api_client, configmap, retry

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


# ------------------------------------------------------------------------ watches
@dataclass
class ResumingWatcher:
    """A watch loop that moves to another replica when its connection dies, resuming from
    the last resourceVersion it saw. Runs in a thread; stops at the object named `end`."""

    cluster: E2ECluster
    namespace: str
    resource_version: str
    replica: int
    end: str = "zz-end"
    events: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.api = api_client(self.cluster, self.replica)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        core = client.CoreV1Api(self.api)
        try:
            for _attempt in range(60):
                self.connections.append(self.replica)
                try:
                    stream = watch.Watch().stream(core.list_namespaced_config_map, self.namespace,
                                                  resource_version=self.resource_version, _request_timeout=(2, 60))
                    for event in stream:
                        obj = event["object"]
                        self.events.append((event["type"], obj.metadata.name, obj.metadata.resource_version,
                                            (obj.data or {}).get("v")))
                        self.resource_version = obj.metadata.resource_version
                        if obj.metadata.name == self.end:
                            return
                except TRANSIENT as exc:
                    self.errors.append(exc)
                    self.replica = (self.replica + 1) % len(self.cluster.plane.replicas)
                    self.api.configuration.host = self.cluster.api_url(self.replica)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)
        finally:
            self.done.set()


class Writer:
    """Sequential writes through one replica, remembering each change and its resourceVersion."""

    def __init__(self, core: client.CoreV1Api, namespace: str) -> None:
        self.core, self.namespace = core, namespace
        self.changes: list[tuple[str, str, str, str | None]] = []
        self.current: dict[str, client.V1ConfigMap] = {}

    def create(self, name: str, value: str) -> None:
        def done(exc: ApiException) -> client.V1ConfigMap | None:
            return self.core.read_namespaced_config_map(name, self.namespace) if exc.status == 409 else None
        obj = retry(lambda: self.core.create_namespaced_config_map(self.namespace, configmap(name, {"v": value})),
                    done, f"create {name}")
        self.current[name] = obj
        self.changes.append(("ADDED", name, obj.metadata.resource_version, value))

    def update(self, name: str, value: str) -> None:
        obj = self.current[name]
        obj.data = {"v": value}

        def done(exc: ApiException) -> client.V1ConfigMap | None:
            live = self.core.read_namespaced_config_map(name, self.namespace)
            return live if exc.status == 409 and live.data == {"v": value} else None
        updated = retry(lambda: self.core.replace_namespaced_config_map(name, self.namespace, obj), done,
                        f"update {name}")
        self.current[name] = updated
        self.changes.append(("MODIFIED", name, updated.metadata.resource_version, value))

    def delete(self, name: str) -> None:
        value = self.current.pop(name).data["v"]
        retry(lambda: self.core.delete_namespaced_config_map(name, self.namespace),
              lambda exc: True if exc.status == 404 else None, f"delete {name}")
        self.changes.append(("DELETED", name, "", value))


def test_watch_survives_replica_kill(cluster: E2ECluster, ns: str) -> None:
    plane = cluster.plane
    victim = plane.leader_index()  # the hardest case: the watched replica is the Raft leader
    survivor = (victim + 1) % 3
    with api_client(cluster, survivor) as writer_api:
        core = client.CoreV1Api(writer_api)
        writer = Writer(core, ns)
        writer.create("pre-existing", "0")
        start_rv = core.list_namespaced_config_map(ns).metadata.resource_version
        writer.changes.clear()  # the watch starts after this
        watcher = ResumingWatcher(cluster, ns, start_rv, victim)
        watcher.thread.start()
        try:
            for i in range(4):  # before
                writer.create(f"before-{i}", str(i))
            writer.update("pre-existing", "1")
            wait_until(lambda: len(watcher.events) >= len(writer.changes), 20, "watcher saw the first writes")
            assert watcher.connections == [victim]

            plane.kill(victim)
            for i in range(4):  # during: the watcher's replica is gone, a new leader is being elected
                writer.create(f"during-{i}", str(i))
            writer.update("before-0", "during")
            writer.delete("before-1")
            wait_until(lambda: len(watcher.connections) >= 2 and len(watcher.events) >= len(writer.changes), 40,
                       "watcher resumed on another replica")
            for i in range(3):  # after
                writer.create(f"after-{i}", str(i))
            writer.update("during-0", "after")
            writer.delete("pre-existing")
            writer.create(watcher.end, "end")
            assert watcher.done.wait(40), f"watch did not reach the end: {watcher.events} {watcher.errors}"
        finally:
            plane.start_replica(victim)
            plane.wait_healthy(timeout=60)
            cluster.wait_api_ready(victim)
            watcher.thread.join(timeout=10)
            watcher.api.close()
    assert watcher.errors, "the watch was expected to lose its connection"
    assert not [e for e in watcher.errors if not isinstance(e, TRANSIENT)], watcher.errors
    assert watcher.connections[0] == victim and victim not in watcher.connections[-1:]
    seen = [(t, name, value) for t, name, _rv, value in watcher.events]
    expected = [(t, name, value) for t, name, _rv, value in writer.changes]
    assert seen == expected, "every change exactly once, in order"
    versions = [int(rv) for _t, _n, rv, _v in watcher.events]
    assert versions == sorted(set(versions)), "resourceVersions strictly increase"
    for (kind, name, rv, _v), (_k, _n, written_rv, _w) in zip(watcher.events, writer.changes, strict=True):
        assert kind == "DELETED" or rv == written_rv, f"{kind} {name}: {rv} != {written_rv}"


async def _compact(store_urls: list[str], token: str, revision: int) -> int:
    """Compact through the first replica, then wait until every replica has applied it (bounded)."""
    store = HttpClient(store_urls[:1], token=token)
    try:
        compacted = await store.compact(revision)
        for url in store_urls:
            for _ in range(200):
                if (await store.status_of(url)).get("compact_revision", 0) >= revision:
                    break
                await asyncio.sleep(0.02)
        return compacted
    finally:
        await store.close()


def test_watch_from_compacted_version_gets_410_then_relist_works(cluster: E2ECluster, core: client.CoreV1Api,
                                                                 ns: str) -> None:
    old = core.create_namespaced_config_map(ns, configmap("old-0")).metadata.resource_version
    for i in range(1, 4):
        core.create_namespaced_config_map(ns, configmap(f"old-{i}"))
    current = int(core.list_namespaced_config_map(ns).metadata.resource_version)
    urls = [cluster.store_url(i) for i in range(3)]
    assert asyncio.run(_compact(urls, cluster.plane.store_token, current)) == current

    with pytest.raises(ApiException) as info:
        for _event in watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version=old,
                                           _request_timeout=(2, 30)):
            pytest.fail("no event is expected from a compacted resourceVersion")
    assert info.value.status == 410, info.value
    raw = cluster.get(0, f"/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion={old}&timeoutSeconds=5")
    first = raw.json() if raw.status_code == 410 else json.loads(raw.text.splitlines()[0])
    status = first if raw.status_code == 410 else first["object"]
    assert (status["code"], status["reason"]) == (410, "Expired") and (raw.status_code == 410 or
                                                                       first["type"] == "ERROR")

    # relist, then watch from the list's version: only what happened after it is delivered
    relisted = core.list_namespaced_config_map(ns)
    assert sorted(c.metadata.name for c in relisted.items) == [f"old-{i}" for i in range(4)]
    core.create_namespaced_config_map(ns, configmap("new-0"))
    core.delete_namespaced_config_map("old-0", ns)
    events = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, ns, resource_version=relisted.metadata.resource_version,
                          _request_timeout=(2, 30)):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 2:
            w.stop()
    assert events == [("ADDED", "new-0"), ("DELETED", "old-0")]


def test_watch_with_label_selector_sees_objects_enter_and_leave(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, configmap("out", team="blue"))
    start = core.list_namespaced_config_map(ns, label_selector="team=red").metadata.resource_version
    core.create_namespaced_config_map(ns, configmap("in", team="red"))
    core.patch_namespaced_config_map("out", ns, {"metadata": {"labels": {"team": "red"}}})  # enters
    core.patch_namespaced_config_map("in", ns, {"data": {"k": "2"}})  # changes inside
    core.patch_namespaced_config_map("in", ns, {"metadata": {"labels": {"team": "blue"}}})  # leaves
    core.patch_namespaced_config_map("in", ns, {"data": {"k": "3"}})  # changes outside: not seen
    core.delete_namespaced_config_map("out", ns)
    events = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, ns, label_selector="team=red", resource_version=start,
                          _request_timeout=(2, 30)):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 5:
            w.stop()
    assert events == [("ADDED", "in"), ("ADDED", "out"), ("MODIFIED", "in"), ("DELETED", "in"), ("DELETED", "out")]
