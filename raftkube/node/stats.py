"""Resource usage of the node and its containers, as a kubelet's Summary API (`/stats/summary`) gives it
to metrics-server: CPU as nanocores over the last sampling window, memory as the working set in bytes.

The runtime reports cumulative CPU time (nanoseconds) and current memory per container
(`Runtime.container_usage`: Podman's stats API, fed by the container's cgroup), and the node's own
totals (`Runtime.node_usage`: /proc/stat and /proc/meminfo on a real machine). The sampler takes a
sample every `period` seconds (Kubernetes' metrics-server scrapes every 15 s) and keeps the last
two: a rate needs two samples, so nothing is reported for the first period after a container
appears. The clock is injected (tests); it is the agent's monotonic clock, never the store's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..machinery.times import rfc3339
from .runtime import Runtime, SandboxState, Usage

Obj = dict[str, Any]
log = logging.getLogger(__name__)
DEFAULT_PERIOD = 10.0


@dataclass
class Sample:
    at: float  # monotonic seconds
    wall: float  # epoch seconds (the reported timestamp)
    node: Usage
    containers: dict[str, Usage] = field(default_factory=dict)  # container id -> usage


def nano_cores(before: Usage, after: Usage, seconds: float) -> int:
    if seconds <= 0:
        return 0
    return max(0, int((after.cpu_ns - before.cpu_ns) / seconds))


class StatsSampler:
    def __init__(self, node: str, runtime: Runtime, sandboxes: Callable[[], list[SandboxState]],
                 period: float = DEFAULT_PERIOD, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.node, self.runtime, self.sandboxes, self.period = node, runtime, sandboxes, period
        self.clock, self.wall = clock, wall
        self.previous: Sample | None = None
        self.last: Sample | None = None
        self._task: asyncio.Task[None] | None = None

    async def sample(self) -> None:
        ids = [c.id for box in self.sandboxes() for c in box.containers if c.status == "running"]
        containers = await self.runtime.container_usage(ids)
        node = await self.runtime.node_usage()
        self.previous, self.last = self.last, Sample(self.clock(), self.wall(), node, containers)

    async def _loop(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception as exc:  # noqa: BLE001 - a failed sample is skipped, the next one may work
                log.warning("resource usage sample failed: %s", exc)
            await asyncio.sleep(self.period)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def summary(self) -> Obj:
        """The kubelet Summary API's shape (the parts metrics-server reads); no rates before two samples."""
        out: Obj = {"node": {"nodeName": self.node}, "pods": []}
        before, after = self.previous, self.last
        if before is None or after is None:
            return out
        seconds = after.at - before.at
        stamp = rfc3339(after.wall)
        window = f"{seconds:.3f}s"
        out["node"].update({"cpu": {"time": stamp, "usageNanoCores": nano_cores(before.node, after.node, seconds)},
                            "memory": {"time": stamp, "workingSetBytes": after.node.memory_bytes},
                            "window": window})
        for box in self.sandboxes():
            containers = []
            for ctr in box.containers:
                old, new = before.containers.get(ctr.id), after.containers.get(ctr.id)
                if old is None or new is None:
                    continue
                containers.append({"name": ctr.name, "startTime": rfc3339(ctr.started_at or after.wall),
                                   "cpu": {"time": stamp, "usageNanoCores": nano_cores(old, new, seconds)},
                                   "memory": {"time": stamp, "workingSetBytes": new.memory_bytes}})
            if containers:
                out["pods"].append({"podRef": {"name": box.name, "namespace": box.namespace, "uid": box.uid},
                                    "containers": containers, "window": window})
        return out


def host_usage(proc: str = "/proc") -> Usage:
    """The machine's busy CPU time (all but idle and iowait) and memory in use (MemTotal - MemAvailable)."""
    with open(f"{proc}/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    ticks = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal (guest is inside user)
    hertz = 100  # USER_HZ
    memory: dict[str, int] = {}
    with open(f"{proc}/meminfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            memory[key] = int(value.split()[0]) * 1024
    return Usage(ticks * (1_000_000_000 // hertz), memory.get("MemTotal", 0) - memory.get("MemAvailable", 0))
