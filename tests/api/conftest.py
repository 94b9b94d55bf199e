"""Fixtures the API tests share: an httpx client of the in-process server (`api`, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.inproc import InProcessAPI


@pytest.fixture
def client(api: InProcessAPI) -> Iterator[httpx.Client]:
    with api.client() as c:
        yield c
