"""Fairness through the API: a flooding user refused with 429 + Retry-After while the admin, the nodes and
(once a seat frees) another user are served; the watch cap; a big YAML body decoded off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from raftkube.api import request_body
from raftkube.api.auth import User
from raftkube.api.fairness import TOO_MANY, Fairness, FairnessConfig

from .inproc import InProcessAPI, expect_status, running_api

DEADLINE = 20.0  # seconds: a bound on waiting for an event, never a timing assertion
TOKENS = {"flood-token": User("flood", "f"), "alice-token": User("alice", "a"),
          "node-token": User("system:node:n1", "n", ("system:nodes",))}
LIMITS = Fairness(FairnessConfig(max_requests_inflight=4, max_mutating_requests_inflight=4, queue_length=2,
                                 queue_wait=DEADLINE, max_watches=3, max_watches_per_user=2))


@pytest.fixture(scope="module")
def api() -> Iterator[InProcessAPI]:
    # no watch cache: the Gate below holds requests by holding their store reads
    with running_api(app_options={"fairness": LIMITS, "watch_cache": False}, tokens=TOKENS) as server, \
            server.client() as admin:
        grant_cluster_admin(admin, [user.name for user in TOKENS.values()])
        yield server


def grant_cluster_admin(admin: httpx.Client, users: list[str]) -> None:
    """RBAC lets these users do anything: what is measured here is fairness, not authorization."""
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "fairness-test-users"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u} for u in users]}
    response = admin.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json=binding)
    assert response.status_code == 201, response.text[:300]
    for _ in range(int(DEADLINE / 0.05)):  # the RBAC index learns the binding from its watch
        with httpx.Client(base_url=str(admin.base_url), headers={"authorization": "Bearer alice-token"}) as alice:
            if alice.get("/api/v1/namespaces/default/configmaps").status_code == 200:
                return
        threading.Event().wait(0.05)
    raise AssertionError("the binding never took effect")


def queue_of(user: str) -> int:
    queue = LIMITS.queue(User(user, ""), "get")
    assert queue is not None
    return sum(len(q) for name, q in queue._queues.items() if name == user)


def wait_until(condition: Any) -> None:
    for _ in range(int(DEADLINE / 0.01)):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the condition never held")


class Gate:
    """Holds every store read of a `flood` namespace on the server's loop until opened."""

    def __init__(self, api: InProcessAPI) -> None:
        self.api, self.held = api, 0
        self.open = asyncio.Event()
        self.arrived = threading.Semaphore(0)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert self.api.replica is not None
        real = self.api.replica.range

        async def gated(key: bytes, *args: Any, **kwargs: Any) -> Any:
            if b"/flood" in key:
                self.arrived.release()
                await self.open.wait()
            return await real(key, *args, **kwargs)
        monkeypatch.setattr(self.api.replica, "range", gated)

    def release(self) -> None:
        assert self.api.loop is not None
        self.api.loop.call_soon_threadsafe(self.open.set)


def test_a_flooding_user_is_refused_while_others_are_served(api: InProcessAPI,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate(api)
    gate.install(monkeypatch)
    flood_url = "/api/v1/namespaces/flood/configmaps"
    with ThreadPoolExecutor(8) as pool, api.client("flood-token") as flood, api.client("alice-token") as alice, \
            api.client() as admin, api.client("node-token") as node:
        seated = [pool.submit(flood.get, flood_url) for _ in range(3)]  # the workload level's 3 read seats
        for _ in seated:
            assert gate.arrived.acquire(timeout=DEADLINE)
        queued = [pool.submit(flood.get, flood_url) for _ in range(2)]  # flood's queue (2) fills
        wait_until(lambda: queue_of("flood") == 2)
        response = flood.get(flood_url)  # one more: refused at once
        status = expect_status(response, 429, "TooManyRequests")
        assert status["message"] == TOO_MANY and response.headers["retry-after"] == "1"
        assert status["details"]["retryAfterSeconds"] == 1 and "flood" in status["details"]["causes"][0]["message"]
        assert admin.get("/api/v1/namespaces/default/configmaps").status_code == 200  # exempt
        assert node.get("/api/v1/nodes/n1").status_code == 404  # its own level: served (no such node yet)
        assert alice.post("/api/v1/namespaces/default/configmaps",  # writes have their own seats
                          json={"metadata": {"name": "fair"}, "data": {"a": "b"}}).status_code == 201
        alice_waits = pool.submit(alice.get, "/api/v1/namespaces/default/configmaps/fair")  # queued for a seat
        wait_until(lambda: queue_of("alice") == 1)
        gate.release()
        assert alice_waits.result(DEADLINE).status_code == 200
        assert all(f.result(DEADLINE).status_code == 200 for f in seated + queued)


@contextlib.contextmanager
def watch(client: httpx.Client) -> Iterator[httpx.Response]:
    with client.stream("GET", "/api/v1/namespaces/default/configmaps", params={"watch": "true"}) as response:
        yield response


def test_watches_are_capped_per_user_and_in_total(api: InProcessAPI) -> None:
    with api.client("flood-token") as flood, api.client("alice-token") as alice, api.client() as admin, \
            contextlib.ExitStack() as open_watches:
        first = [open_watches.enter_context(watch(flood)) for _ in range(2)]
        assert all(w.status_code == 200 for w in first)
        refused = flood.get("/api/v1/namespaces/default/configmaps", params={"watch": "true"})
        status = expect_status(refused, 429, "TooManyRequests")
        assert "per user" in status["details"]["causes"][0]["message"] and refused.headers["retry-after"] == "1"
        assert open_watches.enter_context(watch(alice)).status_code == 200  # the third: the total is reached
        full = admin.get("/api/v1/namespaces/default/configmaps", params={"watch": "true"})
        assert "--max-watches" in expect_status(full, 429, "TooManyRequests")["details"]["causes"][0]["message"]
        assert alice.get("/api/v1/namespaces/default/configmaps").status_code == 200  # a list is no watch
    with api.client("flood-token") as flood:  # the watches closed: the server frees them as it notices
        for _ in range(int(DEADLINE / 0.05)):
            with watch(flood) as again:
                if again.status_code == 200:
                    break
        assert again.status_code == 200


def test_a_big_yaml_body_does_not_block_other_requests(api: InProcessAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    decoding, proceed = threading.Event(), threading.Event()
    real = request_body.decode_yaml

    def held_decode(raw: bytes, what: str) -> Any:  # runs where the server decodes: it waits for the GET
        decoding.set()
        assert proceed.wait(DEADLINE), "the GET never finished while the YAML was being decoded"
        return real(raw, what)
    monkeypatch.setattr(request_body, "decode_yaml", held_decode)
    lines = "\n".join(f"  key{i:06d}: value-{i}" for i in range(20_000))
    body = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-yaml\ndata:\n{lines}\n".encode()
    assert len(body) > request_body.YAML_THREAD_BYTES
    with ThreadPoolExecutor(1) as pool, api.client() as client:
        posted = pool.submit(client.post, "/api/v1/namespaces/default/configmaps", content=body,
                             headers={"content-type": "application/yaml"})
        assert decoding.wait(DEADLINE)
        assert client.get("/api/v1/namespaces").status_code == 200  # served while the body is being decoded
        assert not posted.done()
        proceed.set()
        answer = posted.result(DEADLINE)
        assert answer.status_code == 201, answer.text[:300]
        assert len(client.get("/api/v1/namespaces/default/configmaps/big-yaml").json()["data"]) == 20_000
