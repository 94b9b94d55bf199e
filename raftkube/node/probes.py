"""Liveness, readiness and startup probes, run by the agent (Podman's healthchecks never run here).

One task per (container instance, probe): it waits `initialDelaySeconds` from the container's
start, then probes every `periodSeconds` with `timeoutSeconds`; a result flips after
`successThreshold` successes or `failureThreshold` failures in a row. Until a startup probe
has succeeded the other two do not run. Readiness starts False (True at once without a
probe), liveness and startup start unknown. Every change pokes the pod worker, which kills
a container whose liveness (or startup) probe failed and reports readiness in the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from .pod_spec import probe_port
from .runtime import ContainerState, Runtime, SandboxState

log = logging.getLogger(__name__)
Obj = dict[str, Any]
KINDS = ("startupProbe", "livenessProbe", "readinessProbe")
LABELS = {"startupProbe": "Startup", "livenessProbe": "Liveness", "readinessProbe": "Readiness"}


async def run_probe(probe: Obj, container: Obj, runtime: Runtime, sandbox: SandboxState, host: str,
                    http: httpx.AsyncClient) -> tuple[bool, str]:
    """One probe attempt: (success, message on failure)."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if probe.get("exec") is not None:
            command = [str(c) for c in probe["exec"].get("command") or []]
            rc, output = await runtime.exec(sandbox, container["name"], command, timeout)
            return rc == 0, "" if rc == 0 else f"command {command} exited with {rc}: {output[:200]!r}"
        port = probe_port(probe, container)
        if probe.get("httpGet") is not None:
            get = probe["httpGet"]
            scheme = str(get.get("scheme") or "HTTP").lower()
            target = get.get("host") or host
            path = get.get("path") or "/"
            headers = {h.get("name", ""): h.get("value", "") for h in get.get("httpHeaders") or []}
            response = await http.get(f"{scheme}://{target}:{port}{path}", headers=headers, timeout=timeout)
            ok = 200 <= response.status_code < 400
            return ok, "" if ok else f"HTTP probe failed with statuscode: {response.status_code}"
        if probe.get("tcpSocket") is not None:
            target = probe["tcpSocket"].get("host") or host
            _, writer = await asyncio.wait_for(asyncio.open_connection(target, port), timeout)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True, ""
    except TimeoutError:
        return False, f"timeout after {timeout:g}s"
    except (httpx.HTTPError, OSError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a runtime error in exec
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""  # grpc and unknown handlers are not probed: counted as passing


@dataclass
class _Instance:
    container_id: str
    started_at: float
    results: dict[str, bool | None] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    startup_done: asyncio.Event = field(default_factory=asyncio.Event)


class ProbeManager:
    """The probes of one pod's containers."""

    def __init__(self, runtime: Runtime, http: httpx.AsyncClient, notify: Callable[[], None],
                 event: Callable[[str, str, str], None]) -> None:
        self.runtime, self.http = runtime, http
        self.notify, self.event = notify, event  # event(type, reason, message)
        self.sandbox: SandboxState | None = None
        self.host = "127.0.0.1"
        self._instances: dict[str, _Instance] = {}

    def sync(self, sandbox: SandboxState, host: str, containers: list[Obj], states: dict[str, ContainerState],
             reported: dict[str, tuple[bool, bool]] | None = None) -> None:
        """Start probing running container instances not probed yet; stop probing the others.
        `reported`: name -> (started, ready) the pod status already shows for that very container
        instance (an adopted container): probing starts from there instead of from unready."""
        self.sandbox, self.host = sandbox, host
        by_name = {c["name"]: c for c in containers}
        for name in list(self._instances):
            state = states.get(name)
            if state is None or state.status != "running" or state.id != self._instances[name].container_id \
                    or name not in by_name:
                self._drop(name)
        for name, state in states.items():
            if name in self._instances or state.status != "running" or name not in by_name:
                continue
            inst = _Instance(state.id, state.started_at or time.time())
            container = by_name[name]
            was_started, was_ready = (reported or {}).get(name, (False, False))
            if not isinstance(container.get("startupProbe"), dict) or was_started:
                inst.startup_done.set()
            for kind in KINDS:
                probe = container.get(kind)
                if kind == "startupProbe" and was_started:
                    inst.results[kind] = True  # it succeeded before the agent restarted: not run again
                elif isinstance(probe, dict):
                    inst.results[kind] = True if kind == "readinessProbe" and was_ready else None
                    inst.tasks.append(asyncio.get_running_loop().create_task(
                        self._loop(inst, kind, probe, container), name=f"probe-{name}-{kind}"))
            self._instances[name] = inst

    def started(self, name: str, container_id: str) -> bool:
        inst = self._instances.get(name)
        return inst is not None and inst.container_id == container_id and inst.startup_done.is_set()

    def ready(self, name: str, container_id: str, container: Obj) -> bool:
        inst = self._instances.get(name)
        if inst is None or inst.container_id != container_id or not inst.startup_done.is_set():
            return False
        if not isinstance(container.get("readinessProbe"), dict):
            return True
        return inst.results.get("readinessProbe") is True

    def failed(self, name: str, container_id: str) -> str | None:
        """'Liveness' or 'Startup' when that probe of this instance has failed (kill it), else None."""
        inst = self._instances.get(name)
        if inst is None or inst.container_id != container_id:
            return None
        for kind in ("livenessProbe", "startupProbe"):
            if inst.results.get(kind) is False:
                return LABELS[kind]
        return None

    def _drop(self, name: str) -> None:
        inst = self._instances.pop(name, None)
        if inst is not None:
            for task in inst.tasks:
                task.cancel()

    async def close(self) -> None:
        tasks = [t for inst in self._instances.values() for t in inst.tasks]
        self._instances.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, inst: _Instance, kind: str, probe: Obj, container: Obj) -> None:
        if kind != "startupProbe":
            await inst.startup_done.wait()
        delay = inst.started_at + float(probe.get("initialDelaySeconds") or 0) - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        period = max(float(probe.get("periodSeconds") or 10), 0.1)
        need_ok = int(probe.get("successThreshold") or 1)
        need_fail = int(probe.get("failureThreshold") or 3)
        oks = fails = 0
        for _ in range(10**9):  # bounded in principle; ends when the container goes (cancelled)
            sandbox = self.sandbox
            if sandbox is None:
                return
            ok, message = await run_probe(probe, container, self.runtime, sandbox, self.host, self.http)
            oks, fails = (oks + 1, 0) if ok else (0, fails + 1)
            before = inst.results.get(kind)
            if not ok:
                self.event("Warning", "Unhealthy", f"{LABELS[kind]} probe failed: {message}")
            if ok and oks >= need_ok:
                inst.results[kind] = True
            elif not ok and fails >= need_fail:
                inst.results[kind] = False
            if inst.results.get(kind) != before:
                if kind == "startupProbe" and inst.results[kind]:
                    inst.startup_done.set()
                self.notify()
            if kind == "startupProbe" and inst.results.get(kind) is not None:
                return  # done: succeeded (others take over) or failed (the worker kills the container)
            if kind == "livenessProbe" and inst.results.get(kind) is False:
                return
            await asyncio.sleep(period)
