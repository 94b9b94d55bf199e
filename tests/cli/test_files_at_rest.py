"""Data at rest on a LocalControlPlane (what `raftkube up` starts): every file private from creation
(0600, directories 0700; only *.crt public), Secrets absent in plaintext from every replica's journal and
snapshot files, and a malformed --encryption-provider-config refusing start naming the field."""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from raftkube.local.control_plane import LocalControlPlane

PLAIN = b"at-rest-plaintext-7f3a9c"
B64 = base64.b64encode(PLAIN)


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane]:
    control = LocalControlPlane(str(tmp_path_factory.mktemp("at-rest") / "plane"), size=3, controllers=False)
    try:
        control.start(timeout=90)
        yield control
    finally:
        control.close()


def http(plane: LocalControlPlane, i: int = 0) -> httpx.Client:
    assert plane.ca_file is not None
    return httpx.Client(base_url=plane.api_url(i), headers={"authorization": f"Bearer {plane.token}"},
                        verify=ssl.create_default_context(cafile=plane.ca_file), timeout=10)


def until_ok(plane: LocalControlPlane) -> None:
    deadline = time.monotonic() + 60
    with http(plane) as client:
        while True:
            try:
                if client.get("/api/v1/namespaces/default").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API did not become ready"
            time.sleep(0.1)


def test_secret_plaintext_is_in_no_replica_file_and_reads_back(plane: LocalControlPlane) -> None:
    until_ok(plane)
    with http(plane) as client:
        r = client.post("/api/v1/namespaces/default/secrets", json={
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "rest"}, "data": {"k": B64.decode()}})
        assert r.status_code == 201, r.text
    for i in range(3):  # every replica applies it, and reads it back decrypted
        deadline = time.monotonic() + 30
        with http(plane, i) as client:
            while (r := client.get("/api/v1/namespaces/default/secrets/rest")).status_code != 200:
                assert time.monotonic() < deadline, r.text
                time.sleep(0.1)
        assert base64.b64decode(r.json()["data"]["k"]) == PLAIN
    journals = 0
    for replica in plane.replicas:
        for path in Path(replica.data_dir).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                journals += b"k8s:enc:aesgcm:v1:key1:" in data
                assert PLAIN not in data and B64 not in data, path
    assert journals >= 3  # the ciphertext is there, in each replica's journal


def test_every_file_is_private(plane: LocalControlPlane) -> None:
    until_ok(plane)
    wide = []
    for root, dirs, files in os.walk(plane.base_dir):
        for d in dirs:
            mode = os.stat(os.path.join(root, d)).st_mode & 0o777
            if mode != 0o700:
                wide.append((os.path.join(root, d), oct(mode)))
        for f in files:
            path = os.path.join(root, f)
            mode = os.stat(path).st_mode & 0o777
            if mode & 0o077 and not f.endswith(".crt"):
                wide.append((path, oct(mode)))
    assert os.stat(plane.base_dir).st_mode & 0o777 == 0o700
    assert wide == []
    names = {p.name for p in Path(plane.base_dir).rglob("*")}
    assert {"tokens.csv", "encryption-config.yaml", "s1.log", "raft.journal"} <= names


def test_malformed_encryption_config_refuses_start(tmp_path: Path) -> None:
    bad = tmp_path / "enc.yaml"
    bad.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                   "- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n      - name: k1\n"
                   "        secret: c2hvcnQ=\n")
    out = subprocess.run([sys.executable, "-m", "raftkube", "server", "--data-dir", str(tmp_path / "d"),
                          "--encryption-provider-config", str(bad)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "--encryption-provider-config" in out.stderr
    assert "resources[0].providers[0].aesgcm.keys[0].secret" in out.stderr
