"""Helpers of the kind tests: the time they run at, the official client's deserializer, what the server
does on a write (defaults, then metadata and the kind's own checks) and the fields of the causes."""

from __future__ import annotations

import inspect
import json
from typing import Any

from kubernetes.client import ApiClient

from raftkube.api.errors import Cause
from raftkube.api.kinds import strategy_for, validate_metadata
from raftkube.api.resources import by_kind_name

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z



def deserialize(obj: dict[str, Any], model: str) -> Any:
    """Through the official client's own deserializer (either of its two signatures)."""
    client = ApiClient()
    text = json.dumps(obj)
    if "response_text" in inspect.signature(client.deserialize).parameters:
        return client.deserialize(text, model, "application/json")

    class FakeResponse:
        data = text

    return client.deserialize(FakeResponse(), model)



def check(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    """What the server does on a write: defaults, then metadata and the kind's own checks."""
    strategy = strategy_for(obj["kind"])
    strategy.default(obj)
    resource = by_kind_name(obj["kind"])
    assert resource is not None
    return validate_metadata(obj, resource.namespaced, old) + strategy.validate(obj, old)



def fields(causes: list[Cause]) -> list[str]:
    return [c.field for c in causes]

