"""`raftkube apply` (client-side three-way merge patch, or server-side) against the fake API."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from raftkube.cli.apply import apply
from raftkube.cli.merge import LAST_APPLIED, three_way_patch

from .cli_harness import invoke
from .fake_api import FakeApi

MANIFEST = """
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: fe}
spec:
  containers:
  - name: c
    image: nginx:1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
  namespace: prod
spec:
  replicas: 2
---
"""


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_create_then_unchanged_then_configured(tmp_path: Path) -> None:
    fake = FakeApi()
    path = write(tmp_path, MANIFEST)
    first = invoke(fake, apply, ["-f", path])
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == ["pod/web created", "deployment.apps/d created"]
    live = fake.objects[("pods", "default", "web")]
    assert json.loads(live["metadata"]["annotations"][LAST_APPLIED])["metadata"]["labels"] == {"app": "web",
                                                                                             "tier": "fe"}
    # the server defaults fields inside lists: a second apply of the same file changes nothing
    live["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    again = invoke(fake, apply, ["-f", path])
    assert again.stdout.splitlines() == ["pod/web unchanged", "deployment.apps/d unchanged"]
    assert [m for m, *_ in fake.bodies].count("PATCH") == 0
    changed = MANIFEST.replace("{app: web, tier: fe}", "{app: web2}").replace("replicas: 2", "replicas: 3")
    third = invoke(fake, apply, ["-f", write(tmp_path, changed)])
    assert third.stdout.splitlines() == ["pod/web configured", "deployment.apps/d configured"]
    patches = [b for m, c, b in fake.bodies if m == "PATCH"]
    assert all(c == "application/merge-patch+json" for m, c, _ in fake.bodies if m == "PATCH")
    assert patches[0]["metadata"]["labels"] == {"app": "web2", "tier": None}
    assert "spec" not in patches[0]
    assert patches[1]["spec"] == {"replicas": 3}
    assert fake.objects[("pods", "default", "web")]["metadata"]["labels"] == {"app": "web2"}


def test_stdin_directory_and_list_documents(tmp_path: Path) -> None:
    fake = FakeApi()
    items = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{i}"}, "data": {"k": str(i)}}
        for i in range(2)]}
    out = invoke(fake, apply, ["-f", "-", "-n", "team"], stdin=yaml.safe_dump(items))
    assert out.stdout.splitlines() == ["configmap/cm0 created", "configmap/cm1 created"]
    assert ("configmaps", "team", "cm0") in fake.objects
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "b.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")
    (folder / "a.json").write_text(json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}))
    (folder / "notes.txt").write_text("ignored")
    out = invoke(fake, apply, ["-f", str(folder), "-o", "name"])
    assert out.stdout.splitlines() == ["namespace/a", "namespace/b"]


def test_errors_namespace_mismatch_and_server_errors(tmp_path: Path) -> None:
    fake = FakeApi()
    out = invoke(fake, apply, ["-f", write(tmp_path, MANIFEST), "-n", "other"])
    assert out.exit_code == 1
    assert out.stdout.splitlines() == ["pod/web created"]
    assert 'does not match the namespace "other"' in out.stderr
    fake.seed({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "taken", "namespace": "default"}})
    fake.fail("a", "503")
    bad = invoke(fake, apply, ["-f", write(tmp_path, "apiVersion: v1\nkind: Pod\nmetadata: {name: taken}\n",
                                           "t.yaml")])
    assert bad.exit_code == 0  # the GET failed over to the next endpoint
    fresh = write(tmp_path, "apiVersion: v1\nkind: Pod\nmetadata: {name: fresh}\n", "f.yaml")
    fake.fail("a", "pass", "503")  # the GET answers, the POST gets a 503: surfaced, not retried
    lost = invoke(fake, apply, ["-f", fresh])
    assert lost.exit_code == 1 and ("pods", "default", "fresh") not in fake.objects
    assert lost.stderr.startswith("Error from server (ServiceUnavailable): error when applying")
    missing = invoke(fake, apply, ["-f", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    nameless = invoke(fake, apply, ["-f", write(tmp_path, "apiVersion: v1\nkind: Pod\nmetadata: {}\n", "n.yaml")])
    assert nameless.exit_code == 1 and "metadata.name is required" in nameless.stderr


def test_server_side_apply_sends_apply_patch(tmp_path: Path) -> None:
    fake = FakeApi()
    out = invoke(fake, apply, ["-f", write(tmp_path, MANIFEST), "--server-side", "--force-conflicts"])
    assert out.stdout.splitlines() == ["pod/web serverside-applied", "deployment.apps/d serverside-applied"]
    patch_requests = [q for _, m, _, q in fake.requests if m == "PATCH"]
    assert patch_requests[0] == {"fieldManager": "raftkube", "force": "true"}
    assert {c for m, c, _ in fake.bodies if m == "PATCH"} == {"application/apply-patch+yaml"}


def test_three_way_patch_rules() -> None:
    original = {"a": 1, "b": {"x": 1, "y": 2}, "l": [{"n": 1}]}
    modified = {"a": 1, "b": {"x": 5}, "l": [{"n": 1}], "new": True}
    current = {"a": 1, "b": {"x": 1, "y": 2, "z": 3}, "l": [{"n": 1, "default": "d"}], "server": 1}
    assert three_way_patch(original, modified, current) == {"b": {"x": 5, "y": None}, "new": True}
    assert three_way_patch(original, {**modified, "l": [{"n": 2}]}, current)["l"] == [{"n": 2}]
    assert three_way_patch(None, {"l": [1]}, {"l": [1, 2]}) == {"l": [1]}
    assert three_way_patch(modified, modified, {**current, "b": {"x": 5}, "new": True}) == {}
