"""Secret volumes on tmpfs (node/memory_volumes.py): mounted for secret and projected-with-secret volumes,
never for configMaps, kept when already mounted, unmounted with the pod's directory; modes of volume dirs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from raftkube.node.memory_volumes import is_tmpfs, mounts
from raftkube.node.volumes import prepare_volumes, remove_pod_dir

OBJECTS = {("Secret", "sec"): {"kind": "Secret", "data": {"password": "aHVudGVyMg=="}},
           ("ConfigMap", "cfg"): {"kind": "ConfigMap", "data": {"mode": "fast"}}}
POD = {"spec": {"volumes": [
    {"name": "creds", "secret": {"secretName": "sec"}},
    {"name": "both", "projected": {"sources": [{"secret": {"name": "sec"}}, {"configMap": {"name": "cfg"}}]}},
    {"name": "conf", "configMap": {"name": "cfg"}},
    {"name": "scratch", "emptyDir": {}},
]}}

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@needs_root
def test_secret_volumes_are_tmpfs_and_unmounted_with_the_pod(tmp_path: Path) -> None:
    pod_dir = str(tmp_path / "pod")
    try:
        volumes = prepare_volumes(POD, pod_dir, OBJECTS, secrets_in_memory=True)
        creds, both, conf = (volumes[n][0] for n in ("creds", "both", "conf"))
        assert is_tmpfs(creds) and is_tmpfs(both) and not is_tmpfs(conf)
        assert (Path(creds) / "password").read_text() == "hunter2"
        assert stat.S_IMODE(os.stat(Path(creds) / "password").st_mode) == 0o644  # Kubernetes' defaultMode
        assert stat.S_IMODE(os.stat(creds).st_mode) == 0o755
        assert stat.S_IMODE(os.stat(volumes["scratch"][0]).st_mode) == 0o777
        before = len(mounts())
        prepare_volumes(POD, pod_dir, OBJECTS, secrets_in_memory=True)  # a resync (or an adopted pod): no new mount
        assert len(mounts()) == before
    finally:
        remove_pod_dir(pod_dir)
    assert not os.path.exists(pod_dir)
    assert not [p for p, _ in mounts() if p.startswith(os.path.realpath(pod_dir))]


def test_without_memory_volumes_nothing_is_mounted(tmp_path: Path) -> None:
    volumes = prepare_volumes(POD, str(tmp_path / "pod"), OBJECTS)
    assert not is_tmpfs(volumes["creds"][0])
    assert (Path(volumes["creds"][0]) / "password").read_text() == "hunter2"


def test_failed_mount_fails_the_volume_instead_of_writing_to_disk(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from raftkube.node import memory_volumes
    from raftkube.node.env import ConfigError

    def refuse(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 32, "", "mount: only root can do that")
    monkeypatch.setattr(memory_volumes.subprocess, "run", refuse)
    with pytest.raises(ConfigError, match="only root can do that") as err:
        prepare_volumes(POD, str(tmp_path / "pod"), OBJECTS, secrets_in_memory=True)
    assert err.value.reason == "CreateContainerConfigError"
    assert not (tmp_path / "pod" / "volumes" / "creds" / "password").exists()
