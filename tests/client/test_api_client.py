"""ApiClient against the in-memory fake: CRUD, typed errors, pagination, failover, watch."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from raftkube.api.resources import RESOURCES
from raftkube.client import (
    AlreadyExists,
    ApiClient,
    ApiUnavailable,
    Conflict,
    Expired,
    Invalid,
    NotFound,
    OutcomeUnknown,
    RetryPolicy,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from raftkube.client.kubeconfig import build_kubeconfig, load_kubeconfig

from .fake_api import FakeApi

POD = ("v1", "Pod")
DEPLOY = next(r for r in RESOURCES if r.kind == "Deployment")


def pod(name: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.calls.append(delay)


def client(fake: FakeApi, sleeps: Sleeps | None = None, token: str | None = "t0k", **kw: Any) -> ApiClient:
    retry = kw.pop("retry", RetryPolicy(jitter=0))
    return ApiClient(fake.urls(), token, transport=fake.transport(), sleep=sleeps or Sleeps(), retry=retry, **kw)


async def test_crud_round_trip() -> None:
    fake = FakeApi()
    async with client(fake) as api:
        created = await api.create(POD, pod("web"))
        assert created["metadata"]["resourceVersion"]
        got = await api.get(POD, "web", "default")
        assert got["metadata"]["uid"] == created["metadata"]["uid"]
        got["metadata"]["labels"] = {"app": "web"}
        updated = await api.update(None, got)
        assert updated["metadata"]["labels"] == {"app": "web"}
        status = await api.update_status(POD, {**updated, "status": {"phase": "Running"}})
        assert status["status"] == {"phase": "Running"}
        patched = await api.patch(POD, "web", {"metadata": {"labels": {"tier": "fe"}}}, "default")
        assert patched["metadata"]["labels"] == {"app": "web", "tier": "fe"}
        jp = await api.patch(POD, "web", [{"op": "remove", "path": "/metadata/labels/tier"}], "default",
                             patch_type="json")
        assert jp["metadata"]["labels"] == {"app": "web"}
        await api.delete(POD, "web", "default", propagation_policy="Foreground")
        with pytest.raises(NotFound) as err:
            await api.get(POD, "web", "default")
    assert err.value.code == 404 and err.value.reason == "NotFound"
    assert err.value.kubectl_message() == 'Error from server (NotFound): pods "web" not found'
    deletes = [b for m, _, b in fake.bodies if m == "DELETE"]
    assert deletes == [{"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}]
    assert ("PATCH", "application/json-patch+json") in [(m, c) for m, c, _ in fake.bodies]


async def test_paths_for_cluster_scoped_and_group_resources() -> None:
    fake = FakeApi()
    async with client(fake) as api:
        await api.create(None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}})
        await api.create(DEPLOY, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
                         "prod")
        assert (await api.get(("v1", "Namespace"), "prod"))["metadata"]["name"] == "prod"
        assert (await api.list(DEPLOY))["items"][0]["metadata"]["namespace"] == "prod"
    paths = [p for _, m, p, _ in fake.requests if m == "POST"]
    assert paths == ["/api/v1/namespaces", "/apis/apps/v1/namespaces/prod/deployments"]


async def test_typed_errors_from_status() -> None:
    fake = FakeApi()
    async with client(fake) as api:
        await api.create(POD, pod("a"))
        with pytest.raises(AlreadyExists):
            await api.create(POD, pod("a"))
        stale = await api.get(POD, "a", "default")
        await api.patch(POD, "a", {"metadata": {"labels": {"x": "1"}}}, "default")
        with pytest.raises(Conflict):
            await api.update(POD, stale)
        with pytest.raises(Conflict):
            await api.delete(POD, "a", "default", preconditions={"uid": "someone-else"})
        with pytest.raises(Invalid) as invalid:
            await api.create(POD, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": ""}})
    assert invalid.value.causes == [{"field": "metadata.name", "message": "Required value",
                                     "reason": "FieldValueRequired"}]
    async with client(fake, token="wrong") as api:
        with pytest.raises(Unauthorized):
            await api.get(POD, "a", "default")


async def test_list_follows_continue_and_keeps_first_resource_version() -> None:
    fake = FakeApi()
    for i in range(7):
        fake.seed(pod(f"p{i}", app="web" if i % 2 else "db"))
    rv = str(fake.rev)
    async with client(fake) as api:
        listing = await api.list(POD, "default", limit=3)
        web = await api.list(POD, "default", label_selector="app=web", limit=2)
    assert [p["metadata"]["name"] for p in listing["items"]] == [f"p{i}" for i in range(7)]
    assert listing["metadata"] == {"resourceVersion": rv}
    assert [p["metadata"]["name"] for p in web["items"]] == ["p1", "p3", "p5"]
    conts = [q for _, m, _, q in fake.requests if "continue" in q]
    assert len(conts) == 3 and all(q["limit"] == "3" or q["limit"] == "2" for q in conts)


async def test_list_restarts_unchunked_when_continue_expires() -> None:
    fake = FakeApi()
    for i in range(5):
        fake.seed(pod(f"p{i}"))
    fake.expire_continue = True
    async with client(fake) as api:
        listing = await api.list(POD, "default", limit=2)
    assert len(listing["items"]) == 5
    assert "limit" not in fake.requests[-1][3]


async def test_reads_fail_over_connection_errors_and_5xx() -> None:
    fake = FakeApi()
    fake.seed(pod("a"))
    fake.down.add("a")
    fake.fail("b", "503")
    sleeps = Sleeps()
    async with client(fake, sleeps) as api:
        assert (await api.get(POD, "a", "default"))["metadata"]["name"] == "a"
        hosts = [h for h, *_ in fake.requests]
        assert hosts == ["a", "b", "c"]
        await api.get(POD, "a", "default")  # the endpoint that answered stays first
    assert [h for h, *_ in fake.requests][-1] == "c"
    assert sleeps.calls == []  # one round was enough: no backoff


async def test_backoff_between_rounds_is_bounded_then_gives_up() -> None:
    fake = FakeApi()
    fake.down.update({"a", "b", "c"})
    sleeps = Sleeps()
    retry = RetryPolicy(max_attempts=12, backoff_base=0.1, backoff_max=0.3, jitter=0)
    async with client(fake, sleeps, retry=retry) as api:
        with pytest.raises(ApiUnavailable):
            await api.list(POD)
    assert len(fake.requests) == 12
    assert sleeps.calls == [0.1, 0.2, 0.3]


async def test_429_moves_on_for_writes_too_and_honours_retry_after() -> None:
    fake = FakeApi()
    fake.fail("a", "429")
    sleeps = Sleeps()
    async with client(fake, sleeps, retry=RetryPolicy(jitter=0, backoff_max=5)) as api:
        await api.create(POD, pod("x"))
    assert [(h, m) for h, m, *_ in fake.requests] == [("a", "POST"), ("b", "POST")]
    assert sleeps.calls == [1.0]
    fake.fail("b", "429", "429", "429")
    fake.fail("c", "429", "429", "429")
    fake.fail("a", "429", "429", "429")
    async with client(fake, sleeps, retry=RetryPolicy(max_attempts=3, jitter=0)) as api:
        with pytest.raises(TooManyRequests):
            await api.get(POD, "x", "default")


async def test_create_with_lost_answer_is_not_retried() -> None:
    fake = FakeApi()
    fake.fail("a", "read-after")  # the pod is created, the answer is lost
    async with client(fake) as api:
        with pytest.raises(OutcomeUnknown):
            await api.create(POD, pod("once"))
        assert [m for _, m, *_ in fake.requests] == ["POST"]
        assert (await api.get(POD, "once", "default"))["metadata"]["name"] == "once"
    assert [h for h, *_ in fake.requests] == ["a", "b"]  # the failing endpoint was demoted


async def test_write_5xx_is_surfaced_not_retried_but_connect_errors_are() -> None:
    fake = FakeApi()
    fake.fail("a", "503")
    async with client(fake) as api:
        with pytest.raises(ServiceUnavailable):
            await api.create(POD, pod("w"))
        fake.fail("b", "connect")
        await api.create(POD, pod("w"))
    assert [(h, m) for h, m, *_ in fake.requests] == [("a", "POST"), ("b", "POST"), ("c", "POST")]


async def test_watch_streams_bookmarks_and_resumes_after_a_break() -> None:
    fake = FakeApi()
    fake.seed(pod("a"))
    rv = str(fake.rev)
    seen: list[tuple[str, str]] = []
    async with client(fake) as api:
        events = api.watch(POD, "default", resource_version=rv)
        fake.seed(pod("b"))
        async for kind, obj in events:
            seen.append((kind, obj["metadata"].get("name", "")))
            if kind == "ADDED" and obj["metadata"]["name"] == "b":
                fake.break_watches()
                fake.seed(pod("c"))
            if kind == "ADDED" and obj["metadata"]["name"] == "c":
                break
        await events.aclose()
    assert [s for s in seen if s[0] != "BOOKMARK"] == [("ADDED", "b"), ("ADDED", "c")]
    watches = [(h, q["resourceVersion"]) for h, m, _, q in fake.requests if q.get("watch")]
    assert watches[0] == ("a", rv) and watches[1][0] == "b" and int(watches[1][1]) > int(rv)
    assert all(q.get("allowWatchBookmarks") == "true" for _, _, _, q in fake.requests if q.get("watch"))


@pytest.mark.parametrize("http", [False, True])
async def test_watch_too_old_raises_expired(http: bool) -> None:
    fake = FakeApi()
    fake.seed(pod("a"))
    fake.compact()
    fake.watch_410_http = http
    async with client(fake) as api:
        with pytest.raises(Expired) as err:
            async for _ in api.watch(POD, resource_version="1"):
                pass
    assert err.value.code == 410


async def test_resolve_unknown_kind_through_discovery() -> None:
    fake = FakeApi()
    async with client(fake) as api:
        res = await api.resolve(("example.com/v1", "Widget"))
        with pytest.raises(ValueError):
            await api.resolve(("example.com/v1", "Gadget"))
    assert (res.plural, res.namespaced, res.group) == ("widgets", True, "example.com")


def test_from_kubeconfig_reads_extension_endpoints(tmp_path: Any) -> None:
    doc = build_kubeconfig(["https://a:6443", "https://b:6443"], "tok", ca_data="PEM", namespace="prod")
    assert doc["clusters"][0]["cluster"]["certificate-authority-data"] == base64.b64encode(b"PEM").decode()
    path = tmp_path / "config"
    import yaml
    path.write_text(yaml.safe_dump(doc))
    cfg = load_kubeconfig(str(path))
    assert cfg.endpoints == ["https://a:6443", "https://b:6443"]
    assert (cfg.token, cfg.ca_data, cfg.namespace) == ("tok", "PEM", "prod")
    doc["clusters"][0]["cluster"].pop("certificate-authority-data")
    doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    path.write_text(yaml.safe_dump(doc))
    api = ApiClient.from_kubeconfig(str(path))
    assert api.endpoints == ["https://a:6443", "https://b:6443"] and api.namespace == "prod"
