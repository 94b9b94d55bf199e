"""Fixtures the e2e tests share: a namespace of the test's own on the `cluster` of the test's package
or module."""

from __future__ import annotations

import pytest

from tests.e2e.cluster import E2ECluster, namespace_for


@pytest.fixture
def ns(cluster: E2ECluster, request: pytest.FixtureRequest) -> str:
    name = namespace_for(request.node.name)
    cluster.create_namespace(name)
    return name
