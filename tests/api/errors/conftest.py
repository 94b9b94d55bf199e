"""Fixtures of the error-reason tests: one in-process server (store replica + uvicorn on 127.0.0.1)
serves the package; each test works in a namespace of its own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.errors.support import _names
from tests.api.inproc import (
    InProcessAPI,
    namespace,
    running_api,
)


@pytest.fixture(scope="package")
def api() -> Iterator[InProcessAPI]:
    with running_api() as server:
        yield server


@pytest.fixture
def client(api: InProcessAPI) -> Iterator[httpx.Client]:
    with api.client() as c:
        yield c


@pytest.fixture
def ns(client: httpx.Client) -> str:
    name = f"errors-{next(_names)}"
    assert client.post("/api/v1/namespaces", json=namespace(name)).status_code == 201
    return name
