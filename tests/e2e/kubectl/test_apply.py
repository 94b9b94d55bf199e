"""The real kubectl 1.32 against raftkube: apply (client- and server-side, conflicts and --force), diff,
--dry-run and replace (tests/e2e/cluster.py starts the cluster; see tests/e2e/kubectl/conftest.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.e2e.cluster import MANIFESTS, Kubectl
from tests.e2e.kubectl.support import (
    APP_OBJECTS,
    OTHER_OBJECTS,
    applied,
    apply_all,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


# ------------------------------------------------------------------------ apply
def test_apply_created_unchanged_configured(k: Kubectl, tmp_path: Path) -> None:
    assert apply_all(k) == {ref: "created" for ref in APP_OBJECTS + OTHER_OBJECTS}
    assert apply_all(k) == {ref: "unchanged" for ref in APP_OBJECTS + OTHER_OBJECTS}

    # what was stored is what the manifests said (plus defaults)
    deploy = k.json("get", "deployment", "web")
    assert deploy["metadata"]["generation"] == 1
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "64Mi"},
                                      "limits": {"cpu": "500m", "memory": "128Mi"}}
    env = {e["name"]: e for e in container["env"]}
    assert env["LOG_LEVEL"]["valueFrom"]["configMapKeyRef"] == {"name": "web-config", "key": "LOG_LEVEL"}
    assert env["API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "web-secret", "key": "api-key"}
    assert container["readinessProbe"]["httpGet"]["port"] == "http"
    assert container["livenessProbe"]["tcpSocket"]["port"] == 80
    assert {v["name"] for v in deploy["spec"]["template"]["spec"]["volumes"]} == {"config", "cache"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in deploy["metadata"]["annotations"]
    pod = k.json("get", "pod", "sidecar-pod")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["main", "tailer"]
    assert k.json("get", "secret", "web-secret")["data"] == {"api-key": "YWJjZGVm", "password": "czNjcjN0"}
    assert k.json("get", "job", "migrate")["spec"]["backoffLimit"] == 2

    # edit the files: more replicas, one env var more, one annotation and one label fewer
    edited = tmp_path / "app"
    shutil.copytree(MANIFESTS / "app", edited)
    manifest = edited / "deployment.yaml"
    doc = yaml.safe_load(manifest.read_text())
    doc["spec"]["replicas"] = 4
    doc["metadata"].pop("annotations")
    doc["metadata"]["labels"].pop("tier")
    doc["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "ADDED", "value": "yes"})
    doc["spec"]["template"]["spec"]["containers"][0].pop("livenessProbe")
    manifest.write_text(yaml.safe_dump(doc))
    result = applied(k("apply", "-f", str(edited)))
    assert result == {**{ref: "unchanged" for ref in APP_OBJECTS}, "deployment.apps/web": "configured"}
    deploy = k.json("get", "deployment", "web")
    assert deploy["spec"]["replicas"] == 4
    assert deploy["metadata"]["generation"] == 2
    assert deploy["metadata"]["labels"] == {"app": "web"}
    assert "description" not in deploy["metadata"].get("annotations", {})
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert [e["name"] for e in container["env"]] == ["LOG_LEVEL", "API_KEY", "MODE", "ADDED"]
    assert "livenessProbe" not in container and "readinessProbe" in container


def test_diff_dry_run_and_replace(k: Kubectl, tmp_path: Path) -> None:
    k("apply", "-f", str(MANIFESTS / "app"))
    assert k.run("diff", "-f", str(MANIFESTS / "app")).returncode == 0, "no difference"
    doc = yaml.safe_load((MANIFESTS / "app" / "deployment.yaml").read_text())
    doc["spec"]["replicas"] = 9
    changed = tmp_path / "deployment.yaml"
    changed.write_text(yaml.safe_dump(doc))
    diff = k.run("diff", "-f", str(changed), check=False)
    assert diff.returncode == 1, diff.stderr
    assert "-  replicas: 3" in diff.stdout and "+  replicas: 9" in diff.stdout, diff.stdout

    assert "configured (server dry run)" in k("apply", "--dry-run=server", "-f", str(changed))
    assert k.json("get", "deployment", "web")["spec"]["replicas"] == 3
    new_cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}, "data": {"a": "b"}}
    assert "created (server dry run)" in k("apply", "--dry-run=server", "-f", "-", input=json.dumps(new_cm))
    assert "(NotFound)" in k.fail("get", "configmap", "dry").stderr

    assert "deployment.apps/web replaced" in k("replace", "-f", str(changed))
    deploy = k.json("get", "deployment", "web")
    assert deploy["spec"]["replicas"] == 9 and deploy["metadata"]["generation"] == 2


def test_apply_server_side_conflict_and_force(k: Kubectl) -> None:
    manifest = str(MANIFESTS / "ssa-deployment.yaml")
    assert applied(k("apply", "--server-side", "-f", manifest)) == {"deployment.apps/ssa": "serverside-applied"}
    deploy = k.json("get", "deployment", "ssa", "--show-managed-fields")
    assert deploy["spec"]["replicas"] == 2
    managers = {(m["manager"], m["operation"]) for m in deploy["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    assert applied(k("apply", "--server-side", "-f", manifest)) == {"deployment.apps/ssa": "serverside-applied"}

    assert "scaled" in k("scale", "deployment/ssa", "--replicas=5")
    failed = k.fail("apply", "--server-side", "-f", manifest)
    assert "conflict" in failed.stderr and ".spec.replicas" in failed.stderr, failed.stderr
    assert k.json("get", "deployment", "ssa")["spec"]["replicas"] == 5

    assert applied(k("apply", "--server-side", "--force-conflicts", "-f", manifest)) == {
        "deployment.apps/ssa": "serverside-applied"}
    deploy = k.json("get", "deployment", "ssa", "--show-managed-fields")
    assert deploy["spec"]["replicas"] == 2
    owners = [m["manager"] for m in deploy["metadata"]["managedFields"]
              if "f:replicas" in m.get("fieldsV1", {}).get("f:spec", {})]
    assert owners == ["kubectl"]
