"""Fixtures of the store tests: `make_cluster` starts `LocalCluster`s of replica processes on
127.0.0.1 and closes them after the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from raftkube.local.store_cluster import LocalCluster
from tests.store.cluster_control import MakeCluster


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[MakeCluster]:
    """Build LocalClusters under tmp_path; every replica process is killed at teardown."""
    clusters: list[LocalCluster] = []

    def make(**kwargs: Any) -> LocalCluster:
        cluster = LocalCluster(str(tmp_path / f"cluster{len(clusters)}"), **kwargs)
        clusters.append(cluster)
        print(f"cluster logs in {cluster.base_dir}")
        return cluster

    yield make
    for cluster in clusters:
        cluster.close()
