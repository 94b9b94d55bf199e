"""Fixtures the API tests share: httpx clients of the in-process server (`api`, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.inproc import InProcessAPI


@pytest.fixture
def client(api: InProcessAPI) -> Iterator[httpx.Client]:
    with api.client() as c:
        yield c


@pytest.fixture(scope="module")
def admin(api: InProcessAPI) -> Iterator[httpx.Client]:
    """An httpx client of the in-process server with the admin token, one for the module."""
    with api.client() as client:
        yield client
