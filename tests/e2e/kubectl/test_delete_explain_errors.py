"""The real kubectl 1.32 against raftkube: delete (by name, file, selector, --wait), api-resources and explain,
kubectl's error messages, create subcommands (tests/e2e/cluster.py starts the cluster; see
tests/e2e/kubectl/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.e2e.cluster import MANIFESTS, E2ECluster, Kubectl, parse_table, wait_until
from tests.e2e.kubectl.support import (
    apply_all,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


# ------------------------------------------------------------------------ delete
def test_delete_by_name_file_selector_and_wait(k: Kubectl) -> None:
    apply_all(k)
    assert 'configmap "web-config" deleted' in k("delete", "configmap", "web-config")
    out = k("delete", "-f", str(MANIFESTS / "dir"))
    assert 'configmap "dir-a" deleted' in out and 'service "dir-b" deleted' in out
    out = k("delete", "configmaps,secrets", "-l", "bundle=multi")
    assert {'configmap "multi-one" deleted', 'configmap "multi-two" deleted',
            'secret "multi-secret" deleted'} <= set(out.splitlines())
    assert "No resources found" in k.run("get", "configmaps").stderr
    for ref in ["configmap/dir-a", "service/dir-b", "secret/multi-secret"]:
        assert "(NotFound)" in k.fail("get", ref).stderr

    # --wait (the default) is DELETE then a watch until the object is gone: hold it with a finalizer
    held = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
            "metadata": {"name": "held", "finalizers": ["e2e.raftkube.io/hold"]}}
    k("create", "-f", "-", input=json.dumps(held))
    deleting = k.popen("delete", "configmap", "held", "--timeout=60s")
    try:
        wait_until(lambda: k.json("get", "configmap", "held")["metadata"].get("deletionTimestamp"), 20,
                   "deletionTimestamp set")
        assert deleting.process.poll() is None, "kubectl delete returned while the object still exists"
        k("patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        assert deleting.process.wait(timeout=30) == 0
        assert 'configmap "held" deleted' in deleting.snapshot()
    finally:
        deleting.stop()
    assert "(NotFound)" in k.fail("get", "configmap", "held").stderr


# --------------------------------------------------------------------- discovery
def test_api_resources_and_explain(k: Kubectl) -> None:
    rows = {(r["NAME"], r["APIVERSION"]): r for r in parse_table(k("api-resources"))}
    assert ("pods", "metrics.k8s.io/v1beta1") in rows  # a name may be served by several groups
    rows = {name: row for (name, version), row in rows.items() if "metrics.k8s.io" not in version}
    short = {name: rows[name]["SHORTNAMES"] for name in rows}
    assert short["pods"] == "po" and short["deployments"] == "deploy" and short["services"] == "svc"
    assert short["configmaps"] == "cm" and short["replicasets"] == "rs" and short["namespaces"] == "ns"
    assert short["nodes"] == "no" and short["daemonsets"] == "ds" and short["events"] == "ev"
    assert rows["leases"]["APIVERSION"] == "coordination.k8s.io/v1" and rows["namespaces"]["NAMESPACED"] == "false"
    assert rows["jobs"]["KIND"] == "Job"
    wide = {r["NAME"]: r for r in parse_table(k("api-resources", "--api-group=apps", "-o", "wide"))}
    assert wide["deployments"]["CATEGORIES"] == "all"
    assert {"get", "list", "watch", "patch", "create"} <= set(wide["deployments"]["VERBS"].split(","))
    k("apply", "-f", str(MANIFESTS / "app" / "deployment.yaml"))
    assert [r["NAME"] for r in parse_table(k("get", "deploy"))] == ["web"]  # short names resolve
    assert "No resources found" in k.run("get", "po,rs,ds,ev,ep").stderr

    text = k("explain", "deployment.spec.replicas")
    assert "KIND:       Deployment" in text and "FIELD: replicas <integer>" in text, text
    text = k("explain", "pods.spec.containers")
    assert "FIELD: containers <[]Container>" in text and "image\t<string>" in text, text
    text = k("explain", "svc.spec.type")
    assert "FIELD: type <string>" in text, text


# ------------------------------------------------------------------------ errors
def test_errors_through_kubectl(cluster: E2ECluster, k: Kubectl, ns: str, tmp_path: Path) -> None:
    missing = k.fail("get", "configmap", "nope")
    assert 'Error from server (NotFound): configmaps "nope" not found' in missing.stderr

    job = str(MANIFESTS / "job.yaml")
    k("create", "-f", job)
    twice = k.fail("create", "-f", job)
    assert "Error from server (AlreadyExists)" in twice.stderr and '"migrate" already exists' in twice.stderr

    unknown = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"}, "data": {"a": "b"},
               "bogusTopLevel": 1}
    failed = k.fail("create", "-f", "-", input=json.dumps(unknown))
    assert "Error from server (BadRequest)" in failed.stderr and 'unknown field "bogusTopLevel"' in failed.stderr
    nested = yaml.safe_load((MANIFESTS / "app" / "deployment.yaml").read_text())
    nested["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    failed = k.fail("apply", "-f", "-", input=json.dumps(nested))
    assert "BadRequest" in failed.stderr and "imagePullPolice" in failed.stderr, failed.stderr
    assert "(NotFound)" in k.fail("get", "deployment", "web").stderr, "nothing is half-written"

    negative = yaml.safe_load((MANIFESTS / "app" / "deployment.yaml").read_text())
    negative["spec"]["replicas"] = -1
    failed = k.fail("apply", "-f", "-", input=json.dumps(negative))
    assert 'The Deployment "web" is invalid' in failed.stderr and "spec.replicas" in failed.stderr, failed.stderr
    k("apply", "-f", str(MANIFESTS / "app" / "configmap.yaml"))
    failed = k.fail("patch", "configmap", "web-config", "--type=merge", "-p",
                    '{"metadata":{"labels":{"bad label!":"x"}}}')
    assert 'The ConfigMap "web-config" is invalid' in failed.stderr and "metadata.labels" in failed.stderr
    failed = k.fail("patch", "deployment", "nope", "--type=merge", "-p", '{"spec":{"replicas":1}}')
    assert "(NotFound)" in failed.stderr

    wrong = Kubectl(cluster.write_kubeconfig(tmp_path / "wrong-token", 0, token="not-the-token", namespace=ns))
    failed = wrong.fail("get", "configmaps")
    assert "Unauthorized" in failed.stderr, failed.stderr


def test_create_subcommands(k: Kubectl) -> None:
    """`kubectl create <kind>` generators use typed clients, which send protobuf bodies."""
    assert "configmap/gen-cm created" in k("create", "configmap", "gen-cm", "--from-literal=a=b")
    assert "secret/gen-secret created" in k("create", "secret", "generic", "gen-secret", "--from-literal=p=q")
    assert "deployment.apps/gen-deploy created" in k("create", "deployment", "gen-deploy", "--image=nginx",
                                                     "--replicas=2")
    assert k.json("get", "configmap", "gen-cm")["data"] == {"a": "b"}
    assert k.json("get", "deployment", "gen-deploy")["spec"]["replicas"] == 2
