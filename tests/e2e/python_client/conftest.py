"""Fixtures of the official-client tests: one 3-replica raftkube cluster for the package (started once
for all its modules), an ApiClient on replica 0 and its CoreV1Api."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.e2e.cluster import E2ECluster
from tests.e2e.python_client.support import api_client


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("python-plane")).start()
    try:
        yield plane
    finally:
        plane.close()


@pytest.fixture
def api(cluster: E2ECluster) -> Iterator[client.ApiClient]:
    with api_client(cluster, 0) as c:
        yield c


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)
