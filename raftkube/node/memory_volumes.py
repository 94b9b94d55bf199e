"""Secret volumes in memory: a size-limited tmpfs per volume, so Secret plaintext never reaches the node's disk.

`ensure_tmpfs(path, size)` mounts a tmpfs at `path` (the agent runs as root with a real runtime)
unless one is mounted there already (an adopted pod's); a failed mount is a ConfigError (the pod
reports FailedMount and does not start: no fallback to disk). The mount root is 0755 like the
file modes Kubernetes gives inside the pod (defaultMode 0644), so a non-root container user reads
it; on the host the pod's directories above it are 0700, so no other host user reaches it.
`unmount_under(dir)` unmounts every mount below a pod's directory (pod removal, orphan clean-up),
deepest first, lazily if busy.
"""

from __future__ import annotations

import os
import subprocess

from .env import ConfigError

MOUNT_TIMEOUT = 10.0
MIN_SIZE = 4 << 20  # bytes: a tmpfs for a few small Secrets, with room for the atomic rewrites


def _unescape(field: str) -> str:
    """/proc/mounts escapes space, tab, newline and backslash as octal."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts() -> list[tuple[str, str]]:
    """(mount point, filesystem type) of every mount of this process's namespace."""
    with open("/proc/self/mounts") as f:
        return [(_unescape(parts[1]), parts[2]) for parts in (line.split() for line in f) if len(parts) >= 3]


def is_tmpfs(path: str) -> bool:
    real = os.path.realpath(path)
    return any(point == real and kind == "tmpfs" for point, kind in mounts())


def ensure_tmpfs(path: str, size: int) -> None:
    os.makedirs(path, exist_ok=True)
    if is_tmpfs(path):
        return
    size = max(MIN_SIZE, 2 * size)
    try:
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"mode=0755,size={size},nosuid,nodev",
                              "raftkube-secret", path], capture_output=True, text=True, timeout=MOUNT_TIMEOUT)
        error = out.stderr.strip() if out.returncode else ""
    except (OSError, subprocess.SubprocessError) as err:
        error = str(err)
    if error or not is_tmpfs(path):
        raise ConfigError(f"cannot mount a tmpfs for secret data at {path}: {error or 'not mounted'} "
                          "(the node agent must run as root); refusing to write the secret to disk",
                          reason="CreateContainerConfigError")


def unmount_under(directory: str) -> None:
    real = os.path.realpath(directory)
    below = sorted((p for p, _ in mounts() if p.startswith(real + os.sep)), key=len, reverse=True)
    for point in below:
        done = subprocess.run(["umount", point], capture_output=True, timeout=MOUNT_TIMEOUT)
        if done.returncode:
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=MOUNT_TIMEOUT)
