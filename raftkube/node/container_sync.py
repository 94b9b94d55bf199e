"""One container of a pod brought towards its spec: start it, restart it per restartPolicy with
back-off, restart it when its spec changed (CONTAINER_HASH_LABEL) or its liveness/startup probe
failed; remember restart counts, previous states and why a container waits.

`ContainerSync.step` takes one decision per call and says whether it acted (then the pod
worker looks at the runtime again) and when it wants to be called back (back-off expiry).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .context import AgentContext
from .env import ConfigError, Ref
from .pod_spec import RESTART_COUNT_LABEL, container_hash, container_spec
from .pod_status import terminated_state
from .probes import ProbeManager
from .runtime import CONTAINER_HASH_LABEL, ContainerState, ImageNotFound, RuntimeError_, SandboxState

Obj = dict[str, Any]


@dataclass
class StepResult:
    acted: bool = False
    wake_in: float | None = None  # seconds until this container wants another look


@dataclass
class PodInputs:
    """What starting a container needs, resolved once per sync pass."""

    pod: Obj
    sandbox: SandboxState
    objects: Mapping[Ref, Obj | None]
    volumes: Mapping[str, tuple[str, bool]]
    pod_ip: str
    host_ip: str
    subpath_dir: str | None = None  # where subPaths are pinned by bind mounts (a real runtime)


class ContainerSync:
    def __init__(self, ctx: AgentContext, uid: str) -> None:
        self.ctx, self.uid = ctx, uid
        self.restarts: dict[str, int] = {}
        self.last_states: dict[str, Obj] = {}
        self.waiting: dict[str, tuple[str, str]] = {}
        self._pull_until: dict[str, tuple[float, float]] = {}  # name -> (retry at, delay)

    def restore(self, pod: Obj, sandbox: SandboxState | None) -> None:
        """Restart counts and last states from the pod's status and the adopted containers' labels."""
        status = pod.get("status") or {}
        for cs in list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or []):
            name = cs.get("name", "")
            self.restarts[name] = max(self.restarts.get(name, 0), int(cs.get("restartCount") or 0))
            if (cs.get("lastState") or {}).get("terminated"):
                self.last_states[name] = cs["lastState"]
        for state in sandbox.containers if sandbox else []:
            try:
                count = int(state.labels.get(RESTART_COUNT_LABEL, "0"))
            except ValueError:
                count = 0
            self.restarts[state.name] = max(self.restarts.get(state.name, 0), count)

    def event(self, pod: Obj, event_type: str, reason: str, message: str) -> None:
        self.ctx.event(pod, event_type, reason, message)

    async def step(self, inputs: PodInputs, container: Obj, state: ContainerState | None, restart_policy: str,
                   probes: ProbeManager | None, is_init: bool = False) -> StepResult:
        name, pod = container["name"], inputs.pod
        grace = float((pod.get("spec") or {}).get("terminationGracePeriodSeconds") or 30)
        if state is not None and state.status == "running":
            self.waiting.pop(name, None)
            if state.labels.get(CONTAINER_HASH_LABEL) != container_hash(container):
                self.event(pod, "Normal", "Killing", f"Container {name} definition changed, will be restarted")
                await self.ctx.runtime.stop_container(inputs.sandbox, name, grace)
                return await self._start(inputs, container, state, restarted=True)
            failed = probes.failed(name, state.id) if probes is not None else None
            if failed:
                self.event(pod, "Normal", "Killing", f"Container {name} failed {failed.lower()} probe, will be "
                           "restarted")
                await self.ctx.runtime.stop_container(inputs.sandbox, name, grace)
                return StepResult(acted=True)
            return StepResult()
        if state is not None and state.status == "exited":
            code = state.exit_code or 0
            if is_init and code == 0:
                return StepResult()
            if restart_policy == "Never" or (restart_policy == "OnFailure" and code == 0):
                self.waiting.pop(name, None)
                return StepResult()
            now = time.time()
            key = (self.uid, name)
            delay = self.ctx.backoff.record_exit(key, state.id, state.started_at, state.finished_at or now)
            remaining = self.ctx.backoff.remaining(key, now)
            if remaining > 0:
                meta = pod["metadata"]
                message = (f"back-off {delay:g}s restarting failed container={name} "
                           f"pod={meta['name']}_{meta.get('namespace')}({self.uid})")
                if self.waiting.get(name, ("",))[0] != "CrashLoopBackOff":
                    self.event(pod, "Warning", "BackOff", "Back-off restarting failed container")
                self.waiting[name] = ("CrashLoopBackOff", message)
                self.last_states[name] = terminated_state(state)
                return StepResult(wake_in=remaining)
            return await self._start(inputs, container, state, restarted=True)
        return await self._start(inputs, container, state, restarted=False)

    async def _start(self, inputs: PodInputs, container: Obj, old: ContainerState | None,
                     restarted: bool) -> StepResult:
        name, pod = container["name"], inputs.pod
        pull = self._pull_until.get(name)
        now = time.time()
        if pull is not None and now < pull[0]:
            self.waiting[name] = ("ImagePullBackOff", f'Back-off pulling image "{container.get("image")}"')
            return StepResult(wake_in=pull[0] - now)
        count = self.restarts.get(name, 0) + (1 if restarted else 0)
        try:
            spec = container_spec(pod, container, inputs.objects, inputs.volumes, inputs.pod_ip, inputs.host_ip,
                                  count, os.path.join(self.ctx.config.data_dir, "seccomp"), inputs.subpath_dir)
        except ConfigError as exc:
            if self.waiting.get(name) != (exc.reason, exc.message):
                self.event(pod, "Warning", "Failed", f"Error: {exc.message}")
            self.waiting[name] = (exc.reason, exc.message)
            return StepResult(wake_in=2.0)
        try:
            state = await self.ctx.runtime.start_container(inputs.sandbox, spec)
        except ImageNotFound as exc:
            delay = min((pull[1] * 2) if pull else self.ctx.config.backoff_base, self.ctx.config.backoff_max)
            self._pull_until[name] = (now + delay, delay)
            self.event(pod, "Warning", "Failed", f'Failed to pull image "{spec.image}": {exc.message}')
            self.waiting[name] = (exc.reason, exc.message)
            return StepResult(wake_in=delay)
        except RuntimeError_ as exc:
            self.event(pod, "Warning", "Failed", f"Error: {exc.message}")
            self.waiting[name] = (exc.reason, exc.message)
            return StepResult(wake_in=2.0)
        self._pull_until.pop(name, None)
        self.waiting.pop(name, None)
        if restarted and old is not None:
            self.last_states[name] = terminated_state(old) if old.status == "exited" else {"terminated": {
                "exitCode": 137, "reason": "Error", "containerID": f"podman://{old.id}"}}
        self.restarts[name] = count
        _replace(inputs.sandbox, state)
        self.event(pod, "Normal", "Pulled", f'Container image "{spec.image}" already present on machine')
        self.event(pod, "Normal", "Created", f"Created container {name}")
        self.event(pod, "Normal", "Started", f"Started container {name}")
        return StepResult(acted=True)


def _replace(sandbox: SandboxState, state: ContainerState) -> None:
    sandbox.containers = [c for c in sandbox.containers if c.name != state.name] + [state]
