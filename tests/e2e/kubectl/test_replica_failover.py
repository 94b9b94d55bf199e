"""The real kubectl 1.32 against raftkube: kubectl keeps working through a surviving replica while the leader is
down, and the restarted replica catches up (tests/e2e/cluster.py starts the cluster; see
tests/e2e/kubectl/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cluster import MANIFESTS, E2ECluster, Kubectl, parse_table, wait_until
from tests.e2e.kubectl.support import (
    applied,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


# ---------------------------------------------------------------------- failover
def test_failover_kubectl_keeps_working_through_surviving_replica(cluster: E2ECluster, ns: str,
                                                                   tmp_path: Path) -> None:
    leader = cluster.plane.leader_index()
    surviving = (leader + 1) % 3
    k = Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", surviving, namespace=ns))
    k("apply", "-f", str(MANIFESTS / "app"))
    cluster.plane.kill(leader)
    try:
        # a new leader is elected among the two left; writes through the survivor succeed
        new_leader = cluster.plane.leader_index(timeout=30, exclude={leader})
        assert new_leader != leader
        assert applied(k("apply", "-f", str(MANIFESTS / "multi.yaml"))) == {
            "configmap/multi-one": "created", "configmap/multi-two": "created", "secret/multi-secret": "created"}
        k("scale", "deployment", "web", "--replicas=5")
        k("label", "configmap", "web-config", "after=failover")
        assert k.json("get", "deployment", "web")["spec"]["replicas"] == 5
        assert k.json("get", "configmap", "web-config")["metadata"]["labels"]["after"] == "failover"
        rows = {r["NAME"] for r in parse_table(k("get", "configmaps"))}
        assert rows == {"web-config", "multi-one", "multi-two"}
        k("delete", "configmap", "multi-two")
        assert "(NotFound)" in k.fail("get", "configmap", "multi-two").stderr
    finally:
        cluster.plane.start_replica(leader)
        cluster.plane.wait_healthy(timeout=60)
        cluster.wait_api_ready(leader)
    # the restarted replica caught up with what was written while it was down
    back = Kubectl(cluster.write_kubeconfig(tmp_path / "back", leader, namespace=ns))

    def caught_up() -> dict[str, Any] | None:
        result = back.run("get", "deployment", "web", "-o", "json", check=False)
        deploy = json.loads(result.stdout) if result.returncode == 0 else None
        return deploy if deploy and deploy["spec"]["replicas"] == 5 else None

    assert wait_until(caught_up, 30, "restarted replica caught up")["metadata"]["labels"] == {"app": "web",
                                                                                           "tier": "frontend"}
    assert {r["NAME"] for r in parse_table(back("get", "configmaps"))} == {"web-config", "multi-one"}
