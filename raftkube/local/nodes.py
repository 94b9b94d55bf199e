"""Node agents on this machine for `raftkube up`: one shared Podman service and N agent processes.

Every agent is a real `raftkube agent` process with its own node name, pod CIDR
(127.98.<i>.0/24), log-server port (10250 + i) and data directory, talking to the API through
the cluster's kubeconfig; all of them share one `podman system service` (one Podman storage per
machine anyway) and run the service proxy (ClusterIP and NodePort listeners are shared with
SO_REUSEPORT). `remove_containers` deletes what the agents created, found by their labels, and
nothing else.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..secure_files import open_private_log, private_dir

IMAGE = "localhost/raftkube/busybox:latest"
AGENT_BASE_PORT = 10250


def node_name(i: int) -> str:
    return f"node-{i}"


def find_build_script() -> Path | None:
    """deploy/images/build.sh of the source tree this package runs from (editable installs)."""
    script = Path(__file__).resolve().parent.parent / "deploy" / "images" / "build.sh"
    return script if script.exists() else None


def image_present(conf_path: Path) -> bool:
    env = {**os.environ, "CONTAINERS_CONF": str(conf_path)}
    return subprocess.run(["podman", "image", "exists", IMAGE], env=env, capture_output=True).returncode == 0


@dataclass
class LocalNodes:
    base_dir: str
    kubeconfig: str
    count: int = 2
    runtime: str = "podman"  # or "fake": hollow nodes, no containers
    log_level: str = "info"
    agent_base_port: int = AGENT_BASE_PORT
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    podman_pid: int | None = None

    @property
    def podman_dir(self) -> Path:
        return Path(self.base_dir, "podman")

    @property
    def podman_socket(self) -> Path:
        return self.podman_dir / "podman.sock"

    @property
    def names(self) -> list[str]:
        return [node_name(i) for i in range(1, self.count + 1)]

    def prerequisites(self) -> list[str]:
        """What is missing, as sentences a user can act on (empty: ready to start)."""
        if self.runtime != "podman":
            return []
        from ..node.podman_service import missing_executables

        missing = missing_executables()
        if missing:
            return [f"missing {', '.join(missing)}: run `bash deploy/podman/setup.sh` as root (installs Podman, runc, "
                    "netavark, iptables, busybox-static), or use `raftkube up --runtime fake` for hollow nodes"]
        return []

    def start_podman(self) -> str:
        """Start the shared Podman service; build the example image if it is missing. Returns a note."""
        from ..node.podman_service import PodmanService

        service = PodmanService(self.podman_dir)
        service.start(timeout=30)
        self.podman_pid = service.pid
        if image_present(service.conf_path):
            return f"image {IMAGE} present"
        script = find_build_script()
        if script is None:
            return f"image {IMAGE} missing: build it with deploy/images/build.sh"
        env = {**os.environ, "CONTAINERS_CONF": str(service.conf_path)}
        subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True)
        return f"built image {IMAGE} from busybox-static"

    def command(self, i: int) -> list[str]:
        name = node_name(i)
        data_dir = os.path.join(self.base_dir, name)
        runtime = ["--runtime", "podman", "--podman-socket", str(self.podman_socket)] \
            if self.runtime == "podman" else ["--runtime", "fake"]
        return [sys.executable, "-m", "raftkube", "agent", "--node", name, "--kubeconfig", self.kubeconfig,
                *runtime, "--pod-cidr", f"127.98.{i}.0/24", "--address", "127.0.0.1",
                "--port", str(self.agent_base_port + i - 1), "--data-dir", data_dir, "--log-level", self.log_level]

    def start_agents(self) -> None:
        for i in range(1, self.count + 1):
            private_dir(os.path.join(self.base_dir, node_name(i)))
            log = open_private_log(os.path.join(self.base_dir, f"{node_name(i)}.log"))
            self.processes.append(subprocess.Popen(self.command(i), stdin=subprocess.DEVNULL, stdout=log,
                                                   stderr=subprocess.STDOUT, start_new_session=True))
            log.close()


def remove_containers(podman_socket: str, nodes: list[str]) -> int:
    """Remove every sandbox the given nodes' agents created (by label); returns how many."""
    if not os.path.exists(podman_socket) or shutil.which("podman") is None:
        return 0
    from ..node.podman_runtime import PodmanRuntime

    async def remove_all() -> int:
        removed = 0
        for node in nodes:
            runtime = PodmanRuntime(node, socket_path=podman_socket)
            await runtime.start()
            try:
                sandboxes = await runtime.list_sandboxes()
                await asyncio.gather(*(runtime.remove_sandbox(s.uid, grace=2.0) for s in sandboxes))
                removed += len(sandboxes)
            finally:
                await runtime.close()
        return removed

    return asyncio.run(remove_all())
