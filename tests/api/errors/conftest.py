"""Fixtures of the error-reason tests: each works in a namespace of its own on the in-process server
(`api`, tests/conftest.py)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.errors.support import _names
from tests.api.inproc import (
    namespace,
)


@pytest.fixture
def ns(client: httpx.Client) -> str:
    name = f"errors-{next(_names)}"
    assert client.post("/api/v1/namespaces", json=namespace(name)).status_code == 201
    return name
