"""`PodmanRuntime`: the node agent's runtime contract (raftkube.node.runtime.Runtime) on Podman.

One Podman pod per sandbox (shared network namespace; ports published on `pod_ip:port`), one
container per ContainerSpec, everything labelled with the node's owner labels; two agents sharing
one Podman storage only ever list their own node's pods. podman-py is synchronous: every call runs
in this runtime's thread pool so the agent's event loop never blocks.

Previous logs: when `start_container` replaces a container it renames the old one to
`<pod>_<container>_previous` (removing any older `_previous`), so exactly one previous instance,
with its k8s-file log, is kept for `logs(previous=True)`; `remove_sandbox` removes it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import tempfile
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from podman import PodmanClient
from podman.errors import APIError, NotFound
from podman.errors import ImageNotFound as PodmanImageNotFound

from raftkube.node import podman_exec
from raftkube.node import podman_specs as specs
from raftkube.node.pod_network import NodeNetwork
from raftkube.node.podman_logs import stream_logs
from raftkube.node.podman_service import PodmanService
from raftkube.node.runtime import (
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
    StreamSession,
    Usage,
    owner_labels,
)
from raftkube.node.security_context import non_root_refusal, pod_description
from raftkube.node.stats import host_usage

log = logging.getLogger(__name__)
T = TypeVar("T")
THREADS = 16
API_TIMEOUT = 60.0
_LIMIT_WORDS = ("cgroup", "memory", "cpu", "quota", "limit")


class PodmanRuntime:
    """The Runtime contract on a Podman API service (an existing socket, or one it starts itself)."""

    secret_volumes_in_memory = True  # secret volumes on tmpfs (node/memory_volumes.py); the agent runs as root

    def __init__(self, node: str, socket_path: str | None = None, start_service_in: str | None = None) -> None:
        self.node = node
        self.version = "podman://unknown"  # the service's version once started (Node nodeInfo)
        self._socket_path = socket_path
        self._service_dir = start_service_in
        self._service: PodmanService | None = None
        self._client: PodmanClient | None = None
        self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix=f"podman-{node}")
        self._oom: dict[str, bool] = {}  # exited container id -> OOMKilled (exited state never changes)
        self.notes: list[str] = []  # things the host refused (e.g. resource limits), newest last

    # -- plumbing -------------------------------------------------------------------------------
    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    @property
    def service(self) -> PodmanService | None:
        """The Podman service this runtime started (None when it uses an existing socket)."""
        return self._service

    @property
    def client(self) -> PodmanClient:
        if self._client is None:
            raise RuntimeError_("RuntimeNotReady", "PodmanRuntime.start() has not been called")
        return self._client

    async def start(self) -> None:
        if self._client is not None:
            return
        if self._socket_path is None:
            if self._service_dir is None:
                self._service_dir = tempfile.mkdtemp(prefix=f"raftkube-podman-{self.node}-")
            self._service = PodmanService(self._service_dir)
            await self._call(self._service.start)
            self._socket_path = str(self._service.socket_path)
        client = PodmanClient(base_url=f"unix://{self._socket_path}", timeout=API_TIMEOUT, max_pool_size=THREADS)
        try:
            await self._call(client.ping)
        except Exception as exc:
            client.close()
            msg = f"Podman service at {self._socket_path} does not answer: {exc}"
            raise RuntimeError_("RuntimeNotReady", msg) from exc
        self._client = client
        try:
            self.version = f"podman://{(await self._call(client.version)).get('Version', 'unknown')}"
        except Exception:  # noqa: BLE001 - the version is informational only
            self.version = "podman://unknown"

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await self._call(client.close)
        if self._service is not None:
            await self._call(self._service.stop)
            self._service = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _ensure_network_sync(self, network: NodeNetwork) -> None:
        if self.client.networks.exists(network.name):
            return
        body = {"name": network.name, "driver": "bridge", "network_interface": network.interface,
                "subnets": [{"subnet": network.subnet, "gateway": network.gateway}], "dns_enabled": False,
                "labels": owner_labels(self.node)}
        response = self.client.api.post("/networks/create", data=json.dumps(body),
                                        headers={"Content-Type": "application/json"})
        if response.status_code not in (200, 201, 409):  # 409: another agent of this machine made it first
            raise RuntimeError_("NetworkNotReady", f"cannot create network {network.name}: {response.text[:300]}")

    async def ensure_network(self, network: NodeNetwork) -> None:
        """Create the node's pod network (a bridge of its own, Podman's DNS off) unless it exists."""
        await self._call(self._ensure_network_sync, network)

    def _remove_network_sync(self, network: NodeNetwork) -> bool:
        if not self.client.networks.exists(network.name):
            return False
        found = self.client.networks.get(network.name)
        if not specs.owned_by(found.attrs.get("labels") or found.attrs.get("Labels"), self.node):
            return False  # not this node's: left alone
        found.remove(force=True)
        return True

    async def remove_network(self, network: NodeNetwork) -> bool:
        """Remove the node's pod network if this node made it (after its sandboxes); True if removed."""
        return await self._call(self._remove_network_sync, network)

    # -- listing --------------------------------------------------------------------------------
    def _list_sync(self, **labels: str) -> list[SandboxState]:
        filters = specs.node_filters(self.node, **labels)
        pods = [p.attrs for p in self.client.pods.list(filters=filters)]
        pods = [p for p in pods if specs.owned_by(p.get("Labels"), self.node)]
        by_pod: dict[str, list[dict[str, Any]]] = {}
        for ctr in self.client.containers.list(all=True, filters=filters):
            by_pod.setdefault(ctr.attrs.get("Pod", ""), []).append(ctr.attrs)
        sandboxes = []
        for pod in pods:
            labels_ = pod.get("Labels") or {}
            sandbox = SandboxState(
                uid=labels_.get(POD_UID_LABEL, ""), id=pod["Id"], namespace=labels_.get(POD_NAMESPACE_LABEL, ""),
                name=labels_.get(POD_NAME_LABEL, ""), pod_ip=labels_.get(POD_IP_LABEL, ""))
            for entry in by_pod.get(pod["Id"], []):
                if specs.owned_by(entry.get("Labels"), self.node) and specs.is_current(entry, pod["Name"]):
                    sandbox.containers.append(specs.state_from_list_entry(entry, self._oom_killed(entry)))
            sandbox.containers.sort(key=lambda c: c.name)
            sandboxes.append(sandbox)
        return sandboxes

    def _oom_killed(self, entry: dict[str, Any]) -> bool:
        if str(entry.get("State", "")).lower() not in ("exited", "stopped") or entry.get("ExitCode") == 0:
            return False
        cid = entry["Id"]
        if cid not in self._oom:
            try:
                self._oom[cid] = bool(self.client.containers.get(cid).attrs.get("State", {}).get("OOMKilled"))
            except NotFound:
                return False
        return self._oom[cid]

    async def list_sandboxes(self) -> list[SandboxState]:
        return await self._call(self._list_sync)

    # -- sandboxes ------------------------------------------------------------------------------
    def _ensure_sync(self, spec: SandboxSpec) -> SandboxState:
        found = self.client.pods.list(filters=specs.node_filters(self.node, **{POD_UID_LABEL: spec.uid}))
        if found:
            pod = found[0]
            if str(pod.attrs.get("Status", "")).lower() not in ("running", "degraded"):
                infra = pod.attrs.get("InfraId")
                if infra:  # restart only the infra container: app containers are the agent's to restart
                    self.client.containers.get(infra).start()
            existing = self._list_sync(**{POD_UID_LABEL: spec.uid})
            if not existing:
                raise RuntimeError_("CreatePodSandboxError", f"pod for {spec.namespace}/{spec.name} vanished")
            return existing[0]
        name = specs.pod_name(spec.namespace, spec.name, spec.uid)
        try:
            pod = self.client.pods.create(name, **specs.pod_create_kwargs(spec, self.node))
            pod.start()
        except APIError as exc:
            with contextlib.suppress(APIError):  # a failed create can leave an empty pod behind
                left = self.client.pods.get(name) if self.client.pods.exists(name) else None
                labels = (left.attrs.get("Labels") or {}) if left is not None else {}
                if left is not None and specs.owned_by(labels, self.node) and labels.get(POD_UID_LABEL) == spec.uid:
                    left.remove(force=True)  # ours; a same-named pod of someone else stays
            raise RuntimeError_("CreatePodSandboxError", f"cannot create pod {name}: {exc}") from exc
        return SandboxState(uid=spec.uid, id=pod.id, namespace=spec.namespace, name=spec.name, pod_ip=spec.pod_ip)

    async def ensure_sandbox(self, spec: SandboxSpec) -> SandboxState:
        if spec.node != self.node:
            raise RuntimeError_("CreatePodSandboxError", f"sandbox for node {spec.node!r} given to {self.node!r}")
        return await self._call(self._ensure_sync, spec)

    def _stop_sync(self, ctr: Any, grace: float) -> None:
        """SIGTERM (the container's stop signal), SIGKILL after `grace` s; quiet if stopped or gone.
        Called on the API directly: podman-py would give the request only 1.5 x grace to finish."""
        seconds = max(0, math.ceil(grace))
        response = self.client.api.post(f"/containers/{ctr.id}/stop", params={"timeout": seconds},
                                         timeout=seconds + API_TIMEOUT)
        if response.status_code not in (204, 304, 404):  # 304: not running, 404: gone
            log.warning("stopping %s: HTTP %s %s", ctr.id[:12], response.status_code, response.text[:200])

    def _pod_containers(self, uid: str) -> list[Any]:
        filters = specs.node_filters(self.node, **{POD_UID_LABEL: uid})
        return [c for c in self.client.containers.list(all=True, filters=filters)
                if c.attrs.get("Labels", {}).get(NODE_LABEL) == self.node]

    async def remove_sandbox(self, uid: str, grace: float) -> None:
        containers = await self._call(self._pod_containers, uid)
        await asyncio.gather(*(self._call(self._stop_sync, c, grace) for c in containers))
        await self._call(self._remove_sync, uid)

    def _remove_sync(self, uid: str) -> None:
        for pod in self.client.pods.list(filters=specs.node_filters(self.node, **{POD_UID_LABEL: uid})):
            with contextlib.suppress(NotFound, APIError):
                pod.kill()
            with contextlib.suppress(NotFound):
                pod.remove(force=True)
        for ctr in self._pod_containers(uid):  # stragglers outside the pod, if any
            with contextlib.suppress(NotFound):
                ctr.remove(force=True, v=True)
            self._oom.pop(ctr.id, None)

    # -- containers -----------------------------------------------------------------------------
    def _get(self, name: str) -> Any | None:
        try:
            return self.client.containers.get(name)
        except NotFound:
            return None

    def _image_user(self, image: str) -> str:
        """The image's configured user ("" when none: root); raises ImageNotFound when absent."""
        try:
            attrs = self.client.images.get(image).attrs
        except PodmanImageNotFound as exc:
            raise ImageNotFound(image) from exc
        return str((attrs.get("Config") or {}).get("User") or "")

    def _start_sync(self, sandbox: SandboxState, spec: ContainerSpec) -> ContainerState:
        image_user = self._image_user(spec.image)
        refusal = non_root_refusal(spec.security, image_user,
                                   pod_description(sandbox.name, sandbox.namespace, sandbox.uid), spec.name)
        if refusal is not None:
            raise RuntimeError_("CreateContainerConfigError", refusal)
        pod = specs.pod_name(sandbox.namespace, sandbox.name, sandbox.uid)
        current, previous = specs.container_name(pod, spec.name), specs.previous_name(pod, spec.name)
        old = self._get(current)
        if old is not None:
            self._stop_sync(old, spec.stop_grace_seconds)
            stale = self._get(previous)
            if stale is not None:
                stale.remove(force=True)
                self._oom.pop(stale.id, None)
            old.rename(previous)
        ctr = self._create(spec, sandbox, pod, image_user)
        try:
            ctr.start()
        except APIError as exc:
            raise RuntimeError_("RunContainerError", f"cannot start {current}: {exc}") from exc
        return self._state_sync(ctr.id)

    def _create(self, spec: ContainerSpec, sandbox: SandboxState, pod: str, image_user: str) -> Any:
        kwargs = specs.container_create_kwargs(spec, sandbox=sandbox, node=self.node, image_user=image_user)
        try:
            try:
                return self.client.containers.create(**kwargs)
            except PodmanImageNotFound as exc:
                raise ImageNotFound(spec.image) from exc
            except APIError as exc:
                if not (spec.cpu_millis or spec.memory_bytes) or not any(w in str(exc).lower() for w in _LIMIT_WORDS):
                    raise
                self._cleanup_failed(kwargs["name"])
                note = f"{kwargs['name']}: host refused resource limits, started without them ({exc})"
                log.warning(note)
                self.notes.append(note)
                kwargs = specs.container_create_kwargs(spec, sandbox=sandbox, node=self.node, with_limits=False,
                                                       image_user=image_user)
                return self.client.containers.create(**kwargs)
        except APIError as exc:
            self._cleanup_failed(kwargs["name"])
            raise RuntimeError_("CreateContainerError", f"cannot create {kwargs['name']}: {exc}") from exc

    def _cleanup_failed(self, name: str) -> None:
        ctr = self._get(name)
        if ctr is not None:
            with contextlib.suppress(APIError):
                ctr.remove(force=True)

    def _state_sync(self, container_id: str) -> ContainerState:
        entries = [c.attrs for c in self.client.containers.list(all=True, filters=[f"id={container_id}"])]
        if not entries:
            raise RuntimeError_("RunContainerError", f"container {container_id[:12]} vanished")
        return specs.state_from_list_entry(entries[0], self._oom_killed(entries[0]))

    async def start_container(self, sandbox: SandboxState, spec: ContainerSpec) -> ContainerState:
        return await self._call(self._start_sync, sandbox, spec)

    async def stop_container(self, sandbox: SandboxState, name: str, grace: float) -> None:
        pod = specs.pod_name(sandbox.namespace, sandbox.name, sandbox.uid)
        ctr = await self._call(self._get, specs.container_name(pod, name))
        if ctr is not None:
            await self._call(self._stop_sync, ctr, grace)

    async def exec(self, sandbox: SandboxState, container: str, command: list[str],
                   timeout: float) -> tuple[int, bytes]:
        """(exit code, stdout then stderr). On timeout raises RuntimeError_("DeadlineExceeded"); the
        command itself is left to finish in the container (Podman cannot cancel an exec session)."""
        pod = specs.pod_name(sandbox.namespace, sandbox.name, sandbox.uid)
        ctr = await self._call(self._get, specs.container_name(pod, container))
        if ctr is None:
            where = f"{sandbox.namespace}/{sandbox.name}"
            raise RuntimeError_("ContainerNotFound", f"no container {container!r} in {where}")
        try:
            rc, (out, err) = await asyncio.wait_for(self._call(ctr.exec_run, command, demux=True), timeout)
        except TimeoutError as exc:
            raise RuntimeError_("DeadlineExceeded", f"exec {command!r} took longer than {timeout} s") from exc
        except APIError as exc:
            raise RuntimeError_("ExecError", f"exec {command!r} in {container!r}: {exc}") from exc
        return (rc if rc is not None else -1), (out or b"") + (err or b"")

    async def _running_container_id(self, sandbox: SandboxState, container: str) -> str:
        pod = specs.pod_name(sandbox.namespace, sandbox.name, sandbox.uid)
        ctr = await self._call(self._get, specs.container_name(pod, container))
        if ctr is None or ctr.status != "running":
            raise RuntimeError_("ContainerNotFound", f'container not found ("{container}")')
        return str(ctr.id)

    async def open_exec(self, sandbox: SandboxState, container: str, command: list[str], *, stdin: bool,
                        stdout: bool, stderr: bool, tty: bool) -> StreamSession:
        ctr_id = await self._running_container_id(sandbox, container)
        return await podman_exec.open_exec(str(self._socket_path), ctr_id, command, stdin=stdin, stdout=stdout,
                                           stderr=stderr, tty=tty)

    async def open_attach(self, sandbox: SandboxState, container: str, *, stdin: bool, stdout: bool,
                          stderr: bool, tty: bool) -> StreamSession:
        ctr_id = await self._running_container_id(sandbox, container)
        return await podman_exec.open_attach(str(self._socket_path), ctr_id, stdin=stdin, stdout=stdout,
                                             stderr=stderr, tty=tty)

    async def container_usage(self, container_ids: list[str]) -> dict[str, Usage]:
        try:
            stats = await podman_exec.container_stats(str(self._socket_path), container_ids)
        except RuntimeError_:  # one of them went away meanwhile: ask for each alone
            stats = {}
            for cid in container_ids:
                with contextlib.suppress(RuntimeError_):
                    stats.update(await podman_exec.container_stats(str(self._socket_path), [cid]))
        return {cid: Usage(cpu, memory) for cid, (cpu, memory) in stats.items()}

    async def node_usage(self) -> Usage:
        return host_usage()

    def _find_for_logs(self, uid: str, container: str, previous: bool) -> str:
        filters = specs.node_filters(self.node, **{POD_UID_LABEL: uid, CONTAINER_NAME_LABEL: container})
        for ctr in self.client.containers.list(all=True, filters=filters):
            labels, names = ctr.attrs.get("Labels") or {}, ctr.attrs.get("Names") or []
            if not specs.owned_by(labels, self.node) or labels.get(CONTAINER_NAME_LABEL) != container:
                continue
            if any(n.endswith(specs.PREVIOUS_SUFFIX) for n in names) == previous:
                return ctr.id
        which = "previous terminated container" if previous else "container"
        raise RuntimeError_("ContainerNotFound", f"{which} {container!r} of pod {uid} not found")

    async def logs(self, sandbox_uid: str, container: str, *, previous: bool = False, follow: bool = False,
                   tail_lines: int | None = None, timestamps: bool = False) -> AsyncIterator[bytes]:
        cid = await self._call(self._find_for_logs, sandbox_uid, container, previous)
        async for chunk in stream_logs(self.client.api, cid, follow=follow, tail_lines=tail_lines,
                                       timestamps=timestamps):
            yield chunk
