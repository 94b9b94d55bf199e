"""The real kubectl 1.32 against a 3-replica raftkube control plane.

One control plane for the module; each test works in its own namespace through a
kubeconfig pointing at replica 0 (HTTPS, bearer token). There are no controllers yet, so
the tests check what the API stores and answers, not pods running.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .cluster import MANIFESTS, E2ECluster, Kubectl, namespace_for, parse_table, parse_tables, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

SERVICE_NET = ipaddress.ip_network("127.96.0.0/16")
NODE_PORT = re.compile(r"^80:(3\d{4})/TCP$")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    plane = E2ECluster(tmp_path_factory.mktemp("kubectl-plane")).start()
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
    """kubectl with a kubeconfig for replica 0 whose default namespace is the test's own."""
    return Kubectl(cluster.write_kubeconfig(tmp_path / "kubeconfig", 0, namespace=ns))


def applied(output: str) -> dict[str, str]:
    """`kind/name created|unchanged|configured|serverside-applied` lines as {kind/name: action}."""
    result = {}
    for line in output.splitlines():
        ref, _, action = line.strip().rpartition(" ")
        result[ref] = action
    return result


APP_OBJECTS = ["configmap/web-config", "deployment.apps/web", "secret/web-secret", "service/web"]
OTHER_OBJECTS = ["job.batch/migrate", "pod/sidecar-pod", "configmap/multi-one", "configmap/multi-two",
                 "secret/multi-secret", "configmap/dir-a", "service/dir-b"]


def apply_all(k: Kubectl, app_dir: Path = MANIFESTS / "app") -> dict[str, str]:
    out = k("apply", "-f", str(app_dir))
    out += k("apply", "-f", str(MANIFESTS / "job.yaml"), "-f", str(MANIFESTS / "pod.yaml"),
             "-f", str(MANIFESTS / "multi.yaml"))
    out += k("apply", "-f", str(MANIFESTS / "dir"))
    return applied(out)


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


# -------------------------------------------------------------------------- get
def test_get_tables(k: Kubectl, ns: str) -> None:
    apply_all(k)
    deployments = parse_table(k("get", "deployments"))
    assert list(deployments[0]) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert [(r["NAME"], r["READY"], r["UP-TO-DATE"], r["AVAILABLE"]) for r in deployments] == [("web", "0/3", "0", "0")]

    services = {r["NAME"]: r for r in parse_table(k("get", "services"))}
    assert list(services["web"]) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert services["web"]["TYPE"] == "NodePort" and services["dir-b"]["TYPE"] == "ClusterIP"
    for row in services.values():
        assert ipaddress.ip_address(row["CLUSTER-IP"]) in SERVICE_NET, row
        assert row["EXTERNAL-IP"] == "<none>"
    match = NODE_PORT.match(services["web"]["PORT(S)"])
    assert match and 30000 <= int(match.group(1)) <= 32767, services["web"]
    assert services["dir-b"]["PORT(S)"] == "8080/TCP"
    service = k.json("get", "service", "web")
    assert service["spec"]["clusterIP"] == services["web"]["CLUSTER-IP"]
    assert service["spec"]["ports"][0]["nodePort"] == int(match.group(1))

    pods = parse_table(k("get", "pods"))
    assert list(pods[0]) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [(r["NAME"], r["READY"], r["STATUS"], r["RESTARTS"]) for r in pods] == [("sidecar-pod", "0/2", "Pending",
                                                                                    "0")]
    configmaps = {r["NAME"]: r["DATA"] for r in parse_table(k("get", "configmaps"))}
    assert configmaps == {"web-config": "2", "multi-one": "1", "multi-two": "1", "dir-a": "1"}
    jobs = parse_table(k("get", "jobs"))
    assert jobs[0]["NAME"] == "migrate" and jobs[0]["COMPLETIONS"] == "0/1"

    # -o yaml / -o json
    one = yaml.safe_load(k("get", "deployment", "web", "-o", "yaml"))
    assert (one["apiVersion"], one["kind"], one["metadata"]["name"], one["metadata"]["namespace"]) == (
        "apps/v1", "Deployment", "web", ns)
    assert one["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    listed = k.json("get", "configmaps")
    assert listed["kind"] == "List"
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["dir-a", "multi-one", "multi-two", "web-config"]
    assert all(i["kind"] == "ConfigMap" and i["apiVersion"] == "v1" for i in listed["items"])
    as_yaml = yaml.safe_load(k("get", "configmaps", "-o", "yaml"))
    assert [i["metadata"]["name"] for i in as_yaml["items"]] == [i["metadata"]["name"] for i in listed["items"]]


def test_get_selectors_labels_all_namespaces(k: Kubectl, ns: str) -> None:
    apply_all(k)

    def names(*args: str) -> list[str]:
        return sorted(r["NAME"] for r in parse_table(k("get", *args)))

    assert names("cm", "-l", "env in (dev,staging)") == ["multi-one", "multi-two"]
    assert names("cm", "--selector", "bundle=multi,env notin (dev)") == ["multi-two"]
    assert names("cm", "-l", "!bundle") == ["web-config"]
    assert names("cm", "-l", "bundle") == ["dir-a", "multi-one", "multi-two"]
    assert names("cm", "-l", "bundle!=multi") == ["dir-a", "web-config"]
    assert names("cm", "-l", "tier==frontend,app=web") == ["web-config"]
    assert names("secrets", "-l", "env in (prod)") == ["multi-secret"]

    shown = {r["NAME"]: r["LABELS"] for r in parse_table(k("get", "cm", "-l", "bundle=multi", "--show-labels"))}
    assert shown == {"multi-one": "bundle=multi,env=dev", "multi-two": "bundle=multi,env=staging"}

    everywhere = parse_table(k("get", "configmaps", "-A", "-l", "bundle=multi"))
    assert list(everywhere[0])[:2] == ["NAMESPACE", "NAME"]
    assert sorted((r["NAMESPACE"], r["NAME"]) for r in everywhere if r["NAMESPACE"] == ns) == [
        (ns, "multi-one"), (ns, "multi-two")]
    namespaces = {r["NAME"]: r["STATUS"] for r in parse_table(k("get", "namespaces"))}
    assert namespaces[ns] == "Active" and namespaces["default"] == "Active" and "kube-system" in namespaces

    by_name = parse_table(k("get", "configmaps", "-A", "--field-selector", "metadata.name=multi-one"))
    assert {r["NAME"] for r in by_name} == {"multi-one"} and (ns, "multi-one") in {(r["NAMESPACE"], r["NAME"])
                                                                                 for r in by_name}
    in_ns = parse_table(k("get", "configmaps", "-A", "--field-selector",
                          f"metadata.name=multi-one,metadata.namespace={ns}"))
    assert [(r["NAMESPACE"], r["NAME"]) for r in in_ns] == [(ns, "multi-one")]
    assert names("cm", "--field-selector", "metadata.name!=web-config") == ["dir-a", "multi-one", "multi-two"]
    assert names("pods", "--field-selector", "status.phase=Pending") == ["sidecar-pod"]
    assert "No resources found" in k.run("get", "pods", "--field-selector", "status.phase=Running").stderr

    tables = parse_tables(k("get", "all"))
    found = sorted(r["NAME"] for table in tables for r in table)
    assert found == ["deployment.apps/web", "job.batch/migrate", "pod/sidecar-pod", "service/dir-b", "service/web"]


def test_get_watch_prints_changes(k: Kubectl) -> None:
    k("apply", "-f", str(MANIFESTS / "dir" / "a-configmap.yaml"))
    watcher = k.popen("get", "configmaps", "--watch", "--output-watch-events")
    try:
        watcher.wait_for_line(lambda line: line.split()[:2] == ["ADDED", "dir-a"])
        configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "watched"}, "data": {"a": "1"}}
        k("create", "-f", "-", input=json.dumps(configmap))
        watcher.wait_for_line(lambda line: line.split()[:2] == ["ADDED", "watched"])
        k("label", "configmap", "watched", "stage=two")
        watcher.wait_for_line(lambda line: line.split()[:2] == ["MODIFIED", "watched"])
        k("delete", "configmap", "watched")
        watcher.wait_for_line(lambda line: line.split()[:2] == ["DELETED", "watched"])
        assert watcher.process.poll() is None, "the watch ended by itself"
    finally:
        watcher.stop()
    events = [line.split()[:2] for line in watcher.snapshot()[1:]]
    assert events == [["ADDED", "dir-a"], ["ADDED", "watched"], ["MODIFIED", "watched"], ["DELETED", "watched"]]


# --------------------------------------------------------------------- describe
def test_describe_shows_key_fields(k: Kubectl) -> None:
    k("apply", "-f", str(MANIFESTS / "app"))
    text = k("describe", "deployment", "web")
    for expected in ["Name:                   web", "Selector:               app=web",
                     "Replicas:               3 desired | 0 updated | 0 total | 0 available | 0 unavailable",
                     "RollingUpdate", "0 max unavailable, 1 max surge", "docker.io/library/nginx:1.27",
                     "cpu:     500m", "memory:   64Mi", "tcp-socket :80", "http-get http://:http/",
                     "<set to the key 'LOG_LEVEL' of config map 'web-config'>",
                     "<set to the key 'api-key' in secret 'web-secret'>", "/etc/web from config (ro)",
                     "ConfigMap (a volume populated by a ConfigMap)", "EmptyDir"]:
        assert expected in text, f"{expected!r} missing in:\n{text}"
    service = k.json("get", "service", "web")
    text = k("describe", "service", "web")
    for expected in ["Type:                     NodePort", f"IP:                       {service['spec']['clusterIP']}",
                     "Port:                     http  80/TCP", "TargetPort:               http/TCP",
                     f"NodePort:                 http  {service['spec']['ports'][0]['nodePort']}/TCP",
                     "Selector:                 app=web"]:
        assert expected in text, f"{expected!r} missing in:\n{text}"
    text = k("describe", "configmap", "web-config")
    assert re.search(r"LOG_LEVEL:\n----\ninfo", text), text
    assert "hello from raftkube" in text and "tier=frontend" in text


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


def _editor_script(tmp_path: Path, old: str, new: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(f"#!{sys.executable}\nimport sys\npath = sys.argv[-1]\ntext = open(path).read()\n"
                      f"open(path, 'w').write(text.replace({old!r}, {new!r}))\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


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
    rows = {r["NAME"]: r for r in parse_table(k("api-resources"))}
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
