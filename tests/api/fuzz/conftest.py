"""Fixtures of the fuzz tests: one API server in a child process, shared by the package (its crashes,
recursion and CPU stay out of pytest's)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.fuzz.support import (
    NS,
    REQUEST_TIMEOUT,
)
from tests.api.inproc import ChildProcessAPI, child_process_api


# ------------------------------------------------------------------ the server and its invariants
@pytest.fixture(scope="package")
def api() -> Iterator[ChildProcessAPI]:
    """One server for the package, in a child process: its crashes, recursion and CPU stay out of pytest's."""
    with child_process_api() as server:
        with server.client() as c:
            assert c.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": NS}}).status_code == 201
        yield server


@pytest.fixture(scope="package")
def client(api: ChildProcessAPI) -> Iterator[httpx.Client]:
    with api.client(timeout=REQUEST_TIMEOUT) as c:
        yield c
