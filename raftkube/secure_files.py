"""Files that hold keys, tokens, kubeconfigs and data: private from the moment they exist.

`write_private` creates a file 0600 (never a moment at a wider mode) and replaces an existing
one atomically, through a temporary file in the same directory and a rename, fsynced;
`private_dir` creates a directory (and missing parents) 0700 and tightens an existing one;
`restrict_umask` sets the process umask to 077 so anything else a process creates is
private too. Public material (a CA certificate) goes through `write_public` (0644); logs open through
`open_private_log` (0600).
"""

from __future__ import annotations

import os
from typing import BinaryIO

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
PUBLIC_FILE = 0o644


def restrict_umask() -> int:
    """Umask 077 for this process (and its children); returns the previous one."""
    return os.umask(0o077)


def private_dir(path: str) -> str:
    """Create `path` (and parents) as 0700; an existing directory is tightened to 0700."""
    os.makedirs(path, mode=PRIVATE_DIR, exist_ok=True)
    if os.stat(path).st_mode & 0o777 != PRIVATE_DIR:
        os.chmod(path, PRIVATE_DIR)
    return path


def _write_atomic(path: str, data: bytes, mode: int) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed a public file; a private one is never wider
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_private(path: str, data: bytes | str) -> str:
    """Write `data` to `path` as a 0600 file (created at that mode; replaced atomically)."""
    _write_atomic(path, data.encode() if isinstance(data, str) else data, PRIVATE_FILE)
    return path


def write_public(path: str, data: bytes | str) -> str:
    """Write public material (a certificate, a CA) as 0644."""
    _write_atomic(path, data.encode() if isinstance(data, str) else data, PUBLIC_FILE)
    return path


def read_secret(path: str) -> str:
    """The stripped text of a secret file; refused if others may read or write it."""
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(f"{path} is mode {mode:04o}: a secret file must not be readable by group or others "
                              f"(chmod 600 {path})")
    with open(path) as f:
        return f.read().strip()


def open_private_log(path: str) -> BinaryIO:
    """Open a log file for appending, created 0600 (a server's log may quote requests and objects)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE), "ab")
