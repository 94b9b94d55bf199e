"""The contract between the node agent and a container runtime (Podman, or the hollow one).

The agent turns a Kubernetes Pod into a `SandboxSpec` (one Podman pod: shared network
namespace, so containers talk over localhost) and one `ContainerSpec` per container, with
every value already resolved (env from ConfigMaps/Secrets, volumes as host paths). The
runtime only runs what it is told; restart policy, back-off and probes are the agent's.

Addresses: a pod's IP is a loopback address the agent allocates from its node's pod CIDR
(127.98.N.0/24 by default), and the runtime publishes every port in `SandboxSpec.ports` on
`pod_ip:port`, so the pod is reachable from the host and the service proxy without any
traffic leaving 127.0.0.0/8. A host-network pod uses the node's address instead.

Ownership: everything a runtime creates carries the labels in `owner_labels`; a runtime
lists, adopts and removes only sandboxes labelled with its own node, never anything else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from .pod_dns import DnsConfig

MANAGED_BY = "raftkube.io/managed-by"
MANAGED_BY_VALUE = "raftkube-agent"
NODE_LABEL = "raftkube.io/node"
POD_UID_LABEL = "raftkube.io/pod-uid"
POD_NAMESPACE_LABEL = "raftkube.io/pod-namespace"
POD_NAME_LABEL = "raftkube.io/pod-name"
POD_IP_LABEL = "raftkube.io/pod-ip"
CONTAINER_NAME_LABEL = "raftkube.io/container-name"
CONTAINER_HASH_LABEL = "raftkube.io/container-hash"  # hash of the ContainerSpec it was started from

ContainerStatus = Literal["created", "running", "exited", "unknown"]


def owner_labels(node: str) -> dict[str, str]:
    """The labels that mark a sandbox or container as this node's agent's own."""
    return {MANAGED_BY: MANAGED_BY_VALUE, NODE_LABEL: node}


class RuntimeError_(Exception):  # noqa: N801 (the builtin RuntimeError must stay visible)
    """A runtime operation failed; `reason` is what goes into the container's waiting state."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # e.g. "ErrImagePull", "CreateContainerError", "RunContainerError"
        self.message = message


class ImageNotFound(RuntimeError_):
    def __init__(self, image: str) -> None:
        super().__init__("ErrImagePull", f"image {image!r} is not present on this node and no registry can be reached")


@dataclass(frozen=True)
class Mount:
    host_path: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class SecuritySettings:
    """A container's effective securityContext (pod-level values with the container's overrides),
    already checked (node/security_context.py refuses what cannot be honoured)."""

    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool = False
    groups: tuple[int, ...] = ()  # supplementalGroups, then fsGroup
    cap_add: tuple[str, ...] = ()  # "CAP_NET_ADMIN" form
    cap_drop: tuple[str, ...] = ()  # "ALL" or "CAP_..." names
    privileged: bool = False
    read_only_root: bool = False
    no_new_privileges: bool = False
    seccomp: str | None = None  # None: the runtime's default profile; "unconfined"; or a profile file
    apparmor: str | None = None  # None: the runtime's default; "unconfined"; or a loaded profile's name
    sysctls: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    command: tuple[str, ...] = ()  # entrypoint override (Kubernetes `command`); empty = the image's
    args: tuple[str, ...] = ()  # Kubernetes `args`; empty = the image's CMD (when command is empty too)
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str | None = None
    mounts: tuple[Mount, ...] = ()
    cpu_millis: int | None = None  # limits.cpu
    memory_bytes: int | None = None  # limits.memory
    stop_grace_seconds: float = 30.0
    labels: tuple[tuple[str, str], ...] = ()  # extra labels (the agent adds CONTAINER_HASH_LABEL here)
    security: SecuritySettings = field(default_factory=SecuritySettings)


@dataclass(frozen=True)
class SandboxSpec:
    uid: str
    namespace: str
    name: str
    node: str
    pod_ip: str  # loopback address the ports are published on (the node address for host network)
    host_network: bool = False
    ports: tuple[int, ...] = ()  # TCP ports published on pod_ip:port (container ports and probe ports)
    hostname: str | None = None
    network: str | None = None  # the runtime network to join (None: the runtime's default)
    dns: DnsConfig | None = None  # the pod's resolv.conf (None: the runtime's default, the node's own)


@dataclass
class ContainerState:
    name: str
    id: str
    image: str
    status: ContainerStatus
    exit_code: int | None = None
    started_at: float | None = None  # epoch seconds
    finished_at: float | None = None
    reason: str | None = None  # e.g. "OOMKilled", "Error", "Completed"
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class SandboxState:
    uid: str
    id: str
    namespace: str
    name: str
    pod_ip: str
    containers: list[ContainerState] = field(default_factory=list)

    def container(self, name: str) -> ContainerState | None:
        return next((c for c in self.containers if c.name == name), None)


@dataclass(frozen=True)
class Usage:
    """What the runtime measures of a container or the node: cumulative CPU time and current memory."""

    cpu_ns: int
    memory_bytes: int


class StreamSession(Protocol):
    """A running exec (or attach) session: stdin in, (1 stdout | 2 stderr, bytes) out, then an exit code."""

    async def write(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    async def resize(self, width: int, height: int) -> None: ...

    def output(self) -> AsyncIterator[tuple[int, bytes]]: ...

    async def wait(self) -> int: ...

    async def close(self) -> None: ...


class Runtime(Protocol):
    """What the agent needs from a container runtime. All calls are async and idempotent where
    the name says so; errors are `RuntimeError_` (with a Kubernetes waiting reason)."""

    node: str
    version: str  # e.g. "podman://4.3.1": the Node's nodeInfo.containerRuntimeVersion

    async def start(self) -> None:
        """Connect (start the Podman service if asked to); raise RuntimeError_ if unusable."""

    async def close(self) -> None: ...

    async def list_sandboxes(self) -> list[SandboxState]:
        """This node's sandboxes (by label), each with its containers' current state."""

    async def ensure_sandbox(self, spec: SandboxSpec) -> SandboxState:
        """The sandbox for spec.uid, created (and started) if missing; idempotent."""

    async def start_container(self, sandbox: SandboxState, spec: ContainerSpec) -> ContainerState:
        """Create and start a container in the sandbox, replacing (removing) any older container
        of the same name there. Raises ImageNotFound when the image is not present locally."""

    async def stop_container(self, sandbox: SandboxState, name: str, grace: float) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; no error if already stopped or gone."""

    async def remove_sandbox(self, uid: str, grace: float) -> None:
        """Stop every container (grace as above) and remove the sandbox and its containers;
        no error if it is gone already."""

    async def exec(self, sandbox: SandboxState, container: str, command: list[str],
                   timeout: float) -> tuple[int, bytes]:
        """Run a command in a running container: (exit code, stdout+stderr). A command still running
        after `timeout` raises RuntimeError_("DeadlineExceeded") (it may keep running in the
        container); a container that does not exist raises RuntimeError_("ContainerNotFound")."""

    def logs(self, sandbox_uid: str, container: str, *, previous: bool = False, follow: bool = False,
             tail_lines: int | None = None, timestamps: bool = False) -> AsyncIterator[bytes]:
        """The container's output (the previous instance's with previous=True), as chunks;
        with follow=True it keeps yielding until the container exits or the caller stops."""

    async def open_exec(self, sandbox: SandboxState, container: str, command: list[str], *, stdin: bool,
                        stdout: bool, stderr: bool, tty: bool) -> StreamSession:
        """Start a command in a running container with its streams attached (kubectl exec); a container
        that does not exist or does not run raises RuntimeError_("ContainerNotFound")."""

    async def open_attach(self, sandbox: SandboxState, container: str, *, stdin: bool, stdout: bool,
                          stderr: bool, tty: bool) -> StreamSession:
        """Attach to a running container's own process (kubectl attach)."""

    async def container_usage(self, container_ids: list[str]) -> dict[str, Usage]:
        """Cumulative CPU time and current memory of these running containers (ids the runtime gave);
        containers it cannot measure are left out."""

    async def node_usage(self) -> Usage:
        """The machine's cumulative busy CPU time and memory in use."""
