"""Fixtures every test shares, and the in-process API server many of them use."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.api.inproc import InProcessAPI, running_api


@pytest.fixture(autouse=True)
def _keep_umask() -> Iterator[None]:
    """raftkube's commands set the process umask to 077; a command run in-process must not change it for
    the tests that follow."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


@pytest.fixture(scope="module")
def api() -> Iterator[InProcessAPI]:
    """The in-process API server (a store replica and uvicorn on 127.0.0.1), one for the module."""
    with running_api() as server:
        yield server
