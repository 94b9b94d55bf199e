"""The fixture of the controller-manager failover tests: one real 3-replica control plane
(`LocalControlPlane`) for the package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from raftkube.local.control_plane import LocalControlPlane


# ---------------------------------------------------------------------------------------- the plane
@pytest.fixture(scope="package")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane]:
    cluster = LocalControlPlane(str(tmp_path_factory.mktemp("failover")))
    try:
        cluster.start(timeout=90)
        yield cluster
    finally:
        cluster.close()
