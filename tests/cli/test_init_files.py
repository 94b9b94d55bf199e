"""`raftkube init` writes a machine's files privately; `raftkube certs` reads and renews them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from click.testing import CliRunner

from raftkube.cli import main
from raftkube.cli.cluster_dir import ClusterDir, read_env_args
from raftkube.pki import CertificateAuthority, ca_cert_hash, certificate_info


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def init(tmp_path: Path) -> tuple[ClusterDir, str]:
    directory = tmp_path / "cp1"
    code, out = run("init", "--dir", str(directory), "--name", "cp1", "--advertise-address", "127.0.0.31")
    assert code == 0, out
    return ClusterDir(str(directory)), out


def test_every_secret_is_private_and_only_certificates_are_readable(tmp_path: Path) -> None:
    cluster, _ = init(tmp_path)
    seen = 0
    for root, dirs, files in os.walk(cluster.root):
        for d in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode) == 0o700, d
        for f in files:
            mode = stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode)
            assert mode == (0o644 if f.endswith(".crt") else 0o600), (f, oct(mode))
            seen += 1
    assert stat.S_IMODE(os.stat(cluster.root).st_mode) == 0o700
    assert seen >= 15


def test_join_commands_pin_the_ca_and_secrets_are_random(tmp_path: Path) -> None:
    first, out = init(tmp_path)
    ca_pem = CertificateAuthority.load(first.pki).ca_pem()
    assert f"--discovery-token-ca-cert-hash {ca_cert_hash(ca_pem)}" in out
    assert f"--certificate-key {first.read('certificate-key')}" in out
    second = ClusterDir(str(tmp_path / "other"))
    assert run("init", "--dir", second.root, "--advertise-address", "127.0.0.32")[0] == 0
    for name in ("cluster-secret", "store-token", "certificate-key", "tokens.csv"):
        assert first.read(name) != second.read(name), name
    args = read_env_args(first.path("server.env"), "RAFTKUBE_SERVER_ARGS")
    assert args[args.index("--cluster-secret-file") + 1] == first.path("cluster-secret")
    assert first.read("cluster-secret") not in " ".join(args)  # secrets never on a command line
    _, _, sans = certificate_info(first.path("pki/apiserver.crt"))
    assert "127.0.0.31" in sans and "cp1" in sans


def test_init_refuses_bad_input_and_an_initialised_dir(tmp_path: Path) -> None:
    code, out = run("init", "--dir", str(tmp_path / "x"), "--advertise-address", "not-an-ip")
    assert code == 2 and "--advertise-address" in out
    cluster, _ = init(tmp_path)
    secret = cluster.read("cluster-secret")
    code, out = run("init", "--dir", cluster.root, "--advertise-address", "127.0.0.31")
    assert code == 1 and "already holds" in out
    assert cluster.read("cluster-secret") == secret  # nothing overwritten


def test_certs_check_expiration_and_rotate(tmp_path: Path) -> None:
    cluster, _ = init(tmp_path)
    code, out = run("certs", "check-expiration", "--dir", cluster.root)
    assert code == 0 and "apiserver.crt" in out and "kube-apiserver" in out and "364d" in out
    before = certificate_info(cluster.path("pki/apiserver.crt"))
    with open(cluster.path("pki/apiserver.key")) as f:
        old_key = f.read()
    code, out = run("certs", "rotate", "--dir", cluster.root, "--days", "30")
    assert code == 0, out
    after = certificate_info(cluster.path("pki/apiserver.crt"))
    assert after[0] == before[0] and after[2] == before[2] and after[1] < before[1]
    with open(cluster.path("pki/apiserver.key")) as f:
        assert f.read() != old_key
    CertificateAuthority.load(cluster.pki).issue(cluster.pki, "stale", "old-client", client=True, days=0)
    code, out = run("certs", "check-expiration", "--dir", cluster.root)
    assert code == 1 and "EXPIRED" in out and "stale.crt" in out
