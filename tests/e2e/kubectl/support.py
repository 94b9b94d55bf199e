"""Helpers of the kubectl tests: applying the manifests under tests/e2e/manifests and reading
kubectl's `apply` output."""

from __future__ import annotations

import ipaddress
import re
import stat
import sys
from pathlib import Path

from tests.e2e.cluster import MANIFESTS, Kubectl

SERVICE_NET = ipaddress.ip_network("127.96.0.0/16")
NODE_PORT = re.compile(r"^80:(3\d{4})/TCP$")


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


def _editor_script(tmp_path: Path, old: str, new: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(f"#!{sys.executable}\nimport sys\npath = sys.argv[-1]\ntext = open(path).read()\n"
                      f"open(path, 'w').write(text.replace({old!r}, {new!r}))\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)
