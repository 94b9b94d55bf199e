"""Pod volumes on the node: `<data-dir>/pods/<uid>/volumes/<name>` for emptyDir, configMap, secret,
downwardAPI (fieldRef) and projected (those sources and serviceAccountToken), hostPath as given,
persistentVolumeClaim at its volume's directory (node/local_volumes.py); container mounts with readOnly and subPath.

configMap/secret files are written per key (or per `items` entry, at its `path`, with its
`mode`/`defaultMode`), atomically (temp file + rename), and rewritten on every sync, so a
changed ConfigMap reaches the running pod; keys that disappeared are removed.

With `secrets_in_memory` (a real runtime: Podman) a secret volume, or a projected volume with a
Secret or a ServiceAccount token source, is a tmpfs (node/memory_volumes.py): Secret plaintext and
tokens never reach the node's disk, and a failed mount fails the pod instead of falling back to
disk. Modes: the agent's umask is 077, so the directories of a pod are 0700 on the host; a volume's
own directory (the bind-mount source, all a container sees) is 0755 for configMap/secret/projected
and 0777 for emptyDir, as in Kubernetes, so a non-root container user can use it. With the pod's
fsGroup those volumes get that group (emptyDir's root setgid). subPaths are resolved inside their
volume by node/subpaths.py.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from typing import Any

from .env import ConfigError, Ref, field_value, object_bytes
from .local_volumes import ClaimSource
from .memory_volumes import ensure_tmpfs, unmount_under
from .runtime import Mount
from .sa_tokens import TokenKey
from .subpaths import subpath_source

Obj = dict[str, Any]
MANIFEST = ".raftkube-files"  # the files this agent wrote into a configMap/secret volume


def volumes_root(pod_dir: str) -> str:
    return os.path.join(pod_dir, "volumes")


def subpaths_root(pod_dir: str) -> str:
    """Where subPaths are pinned (bind mounts of the opened subPath; node/subpaths.py)."""
    return os.path.join(pod_dir, "volume-subpaths")


def _safe_join(root: str, rel: str) -> str:
    path = os.path.normpath(os.path.join(root, rel))
    if rel.startswith("/") or not (path == root or path.startswith(root + os.sep)):
        raise ConfigError(f"path {rel!r} escapes its volume", reason="CreateContainerConfigError")
    return path


def _volume_dir(path: str, mode: int) -> None:
    os.makedirs(path, exist_ok=True)
    if os.stat(path).st_mode & 0o777 != mode:
        os.chmod(path, mode)


def _write_atomic(path: str, data: bytes, mode: int) -> None:
    _volume_dir(os.path.dirname(path), 0o755)
    try:
        with open(path, "rb") as f:
            if f.read() == data and (os.stat(path).st_mode & 0o777) == mode:
                return
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _key_files(obj: Obj, items: list[Obj] | None, default_mode: int, what: str) -> dict[str, tuple[bytes, int]]:
    data = object_bytes(obj)
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    out: dict[str, tuple[bytes, int]] = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            raise ConfigError(f"configuration key {key!r} not found in {what}")
        out[item.get("path") or key] = (data[key], int(item.get("mode") or default_mode))
    return out


def _source_files(source: Obj, kind: str, objects: Mapping[Ref, Obj | None], default_mode: int,
                  volume: str) -> dict[str, tuple[bytes, int]]:
    name = source.get("name") if kind == "ConfigMap" else (source.get("secretName") or source.get("name"))
    obj = objects.get((kind, name or ""))
    if obj is None:
        if source.get("optional"):
            return {}
        raise ConfigError(f'volume {volume}: {kind.lower()} "{name}" not found', reason="CreateContainerConfigError")
    mode = int(source.get("defaultMode") or default_mode)
    return _key_files(obj, source.get("items"), mode, f"{kind} {name}")


def _sync_files(root: str, files: dict[str, tuple[bytes, int]], in_memory: bool = False,
                group_read: bool = False) -> None:
    if group_read:  # fsGroup: the group may read every file (the kubelet adds g+r too)
        files = {rel: (data, mode | 0o040) for rel, (data, mode) in files.items()}
    if in_memory:
        ensure_tmpfs(root, sum(len(data) for data, _ in files.values()))
    _volume_dir(root, 0o755)
    manifest = os.path.join(root, MANIFEST)
    try:
        with open(manifest) as f:
            previous = set(f.read().split("\n")) - {""}
    except OSError:
        previous = set()
    for rel, (data, mode) in files.items():
        _write_atomic(_safe_join(root, rel), data, mode)
    for rel in previous - set(files):
        path = _safe_join(root, rel)
        if os.path.isfile(path):
            os.unlink(path)
    _write_atomic(manifest, "\n".join(sorted(files)).encode(), 0o644)


def _apply_fs_group(root: str, gid: int, setgid_root: bool) -> None:
    """fsGroup (fsGroupChangePolicy Always, as the kubelet's SetVolumeOwnership on volumes it manages):
    group `gid` on the volume and the agent-written files in it (group read added); the emptyDir's
    root also gets the setgid bit, so what containers create there inherits the group. Symlinks are
    never followed (lchown), and the contents containers wrote into an emptyDir are left alone."""
    paths = [root]
    if not setgid_root:
        for top, dirs, files in os.walk(root):  # never follows symlinks
            paths += [os.path.join(top, n) for n in dirs + files if n != MANIFEST]
    for path in paths:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        if st.st_gid != gid:
            os.lchown(path, -1, gid)
        wanted = st.st_mode & 0o7777 | (0o040 if stat.S_ISREG(st.st_mode) else 0)
        if setgid_root and path == root:
            wanted |= stat.S_ISGID
        if wanted != st.st_mode & 0o7777:
            os.chmod(path, wanted)


def _host_path(volume: Obj) -> str:
    source = volume["hostPath"]
    path, kind = str(source.get("path", "")), source.get("type") or ""
    if kind == "DirectoryOrCreate":
        os.makedirs(path, exist_ok=True)
    elif kind == "FileOrCreate" and not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        open(path, "a").close()
    elif kind == "Directory" and not os.path.isdir(path):
        raise ConfigError(f"hostPath {path} is not a directory", reason="CreateContainerConfigError")
    elif kind == "File" and not os.path.isfile(path):
        raise ConfigError(f"hostPath {path} is not a file", reason="CreateContainerConfigError")
    return path


def _downward_files(pod: Obj, source: Obj, mode: int) -> dict[str, tuple[bytes, int]]:
    out: dict[str, tuple[bytes, int]] = {}
    for item in source.get("items") or []:
        if not item.get("fieldRef"):
            raise ConfigError(f"downwardAPI item {item.get('path')!r}: only fieldRef is supported",
                              reason="CreateContainerConfigError")
        value = field_value(pod, str(item["fieldRef"].get("fieldPath", "")), "", "")
        out[str(item.get("path", ""))] = (value.encode(), int(item.get("mode") or mode))
    return out


def _projected_files(pod: Obj, projected: Obj, objects: Mapping[Ref, Obj | None], tokens: Mapping[TokenKey, bytes],
                     volume: str) -> tuple[dict[str, tuple[bytes, int]], bool]:
    """The files of a projected volume, and whether any is sensitive (a Secret or a token: kept in memory)."""
    mode = int(projected.get("defaultMode") or 0o644)
    files: dict[str, tuple[bytes, int]] = {}
    sensitive = False
    for source in projected.get("sources") or []:
        for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
            if source.get(key) is not None:
                files.update(_source_files(source[key], kind, objects, mode, volume))
                sensitive = sensitive or kind == "Secret"
        if source.get("downwardAPI") is not None:
            files.update(_downward_files(pod, source["downwardAPI"], mode))
        token = source.get("serviceAccountToken")
        if token is not None:
            key = (str(token.get("audience") or ""), int(token.get("expirationSeconds") or 3600))
            if key not in tokens:
                raise ConfigError(f"volume {volume}: no service account token fetched", reason="FailedMount")
            files[str(token.get("path") or "token")] = (tokens[key], mode)
            sensitive = True
    return files, sensitive


def prepare_volumes(pod: Obj, pod_dir: str, objects: Mapping[Ref, Obj | None],
                    secrets_in_memory: bool = False,
                    tokens: Mapping[TokenKey, bytes] | None = None,
                    claims: Mapping[str, ClaimSource] | None = None) -> dict[str, tuple[str, bool]]:
    """Create or refresh every volume of the pod; returns name -> (host path, always read-only).
    `tokens`: the pod's ServiceAccount tokens by (audience, expirationSeconds) (node/sa_tokens.py);
    `claims`: the host directory of each persistentVolumeClaim volume (node/local_volumes.py)."""
    out: dict[str, tuple[str, bool]] = {}
    root = volumes_root(pod_dir)
    fs_group = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = volume.get("name", "")
        path = os.path.join(root, name)
        if "emptyDir" in volume:
            _volume_dir(path, 0o777)
            out[name] = (path, False)
        elif volume.get("configMap") is not None:
            _sync_files(path, _source_files(volume["configMap"], "ConfigMap", objects, 0o644, name),
                        group_read=fs_group is not None)
            out[name] = (path, True)
        elif volume.get("secret") is not None:
            _sync_files(path, _source_files(volume["secret"], "Secret", objects, 0o644, name), secrets_in_memory,
                        fs_group is not None)
            out[name] = (path, True)
        elif volume.get("projected") is not None:
            files, sensitive = _projected_files(pod, volume["projected"], objects, tokens or {}, name)
            _sync_files(path, files, secrets_in_memory and sensitive, fs_group is not None)
            out[name] = (path, True)
        elif volume.get("downwardAPI") is not None:
            source = volume["downwardAPI"]
            _sync_files(path, _downward_files(pod, source, int(source.get("defaultMode") or 0o644)), False,
                        fs_group is not None)
            out[name] = (path, True)
        elif volume.get("hostPath") is not None:
            out[name] = (_host_path(volume), False)
        elif volume.get("persistentVolumeClaim") is not None:
            if name not in (claims or {}):
                raise ConfigError(f"volume {name}: its claim has not been resolved", reason="FailedMount")
            source = (claims or {})[name]
            out[name] = (source.path, source.read_only)
            continue  # the volume's own directory and modes, not the pod's fsGroup
        else:
            kinds = sorted(k for k in volume if k != "name")
            raise ConfigError(f"volume {name}: unsupported volume type {', '.join(kinds) or '(none)'}",
                              reason="CreateContainerConfigError")
        if fs_group is not None and volume.get("hostPath") is None:
            _apply_fs_group(path, int(fs_group), "emptyDir" in volume)
    return out


def container_mounts(container: Obj, volumes: Mapping[str, tuple[str, bool]],
                     pin_dir: str | None = None) -> tuple[Mount, ...]:
    """The container's volumeMounts as host-path mounts. A subPath is resolved inside its volume
    (node/subpaths.py: symlinks leaving the volume are refused; missing directories are made in a
    writable volume) and, with `pin_dir`, bind-mounted at `<pin_dir>/<container>/<index>`."""
    mounts: list[Mount] = []
    for index, mount in enumerate(container.get("volumeMounts") or []):
        name = mount.get("name", "")
        if name not in volumes:
            raise ConfigError(f"volumeMount {name!r} names no volume of the pod")
        host, always_ro = volumes[name]
        sub = mount.get("subPath") or ""
        if sub:
            pin = os.path.join(pin_dir, str(container.get("name", "")), str(index)) if pin_dir else None
            host = subpath_source(host, sub, not always_ro, mount=name, container=str(container.get("name", "")),
                                  pin=pin)
        read_only = bool(mount.get("readOnly")) or always_ro
        mounts.append(Mount(host, str(mount.get("mountPath", "")), read_only))
    return tuple(mounts)


def remove_pod_dir(pod_dir: str) -> None:
    """Remove the pod's volumes (unmounting its tmpfs) and directory (hostPath volumes live elsewhere and stay)."""
    unmount_under(pod_dir)
    shutil.rmtree(pod_dir, ignore_errors=True)
