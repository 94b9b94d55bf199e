"""Node agents on this machine for `raftkube up`: one shared Podman service and N agent processes.

Every agent is a real `raftkube agent` process with its own node name, pod CIDR
(127.98.<i>.0/24), log-server port (10250 + i) and data directory, talking to the API through
the cluster's kubeconfig; all of them share one `podman system service` (one Podman storage per
machine anyway) and run the service proxy (ClusterIP and NodePort listeners are shared with
SO_REUSEPORT). `remove_containers` deletes what the agents created, found by their labels (sandboxes,
then each node's pod network), and nothing else.

Each agent has its own identity (`provision`, before the API servers start, since they read
the token file once): user `system:node:<name>`, group `system:nodes`, a random token in
the cluster's tokens.csv and a kubeconfig of its own (0600), not the admin's; and a serving
certificate for its log server (127.0.0.1) from the cluster CA, which also signs the only
client it serves (the API server's `apiserver-kubelet-client`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..pki import CertificateAuthority
from ..secure_files import open_private_log, private_dir, read_secret, write_private

if TYPE_CHECKING:
    from .control_plane import LocalControlPlane


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
    client_ca_file: str = ""  # set by `provision`: the CA of the API server's client certificate

    def node_dir(self, i: int) -> str:
        return os.path.join(self.base_dir, node_name(i))

    def node_kubeconfig(self, i: int) -> str:
        return os.path.join(self.node_dir(i), "kubeconfig")

    def provision(self, plane: LocalControlPlane) -> None:
        """Each node's token (in the plane's token file), and its log server's certificate."""
        self.client_ca_file = plane.pki.ca_cert  # (made here if the plane has not started yet)
        ca = CertificateAuthority.load(plane.pki_dir)
        for i in range(1, self.count + 1):
            name, directory = node_name(i), private_dir(self.node_dir(i))
            token_path = os.path.join(directory, "token")
            if not os.path.exists(token_path):
                write_private(token_path, secrets.token_urlsafe(32) + "\n")
                plane.add_token(read_secret(token_path), f"system:node:{name}", f"node-{name}", ("system:nodes",))
            if not os.path.exists(os.path.join(directory, "kubelet.crt")):
                ca.issue(directory, "kubelet", f"system:node:{name}", ["system:nodes"], hosts=["127.0.0.1"],
                         server=True)

    def _write_node_kubeconfig(self, i: int) -> None:
        """The admin kubeconfig's servers and CA with the node's own token."""
        import yaml

        with open(self.kubeconfig) as f:
            doc = yaml.safe_load(f)
        token = read_secret(os.path.join(self.node_dir(i), "token"))
        for user in doc.get("users") or []:
            user["name"] = f"system:node:{node_name(i)}"
            user["user"] = {"token": token}
        for context in doc.get("contexts") or []:
            context["context"]["user"] = f"system:node:{node_name(i)}"
        write_private(self.node_kubeconfig(i), yaml.safe_dump(doc, sort_keys=False))

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
        tls = ["--tls-cert", os.path.join(data_dir, "kubelet.crt"), "--tls-key", os.path.join(data_dir, "kubelet.key"),
               "--client-ca-file", self.client_ca_file]
        return [sys.executable, "-m", "raftkube", "agent", "--node", name, "--kubeconfig", self.node_kubeconfig(i),
                *runtime, "--pod-cidr", f"127.98.{i}.0/24", "--address", "127.0.0.1",
                "--port", str(self.agent_base_port + i - 1), *tls, "--data-dir", data_dir,
                "--log-level", self.log_level]

    def start_agents(self) -> None:
        if not self.client_ca_file:
            raise RuntimeError("LocalNodes.provision(plane) must run before the API servers and the agents start")
        for i in range(1, self.count + 1):
            private_dir(self.node_dir(i))
            self._write_node_kubeconfig(i)
            log = open_private_log(os.path.join(self.base_dir, f"{node_name(i)}.log"))
            self.processes.append(subprocess.Popen(self.command(i), stdin=subprocess.DEVNULL, stdout=log,
                                                   stderr=subprocess.STDOUT, start_new_session=True))
            log.close()


def remove_containers(podman_socket: str, nodes: list[str]) -> int:
    """Remove every sandbox the given nodes' agents created (by label); returns how many."""
    if not os.path.exists(podman_socket) or shutil.which("podman") is None:
        return 0
    from ..node.pod_network import node_network
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
                await runtime.remove_network(node_network(node))
            finally:
                await runtime.close()
        return removed

    return asyncio.run(remove_all())
