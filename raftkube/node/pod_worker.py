"""One task per pod (keyed by uid), level-triggered: each pass compares the pod's spec with what the
runtime shows and acts, then writes the status if it changed. It runs on pod events, when the
runtime relist sees a change, when a probe result flips, and on a timer (back-off expiry, resync).

Deletion: a pod with a deletionTimestamp has its containers stopped with the pod's grace
period, its sandbox, volumes and IP released, and is then deleted for good (gracePeriodSeconds
0, with a uid precondition), as the kubelet does. A pod that vanished from the API only has
its sandbox removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from typing import Any

from ..client import ApiError, Conflict, NotFound
from .container_sync import ContainerSync, PodInputs
from .context import AgentContext
from .env import MASTER_SERVICE, ConfigError, referenced_objects
from .local_volumes import claim_sources
from .pod_spec import sandbox_spec
from .pod_status import ContainerView, compute_status, init_progress, same_status
from .probes import ProbeManager
from .runtime import ContainerState, RuntimeError_, SandboxState
from .volumes import prepare_volumes, remove_pod_dir, subpaths_root

log = logging.getLogger(__name__)
Obj = dict[str, Any]
POD = ("v1", "Pod")
ATTEMPTS = 5
TERMINAL = ("Succeeded", "Failed")


def _rv(pod: Obj) -> int:
    try:
        return int((pod.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _reported(pod: Obj, states: dict[str, ContainerState]) -> dict[str, tuple[bool, bool]]:
    """(started, ready) from the pod's status, for the containers whose status is about the instance running now."""
    out = {}
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        state = states.get(cs.get("name", ""))
        if state is not None and cs.get("containerID") == f"podman://{state.id}":
            out[cs["name"]] = (bool(cs.get("started")), bool(cs.get("ready")))
    return out


class PodWorker:
    def __init__(self, ctx: AgentContext, pod: Obj, adopted: SandboxState | None = None) -> None:
        self.ctx, self.pod = ctx, pod
        self.uid: str = pod["metadata"]["uid"]
        self.vanished = False
        self.finished = False
        self.syncs = 0
        self.containers = ContainerSync(ctx, self.uid)
        self.containers.restore(pod, adopted)
        self.probes = ProbeManager(ctx.runtime, ctx.http, self.poke, lambda t, r, m: ctx.event(self.pod, t, r, m))
        self._adopted_ip = adopted.pod_ip if adopted else None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._written: tuple[int, Obj] | None = None  # (resourceVersion answered, status written)
        self.sandbox: SandboxState | None = adopted

    # -- driving --------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name=f"pod-{self.uid}")

    def update(self, pod: Obj | None) -> None:
        """A newer version of the pod, or None when it vanished from the API."""
        if pod is None:
            self.vanished = True
        elif _rv(pod) >= _rv(self.pod):
            self.pod = pod
        self.poke()

    def poke(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop working on the pod without touching its containers (agent shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.probes.close()

    async def run(self) -> None:
        failures = 0
        for _ in range(10**9):  # bounded in principle; ends when the pod is gone or by cancellation
            self._wake.clear()
            try:
                delay = await self.sync()
                failures = 0
            except (ApiError, RuntimeError_, OSError) as exc:
                failures += 1
                delay = min(0.5 * 2 ** failures, 10.0)
                log.warning("pod %s/%s: sync failed: %s: %s", self.pod["metadata"].get("namespace"),
                            self.pod["metadata"]["name"], type(exc).__name__, exc)
            except Exception:  # a bug or an unexpected answer: keep the worker alive, retry later
                failures += 1
                delay = min(0.5 * 2 ** failures, 10.0)
                log.exception("pod %s/%s: sync failed", self.pod["metadata"].get("namespace"),
                              self.pod["metadata"]["name"])
            if self.finished:
                await self.probes.close()
                return
            if delay is None or delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay or self.ctx.config.resync_period)

    # -- one pass -------------------------------------------------------------------------------
    def _pod_ip(self) -> str:
        cfg, ips, spec = self.ctx.config, self.ctx.ips, self.pod.get("spec") or {}
        if spec.get("hostNetwork"):
            return cfg.address
        held = ips.get(self.uid)
        if held:
            return held
        for candidate in (self._adopted_ip, (self.pod.get("status") or {}).get("podIP")):
            if candidate and ips.reserve(self.uid, candidate):
                return candidate
        return ips.allocate(self.uid)

    async def sync(self) -> float | None:
        """One pass; returns seconds until the next one is wanted (None: the resync period)."""
        self.syncs += 1
        pod = self.pod
        meta = pod["metadata"]
        if self.vanished:
            await self.teardown(0.0)
            self.finished = True
            return None
        if meta.get("deletionTimestamp"):
            return await self._delete(pod)
        spec = pod.get("spec") or {}
        if (pod.get("status") or {}).get("phase") in TERMINAL:
            await self._stop_running(pod)
            return None
        pod_ip, host_ip = self._pod_ip(), self.ctx.config.address
        objects = await self.ctx.objects.fetch(meta.get("namespace", "default"), referenced_objects(pod))
        objects.update(await self.ctx.objects.fetch("default", [MASTER_SERVICE]))  # for KUBERNETES_SERVICE_*
        config = self.ctx.config
        sb_spec = sandbox_spec(pod, config.node, pod_ip, config.pod_network or None, config.cluster_dns_settings)
        sandbox = await self.ctx.runtime.ensure_sandbox(sb_spec)
        self.sandbox = sandbox
        try:
            assert self.ctx.tokens is not None
            tokens = await self.ctx.tokens.for_pod(pod)
            claims = await claim_sources(self.ctx.client, pod, self.ctx.config.node, self.ctx.config.storage_dir)
            volumes = prepare_volumes(pod, self.ctx.config.pod_dir(self.uid), objects,
                                      getattr(self.ctx.runtime, "secret_volumes_in_memory", False), tokens, claims)
        except ConfigError as exc:
            for c in spec.get("containers") or []:
                self.containers.waiting[c["name"]] = ("ContainerCreating", exc.message)
            self.ctx.event(pod, "Warning", "FailedMount", exc.message)
            await self._report(pod, sandbox, pod_ip, host_ip, False, False)
            return 2.0
        real = getattr(self.ctx.runtime, "secret_volumes_in_memory", False)  # a real runtime; the agent is root
        pin_dir = subpaths_root(self.ctx.config.pod_dir(self.uid)) if real else None
        inputs = PodInputs(pod, sandbox, objects, volumes, pod_ip, host_ip, pin_dir)
        policy = spec.get("restartPolicy") or "Always"
        acted, wake = await self._sync_containers(inputs, policy)
        if acted:
            sandbox = await self.ctx.runtime.ensure_sandbox(sb_spec)
            self.sandbox = sandbox
        initialized, init_failed = self._initialized(pod, sandbox)
        if initialized:
            states = {c.name: c for c in sandbox.containers}
            self.probes.sync(sandbox, pod_ip, list(spec.get("containers") or []), states, _reported(pod, states))
        await self._report(pod, sandbox, pod_ip, host_ip, initialized, init_failed)
        return 0.0 if acted else wake

    def _initialized(self, pod: Obj, sandbox: SandboxState) -> tuple[bool, bool]:
        spec = pod.get("spec") or {}
        app_names = {c["name"] for c in spec.get("containers") or []}
        if any(c.name in app_names for c in sandbox.containers):
            return True, False  # app containers exist: init finished before (an adopted or restarted pod)
        views = [ContainerView(c["name"], "", sandbox.container(c["name"])) for c in spec.get("initContainers") or []]
        return init_progress(views, spec.get("restartPolicy") or "Always")

    async def _sync_containers(self, inputs: PodInputs, policy: str) -> tuple[bool, float | None]:
        spec, sandbox = inputs.pod.get("spec") or {}, inputs.sandbox
        wake: list[float] = []
        initialized, init_failed = self._initialized(inputs.pod, sandbox)
        if init_failed:
            return False, None
        if not initialized:
            init_policy = "OnFailure" if policy == "Always" else policy
            for container in spec.get("initContainers") or []:
                state = sandbox.container(container["name"])
                if state is not None and state.status == "exited" and state.exit_code == 0:
                    continue
                if state is not None and state.status == "running":
                    return False, None
                result = await self.containers.step(inputs, container, state, init_policy, None, is_init=True)
                return result.acted, result.wake_in
            return False, 0.0  # all done just now: start the app containers in the next pass
        acted = False
        for container in spec.get("containers") or []:
            result = await self.containers.step(inputs, container, sandbox.container(container["name"]), policy,
                                                self.probes)
            acted = acted or result.acted
            if result.wake_in is not None:
                wake.append(result.wake_in)
        return acted, min(wake) if wake else None

    # -- status ---------------------------------------------------------------------------------
    def _views(self, containers: list[Obj], sandbox: SandboxState, probed: bool) -> list[ContainerView]:
        views = []
        for container in containers:
            name = container["name"]
            state = sandbox.container(name)
            running = state is not None and state.status == "running"
            view = ContainerView(name=name, image=str(container.get("image") or ""), state=state,
                                 waiting=self.containers.waiting.get(name),
                                 last_state=self.containers.last_states.get(name),
                                 restart_count=self.containers.restarts.get(name, 0))
            if running and state is not None:
                view.started = self.probes.started(name, state.id) if probed else True
                view.ready = self.probes.ready(name, state.id, container) if probed else False
            views.append(view)
        return views

    async def _report(self, pod: Obj, sandbox: SandboxState, pod_ip: str | None, host_ip: str, initialized: bool,
                      init_failed: bool) -> None:
        spec = pod.get("spec") or {}
        init_views = self._views(list(spec.get("initContainers") or []), sandbox, False)
        views = self._views(list(spec.get("containers") or []), sandbox, True)
        status = compute_status(pod, init_views, views, pod_ip=pod_ip, host_ip=host_ip, initialized=initialized,
                                init_failed=init_failed, now=time.time())
        if same_status(status, pod.get("status")):
            return
        if self._written is not None and self._written[0] == _rv(pod) and same_status(self._written[1], status):
            return  # written already; the server stored it in its own form
        await self.write_status(status)

    async def write_status(self, status: Obj) -> None:
        """PUT the status subresource; on a conflict re-read the pod and retry (bounded)."""
        pod = self.pod
        meta = pod["metadata"]
        for _ in range(ATTEMPTS):
            body = {**copy.deepcopy(pod), "status": status}
            try:
                written = await self.ctx.client.update_status(POD, body, meta.get("namespace"))
            except Conflict:
                pod = await self.ctx.client.get(POD, meta["name"], meta.get("namespace"))
                if pod["metadata"].get("uid") != self.uid:
                    return
                continue
            except NotFound:
                return
            written.setdefault("apiVersion", "v1")
            written.setdefault("kind", "Pod")
            self._written = (_rv(written), status)
            self.update(written)
            return
        raise Conflict(message=f"pod {meta['name']}: status not written after {ATTEMPTS} conflicts")

    # -- stopping -------------------------------------------------------------------------------
    async def _stop_running(self, pod: Obj) -> None:
        sandbox = self.sandbox
        if sandbox is None:
            return
        grace = float((pod.get("spec") or {}).get("terminationGracePeriodSeconds") or 30)
        for state in sandbox.containers:
            if state.status == "running":
                await self.ctx.runtime.stop_container(sandbox, state.name, grace)
        await self.probes.close()

    async def teardown(self, grace: float) -> None:
        """Stop and remove the sandbox, the volumes, the IP; idempotent."""
        await self.probes.close()
        sandbox = self.sandbox
        if sandbox is not None:
            for state in sandbox.containers:
                if state.status == "running":
                    self.ctx.event(self.pod, "Normal", "Killing", f"Stopping container {state.name}")
        await self.ctx.runtime.remove_sandbox(self.uid, grace)
        self.sandbox = None
        remove_pod_dir(self.ctx.config.pod_dir(self.uid))
        self.ctx.ips.release(self.uid)
        self.ctx.backoff.forget_pod(self.uid)
        if self.ctx.tokens is not None:
            self.ctx.tokens.forget(self.uid)

    async def _delete(self, pod: Obj) -> float | None:
        meta = pod["metadata"]
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds") or 30
        await self.teardown(float(grace))
        try:
            await self.ctx.client.delete(POD, meta["name"], meta.get("namespace"), grace_period_seconds=0,
                                         preconditions={"uid": self.uid})
        except (NotFound, Conflict):
            pass
        self.finished = True
        return None
