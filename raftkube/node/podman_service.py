"""Start and stop a private `podman system service` for the node agent.

The service listens on `unix://<run dir>/podman.sock` and runs with `CONTAINERS_CONF` pointing at
the project's containers.conf, written into the run dir from `CONTAINERS_CONF_TEXT` (the one source
of truth; deploy/podman/containers.conf is an identical copy for the CLI and scripts, and a test
checks that they agree). Containers outlive the service: they run under conmon.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from podman import PodmanClient

from raftkube.node.runtime import RuntimeError_

CONTAINERS_CONF_TEXT = """\
# raftkube's Podman configuration: export CONTAINERS_CONF=<this file> for every podman command
# and for the API service (raftkube.node.podman_service writes an identical copy into its run dir;
# tests/node/test_podman_runtime.py checks that the two agree).
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
log_driver = "k8s-file"

[network]
network_backend = "netavark"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
num_locks = 16384
"""

SETUP_HINT = "run deploy/podman/setup.sh (apt-get install podman runc catatonit netavark aardvark-dns conmon iptables)"
_SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# executables the service needs, with the directories Debian puts them in when they are off PATH
_REQUIRED = {
    "podman": (),
    "runc": (),
    "conmon": ("/usr/libexec/podman", "/usr/lib/podman"),
    "catatonit": ("/usr/libexec/podman", "/usr/lib/podman"),
    "netavark": ("/usr/libexec/podman", "/usr/lib/podman"),
    "iptables": (),
}


class PodmanNotAvailable(RuntimeError_):
    def __init__(self, message: str) -> None:
        super().__init__("PodmanNotAvailable", message)


def missing_executables() -> list[str]:
    """The names in `_REQUIRED` found neither on PATH (plus the sbin dirs) nor in Podman's helper dirs."""
    path = os.pathsep.join([os.environ.get("PATH", ""), _SBIN_PATH])
    missing = []
    for name, extra_dirs in _REQUIRED.items():
        if shutil.which(name, path=path) is None and not any(Path(d, name).exists() for d in extra_dirs):
            missing.append(name)
    return missing


def write_containers_conf(directory: str | os.PathLike[str]) -> Path:
    """Write the project's containers.conf into `directory` (unchanged if identical) and return its path."""
    path = Path(directory) / "containers.conf"
    if not path.exists() or path.read_text() != CONTAINERS_CONF_TEXT:
        path.write_text(CONTAINERS_CONF_TEXT)
    return path


def podman_env(conf_path: str | os.PathLike[str]) -> dict[str, str]:
    """The environment for podman commands and the service: our containers.conf, sbin on PATH."""
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(conf_path)
    env["PATH"] = os.pathsep.join([env.get("PATH", ""), _SBIN_PATH])
    return env


class PodmanService:
    """One `podman system service --time=0` subprocess bound to `<run_dir>/podman.sock`."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self.socket_path = self.run_dir / "podman.sock"
        self.log_path = self.run_dir / "podman-service.log"
        self.conf_path = self.run_dir / "containers.conf"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self, timeout: float = 30.0) -> None:
        """Start the service and wait (at most `timeout` s) until it answers a ping."""
        if self._proc is not None and self._proc.poll() is None:
            return
        missing = missing_executables()
        if missing:
            raise PodmanNotAvailable(f"Podman is not usable here: missing {', '.join(missing)}; {SETUP_HINT}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_containers_conf(self.run_dir)
        self.socket_path.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                ["podman", "system", "service", "--time=0", self.base_url],
                env=podman_env(self.conf_path), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, cwd=self.run_dir,  # conmon 2.1.6 drops an "oom" file into its cwd
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with PodmanClient(base_url=self.base_url, timeout=2) as client:
            while True:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    raise PodmanNotAvailable(
                        f"podman system service exited with {self._proc.returncode}: {self._log_tail()}")
                if self.socket_path.exists():
                    try:
                        if client.ping():
                            return
                    except Exception:  # noqa: BLE001 - not listening yet
                        pass
                if time.monotonic() > deadline:
                    raise PodmanNotAvailable(f"podman system service did not answer within {timeout:.0f} s: "
                                             f"{self._log_tail()}")
                time.sleep(0.05)

    def _log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the service (containers keep running under conmon)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None
