"""The ClusterRole aggregation controller against the in-memory fake API: an aggregated role gets the union
of the selected roles' rules, follows label and rule changes, and a role that needs nothing is not written."""

from __future__ import annotations

import asyncio
from typing import Any

from raftkube.client import ApiClient, RetryPolicy
from raftkube.control.clusterrole_aggregation import ClusterRoleAggregationController
from raftkube.control.manager import default_factories
from raftkube.control.runtime import SharedInformers

from ..client.fake_api import FakeApi
from ..client.test_api_client import Sleeps

Obj = dict[str, Any]
LABEL = {"example.com/aggregate-to-monitoring": "true"}


def role(name: str, rules: list[Obj], labels: dict[str, str] | None = None, aggregate: bool = False) -> Obj:
    out: Obj = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": name, "labels": labels or {}}, "rules": rules}
    if aggregate:
        out["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": LABEL}]}
    return out


def pods(verb: str) -> Obj:
    return {"apiGroups": [""], "resources": ["pods"], "verbs": [verb]}


async def until(check: Any, what: str) -> None:
    for _ in range(500):  # bounded: 5 s at most
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(what)


def test_registered_in_the_controller_manager() -> None:
    assert ClusterRoleAggregationController in default_factories()


async def test_aggregates_selected_roles_and_follows_changes() -> None:
    fake = FakeApi()
    fake.seed(role("monitoring", [], aggregate=True))
    fake.seed(role("a-pods-get", [pods("get")], LABEL))
    fake.seed(role("b-pods-list", [pods("list"), pods("get")], LABEL))
    fake.seed(role("unlabelled", [pods("delete")]))
    client = ApiClient(fake.urls(), "t0k", transport=fake.transport(), sleep=Sleeps(),
                       retry=RetryPolicy(max_attempts=3, jitter=0))
    informers = SharedInformers(client)
    controller = ClusterRoleAggregationController(client, informers, None)  # type: ignore[arg-type]
    await informers.start(5)
    try:
        stored = lambda: fake.objects[("clusterroles", None, "monitoring")]  # noqa: E731
        assert await controller.reconcile("monitoring") is None
        assert stored()["rules"] == [pods("get"), pods("list")]  # by name, each rule once
        await until(lambda: controller.roles.cache.get_by_name("monitoring")["rules"], "cache caught up")
        writes = len(fake.bodies)
        assert await controller.reconcile("monitoring") is None
        assert len(fake.bodies) == writes  # nothing to change: nothing written
        assert await controller.reconcile("a-pods-get") is None and len(fake.bodies) == writes  # not aggregated
        fake.seed(role("unlabelled", [pods("delete")], LABEL))
        await until(lambda: (controller.roles.cache.get_by_name("unlabelled")["metadata"].get("labels")), "labelled")
        assert await controller.reconcile("monitoring") is None
        assert pods("delete") in stored()["rules"]
    finally:
        await informers.stop()
        await client.close()
