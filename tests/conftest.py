"""Fixtures every test shares."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _keep_umask() -> Iterator[None]:
    """raftkube's commands set the process umask to 077; a command run in-process must not change it for
    the tests that follow."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)
