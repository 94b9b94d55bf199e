"""Named scenarios: each a schedule of faults (when, what, aimed at whom, for how long) over a run.

Times scale with the run's duration so that the same scenario works for a 15 s CI run and a
10-minute run by hand; every fault is healed by 85 % of the duration, leaving time to recover
before the final reads. `schedule(name, duration, rng)` builds one; `Step.describe` prints it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from chaos.faults import Target

MENU = ("kill", "pause", "partition", "slow-net", "slow-replica")


@dataclass(frozen=True)
class Step:
    """Inject fault `kind` on `target` at `at` seconds; heal it `length` seconds later."""

    at: float
    kind: str
    target: Target
    length: float

    def describe(self) -> str:
        return f"{self.at:6.1f}s  {self.kind:<13} {self.target!s:<10} for {self.length:.1f}s"


@dataclass(frozen=True)
class Scenario:
    name: str
    about: str
    build: Callable[[float, random.Random], list[Step]]
    controllers: bool = True
    api: bool = True
    deployment: bool = False


def _repeat(kind: str, target: Target, count: int, length: float) -> Callable[[float, random.Random], list[Step]]:
    """`count` faults spread evenly over [15 %, 85 %] of the run, each `length` (capped to fit) long."""
    def build(duration: float, rng: random.Random) -> list[Step]:
        slot = 0.7 * duration / count
        span = min(length, 0.6 * slot)
        return [Step(round(0.15 * duration + i * slot, 2), kind, target, round(span, 2)) for i in range(count)]
    return build


def _quorum_loss(duration: float, rng: random.Random) -> list[Step]:
    return [Step(round(0.25 * duration, 2), "kill-quorum", "leader", round(max(2.0, 0.25 * duration), 2))]


def _restart_all(duration: float, rng: random.Random) -> list[Step]:
    return [Step(round(0.3 * duration, 2), "restart-all", "leader", 1.0)]


def _slow(duration: float, rng: random.Random) -> list[Step]:
    return [Step(round(0.15 * duration, 2), "slow-net", "leader", round(0.3 * duration, 2)),
            Step(round(0.5 * duration, 2), "slow-replica", "random", round(0.3 * duration, 2))]


def _mixed(duration: float, rng: random.Random) -> list[Step]:
    """A seeded random sequence of faults (one at a time) from the whole menu."""
    kinds = [*MENU, "kill", "partition", "pause"]
    steps: list[Step] = []
    at = 0.1 * duration
    for _ in range(100):
        length = rng.uniform(1.0, 4.0)
        if at + length > 0.85 * duration:
            break
        steps.append(Step(round(at, 2), rng.choice(kinds), rng.choice(["leader", "random", "controller"]),
                          round(length, 2)))
        at += length + rng.uniform(1.0, 3.0)
    return steps


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("leader-kill", "SIGKILL the Raft leader twice; restart it after a while",
             _repeat("kill", "leader", 2, 4.0)),
    Scenario("random-kill", "SIGKILL a random replica three times; restart it after a while",
             _repeat("kill", "random", 3, 3.0)),
    Scenario("pause-leader", "SIGSTOP the Raft leader past its election timeout and Lease, then SIGCONT "
             "(a stale leader waking up)", _repeat("pause", "leader", 2, 3.0)),
    Scenario("partition-one", "cut a random replica off from the other two, then heal",
             _repeat("partition", "random", 2, 4.0)),
    Scenario("isolate-leader", "cut the Raft leader off from the other two, then heal",
             _repeat("partition", "leader", 2, 4.0)),
    Scenario("quorum-loss", "SIGKILL two of three replicas (writes must fail cleanly), then bring them back",
             _quorum_loss),
    Scenario("restart-all", "SIGKILL all three replicas at once and restart them", _restart_all),
    Scenario("slow-replica", "rate-limit the leader's network (tbf), then stop a replica 80 % of every 100 ms "
             "(stand-in for a slow disk)", _slow),
    Scenario("controller-kill", "SIGKILL the replica holding the controller-manager Lease twice",
             _repeat("kill", "controller", 2, 4.0), deployment=True),
    Scenario("mixed", "a seeded random sequence of kills, pauses, partitions and slowdowns", _mixed,
             deployment=True),
]}


def get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None


def custom(steps: list[Step], name: str = "custom", controllers: bool = True, api: bool = True) -> Scenario:
    """A scenario with a fixed schedule (the property-based tests build these)."""
    return Scenario(name, "; ".join(s.describe().strip() for s in steps) or "no faults",
                    lambda duration, rng: list(steps), controllers=controllers, api=api)
