"""An unmodified kopf operator (from PyPI) reconciles a custom resource on a 3-replica control plane.

`kopf run --standalone -n <ns> tests/e2e/operators/greeting_operator.py` with a kubeconfig for the
cluster: a Greeting gets a ConfigMap it owns, its status (kopf's handler results and `phase`), kopf's
annotations and Events; a change of `spec.name` reaches the ConfigMap; deleting the Greeting lets the
garbage collector delete the ConfigMap. kopf lists and watches the Greetings, merge-patches their
metadata and status, and posts core/v1 Events.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .cluster import E2ECluster, Kubectl, namespace_for, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]
OPERATOR = Path(__file__).parent / "operators" / "greeting_operator.py"
GROUP = "demo.example.com"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"greetings.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced",
             "names": {"plural": "greetings", "singular": "greeting", "kind": "Greeting", "shortNames": ["gr"]},
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "required": ["name"], "properties": {
                                   "name": {"type": "string"}, "greeting": {"type": "string"}}},
                               "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}},
                           "additionalPrinterColumns": [
                               {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}]}]},
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("kopf-plane"), controllers=True).start()
    try:
        yield plane
    finally:
        plane.close()


@pytest.fixture
def ns(cluster: E2ECluster, request: pytest.FixtureRequest) -> str:
    name = namespace_for(request.node.name)
    cluster.create_namespace(name)
    return name


@pytest.fixture
def k(cluster: E2ECluster, ns: str, tmp_path: Path) -> Kubectl:
    return Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns))


@pytest.fixture
def operator(k: Kubectl, ns: str, tmp_path: Path) -> Iterator[Path]:
    crd_file = tmp_path / "crd.yaml"
    crd_file.write_text(yaml.safe_dump(CRD))
    k("apply", "-f", str(crd_file))
    k("wait", "--for=condition=Established", f"crd/greetings.{GROUP}", "--timeout=30s")
    log = tmp_path / "kopf.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone", "--verbose", "-n", ns,
                                    str(OPERATOR)], stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
                                   env={**k.env, "PYTHONUNBUFFERED": "1"})
    try:
        yield log
    finally:
        print(f"--- kopf's log (last 8000 characters) ---\n{log.read_text()[-8000:]}")  # shown when a test fails
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def configmap(k: Kubectl, name: str) -> dict[str, Any] | None:
    result = k.run("get", "configmap", name, "-o", "json", check=False)
    if result.returncode != 0:
        return None
    return dict(yaml.safe_load(result.stdout))


def test_kopf_operator_reconciles_a_greeting(k: Kubectl, ns: str, operator: Path, tmp_path: Path) -> None:
    greeting = {"apiVersion": f"{GROUP}/v1", "kind": "Greeting", "metadata": {"name": "hello"},
                "spec": {"name": "raftkube"}}
    manifest = tmp_path / "greeting.yaml"
    manifest.write_text(yaml.safe_dump(greeting))
    k("apply", "-f", str(manifest))

    def logs() -> str:
        return operator.read_text()
    cm = wait_until(lambda: configmap(k, "hello-greeting"), 60, f"the operator's ConfigMap; log:\n{logs()}")
    assert cm["data"] == {"message": "Hello, raftkube!"}, logs()
    owner = k.json("get", "greeting", "hello")
    refs = cm["metadata"]["ownerReferences"]
    assert refs[0]["kind"] == "Greeting" and refs[0]["uid"] == owner["metadata"]["uid"]

    def status() -> dict[str, Any] | None:
        current = k.json("get", "greeting", "hello").get("status") or {}
        return current if current.get("phase") == "Ready" and current.get("create") else None
    done = wait_until(status, 60, f"the Greeting's status from kopf; operator log:\n{logs()}")
    assert done["create"] == {"configMap": "hello-greeting"}
    annotations = k.json("get", "greeting", "hello")["metadata"].get("annotations") or {}
    assert "kopf.zalando.org/last-handled-configuration" in annotations
    assert "Ready" in k("get", "gr", "hello")
    def kopf_events() -> list[dict[str, Any]] | None:
        items = k.json("get", "events")["items"]
        return [e for e in items if e["involvedObject"].get("kind") == "Greeting"] or None
    events = wait_until(kopf_events, 60, "kopf's Events")
    assert ("Created", "created ConfigMap hello-greeting", "Normal") in [
        (e["reason"], e["message"], e["type"]) for e in events], events
    assert all(e["source"]["component"] == "kopf" for e in events), events

    k("patch", "greeting", "hello", "--type=merge", "-p", '{"spec": {"name": "operators"}}')
    wait_until(lambda: (configmap(k, "hello-greeting") or {}).get("data") == {"message": "Hello, operators!"},
               60, f"the ConfigMap updated; operator log:\n{logs()}")
    wait_until(lambda: (k.json("get", "greeting", "hello").get("status") or {}).get("phase") == "Updated", 60,
               "phase Updated")

    k("delete", "greeting", "hello")
    wait_until(lambda: configmap(k, "hello-greeting") is None, 60, "the ConfigMap garbage-collected")
    assert "Traceback" not in logs(), logs()
