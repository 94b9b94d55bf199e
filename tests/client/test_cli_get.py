"""`raftkube get` against the fake API: Table layout, outputs, selectors, errors, watch."""

from __future__ import annotations

import json

import pytest
import yaml

from raftkube.cli.get import get
from raftkube.cli.printing import TablePrinter
from raftkube.client import cli_lookup
from raftkube.machinery.times import human_duration

from .cli_harness import invoke
from .fake_api import FakeApi
from .test_api_client import pod


def seeded() -> FakeApi:
    fake = FakeApi()
    fake.seed({**pod("web-1", app="web"), "spec": {"nodeName": "node-a"}, "status": {"phase": "Running"}})
    fake.seed({**pod("db", app="db"), "status": {"phase": "Pending"}})
    fake.seed(pod("other", ns="kube-system"))
    return fake


def test_table_layout_like_kubectl() -> None:
    result = invoke(seeded(), get, ["pods"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "NAME    STATUS    AGE",
        "db      Pending   5m",
        "web-1   Running   5m",
    ]
    chunked = invoke(seeded(), get, ["pods", "--chunk-size", "1"])
    assert chunked.stdout == result.stdout  # Table pages are joined into one table
    wide = invoke(seeded(), get, ["po", "-o", "wide"]).stdout.splitlines()
    assert wide[0] == "NAME    STATUS    NODE     AGE"
    assert wide[1] == "db      Pending   <none>   5m"


def test_all_namespaces_adds_namespace_column_and_selectors_are_sent() -> None:
    fake = seeded()
    lines = invoke(fake, get, ["pod", "-A"]).stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "STATUS", "AGE"]
    assert [line.split()[:2] for line in lines[1:]] == [["default", "db"], ["default", "web-1"],
                                                         ["kube-system", "other"]]
    out = invoke(fake, get, ["pods", "-l", "app=web", "--field-selector", "spec.nodeName=node-a"]).stdout
    assert out.splitlines()[1].startswith("web-1")
    params = fake.requests[-1][3]
    assert params["labelSelector"] == "app=web" and params["fieldSelector"] == "spec.nodeName=node-a"
    assert params["limit"] == "500"


def test_plain_list_falls_back_to_name_and_age() -> None:
    fake = seeded()
    fake.tables = False
    lines = invoke(fake, get, ["pods", "--chunk-size", "1"]).stdout.splitlines()
    assert lines[0].split() == ["NAME", "AGE"]
    assert [line.split()[0] for line in lines[1:]] == ["db", "web-1"]
    assert lines[1].split()[1].endswith(("d", "y"))  # created in 2024


def test_output_name_json_yaml() -> None:
    fake = seeded()
    assert invoke(fake, get, ["pods", "-o", "name"]).stdout.splitlines() == ["pod/db", "pod/web-1"]
    one = json.loads(invoke(fake, get, ["pod", "web-1", "-o", "json"]).stdout)
    assert one["kind"] == "Pod" and one["metadata"]["name"] == "web-1"
    many = yaml.safe_load(invoke(fake, get, ["pods", "-o", "yaml"]).stdout)
    assert many["kind"] == "List" and [i["kind"] for i in many["items"]] == ["Pod", "Pod"]


def test_type_slash_name_and_several_types() -> None:
    fake = seeded()
    fake.seed({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"}})
    out = invoke(fake, get, ["pod/db", "cm/cfg"]).stdout.splitlines()
    assert out[0].split() == ["NAME", "STATUS", "AGE"] and out[1].startswith("pod/db ")
    assert out[2] == "" and out[4].startswith("configmap/cfg ")


def test_errors_are_kubectl_like() -> None:
    fake = seeded()
    result = invoke(fake, get, ["pod", "nope"])
    assert result.exit_code == 1
    assert result.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    result = invoke(fake, get, ["frobs"])
    assert result.exit_code == 1 and 'doesn\'t have a resource type "frobs"' in result.stderr
    empty = invoke(fake, get, ["pods", "-n", "empty"])
    assert empty.exit_code == 0 and empty.stderr.strip() == "No resources found in empty namespace."
    fake.down.update(fake.hosts)
    down = invoke(fake, get, ["pods"])
    assert down.exit_code == 1 and down.stderr.startswith("Unable to connect to the server")


def test_watch_prints_rows_after_the_list() -> None:
    fake = seeded()
    fake.end_when_caught_up = True
    fake.after_list = lambda: fake.seed({**pod("late"), "status": {"phase": "Pending"}})
    result = invoke(fake, get, ["pods", "-w", "--request-timeout", "5"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "NAME    STATUS    AGE",
        "db      Pending   5m",
        "web-1   Running   5m",
        "late    Pending   5m",
    ]
    watch = fake.requests[-1][3]
    assert watch["watch"] == "1" and watch["resourceVersion"] == str(fake.rev - 1)


@pytest.mark.parametrize("name,kind", [("po", "Pod"), ("deploy", "Deployment"), ("svc", "Service"),
                                       ("cm", "ConfigMap"), ("rs", "ReplicaSet"), ("ns", "Namespace"),
                                       ("no", "Node"), ("ds", "DaemonSet"), ("ev", "Event"), ("pods", "Pod"),
                                       ("Deployment", "Deployment"), ("deployments.apps", "Deployment")])
def test_kind_names(name: str, kind: str) -> None:
    res = cli_lookup(name)
    assert res is not None and res.kind == kind


def test_human_duration_and_tabwriter_widths() -> None:
    assert [human_duration(s) for s in (5, 119, 150, 600, 3 * 3600, 5 * 3600 + 60, 30 * 3600, 50 * 3600,
                                        400 * 86400, 3 * 365 * 86400 + 86400 * 10)] == \
        ["5s", "119s", "2m30s", "10m", "3h", "5h1m", "30h", "2d2h", "400d", "3y10d"]
    printer = TablePrinter(["A", "LONGER"])
    assert printer.lines([["x", "1"]]) == ["A     LONGER", "x     1"]
