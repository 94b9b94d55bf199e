"""REST paths map to (resource, namespace, name, subresource) as in Kubernetes."""

from __future__ import annotations

import pytest

from raftkube.api.errors import APIError
from raftkube.api.router import parse_path


@pytest.mark.parametrize(("path", "expected"), [
    ("/api/v1/namespaces", ("namespaces", None, None, "")),
    ("/api/v1/namespaces/team-a", ("namespaces", None, "team-a", "")),
    ("/api/v1/namespaces/team-a/finalize", ("namespaces", None, "team-a", "finalize")),
    ("/api/v1/namespaces/team-a/pods", ("pods", "team-a", None, "")),
    ("/api/v1/namespaces/team-a/pods/web-1/status", ("pods", "team-a", "web-1", "status")),
    ("/api/v1/pods", ("pods", None, None, "")),
    ("/api/v1/nodes/n1", ("nodes", None, "n1", "")),
    ("/apis/apps/v1/namespaces/d/deployments/web/scale", ("deployments", "d", "web", "scale")),
    ("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x", ("leases", "kube-system", "x", "")),
])
def test_paths(path: str, expected: tuple[object, ...]) -> None:
    target = parse_path(path)
    assert target is not None
    assert (target.resource.plural, target.namespace, target.name, target.subresource) == expected


def test_group_version_roots_are_discovery() -> None:
    assert parse_path("/api/v1") is None and parse_path("/apis/apps/v1") is None


@pytest.mark.parametrize("path", ["/api/v1/widgets", "/apis/apps/v1/namespaces/d/pods", "/api/v1/pods/x",
                                  "/api/v1/namespaces/d/configmaps/x/scale", "/api/v1/namespaces/d/pods/a/b/c"])
def test_unknown_paths_are_not_found(path: str) -> None:
    with pytest.raises(APIError) as info:
        parse_path(path)
    assert info.value.code == 404
