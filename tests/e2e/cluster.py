"""Shared pieces of the end-to-end tests: a control plane, kubeconfigs, kubectl runs.

kubectl never sends a bearer token over plain HTTP (kubernetes/kubectl#744), so clients
(kubectl, the kubernetes Python client) talk HTTPS to `LocalControlPlane`'s TLS endpoints
with its CA. Each test module starts its own `E2ECluster` (three `raftkube server`
processes) through a module-scoped fixture.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from raftkube.local.control_plane import LocalControlPlane

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
MANIFESTS = Path(__file__).parent / "manifests"
T = TypeVar("T")

# one discovery cache per test session (per process), never shared between runs
_SESSION_CACHE = tempfile.mkdtemp(prefix="raftkube-e2e-kubecache-")
atexit.register(shutil.rmtree, _SESSION_CACHE, True)


def wait_until(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `check` until it returns something other than None/False; bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(interval)


@dataclass
class E2ECluster:
    """A 3-replica control plane serving HTTPS, plus what clients need to reach it."""

    base_dir: Path
    controllers: bool = False  # the API tests check what the API stores: no controller may act on it
    plane: LocalControlPlane = field(init=False)

    def __post_init__(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.plane = LocalControlPlane(str(self.base_dir / "plane"), controllers=self.controllers)

    @property
    def ca_cert(self) -> Path:
        assert self.plane.ca_file is not None
        return Path(self.plane.ca_file)

    # --------------------------------------------------------------- lifecycle
    def start(self) -> E2ECluster:
        try:
            self.plane.start(timeout=60)
            for i in range(len(self.plane.replicas)):
                self.wait_api_ready(i)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        self.plane.close()

    def api_url(self, i: int) -> str:
        url = self.plane.api_url(i)
        assert url.startswith("https://"), url
        return url

    @property
    def token(self) -> str:
        return self.plane.token

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def store_url(self, i: int) -> str:
        return self.plane.replicas[i].url

    def get(self, i: int, path: str, token: str | None = None, timeout: float = 5.0) -> httpx.Response:
        return httpx.get(self.api_url(i) + path, headers={"authorization": f"Bearer {token or self.token}"},
                         verify=self.ssl_context(), timeout=timeout)

    def wait_api_ready(self, i: int, timeout: float = 60.0) -> None:
        """Replica i answers /readyz and already sees the bootstrapped `default` namespace."""
        def ready() -> bool:
            try:
                return (self.get(i, "/readyz", timeout=2).status_code == 200
                        and self.get(i, "/api/v1/namespaces/default", timeout=2).status_code == 200)
            except httpx.HTTPError:
                return False
        wait_until(ready, timeout, f"API of replica {i} ready")

    def create_namespace(self, name: str, replica: int = 0) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        response = httpx.post(self.api_url(replica) + "/api/v1/namespaces", json=body, verify=self.ssl_context(),
                              headers={"authorization": f"Bearer {self.token}"}, timeout=10)
        assert response.status_code == 201, response.text

    # ------------------------------------------------------------------ kubectl
    def write_kubeconfig(self, path: Path, replica: int, token: str | None = None, namespace: str = "default") -> Path:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "e2e", "preferences": {},
            "clusters": [{"name": "e2e", "cluster": {"server": self.api_url(replica),
                                                     "certificate-authority": str(self.ca_cert)}}],
            "users": [{"name": "admin", "user": {"token": token or self.token}}],
            "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "admin", "namespace": namespace}}],
        }
        path.write_text(yaml.safe_dump(config))
        return path


@dataclass
class Kubectl:
    """Runs the real kubectl 1.32 with a given kubeconfig and a per-session discovery cache."""

    kubeconfig: Path
    timeout: float = 60.0

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env.update(KUBECONFIG=str(self.kubeconfig), KUBECACHEDIR=_SESSION_CACHE, HOME=_SESSION_CACHE)
        return env

    def run(self, *args: str, input: str | None = None, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True,
                                timeout=self.timeout, env={**self.env, **(env or {})})
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                                 f"stdout: {result.stdout}\nstderr: {result.stderr}")
        return result

    def __call__(self, *args: str, input: str | None = None) -> str:
        return self.run(*args, input=input).stdout

    def fail(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command that must fail; return the result for checks on stderr."""
        result = self.run(*args, input=input, check=False)
        assert result.returncode != 0, f"kubectl {' '.join(args)} unexpectedly succeeded: {result.stdout}"
        return result

    def json(self, *args: str) -> dict[str, Any]:
        return json.loads(self(*args, "-o", "json"))

    def popen(self, *args: str) -> LineReader:
        process = subprocess.Popen([KUBECTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=self.env)
        return LineReader(process)


class LineReader:
    """A background process whose stdout lines are collected by a thread for bounded polling."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float = 20.0, start: int = 0) -> str:
        def found() -> str | None:
            lines = self.snapshot()[start:]
            match = next((line for line in lines if predicate(line)), None)
            if match is None and self.process.poll() is not None and not self._thread.is_alive():
                stderr = self.process.stderr.read() if self.process.stderr else ""
                raise AssertionError(f"process exited ({self.process.returncode}) before the line; "
                                     f"stdout={self.snapshot()} stderr={stderr}")
            return match
        return wait_until(found, timeout, f"line in output {self.snapshot()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._thread.join(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def namespace_for(test_name: str) -> str:
    """A DNS-1123 label for a test's own namespace."""
    name = re.sub(r"[^a-z0-9-]+", "-", test_name.lower().removeprefix("test_")).strip("-")
    return name[:50].rstrip("-") or "e2e"


def parse_table(text: str) -> list[dict[str, str]]:
    """kubectl's column output as dicts, cut at the header's column starts (cells may be empty).

    kubectl pads columns with at least three spaces, so words one space apart are one header
    (`ACCESS MODES`, `LAST SCHEDULE`)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0]
    columns = list(re.finditer(r"\S+(?: \S+)*", header))
    starts = [m.start() for m in columns]
    names = [m.group() for m in columns]
    rows = []
    for line in lines[1:]:
        if line.startswith("NAME ") or line.startswith("NAMESPACE "):
            break  # the next table of a multi-kind listing
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def parse_tables(text: str) -> list[list[dict[str, str]]]:
    """Several tables separated by blank lines (`kubectl get a,b`, `get all`)."""
    return [parse_table(block) for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def consecutive_free_ports(count: int) -> int:
    """The first of `count` consecutive ports free on 127.0.0.1 (the agents' log servers take base + i)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no consecutive free ports")
