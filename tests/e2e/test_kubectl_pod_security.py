"""kubectl 1.32 and Pod Security Admission: the refusal and the warnings as kubectl prints them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .cluster import E2ECluster, Kubectl

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]
ATTACK = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "attack"},
          "spec": {"hostNetwork": True, "hostPID": True,
                   "containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True},
                                   "volumeMounts": [{"name": "root", "mountPath": "/host"}]}],
                   "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("psa-plane")).start()
    try:
        yield plane
    finally:
        plane.close()


def test_kubectl_prints_the_refusal_and_the_warnings(cluster: E2ECluster, tmp_path: Path) -> None:
    cluster.create_namespace("psa")
    k = Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace="psa"))
    refused = k.fail("apply", "-f", "-", input=yaml.safe_dump(ATTACK))
    assert ('pods "attack" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, '
            'hostPID=true), hostPath volumes (volume "root"), privileged (container "c" must not set '
            'securityContext.privileged=true)') in refused.stderr
    assert "attack" not in k("get", "pods", "-o", "name")

    k("label", "namespace", "psa", "pod-security.kubernetes.io/warn=restricted")
    run = k.run("run", "plain", "--image=busybox")
    assert run.returncode == 0 and "pod/plain created" in run.stdout
    assert 'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false' in run.stderr

    labelled = k.run("label", "namespace", "psa", "pod-security.kubernetes.io/enforce=restricted")
    assert labelled.returncode == 0
    assert 'Warning: existing pods in namespace "psa" violate the new PodSecurity enforce level "restricted:latest"' \
        in labelled.stderr
    assert "Warning: plain: allowPrivilegeEscalation != false, unrestricted capabilities" in labelled.stderr
