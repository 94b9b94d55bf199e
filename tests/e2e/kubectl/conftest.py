"""Fixtures of the kubectl tests: one 3-replica raftkube cluster for the package (started once for all
its modules), and kubectl configured for the test's own namespace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cluster import E2ECluster, Kubectl


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("kubectl-plane")).start()
    try:
        yield plane
    finally:
        plane.close()


@pytest.fixture
def k(cluster: E2ECluster, ns: str, tmp_path: Path) -> Kubectl:
    """kubectl with a kubeconfig for replica 0 whose default namespace is the test's own."""
    return Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns))
