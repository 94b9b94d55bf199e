"""`raftkube kubeconfig` writes a file kubectl, the kubernetes client and ApiClient all read."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from raftkube.cli.kubeconfig import kubeconfig
from raftkube.client import ApiClient
from raftkube.client.kubeconfig import ENDPOINTS_EXTENSION, load_kubeconfig

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def write(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "kube" / "config"
    result = CliRunner().invoke(kubeconfig, ["--server", "https://10.0.0.1:6443,https://10.0.0.2:6443",
                                             "--server", "https://10.0.0.3:6443", "--token", "s3cret",
                                             "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


def test_writes_private_file_with_endpoints_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "--namespace", "prod")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = yaml.safe_load(path.read_text())
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == "https://10.0.0.1:6443"
    assert cluster["extensions"] == [{"name": ENDPOINTS_EXTENSION, "extension": {"endpoints": [
        "https://10.0.0.1:6443", "https://10.0.0.2:6443", "https://10.0.0.3:6443"]}}]
    cfg = load_kubeconfig(str(path))
    assert cfg.endpoints == ["https://10.0.0.1:6443", "https://10.0.0.2:6443", "https://10.0.0.3:6443"]
    assert (cfg.token, cfg.namespace, cfg.context) == ("s3cret", "prod", "raftkube")


def test_stdout_and_ca_embedding(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(PEM)
    result = CliRunner().invoke(kubeconfig, ["--server", "https://a:6443", "--ca-file", str(ca)])
    doc = yaml.safe_load(result.stdout)
    assert "certificate-authority-data" in doc["clusters"][0]["cluster"]
    path = tmp_path / "c"
    path.write_text(result.stdout)
    assert load_kubeconfig(str(path)).ca_data == PEM
    assert CliRunner().invoke(kubeconfig, ["--server", " , "]).exit_code == 1


def test_python_kubernetes_client_reads_it(tmp_path: Path) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    path = write(tmp_path, "--insecure-skip-tls-verify")
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(path), client_configuration=config)
    assert config.host == "https://10.0.0.1:6443"
    assert "Bearer s3cret" in config.api_key.values()
    assert ApiClient.from_kubeconfig(str(path)).endpoints[-1] == "https://10.0.0.3:6443"


@pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl 1.32 is not installed")
def test_kubectl_reads_it_and_keeps_the_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "--insecure-skip-tls-verify")
    env = {**os.environ, "KUBECONFIG": str(path), "KUBECACHEDIR": str(tmp_path / "cache")}
    server = subprocess.run([KUBECTL, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert server.returncode == 0, server.stderr
    assert server.stdout == "https://10.0.0.1:6443"
    subprocess.run([KUBECTL, "config", "set-context", "--current", "--namespace", "dev"], env=env,
                   capture_output=True, text=True, timeout=30, check=True)
    cfg = load_kubeconfig(str(path))  # kubectl rewrote the file: the endpoints survive
    assert cfg.namespace == "dev" and len(cfg.endpoints) == 3
