"""PodDisruptionBudgets, the eviction API and `kubectl drain` / `cordon` / `uncordon` on a 3-replica control
plane with its controllers and two hollow-runtime agents (real `raftkube agent` processes, pods without
containers): the disruption controller's status and kubectl's columns, a 429 eviction, a drain of a
node running a Deployment with a PDB minAvailable=N-1 evicting its pods one at a time (the second
eviction refused and retried until the replacement is Ready elsewhere), drain's refusals without
--ignore-daemonsets / --delete-emptydir-data / --force, and cordon/uncordon steering the scheduler."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from raftkube.local.nodes import LocalNodes

from .cluster import E2ECluster, Kubectl, consecutive_free_ports, parse_table, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]
REPLICAS = 4
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    base = tmp_path_factory.mktemp("drain")
    e2e = E2ECluster(base, controllers=True)
    nodes = LocalNodes(str(base / "nodes"), str(base / "admin.kubeconfig"), count=2, runtime="fake",
                       agent_base_port=consecutive_free_ports(2))
    nodes.provision(e2e.plane)
    try:
        e2e.start()
        e2e.write_kubeconfig(base / "admin.kubeconfig", 0)
        nodes.start_agents()
        yield e2e
    finally:
        for process in nodes.processes:
            process.send_signal(signal.SIGTERM)
        for process in nodes.processes:
            try:
                process.wait(10)
            except Exception:
                process.kill()
        e2e.close()


@pytest.fixture
def k(cluster: E2ECluster, ns: str, tmp_path: Path) -> Kubectl:
    kubectl = Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns), timeout=150)
    wait_until(lambda: len([n for n in kubectl.json("get", "nodes")["items"] if any(
        c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions") or [])]) == 2, 60,
        "both nodes Ready")
    return kubectl


def template(app: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "web", "image": "example.local/web:v1"}], **spec}}


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template(name)}}


def pdb(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}}, **spec}}


def apply(k: Kubectl, *objs: dict[str, Any]) -> None:
    k("apply", "-f", "-", input=yaml.safe_dump_all(objs))


def ready_pods(k: Kubectl, app: str) -> list[dict[str, Any]]:
    return [p for p in k.json("get", "pods", "-l", f"app={app}")["items"]
            if not p["metadata"].get("deletionTimestamp") and p["spec"].get("nodeName")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]


def nodes_of(pods: list[dict[str, Any]]) -> list[str]:
    return sorted(p["spec"]["nodeName"] for p in pods)


def taints(k: Kubectl, node: str) -> set[str]:
    return {t["key"] for t in k.json("get", "node", node)["spec"].get("taints") or []}


def budget(k: Kubectl, name: str, allowed: int) -> dict[str, Any] | None:
    status = k.json("get", "pdb", name).get("status") or {}
    return status if status.get("disruptionsAllowed") == allowed else None


def test_budget_status_columns_and_429(cluster: E2ECluster, k: Kubectl, ns: str) -> None:
    apply(k, deployment("guarded", 2), pdb("guarded", minAvailable=2))
    wait_until(lambda: len(ready_pods(k, "guarded")) == 2, 60, "2 Ready pods")
    status = wait_until(lambda: budget(k, "guarded", 0) if (k.json("get", "pdb", "guarded").get("status") or {})
                        .get("currentHealthy") == 2 else None, 30, "the budget counted")
    assert (status["expectedPods"], status["desiredHealthy"]) == (2, 2)
    assert status["conditions"][0]["type"] == "DisruptionAllowed" and status["conditions"][0]["reason"] == \
        "InsufficientPods"
    row = parse_table(k("get", "pdb"))[0]
    assert (row["NAME"], row["MIN AVAILABLE"], row["MAX UNAVAILABLE"], row["ALLOWED DISRUPTIONS"]) == (
        "guarded", "2", "N/A", "0")
    victim = ready_pods(k, "guarded")[0]["metadata"]["name"]
    answer = httpx.post(f"{cluster.api_url(0)}/api/v1/namespaces/{ns}/pods/{victim}/eviction",
                        verify=cluster.ssl_context(), headers={"authorization": f"Bearer {cluster.token}"}, timeout=10,
                        json={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": victim}})
    assert answer.status_code == 429
    body = answer.json()
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"][0] == {"reason": "DisruptionBudget", "field": "",
                                            "message": "The disruption budget guarded needs 2 healthy pods and "
                                                       "has 2 currently"}
    k("patch", "pdb", "guarded", "--type=merge", "-p", json.dumps({"spec": {"minAvailable": None,
                                                                            "maxUnavailable": "50%"}}))
    wait_until(lambda: budget(k, "guarded", 1), 30, "maxUnavailable 50% of the Deployment's 2 allowing 1")
    assert parse_table(k("get", "pdb"))[0]["MAX UNAVAILABLE"] == "50%"
    described = k("describe", "pdb", "guarded")
    assert "Max unavailable:  50%" in described and "Allowed disruptions:  1" in described
    k("delete", "deployment", "guarded")
    assert "poddisruptionbudget.policy/made created" in k("create", "pdb", "made", "--selector=app=made",
                                                         "--max-unavailable=1")
    assert parse_table(k("get", "pdb", "made"))[0]["MAX UNAVAILABLE"] == "1"


def test_drain_evicts_one_at_a_time_then_uncordon(k: Kubectl) -> None:
    apply(k, deployment("web", REPLICAS), pdb("web", minAvailable=REPLICAS - 1))
    pods = wait_until(lambda: p if len(p := ready_pods(k, "web")) == REPLICAS else None, 60, "all pods Ready")
    wait_until(lambda: budget(k, "web", 1), 30, "one disruption allowed")
    node = max(set(nodes_of(pods)), key=nodes_of(pods).count)
    other = "node-2" if node == "node-1" else "node-1"
    assert nodes_of(pods).count(node) >= 2  # 4 pods on 2 nodes: the drain needs two evictions, 1 allowed
    out = k.run("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=120s")
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert f"node/{node} cordoned" in text and f"node/{node} drained" in text
    assert "Cannot evict pod as it would violate the pod's disruption budget." in text  # the second had to wait
    assert text.count("evicted") >= 2
    after = wait_until(lambda: p if len(p := ready_pods(k, "web")) == REPLICAS else None, 60, "replacements Ready")
    assert set(nodes_of(after)) == {other}
    shown = k.json("get", "node", node)
    assert shown["spec"]["unschedulable"] is True
    assert "SchedulingDisabled" in parse_table(k("get", "node", node))[0]["STATUS"]
    wait_until(lambda: UNSCHEDULABLE in taints(k, node), 30, "the unschedulable taint on the cordoned node")

    assert f"node/{node} uncordoned" in k("uncordon", node)
    assert not k.json("get", "node", node)["spec"].get("unschedulable")
    wait_until(lambda: UNSCHEDULABLE not in taints(k, node), 30, "the taint gone after uncordon")
    k("cordon", other)
    k("scale", "deployment", "web", f"--replicas={REPLICAS + 2}")
    grown = wait_until(lambda: p if len(p := ready_pods(k, "web")) == REPLICAS + 2 else None, 60, "scaled up")
    assert nodes_of(grown).count(node) == 2  # the new pods avoid the cordoned node
    k("uncordon", other)


def test_drain_refusals_and_force(k: Kubectl, ns: str) -> None:
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "labels": {"app": "bare"}},
            "spec": {**template("bare")["spec"], "nodeName": "node-1"}}
    scratch = {**bare, "metadata": {"name": "scratch", "labels": {"app": "scratch"}, "ownerReferences": []},
               "spec": {**bare["spec"], "volumes": [{"name": "tmp", "emptyDir": {}}]}}
    daemons = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agentd"},
               "spec": {"selector": {"matchLabels": {"app": "agentd"}}, "template": template("agentd")}}
    apply(k, bare, scratch, daemons)
    wait_until(lambda: len(ready_pods(k, "agentd")) == 2 and ready_pods(k, "bare"), 60, "pods running")
    result = k.fail("drain", "node-1", "--timeout=30s")
    assert "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)" in result.stderr
    assert f"cannot delete Pods that declare no controller (use --force to override): {ns}/bare" in result.stderr
    assert f"cannot delete Pods with local storage (use --delete-emptydir-data to override): {ns}/scratch" in \
        result.stderr
    out = k.run("drain", "node-1", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=60s")
    assert out.returncode == 0, out.stderr
    assert f"ignoring DaemonSet-managed Pods: {ns}/agentd-" in out.stderr
    assert f"deleting Pods that declare no controller: {ns}/bare, {ns}/scratch" in out.stderr
    wait_until(lambda: not ready_pods(k, "bare") and not ready_pods(k, "scratch"), 30, "the pods evicted")
    assert len(ready_pods(k, "agentd")) == 2  # DaemonSet pods stay (they tolerate unschedulable)
    k("uncordon", "node-1")
