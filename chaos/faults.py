"""Faults: each a small object with `inject` and `heal` that fills in a `FaultRecord`.

A fault's target is a replica index (1-based), "leader" (the Raft leader at that moment),
"controller" (the replica holding the controller-manager Lease), or "random" (a running replica,
from the run's seeded RNG). Resolution falls back to a random running replica when no leader or
holder can be found (noted in the record's detail). Injecting a fault on a replica that is already
down or paused does nothing harmful; healing always leaves the replica running and connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from chaos.cluster import ChaosCluster
from chaos.result import FaultRecord

Target = int | str


@dataclass
class FaultContext:
    cluster: ChaosCluster
    rng: random.Random
    now: Callable[[], float]


@dataclass
class Fault:
    """Base class: `kind` names the fault; `targets` are the replicas hit (set by `inject`)."""

    target: Target = "random"
    kind: str = "fault"
    targets: list[int] = field(default_factory=list)
    record: FaultRecord | None = None
    takes_out: bool = True  # the targets stop serving (for failover measurement)

    async def resolve(self, ctx: FaultContext, target: Target | None = None) -> tuple[int, str]:
        target = self.target if target is None else target
        cluster = ctx.cluster
        running = [r.index for r in cluster.replicas if r.running and not r.paused] or cluster.indexes
        if isinstance(target, int):
            return target, ""
        if target == "leader":
            found = await cluster.wait_leader(timeout=5.0)
            if found is not None:
                return found, "raft leader"
        elif target == "controller":
            found = await cluster.controller_index()
            if found is not None:
                return found, "controller-manager holder"
        return ctx.rng.choice(running), "random" if target == "random" else f"no {target} found: random"

    async def inject(self, ctx: FaultContext) -> FaultRecord:
        index, why = await self.resolve(ctx)
        self.targets = [index]
        start = ctx.now()
        await self.apply(ctx, index)
        self.record = FaultRecord(self.kind, ctx.cluster.replica(index).name, start, None, why)
        return self.record

    async def heal(self, ctx: FaultContext) -> None:
        for index in self.targets:
            await self.undo(ctx, index)
        if self.record is not None and self.record.end is None:
            self.record.end = ctx.now()

    async def apply(self, ctx: FaultContext, index: int) -> None:
        raise NotImplementedError

    async def undo(self, ctx: FaultContext, index: int) -> None:
        raise NotImplementedError


@dataclass
class Kill(Fault):
    """SIGKILL a replica; heal starts it again (same data directory)."""

    kind: str = "kill"

    async def apply(self, ctx: FaultContext, index: int) -> None:
        await ctx.cluster.kill(index)

    async def undo(self, ctx: FaultContext, index: int) -> None:
        ctx.cluster.start_replica(index)


@dataclass
class Pause(Fault):
    """SIGSTOP a replica (a stale leader waking up later); heal sends SIGCONT."""

    kind: str = "pause"

    async def apply(self, ctx: FaultContext, index: int) -> None:
        ctx.cluster.pause(index)

    async def undo(self, ctx: FaultContext, index: int) -> None:
        ctx.cluster.resume(index)


@dataclass
class Partition(Fault):
    """Cut a replica off from the other two (the runner still reaches it); heal removes the rules."""

    kind: str = "partition"

    async def apply(self, ctx: FaultContext, index: int) -> None:
        await asyncio.to_thread(ctx.cluster.net.partition, index)

    async def undo(self, ctx: FaultContext, index: int) -> None:
        await asyncio.to_thread(ctx.cluster.net.heal, index)


@dataclass
class SlowNet(Fault):
    """Rate-limit what a replica sends (tbf; netem is not available on this kernel)."""

    kind: str = "slow-net"
    rate: str = "256kbit"
    takes_out: bool = False

    async def apply(self, ctx: FaultContext, index: int) -> None:
        await asyncio.to_thread(ctx.cluster.net.rate_limit, index, self.rate)

    async def undo(self, ctx: FaultContext, index: int) -> None:
        await asyncio.to_thread(ctx.cluster.net.clear_rate_limit, index)


@dataclass
class SlowReplica(Fault):
    """A slow replica (stand-in for a slow disk): stopped `stopped` of every `period` seconds."""

    kind: str = "slow-replica"
    stopped: float = 0.08
    period: float = 0.1
    takes_out: bool = False
    _task: asyncio.Task[None] | None = None

    async def apply(self, ctx: FaultContext, index: int) -> None:
        self._task = asyncio.create_task(self._cycle(ctx.cluster, index))

    async def _cycle(self, cluster: ChaosCluster, index: int) -> None:
        for _ in range(10_000_000):  # ends when cancelled by heal
            cluster.pause(index)
            try:
                await asyncio.sleep(self.stopped)
            finally:
                cluster.resume(index)
            await asyncio.sleep(self.period - self.stopped)

    async def undo(self, ctx: FaultContext, index: int) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        ctx.cluster.resume(index)


@dataclass
class KillMany(Fault):
    """SIGKILL `count` replicas at once (the leader first): 2 of 3 loses quorum; 3 of 3 is a full restart."""

    kind: str = "kill-quorum"
    count: int = 2
    target: Target = "leader"

    async def inject(self, ctx: FaultContext) -> FaultRecord:
        first, why = await self.resolve(ctx)
        others = [i for i in ctx.cluster.indexes if i != first]
        ctx.rng.shuffle(others)
        self.targets = [first, *others][: self.count]
        start = ctx.now()
        await asyncio.gather(*(ctx.cluster.kill(i) for i in self.targets))
        names = ",".join(ctx.cluster.replica(i).name for i in self.targets)
        self.record = FaultRecord(self.kind, names, start, None, f"first {why}".strip())
        return self.record

    async def undo(self, ctx: FaultContext, index: int) -> None:
        ctx.cluster.start_replica(index)


FAULTS: dict[str, Callable[[Target], Fault]] = {
    "kill": lambda t: Kill(t),
    "pause": lambda t: Pause(t),
    "partition": lambda t: Partition(t),
    "slow-net": lambda t: SlowNet(t),
    "slow-replica": lambda t: SlowReplica(t),
    "kill-quorum": lambda t: KillMany(t),
    "restart-all": lambda t: KillMany(t, kind="restart-all", count=3),
}


def make_fault(kind: str, target: Target = "random") -> Fault:
    """A fault by name (see FAULTS) aimed at `target`."""
    try:
        return FAULTS[kind](target)
    except KeyError:
        raise ValueError(f"unknown fault {kind!r}; known: {', '.join(sorted(FAULTS))}") from None
