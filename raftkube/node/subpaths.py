"""A volumeMount's subPath resolved so that it cannot leave its volume (CVE-2017-1002101's class).

A container can write symlinks into a writable volume (`ln -s / escape`); a later container
mounting subPath `escape` must not get the host's root. The steps, as the kubelet takes them:
1. `..` components and absolute subPaths are refused outright.
2. The subPath is resolved with its symlinks and must land inside the volume's real root
   (symlinks that stay inside the volume are allowed, as in Kubernetes).
3. The resolved path is opened again component by component from the volume root with
   O_PATH|O_NOFOLLOW (an openat walk; missing directories are made with mkdirat in a writable
   volume), so a component swapped for a symlink after step 2 is refused too.
4. The container must not be handed a path a container can swap again before Podman binds it:
   with `pin_dir` (a real runtime; the agent runs as root) the opened descriptor itself
   (/proc/self/fd/N) is bind-mounted at `<pin_dir>/<container>/<index>` — outside every volume,
   where no container writes — and that mount point is what Podman binds (the kubelet's
   volume-subpaths). Without `pin_dir` (the hollow runtime, which mounts nothing) the path
   verified in step 3 is returned.
Refusals are ConfigErrors (CreateContainerConfigError) naming the subPath and the volumeMount.
"""

from __future__ import annotations

import ctypes
import os
import stat

from .env import ConfigError
from .memory_volumes import mounts

MS_BIND = 0x1000
_libc = ctypes.CDLL(None, use_errno=True)


def _refuse(mount: str, container: str, sub: str, why: str) -> ConfigError:
    return ConfigError(f'failed to prepare subPath "{sub}" for volumeMount "{mount}" of container "{container}": '
                       f"{why}", reason="CreateContainerConfigError")


def _make_dir(parent: int, name: str, mode: int) -> None:
    """mkdirat, then the mode set on the directory just made (opened without following symlinks)."""
    os.mkdir(name, mode, dir_fd=parent)
    made = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    try:
        os.fchmod(made, mode)
    finally:
        os.close(made)


def _walk(root: str, parts: list[str], create: bool) -> int:
    """An O_PATH descriptor of root/parts..., opened without following any symlink; raises ValueError(why).
    Missing directories get the volume root's mode (as the kubelet's SafeMakeDir)."""
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    dir_mode = stat.S_IMODE(os.fstat(fd).st_mode)
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            try:
                child = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise ValueError(f'"{"/".join(parts[:i + 1])}" does not exist in the volume') from None
                _make_dir(fd, part, dir_mode)
                child = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = child
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode):
                raise ValueError(f'"{"/".join(parts[:i + 1])}" became a symlink while it was being opened')
            if not last and not stat.S_ISDIR(mode):
                raise ValueError(f'"{"/".join(parts[:i + 1])}" is not a directory')
        return fd
    except BaseException:
        os.close(fd)
        raise


def _pin(fd: int, target: str) -> None:
    """Bind-mount the object open as `fd` at `target` (re-pinned if `target` shows something else)."""
    st = os.fstat(fd)
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    if stat.S_ISDIR(st.st_mode):
        os.makedirs(target, mode=0o700, exist_ok=True)
    elif not os.path.exists(target):
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    here = os.stat(target, follow_symlinks=False)
    if (here.st_dev, here.st_ino) == (st.st_dev, st.st_ino):
        return  # pinned already (a restarted container)
    real = os.path.realpath(target)
    if any(point == real for point, _ in mounts()):
        if _libc.umount2(real.encode(), 2) != 0:  # MNT_DETACH
            raise OSError(ctypes.get_errno(), f"cannot unmount stale subPath mount {real}")
    source = f"/proc/self/fd/{fd}".encode()
    if _libc.mount(source, real.encode(), None, MS_BIND, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot bind-mount the subPath at {real}: {os.strerror(err)} (the agent must run as root)")
    here = os.stat(target, follow_symlinks=False)
    if (here.st_dev, here.st_ino) != (st.st_dev, st.st_ino):
        raise OSError(f"the subPath mount at {real} does not show the opened subPath")


def subpath_source(volume_root: str, sub: str, writable: bool, *, mount: str, container: str,
                   pin: str | None) -> str:
    """The host path to bind for `volume_root`/`sub`: `pin` (a pinned mount) or the verified path."""
    parts = [p for p in sub.split("/") if p not in ("", ".")]
    if sub.startswith("/") or ".." in parts:
        raise _refuse(mount, container, sub, "a subPath must be relative and without '..': it escapes the volume")
    root = os.path.realpath(volume_root)
    resolved = os.path.realpath(os.path.join(root, *parts))
    if resolved != root and not resolved.startswith(root + os.sep):
        raise _refuse(mount, container, sub, f'it resolves to "{resolved}", outside volume "{mount}"; symlinks '
                      "must not leave the volume")
    inside = [p for p in os.path.relpath(resolved, root).split(os.sep) if p != "."]
    try:
        fd = _walk(root, inside, writable)
    except ValueError as exc:
        raise _refuse(mount, container, sub, str(exc)) from None
    except OSError as exc:
        raise _refuse(mount, container, sub, exc.strerror or str(exc)) from None
    try:
        if pin is None:
            return os.readlink(f"/proc/self/fd/{fd}")
        try:
            _pin(fd, pin)
        except OSError as exc:
            raise _refuse(mount, container, sub, str(exc)) from None
        return pin
    finally:
        os.close(fd)
