"""Which pod `raftkube logs TYPE/NAME` reads: selectors of each kind and kubectl's ByLogging order."""

from __future__ import annotations

from typing import Any

import pytest

from raftkube.cli.common import CliError
from raftkube.cli.logs_target import pick_pod, selector_of


def pod(name: str, *, node: str = "n1", phase: str = "Running", ready_at: str | None = None, restarts: int = 0,
        created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": "True", "lastTransitionTime": ready_at}] if ready_at else []
    return {"metadata": {"name": name, "creationTimestamp": created},
            "spec": {"nodeName": node} if node else {},
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"name": "app", "restartCount": restarts}]}}


def chosen(*pods: dict[str, Any]) -> str:
    # the answer must not depend on the order the server listed them in
    names = {pick_pod(list(order))["metadata"]["name"] for order in (pods, pods[::-1])}  # type: ignore[index]
    assert len(names) == 1
    return names.pop()


def test_bound_before_unbound_and_running_before_unknown_before_pending() -> None:
    assert chosen(pod("unbound", node="", ready_at="2026-01-01T00:00:00Z"), pod("bound", phase="Pending")) == "bound"
    assert chosen(pod("pending", phase="Pending"), pod("unknown", phase="Unknown")) == "unknown"
    assert chosen(pod("unknown", phase="Unknown"), pod("running")) == "running"


def test_ready_before_not_ready_and_ready_longer_first() -> None:
    assert chosen(pod("idle"), pod("ready", ready_at="2026-01-02T00:00:00Z")) == "ready"
    recent, long = pod("recent", ready_at="2026-01-03T00:00:00Z"), pod("long", ready_at="2026-01-02T00:00:00Z")
    assert chosen(recent, long) == "long"


def test_more_restarts_first_then_older_first() -> None:
    assert chosen(pod("calm"), pod("crashy", restarts=3)) == "crashy"
    assert chosen(pod("young", created="2026-01-05T00:00:00Z"), pod("old", created="2026-01-04T00:00:00Z")) == "old"


def test_no_pods_is_none() -> None:
    assert pick_pod([]) is None


@pytest.mark.parametrize(("obj", "expected"), [
    ({"kind": "Deployment", "spec": {"selector": {"matchLabels": {"tier": "web", "app": "a"}}}}, "app=a,tier=web"),
    ({"kind": "Job", "spec": {"selector": {"matchExpressions": [{"key": "x", "operator": "In",
                                                                  "values": ["2", "1"]}]}}}, "x in (1,2)"),
    ({"kind": "Service", "spec": {"selector": {"b": "2", "a": "1"}}}, "a=1,b=2"),
])
def test_selector_of_each_kind(obj: dict[str, Any], expected: str) -> None:
    assert selector_of(obj) == expected


def test_objects_without_a_selector_are_clear_errors() -> None:
    with pytest.raises(CliError, match="Service is defined without a selector"):
        selector_of({"kind": "Service", "metadata": {"name": "db"}, "spec": {}})
    with pytest.raises(CliError, match="cannot get the logs from ConfigMap"):
        selector_of({"kind": "ConfigMap", "metadata": {"name": "c"}})
