"""`raftkube init` makes the service-account signing key, the control-plane bundle carries it (so every replica
signs and verifies the same tokens), the server is started with it, and the serving certificate names the
`kubernetes` Service (its DNS names and ClusterIP)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from raftkube.api.sa_jwt import TokenSigner, TokenVerifier, load_signing_key
from raftkube.cli.cluster_dir import read_env_args
from raftkube.pki import KUBERNETES_SERVICE_IP, certificate_info, ensure_pki

from .test_init_files import init


def test_init_makes_the_key_and_bundles_it(tmp_path: Path) -> None:
    cluster, _ = init(tmp_path)
    key, pub = cluster.path("pki/sa.key"), cluster.path("pki/sa.pub")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and stat.S_IMODE(os.stat(pub).st_mode) == 0o600
    bundle = cluster.bundle()
    assert bundle["pki/sa.key"] == Path(key).read_bytes() and bundle["pki/sa.pub"] == Path(pub).read_bytes()
    args = read_env_args(cluster.path("server.env"), "RAFTKUBE_SERVER_ARGS")
    assert args[args.index("--service-account-signing-key-file") + 1] == key
    _, _, sans = certificate_info(cluster.path("pki/apiserver.crt"))
    assert {KUBERNETES_SERVICE_IP, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local"} <= set(sans)


def test_a_joined_replica_with_the_bundle_keeps_the_same_key(tmp_path: Path) -> None:
    cluster, _ = init(tmp_path)
    joined = tmp_path / "cp2" / "pki"
    joined.mkdir(parents=True)
    for name, data in cluster.bundle().items():
        if name.startswith("pki/"):
            (joined / name.removeprefix("pki/")).write_bytes(data)
    ensure_pki(str(joined), ["127.0.0.32"])  # what `raftkube join` runs after writing the bundle
    assert (joined / "sa.key").read_bytes() == Path(cluster.path("pki/sa.key")).read_bytes()
    token, _ = TokenSigner(load_signing_key(cluster.path("pki/sa.key"))).sign("ns", "a", "uid", ["aud"], 600)
    assert TokenVerifier(load_signing_key(str(joined / "sa.key")).public_key(), audiences=["aud"]).verify(token)
    fresh = tmp_path / "other"
    ensure_pki(str(fresh))
    assert TokenVerifier(load_signing_key(str(fresh / "sa.key")).public_key(), audiences=["aud"]).verify(token) \
        is None
