"""`raftkube delete` and `raftkube describe` against the fake API."""

from __future__ import annotations

from pathlib import Path

from raftkube.cli.delete import delete
from raftkube.cli.describe import describe

from .cli_harness import invoke
from .fake_api import FakeApi
from .test_api_client import pod


def test_delete_by_name_type_slash_name_and_file(tmp_path: Path) -> None:
    fake = FakeApi()
    fake.seed(pod("a"))
    fake.seed(pod("b"))
    fake.seed({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"}})
    out = invoke(fake, delete, ["pods", "a", "--cascade", "foreground"])
    assert out.exit_code == 0 and out.stdout.splitlines() == ['pod "a" deleted']
    assert fake.bodies[-1][2]["propagationPolicy"] == "Foreground"
    out = invoke(fake, delete, ["deploy/d", "--no-wait"])
    assert out.stdout.splitlines() == ['deployment.apps "d" deleted']
    path = tmp_path / "b.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n")
    out = invoke(fake, delete, ["-f", str(path)])
    assert out.stdout.splitlines() == ['pod "b" deleted'] and not fake.objects
    assert fake.bodies[-1][2]["propagationPolicy"] == "Background"


def test_delete_missing_and_by_selector() -> None:
    fake = FakeApi()
    out = invoke(fake, delete, ["pod", "ghost"])
    assert out.exit_code == 1 and out.stderr.strip() == 'Error from server (NotFound): pods "ghost" not found'
    assert invoke(fake, delete, ["pod", "ghost", "--ignore-not-found"]).exit_code == 0
    for name, app in (("w1", "web"), ("w2", "web"), ("x", "db")):
        fake.seed(pod(name, app=app))
    out = invoke(fake, delete, ["pods", "-l", "app=web"])
    assert out.stdout.splitlines() == ['pod "w1" deleted', 'pod "w2" deleted']
    assert list(fake.objects) == [("pods", "default", "x")]
    assert invoke(fake, delete, ["pods"]).exit_code == 1


def test_describe_shows_fields_and_events() -> None:
    fake = FakeApi()
    fake.seed({**pod("web", app="web"), "status": {"phase": "Running", "podIP": "10.0.0.5"}})
    fake.seed({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1", "namespace": "default"},
               "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}, "type": "Normal",
               "reason": "Scheduled", "message": "Successfully assigned default/web to n1",
               "source": {"component": "default-scheduler"}})
    out = invoke(fake, describe, ["pod", "web"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[:4] == ["Name:         web", "Namespace:    default", "Labels:       app=web",
                         "Annotations:  <none>"]
    assert lines[lines.index("Status:") + 1:][:2] == ["  Phase:   Running", "  Pod IP:  10.0.0.5"]
    assert "  Containers:" in lines[lines.index("Spec:"):][:2]
    events = lines[lines.index("Events:"):]
    assert events[1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert events[3].split()[:2] == ["Normal", "Scheduled"] and "default-scheduler" in events[3]
    missing = invoke(fake, describe, ["pod", "nope"])
    assert missing.exit_code == 1 and "NotFound" in missing.stderr
