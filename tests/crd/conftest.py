"""Fixtures of the custom-resource tests: an admin httpx client of the module's in-process server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.inproc import InProcessAPI


@pytest.fixture(scope="module")
def admin(api: InProcessAPI) -> Iterator[httpx.Client]:
    with api.client() as client:
        yield client
