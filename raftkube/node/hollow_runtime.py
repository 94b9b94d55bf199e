"""The hollow runtime (`--runtime fake`): containers that "run" without processes, for tests and
for benchmarks that run hundreds of agents in one process.

A container starts at once and runs until told otherwise; exec answers 0 (or what a test set), and
interactive exec/attach sessions are faked by node/hollow_exec.py;
logs yield one line saying the container is hollow; an image whose name contains "missing"
raises ImageNotFound; runAsNonRoot is checked against the image's user as the Podman runtime
does (an image runs as root unless `HollowMachine.image_users` declares its user). Sandboxes live
in a `HollowMachine`, which several runtimes (nodes) may share, so a test can put another node's
sandbox beside this one's; each runtime sees and touches only sandboxes labelled with its own node.
Test hooks: `crash`, `set_exec_result`, `set_usage` (CPU and memory the stats report), `spec`.
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ..machinery.times import rfc3339
from .hollow_exec import HollowStreamSession
from .runtime import (
    CONTAINER_NAME_LABEL,
    NODE_LABEL,
    POD_IP_LABEL,
    POD_NAME_LABEL,
    POD_NAMESPACE_LABEL,
    POD_UID_LABEL,
    ContainerSpec,
    ContainerState,
    ImageNotFound,
    RuntimeError_,
    SandboxSpec,
    SandboxState,
    Usage,
    owner_labels,
)
from .security_context import non_root_refusal, pod_description

VERSION = "hollow://0.1.0"


@dataclass
class _Sandbox:
    uid: str
    id: str
    namespace: str
    name: str
    pod_ip: str
    labels: dict[str, str]
    containers: dict[str, ContainerState] = field(default_factory=dict)
    previous: dict[str, ContainerState] = field(default_factory=dict)
    specs: dict[str, ContainerSpec] = field(default_factory=dict)
    exec_results: dict[str, int] = field(default_factory=dict)
    stopped: dict[str, asyncio.Event] = field(default_factory=dict)


@dataclass
class HollowMachine:
    """What a machine's container engine holds: sandboxes of every node using it."""

    sandboxes: dict[str, _Sandbox] = field(default_factory=dict)
    image_users: dict[str, str] = field(default_factory=dict)  # image -> its configured user ("": root)
    # container id -> (CPU ns used until `since`, cores used from then on, since (monotonic), memory bytes)
    usage: dict[str, tuple[float, float, float, int]] = field(default_factory=dict)
    # node -> uids of the sandboxes labelled with it: a node's relist reads its own, not the machine's
    # (500 hollow nodes relisting 9,000 sandboxes every 10 s took 40 % of their process)
    by_node: dict[str, set[str]] = field(default_factory=dict)

    def add(self, sandbox: _Sandbox) -> None:
        self.sandboxes[sandbox.uid] = sandbox
        self.by_node.setdefault(sandbox.labels.get(NODE_LABEL, ""), set()).add(sandbox.uid)

    def remove(self, uid: str) -> None:
        sandbox = self.sandboxes.pop(uid, None)
        if sandbox is not None:
            self.by_node.get(sandbox.labels.get(NODE_LABEL, ""), set()).discard(uid)

    def of_node(self, node: str) -> list[_Sandbox]:
        return [self.sandboxes[uid] for uid in self.by_node.get(node, ()) if uid in self.sandboxes]


class HollowRuntime:
    version = VERSION

    def __init__(self, node: str, machine: HollowMachine | None = None) -> None:
        self.node = node
        self.machine = machine or HollowMachine()
        self.started_containers = 0  # how many containers were started (tests count restarts)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # -- helpers --------------------------------------------------------------------------------
    def _mine(self, sandbox: _Sandbox) -> bool:
        return sandbox.labels.get(NODE_LABEL) == self.node and all(
            sandbox.labels.get(k) == v for k, v in owner_labels(self.node).items())

    def _state(self, sandbox: _Sandbox) -> SandboxState:
        return SandboxState(uid=sandbox.uid, id=sandbox.id, namespace=sandbox.namespace, name=sandbox.name,
                            pod_ip=sandbox.pod_ip, containers=[copy.deepcopy(c) for c in sandbox.containers.values()])

    def _get(self, uid: str) -> _Sandbox:
        sandbox = self.machine.sandboxes.get(uid)
        if sandbox is None or not self._mine(sandbox):
            raise RuntimeError_("NotFound", f"no sandbox for pod uid {uid} on node {self.node}")
        return sandbox

    @staticmethod
    def _exit(sandbox: _Sandbox, name: str, exit_code: int, reason: str | None = None) -> None:
        state = sandbox.containers.get(name)
        if state is None or state.status != "running":
            return
        state.status, state.exit_code = "exited", exit_code
        state.finished_at = time.time()
        state.reason = reason or ("Completed" if exit_code == 0 else "Error")
        event = sandbox.stopped.get(name)
        if event is not None:
            event.set()

    # -- the Runtime protocol -------------------------------------------------------------------
    async def list_sandboxes(self) -> list[SandboxState]:
        return [self._state(s) for s in self.machine.of_node(self.node) if self._mine(s)]

    async def ensure_sandbox(self, spec: SandboxSpec) -> SandboxState:
        sandbox = self.machine.sandboxes.get(spec.uid)
        if sandbox is None:
            labels = {**owner_labels(spec.node), POD_UID_LABEL: spec.uid, POD_NAMESPACE_LABEL: spec.namespace,
                      POD_NAME_LABEL: spec.name, POD_IP_LABEL: spec.pod_ip}
            sandbox = _Sandbox(spec.uid, uuid.uuid4().hex, spec.namespace, spec.name, spec.pod_ip, labels)
            self.machine.add(sandbox)
        elif not self._mine(sandbox):
            raise RuntimeError_("CreatePodSandboxError", f"sandbox {spec.uid} belongs to another node")
        return self._state(sandbox)

    async def start_container(self, sandbox: SandboxState, spec: ContainerSpec) -> ContainerState:
        if "missing" in spec.image:
            raise ImageNotFound(spec.image)
        box = self._get(sandbox.uid)
        refusal = non_root_refusal(spec.security, self.machine.image_users.get(spec.image, ""),
                                   pod_description(box.name, box.namespace, box.uid), spec.name)
        if refusal is not None:
            raise RuntimeError_("CreateContainerConfigError", refusal)
        old = box.containers.get(spec.name)
        if old is not None:
            self._exit(box, spec.name, 137)
            box.previous[spec.name] = old
        labels = {**owner_labels(self.node), POD_UID_LABEL: box.uid, CONTAINER_NAME_LABEL: spec.name,
                  **dict(spec.labels)}
        state = ContainerState(name=spec.name, id=uuid.uuid4().hex, image=spec.image, status="running",
                               started_at=time.time(), labels=labels)
        box.containers[spec.name] = state
        box.specs[spec.name] = spec
        box.stopped[spec.name] = asyncio.Event()
        self.started_containers += 1
        return copy.deepcopy(state)

    async def stop_container(self, sandbox: SandboxState, name: str, grace: float) -> None:
        box = self.machine.sandboxes.get(sandbox.uid)
        if box is not None and self._mine(box):
            self._exit(box, name, 143)

    async def remove_sandbox(self, uid: str, grace: float) -> None:
        box = self.machine.sandboxes.get(uid)
        if box is None or not self._mine(box):
            return
        for name in list(box.containers):
            self._exit(box, name, 143)
        self.machine.remove(uid)

    async def exec(self, sandbox: SandboxState, container: str, command: list[str],
                   timeout: float) -> tuple[int, bytes]:
        box = self._get(sandbox.uid)
        state = box.containers.get(container)
        if state is None or state.status != "running":
            raise RuntimeError_("ExecError", f"container {container} is not running")
        return box.exec_results.get(container, 0), b""

    def _running(self, sandbox: SandboxState, container: str) -> _Sandbox:
        box = self._get(sandbox.uid)
        state = box.containers.get(container)
        if state is None or state.status != "running":
            raise RuntimeError_("ContainerNotFound", f'container not found ("{container}")')
        return box

    async def open_exec(self, sandbox: SandboxState, container: str, command: list[str], *, stdin: bool,
                        stdout: bool, stderr: bool, tty: bool) -> HollowStreamSession:
        box = self._running(sandbox, container)
        return HollowStreamSession(command, box.name, box.exec_results.get(container, 0))

    async def open_attach(self, sandbox: SandboxState, container: str, *, stdin: bool, stdout: bool,
                          stderr: bool, tty: bool) -> HollowStreamSession:
        box = self._running(sandbox, container)
        return HollowStreamSession(["cat"], box.name, 0)

    async def container_usage(self, container_ids: list[str]) -> dict[str, Usage]:
        now, out = time.monotonic(), {}
        for cid in container_ids:
            cpu_ns, cores, since, memory = self.machine.usage.get(cid, (0.0, 0.0, now, 0))
            out[cid] = Usage(int(cpu_ns + cores * (now - since) * 1e9), memory)
        return out

    async def node_usage(self) -> Usage:
        mine = [c.id for box in self.machine.of_node(self.node) if self._mine(box) for c in box.containers.values()]
        usages = (await self.container_usage(mine)).values()
        return Usage(sum(u.cpu_ns for u in usages), sum(u.memory_bytes for u in usages))

    async def logs(self, sandbox_uid: str, container: str, *, previous: bool = False, follow: bool = False,
                   tail_lines: int | None = None, timestamps: bool = False) -> AsyncIterator[bytes]:
        box = self._get(sandbox_uid)
        state = (box.previous if previous else box.containers).get(container)
        if state is None:
            which = "previous terminated" if previous else "a"
            raise RuntimeError_("NotFound", f"{which} container {container!r} not found in pod {box.name}")
        line = f"hollow container {container} ({state.id[:12]}) of pod {box.namespace}/{box.name}: no process\n"
        if timestamps:
            line = rfc3339(state.started_at or 0) + " " + line
        if tail_lines != 0:
            yield line.encode()
        event = box.stopped.get(container)
        if follow and not previous and state.status == "running" and event is not None:
            await event.wait()

    # -- test hooks -----------------------------------------------------------------------------
    def crash(self, uid: str, container: str, exit_code: int = 1) -> None:
        """The running container exits with `exit_code` (0: it completed)."""
        self._exit(self._get(uid), container, exit_code)

    def spec(self, uid: str, container: str) -> ContainerSpec | None:
        """The ContainerSpec the container was last started from (env, mounts, command as resolved)."""
        return self._get(uid).specs.get(container)

    def set_usage(self, uid: str, container: str, cores: float, memory_bytes: int) -> None:
        """From now on the container uses `cores` CPUs and `memory_bytes` of memory (what stats report)."""
        state, now = self._get(uid).containers[container], time.monotonic()
        cpu_ns, old_cores, since, _ = self.machine.usage.get(state.id, (0.0, 0.0, now, 0))
        self.machine.usage[state.id] = (cpu_ns + old_cores * (now - since) * 1e9, cores, now, memory_bytes)

    def set_exec_result(self, uid: str, container: str, rc: int) -> None:
        """What exec (and so an exec probe) answers in this container from now on."""
        self._get(uid).exec_results[container] = rc
