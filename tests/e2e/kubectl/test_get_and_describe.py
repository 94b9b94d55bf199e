"""The real kubectl 1.32 against raftkube: get tables, selectors, labels, all namespaces, --watch, and
describe (tests/e2e/cluster.py starts the cluster; see tests/e2e/kubectl/conftest.py)."""

from __future__ import annotations

import ipaddress
import json
import re

import pytest
import yaml

from tests.e2e.cluster import MANIFESTS, Kubectl, parse_table, parse_tables
from tests.e2e.kubectl.support import (
    NODE_PORT,
    SERVICE_NET,
    apply_all,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


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
