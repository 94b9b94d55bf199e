"""The real kubectl 1.32 against raftkube: label, annotate, scale, edit (KUBE_EDITOR), patch of every
type, set image and rollout restart (tests/e2e/cluster.py starts the cluster; see tests/e2e/kubectl/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cluster import MANIFESTS, Kubectl, parse_table
from tests.e2e.kubectl.support import (
    _editor_script,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


# ---------------------------------------------------------------- metadata verbs
def test_label_annotate_and_remove(k: Kubectl) -> None:
    k("apply", "-f", str(MANIFESTS / "app" / "configmap.yaml"))
    assert "labeled" in k("label", "configmap", "web-config", "release=stable", "team=core")
    assert "annotated" in k("annotate", "configmap", "web-config", "owner=alice", "note=first")
    meta = k.json("get", "configmap", "web-config")["metadata"]
    assert meta["labels"] == {"app": "web", "tier": "frontend", "release": "stable", "team": "core"}
    assert meta["annotations"]["owner"] == "alice" and meta["annotations"]["note"] == "first"

    failed = k.fail("label", "configmap", "web-config", "release=canary")
    assert "--overwrite" in failed.stderr
    k("label", "configmap", "web-config", "release=canary", "--overwrite")
    k("label", "configmap", "web-config", "team-")
    k("annotate", "configmap", "web-config", "note-")
    meta = k.json("get", "configmap", "web-config")["metadata"]
    assert meta["labels"] == {"app": "web", "tier": "frontend", "release": "canary"}
    assert "note" not in meta["annotations"] and meta["annotations"]["owner"] == "alice"
    assert [r["NAME"] for r in parse_table(k("get", "cm", "-l", "release=canary"))] == ["web-config"]


def test_scale_changes_spec_only(k: Kubectl, ns: str) -> None:
    k("apply", "-f", str(MANIFESTS / "app" / "deployment.yaml"))
    before = k.json("get", "deployment", "web")
    assert "deployment.apps/web scaled" in k("scale", "deployment", "web", "--replicas=7")
    after = k.json("get", "deployment", "web")
    assert after["spec"]["replicas"] == 7
    assert after["status"] == before["status"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    scale = json.loads(k("get", "--raw", f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale"))
    assert (scale["kind"], scale["apiVersion"], scale["spec"]["replicas"]) == ("Scale", "autoscaling/v1", 7)
    assert scale["status"]["selector"] == "app=web"
    failed = k.fail("scale", "deployment/web", "--replicas=2", "--current-replicas=5")
    assert "expected" in failed.stderr.lower(), failed.stderr
    # with --current-replicas kubectl PUTs a whole Scale; Go omits `replicas: 0` (omitempty)
    k("scale", "deployment/web", "--replicas=2", "--current-replicas=7")
    k("scale", "deployment/web", "--replicas=0", "--current-replicas=2")
    assert k.json("get", "deployment", "web")["spec"]["replicas"] == 0


def test_edit_with_kube_editor(k: Kubectl, tmp_path: Path) -> None:
    k("apply", "-f", str(MANIFESTS / "app" / "configmap.yaml"))
    editor = _editor_script(tmp_path, "LOG_LEVEL: info", "LOG_LEVEL: debug")
    result = k.run("edit", "configmap", "web-config", env={"KUBE_EDITOR": editor, "EDITOR": editor})
    assert "configmap/web-config edited" in result.stdout, result.stderr
    assert k.json("get", "configmap", "web-config")["data"]["LOG_LEVEL"] == "debug"

    k("apply", "-f", str(MANIFESTS / "app" / "deployment.yaml"))
    editor = _editor_script(tmp_path, "replicas: 3", "replicas: 6")
    result = k.run("edit", "deployment", "web", env={"KUBE_EDITOR": editor})
    deploy = k.json("get", "deployment", "web")
    assert deploy["spec"]["replicas"] == 6, result.stderr
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/library/nginx:1.27"


def test_patch_each_type(k: Kubectl) -> None:
    k("apply", "-f", str(MANIFESTS / "app" / "deployment.yaml"))
    k("patch", "deployment", "web", "--type=merge", "-p", '{"spec":{"minReadySeconds":5},'
      '"metadata":{"labels":{"patched":"merge","tier":null}}}')
    deploy = k.json("get", "deployment", "web")
    assert deploy["spec"]["minReadySeconds"] == 5
    assert deploy["metadata"]["labels"] == {"app": "web", "patched": "merge"}

    k("patch", "deployment", "web", "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/revisionHistoryLimit", "value": 2},
        {"op": "add", "path": "/metadata/annotations/json", "value": "yes"},
        {"op": "remove", "path": "/spec/template/spec/containers/0/livenessProbe"}]))
    deploy = k.json("get", "deployment", "web")
    assert deploy["spec"]["revisionHistoryLimit"] == 2
    assert deploy["metadata"]["annotations"]["json"] == "yes"
    assert "livenessProbe" not in deploy["spec"]["template"]["spec"]["containers"][0]

    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "MODE", "value": "staging"}, {"name": "EXTRA", "value": "1"}]},
        {"name": "sidecar", "image": "docker.io/library/busybox:1.36"}]}}}}
    k("patch", "deployment", "web", "--type=strategic", "-p", json.dumps(patch))
    containers = {c["name"]: c for c in k.json("get", "deployment", "web")["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"web", "sidecar"}
    web = containers["web"]
    assert web["image"] == "docker.io/library/nginx:1.27", "strategic merge kept the container's other fields"
    env = {e["name"]: e for e in web["env"]}
    assert set(env) == {"LOG_LEVEL", "API_KEY", "MODE", "EXTRA"}
    assert env["MODE"]["value"] == "staging" and "valueFrom" in env["LOG_LEVEL"]

    delete = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    k("patch", "deployment", "web", "-p", json.dumps(delete))  # strategic is kubectl's default
    containers = k.json("get", "deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web"]
    assert k.json("get", "deployment", "web")["metadata"]["generation"] == 5


def test_set_image_and_rollout_restart(k: Kubectl) -> None:
    k("apply", "-f", str(MANIFESTS / "app" / "deployment.yaml"))
    assert "image updated" in k("set", "image", "deployment/web", "web=docker.io/library/nginx:1.28")
    deploy = k.json("get", "deployment", "web")
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/library/nginx:1.28"
    assert deploy["metadata"]["generation"] == 2
    assert "restarted" in k("rollout", "restart", "deployment/web")
    deploy = k.json("get", "deployment", "web")
    assert "kubectl.kubernetes.io/restartedAt" in deploy["spec"]["template"]["metadata"]["annotations"]
    assert deploy["metadata"]["generation"] == 3
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/library/nginx:1.28"
