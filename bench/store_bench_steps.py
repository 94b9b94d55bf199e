"""The store benchmark's options, results and wrk steps: one step driven against raftkube and etcd in
turn, recorded as the median over the rounds."""

from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from . import loadgen
from .measure import cpu_seconds, log, machine_busy_seconds
from .targets import Target, put_once

VALUE = bytes((i * 7 + 13) % 256 for i in range(100))  # 100-byte value, the same for both systems
READ_KEY = b"/bench-read/key"


@dataclass
class Options:
    duration: float = 5.0
    watch_events: int = 300
    trials: int = 5
    write_interval: float = 0.005
    write_timeout: float = 1.0
    failover_before: float = 1.0
    failover_after: float = 1.5
    clients: tuple[int, ...] = (1, 16, 64)
    read_clients: int = 16
    rounds: int = 3
    puts_only: bool = False  # only the put steps: no reads, watch latency or failover


@dataclass
class Results:
    name: str
    settings: str = ""
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    foreign_cpu: list[float] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)  # figure -> one value per round
    cpu_rounds: list[str] = field(default_factory=list)  # CPU shares during the largest put step, per round
    group_commit: dict[int, list[str]] = field(default_factory=dict)  # clients -> "syncs/writes" per round

    def add(self, key: str, value: float) -> None:
        self.samples.setdefault(key, []).append(value)
        self.figures[key] = statistics.median(self.samples[key])


@dataclass
class Step:
    """One wrk run plus where the CPU went meanwhile (percent of one core)."""

    result: loadgen.WrkResult
    member_cpu: list[float]
    wrk_cpu: float
    foreign_cpu: float  # busy CPU of processes that are neither the cluster, wrk, nor this script


def run_step(target: Target, urls: list[str], scripts: list[str], scratch: str, clients: int,
             duration: float, bystanders: list[int | None]) -> Step:
    """`clients` connections split over `urls` (one wrk per url, run at once, results merged).

    `bystanders` are the other benchmark processes (the idle cluster): not counted as foreign.
    """
    pids = target.pids()
    bystanders_before = [cpu_seconds(p) for p in bystanders]
    members_before = [cpu_seconds(p) for p in pids]
    machine_before = machine_busy_seconds()
    me_before = os.times()
    started = time.monotonic()
    shares = [clients // len(urls) + (1 if i < clients % len(urls) else 0) for i in range(len(urls))]
    with ThreadPoolExecutor(len(urls)) as pool:
        runs = list(pool.map(lambda i: loadgen.run_wrk(urls[i], scripts[i], scratch, shares[i], duration),
                             range(len(urls))))
    r = runs[0] if len(runs) == 1 else loadgen.merge(runs)
    elapsed = time.monotonic() - started
    me_after = os.times()
    members = [100 * (cpu_seconds(p) - b) / elapsed for p, b in zip(pids, members_before, strict=True)]
    machine = 100 * (machine_busy_seconds() - machine_before) / elapsed
    me = 100 * ((me_after.user - me_before.user) + (me_after.system - me_before.system)) / elapsed
    wrk = 100 * r.wrk_cpu_s / elapsed
    idle_cluster = sum(100 * (cpu_seconds(p) - b) / elapsed for p, b in zip(bystanders, bystanders_before,
                                                                             strict=True))
    return Step(r, members, wrk, max(0.0, machine - sum(members) - wrk - me - idle_cluster))


def record(res: Results, key: str, step: Step) -> None:
    r = step.result
    res.add(f"{key} rate", r.ok_rate)
    res.add(f"{key} p50", r.p50_ms)
    res.add(f"{key} p99", r.p99_ms)
    res.foreign_cpu.append(step.foreign_cpu)
    if r.errors:
        res.notes.append(f"{key}: {r.errors} failed requests of {r.requests}")
    log(f"{res.name} {key}: {r.ok_rate:.0f}/s p50 {r.p50_ms:.2f} p99 {r.p99_ms:.2f} ms; CPU % members "
        f"{[round(c) for c in step.member_cpu]} wrk {step.wrk_cpu:.0f} others {step.foreign_cpu:.0f}")


# ------------------------------------------------------------------ wrk steps
@dataclass
class Bench:
    """One system under test and what has been measured on it."""

    target: Target
    res: Results
    leader: int = 0


@dataclass(frozen=True)
class WrkStep:
    key: str
    clients: int
    read: str = ""  # "", "linearizable" or "serializable"
    spread: bool = False


_prefixes = iter(range(36**4))


def fresh_prefix() -> str:
    """A new 4-character key prefix (and request-id prefix), so that every put writes a new key."""
    n, out = next(_prefixes), ""
    for _ in range(4):
        n, digit = divmod(n, 36)
        out += "0123456789abcdefghijklmnopqrstuvwxyz"[digit]
    return out


def wrk_steps(opts: Options) -> list[WrkStep]:
    top = max(opts.clients)
    puts = [*[WrkStep(f"put c={c}", c) for c in opts.clients], WrkStep(f"put c={top} spread", top, spread=True)]
    if opts.puts_only:
        return puts
    return [*puts,
            *[WrkStep(f"read {kind} c={c}", c, read=kind) for kind in ("linearizable", "serializable")
              for c in (1, opts.read_clients)]]


def warm_up(bench: Bench, scratch: str) -> None:
    target = bench.target
    url = target.endpoints[target.leader_index()]
    put_once(target, url, READ_KEY, VALUE)
    loadgen.run_wrk(url, target.put_script(fresh_prefix(), VALUE), scratch, 16, 1.0)
    loadgen.run_wrk(url, target.read_script(READ_KEY, False), scratch, 4, 1.0)


def run_wrk_step(bench: Bench, step: WrkStep, opts: Options, scratch: str, bystanders: list[int | None]) -> None:
    target, res = bench.target, bench.res
    leader = bench.leader = target.leader_index()
    urls = target.endpoints if step.spread else [target.endpoints[leader]]
    if step.read:
        scripts = [target.read_script(READ_KEY, step.read == "serializable")] * len(urls)
    else:
        scripts = [target.put_script(fresh_prefix(), VALUE) for _ in urls]
    before = target.status(leader)
    result = run_step(target, urls, scripts, scratch, step.clients, opts.duration, bystanders)
    after = target.status(leader)
    record(res, step.key, result)
    if step.key == f"put c={max(opts.clients)}":
        followers = [c for i, c in enumerate(result.member_cpu) if i != leader]
        res.cpu_rounds.append(f"leader {result.member_cpu[leader]:.0f}%, followers "
                              + "/".join(f"{c:.0f}%" for c in followers)
                              + f", wrk {result.wrk_cpu:.0f}%, others {result.foreign_cpu:.0f}%")
    if not step.read and not step.spread and before and after and "journal_syncs" in after:
        syncs = int(after["journal_syncs"]) - int(before["journal_syncs"])  # type: ignore[call-overload]
        writes = int(after["revision"]) - int(before["revision"])  # type: ignore[call-overload]
        if writes > 0:
            res.add(f"journal syncs per write c={step.clients}", syncs / writes)
            res.group_commit.setdefault(step.clients, []).append(f"{syncs}/{writes}")
        if "write_entries" in after and "write_entries" in before:
            entries = int(after["write_entries"]) - int(before["write_entries"])  # type: ignore[call-overload]
            commands = int(after["write_commands"]) - int(before["write_commands"])  # type: ignore[call-overload]
            if entries > 0:
                res.add(f"writes per log entry c={step.clients}", commands / entries)
