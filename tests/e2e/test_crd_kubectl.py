"""CustomResourceDefinitions through kubectl 1.32 on a 3-replica control plane: apply a CRD, `get crd`,
apply a custom resource, `get <plural>` / `get <short>` with printer columns, `explain <kind>.spec`, an
invalid resource refused with the field named, `scale`, a second API replica serving it, and deleting the
CRD deleting its resources."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.crd.crds import GROUP, widget, widget_crd

from .cluster import E2ECluster, Kubectl, namespace_for, parse_table, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("crd-plane"), controllers=True).start()
    try:
        yield plane
    finally:
        plane.close()


@pytest.fixture
def ns(cluster: E2ECluster, request: pytest.FixtureRequest) -> str:
    name = namespace_for(request.node.name)
    cluster.create_namespace(name)
    return name


def kubectl(cluster: E2ECluster, tmp_path: Path, ns: str, replica: int) -> Kubectl:
    return Kubectl(cluster.write_kubeconfig(tmp_path / f"kubeconfig-{replica}", replica, namespace=ns))


def write(tmp_path: Path, name: str, obj: object) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(obj))
    return str(path)


def test_crd_lifecycle_through_kubectl(cluster: E2ECluster, ns: str, tmp_path: Path) -> None:
    k, k2 = kubectl(cluster, tmp_path, ns, 0), kubectl(cluster, tmp_path, ns, 1)
    assert GROUP not in k2("get", "--raw", "/apis")  # replica 1's registry is synced before the CRD exists
    crd_file = write(tmp_path, "crd.yaml", widget_crd())
    assert f"customresourcedefinition.apiextensions.k8s.io/widgets.{GROUP} created" in k("apply", "-f", crd_file)
    listed = k("get", "crd").splitlines()
    assert listed[0].split() == ["NAME", "CREATED", "AT"]
    assert any(line.split()[0] == f"widgets.{GROUP}" and line.split()[1].endswith("Z") for line in listed[1:])
    assert k("wait", "--for=condition=Established", f"crd/widgets.{GROUP}", "--timeout=30s")

    cr = widget("w1", 7, namespace=ns, color="blue")
    assert "widget.example.com/w1 created" in k("apply", "-f", write(tmp_path, "w1.yaml", cr))
    table = parse_table(k("get", "widgets"))
    assert [(r["NAME"], r["SIZE"], r["COLOR"]) for r in table] == [("w1", "7", "blue")]
    assert set(table[0]) == {"NAME", "SIZE", "COLOR", "PHASE", "AGE"}
    assert "w1" in k("get", "wd") and "widget.example.com/w1" in k("get", "all")
    stored = k.json("get", "widget", "w1")
    assert stored["spec"]["replicas"] == 1  # defaulted from the schema

    resources = k("api-resources", "--api-group", GROUP).splitlines()
    assert resources[0].split()[:2] == ["NAME", "SHORTNAMES"] and resources[1].split()[:2] == ["widgets", "wd"]
    applied = widget("w-ssa", 2, namespace=ns)
    assert "widget.example.com/w-ssa serverside-applied" in k(
        "apply", "--server-side", "-f", write(tmp_path, "ssa.yaml", applied))
    managed = k.json("get", "widget", "w-ssa", "--show-managed-fields")["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"]) for m in managed] == [("kubectl", "Apply")]

    explained = k("explain", "widget.spec")
    assert "size" in explained and "<integer>" in explained and "color" in explained

    bad = dict(cr, metadata={"name": "w-bad", "namespace": ns}, spec={"size": "large"})
    failed = k.fail("apply", "-f", write(tmp_path, "bad.yaml", bad))
    assert 'spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"' \
        in failed.stderr
    unknown = dict(cr, metadata={"name": "w-unknown", "namespace": ns}, spec={"size": 1, "bogus": True})
    assert 'unknown field "spec.bogus"' in k.fail("apply", "-f", write(tmp_path, "u.yaml", unknown)).stderr

    assert "widget.example.com/w1 scaled" in k("scale", "widget", "w1", "--replicas=3")
    assert k.json("get", "widget", "w1")["spec"]["replicas"] == 3
    scale = json.loads(k("get", "--raw", f"/apis/{GROUP}/v1/namespaces/{ns}/widgets/w1/scale"))
    assert scale["spec"]["replicas"] == 3

    # the second replica serves the CRD (its registry's watch delivered it: its discovery, which re-reads
    # nothing, lists the group) and sees the same objects
    served = wait_until(lambda: k2.run("get", "widgets", "-o", "name", check=False).stdout.strip() or None, 30,
                        "replica 1 serving widgets")
    assert served.splitlines() == ["widget.example.com/w-ssa", "widget.example.com/w1"]
    k2("patch", "widget", "w1", "--type=merge", "-p", '{"spec": {"color": "green"}}')
    assert k.json("get", "widget", "w1")["spec"]["color"] == "green"
    beta = json.loads(k("get", "--raw", f"/apis/{GROUP}/v1beta1/namespaces/{ns}/widgets/w1"))
    assert beta["apiVersion"] == f"{GROUP}/v1beta1"

    assert f'customresourcedefinition.apiextensions.k8s.io "widgets.{GROUP}" deleted' in \
        k("delete", "crd", f"widgets.{GROUP}", "--timeout=60s")
    assert k.run("get", "crd", f"widgets.{GROUP}", check=False).returncode != 0
    gone = k.run("get", "--raw", f"/apis/{GROUP}/v1/namespaces/{ns}/widgets/w1", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
