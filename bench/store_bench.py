"""Store benchmark: a 3-replica raftkube store against a 3-member etcd 3.4, same workload, one run.

    .venv/bin/python -m bench.store_bench [--duration 5] [--rounds 3] [--quick] [--no-etcd] [--puts-only]

Starts both clusters on 127.0.0.1 and drives them with the same load generator (wrk + Lua
for throughput and latency, aiohttp for watch latency and the failover writer), taking
turns step by step (A B, then B A) so that a busy neighbour on the machine hits both alike;
each wrk figure is the median over `--rounds`. Prints one table with the ratio
raftkube/etcd for every figure: puts/s and latency at 1/16/64 clients (and 64 spread over
all members), linearizable and serializable reads, watch event latency, the write gap after
SIGKILL of the leader, plus raftkube's journal syncs per write (group commit), each
member's CPU under the 64-client put load and the CPU other processes used meanwhile. It
never asserts on time; it prints figures. Every process it starts is killed on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import aiohttp

from . import loadgen
from .measure import cpu_seconds, exit_on_sigterm, log, machine_busy_seconds, percentile
from .targets import EtcdTarget, RaftkubeTarget, Target, put_once, settle

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


# --------------------------------------------------------------- watch latency
async def watch_latency(target: Target, opts: Options, watcher_index: int, writer_index: int,
                        tag: str) -> tuple[list[float], int]:
    """Put keys one at a time on `writer_index`; time from just before each put to its event arriving."""
    prefix = f"/bench-watch/{tag}/".encode()
    endpoints = target.endpoints
    received: dict[bytes, float] = {}
    arrived = asyncio.Event()
    latencies: list[float] = []
    missed = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def consume() -> None:
            async for now, key in target.watch(session, endpoints[watcher_index], prefix):
                received[key] = now
                arrived.set()

        consumer = asyncio.create_task(consume())
        try:
            await asyncio.sleep(0.3)  # let the watch be created
            for i in range(opts.watch_events):
                key = prefix + b"%06d" % i
                arrived.clear()
                sent = time.perf_counter()
                ok = await target.put(session, endpoints[writer_index], key, VALUE, os.urandom(16), 5.0)
                deadline = sent + 5.0
                while ok and key not in received and time.perf_counter() < deadline and not consumer.done():
                    arrived.clear()
                    try:
                        await asyncio.wait_for(arrived.wait(), max(0.001, deadline - time.perf_counter()))
                    except TimeoutError:
                        break
                if key in received:
                    latencies.append((received[key] - sent) * 1000)
                else:
                    missed += 1
        finally:
            consumer.cancel()
            try:
                await consumer
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - the stream is being torn down
                pass
    return latencies, missed


def bench_watch(bench: Bench, opts: Options) -> None:
    target, res = bench.target, bench.res
    leader = target.leader_index()
    follower = (leader + 1) % len(target.endpoints)
    for where, index in (("leader", leader), ("follower", follower)):
        latencies, missed = asyncio.run(watch_latency(target, opts, index, leader, f"{where}{time.time_ns()}"))
        key = f"watch on {where}"
        res.figures[f"{key} p50"] = percentile(latencies, 50)
        res.figures[f"{key} p99"] = percentile(latencies, 99)
        res.figures[f"{key} n"] = len(latencies)
        if missed:
            res.notes.append(f"{key}: {missed} events not seen within 5 s")
        log(f"{target.name} {key}: p50 {percentile(latencies, 50):.2f} p99 {percentile(latencies, 99):.2f} ms "
            f"(n={len(latencies)})")


# ----------------------------------------------------------------- failover
async def failover_trial(target: Target, opts: Options, client_on_leader: bool, trial: int) -> float | None:
    """Writes every `write_interval` s; SIGKILL the leader; longest gap between consecutive acks (s).

    None if no new term followed the kill (leadership had moved before it: the trial is void).
    """
    agreed = await asyncio.to_thread(settle, target)
    term_before = agreed[1]
    leader = await asyncio.to_thread(target.leader_index)
    endpoints = target.endpoints
    current = leader if client_on_leader else (leader + 1) % len(endpoints)
    acks: list[float] = []
    stop = asyncio.Event()
    recovered = asyncio.Event()
    killed_at = kill_started = float("inf")
    prefix = f"/bench-failover/{time.time_ns()}-{trial}/"

    async def writer(session: aiohttp.ClientSession) -> None:
        nonlocal current
        seq = 0
        next_at = time.perf_counter()
        give_up = next_at + opts.failover_before + 30.0
        while not stop.is_set() and time.perf_counter() < give_up:
            seq += 1
            rid = os.urandom(16)
            key = f"{prefix}{seq:08d}".encode()
            sent = time.perf_counter()
            if await target.put(session, endpoints[current], key, VALUE, rid, opts.write_timeout):
                acks.append(time.perf_counter())
                if sent > killed_at:  # sent after the kill: the cluster takes writes again
                    recovered.set()
            else:
                current = (current + 1) % len(endpoints)
            next_at += opts.write_interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                next_at = time.perf_counter()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        task = asyncio.create_task(writer(session))
        try:
            await asyncio.sleep(opts.failover_before)
            if await asyncio.to_thread(target.leader_term, leader) != agreed:
                return None  # leadership moved since settle(): not the kill we mean to measure
            kill_started = time.perf_counter()
            await asyncio.to_thread(target.kill, leader)
            killed_at = time.perf_counter()  # the process is reaped: a write sent from now on is a new leader's
            try:
                await asyncio.wait_for(recovered.wait(), 20.0)
            except TimeoutError:
                pass
            await asyncio.sleep(opts.failover_after)
        finally:
            stop.set()
            await task
    survivor = next(i for i in range(len(endpoints)) if i != leader)
    seen = await asyncio.to_thread(target.leader_term, survivor)
    await asyncio.to_thread(target.restart, leader)
    if seen is None or seen[1] <= term_before:
        return None
    after = [a for a in acks if a > killed_at]
    if not after:
        return float("inf")
    window = [a for a in acks if a >= kill_started - opts.failover_before / 2]
    return max(b - a for a, b in zip(window, window[1:], strict=False))


def failover_once(bench: Bench, opts: Options, client_on_leader: bool, attempt: int) -> None:
    """One leader kill with the client on the leader or a follower; void trials are tried again (bounded)."""
    target, res = bench.target, bench.res
    where = "leader" if client_on_leader else "follower"
    for retry in range(3):
        gap = asyncio.run(failover_trial(target, opts, client_on_leader, attempt * 10 + retry))
        if gap is not None:
            res.samples.setdefault(f"gaps {where}", []).append(gap)
            log(f"{target.name} write gap (client on {where}): {gap:.3f} s")
            return
        log(f"{target.name} failover trial void (leadership moved before the kill); again")
        res.notes.append(f"a failover trial (client on {where}) was void: leadership moved before the kill")


def summarize_gaps(res: Results) -> None:
    for where in ("leader", "follower"):
        gaps = res.samples.get(f"gaps {where}", [])
        if gaps:
            key = f"gap client on {where}"
            res.figures[f"{key} min"] = min(gaps)
            res.figures[f"{key} median"] = statistics.median(gaps)
            res.figures[f"{key} max"] = max(gaps)
            res.notes.append(f"write gaps, client on the {where} at kill time (s): "
                             + ", ".join(f"{g:.3f}" for g in gaps))


# ------------------------------------------------------------------- driver
def in_turn(benches: list[Bench], n: int) -> list[Bench]:
    """A B for even n, B A for odd n: neither system always goes first."""
    return benches if n % 2 == 0 else benches[::-1]


def run_all(benches: list[Bench], opts: Options, scratch: str) -> None:
    for bench in benches:
        log(f"starting {bench.target.name}")
        bench.target.start()
        bench.res.settings = bench.target.settings()
    for bench in benches:
        warm_up(bench, scratch)
    steps = wrk_steps(opts)
    turn = 0
    for round_no in range(opts.rounds):
        log(f"round {round_no + 1} of {opts.rounds}")
        for step in steps:
            for bench in in_turn(benches, turn):
                others = [p for b in benches if b is not bench for p in b.target.pids()]
                run_wrk_step(bench, step, opts, scratch, others)
            turn += 1
    if opts.puts_only:
        return
    for bench in in_turn(benches, turn):
        bench_watch(bench, opts)
    for trial in range(opts.trials):
        for client_on_leader in (True, False):
            turn += 1
            for bench in in_turn(benches, turn):
                failover_once(bench, opts, client_on_leader, trial)
    for bench in benches:
        summarize_gaps(bench.res)


ROWS: list[tuple[str, str, str]] = [
    # (figure key, label, format)
    *[(f"put c={c} rate", f"puts/s, {c} client{'s' if c > 1 else ''}", "{:.0f}") for c in (1, 16, 64)],
    *[(f"put c={c} p{p}", f"put p{p} ms, {c} client{'s' if c > 1 else ''}", "{:.2f}")
      for c in (1, 16, 64) for p in (50, 99)],
    ("put c=64 spread rate", "puts/s, 64 clients spread over the 3 members", "{:.0f}"),
    ("put c=64 spread p50", "put p50 ms, 64 clients spread over the 3 members", "{:.2f}"),
    ("put c=64 spread p99", "put p99 ms, 64 clients spread over the 3 members", "{:.2f}"),
    *[(f"read {k} c=1 p{p}", f"{k} read p{p} ms, 1 client", "{:.2f}")
      for k in ("linearizable", "serializable") for p in (50, 99)],
    *[(f"read {k} c=16 {m}", f"{k} read {'reads/s' if m == 'rate' else m + ' ms'}, 16 clients",
       "{:.0f}" if m == "rate" else "{:.2f}")
      for k in ("linearizable", "serializable") for m in ("rate", "p50", "p99")],
    *[(f"watch on {w} p{p}", f"watch event latency p{p} ms (watcher on {w})", "{:.2f}")
      for w in ("leader", "follower") for p in (50, 99)],
    *[(f"gap client on {w} {s}", f"write gap after leader SIGKILL, {s} s (client on {w})", "{:.3f}")
      for w in ("leader", "follower") for s in ("min", "median", "max")],
    *[(f"journal syncs per write c={c}", f"journal syncs per write on the leader, {c} client{'s' if c > 1 else ''}",
       "{:.3f}") for c in (1, 16, 64)],
    *[(f"writes per log entry c={c}", f"writes per log entry on the leader, {c} client{'s' if c > 1 else ''}",
       "{:.1f}") for c in (1, 16, 64)],
]


def render(results: list[Results]) -> str:
    rk = next((r for r in results if r.name == "raftkube"), None)
    ec = next((r for r in results if r.name == "etcd"), None)
    lines = ["| figure | raftkube | etcd | raftkube/etcd |", "|---|---:|---:|---:|"]
    for key, label, fmt in ROWS:
        a = rk.figures.get(key) if rk else None
        b = ec.figures.get(key) if ec else None
        if a is None and b is None:
            continue
        ratio = f"{a / b:.2f}" if a is not None and b not in (None, 0) and a == a and b == b else "–"
        lines.append(f"| {label} | {fmt.format(a) if a is not None else '–'} | "
                     f"{fmt.format(b) if b is not None else '–'} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per throughput/latency step")
    parser.add_argument("--quick", action="store_true", help="short smoke run (1 s steps, few events, 1 trial)")
    parser.add_argument("--no-etcd", action="store_true", help="benchmark raftkube only")
    parser.add_argument("--no-raftkube", action="store_true", help="benchmark etcd only")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the wrk steps (figures are medians)")
    parser.add_argument("--trials", type=int, default=5, help="leader kills per failover variant")
    parser.add_argument("--watch-events", type=int, default=300)
    parser.add_argument("--write-timeout", type=float, default=1.0, help="failover writer's per-request timeout")
    parser.add_argument("--puts-only", action="store_true", help="only the put steps (no reads, watch, failover)")
    parser.add_argument("--json", dest="json_path", default=None, help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    args = parser.parse_args(argv)
    opts = Options(duration=args.duration, watch_events=args.watch_events, trials=args.trials,
                   write_timeout=args.write_timeout, rounds=args.rounds, puts_only=args.puts_only)
    if args.quick:
        opts = Options(duration=1.0, watch_events=30, trials=1, write_timeout=args.write_timeout,
                       failover_before=0.5, failover_after=0.5, rounds=1, puts_only=args.puts_only)
    if not loadgen.wrk_available():
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    load_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    signal.signal(signal.SIGTERM, exit_on_sigterm)  # so that the finally blocks kill the clusters
    base = tempfile.mkdtemp(prefix="raftkube-store-bench-")
    benches: list[Bench] = []
    try:
        if not args.no_raftkube:
            benches.append(Bench(RaftkubeTarget(base), Results("raftkube")))
        if not args.no_etcd:
            if shutil.which("etcd") is None:
                print("etcd is not installed (apt-get install -y etcd-server etcd-client); skipping it",
                      file=sys.stderr)
            else:
                benches.append(Bench(EtcdTarget(base), Results("etcd")))
        run_all(benches, opts, base)
    finally:
        for bench in benches:
            bench.target.close()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    results = [b.res for b in benches]
    print(f"\nmachine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}, "
          f"load average at start {load_at_start}")
    print(f"workload: 100-byte values, distinct keys, wrk -t1 (puts/reads to the leader unless spread), "
          f"{opts.duration:g} s per step, median of {opts.rounds} round(s) taken in turns; watch: "
          f"{opts.watch_events} sequential puts to the leader; failover: writes every "
          f"{opts.write_interval * 1000:g} ms, {opts.trials} leader kills per variant, "
          f"per-request timeout {opts.write_timeout:g} s")
    for r in results:
        print(f"{r.name}: {r.settings}")
    print()
    print(render(results))
    print()
    for r in results:
        if r.cpu_rounds:
            print(f"{r.name}: CPU (% of one core) during puts from {max(opts.clients)} clients to the leader, "
                  f"per round: " + "; ".join(r.cpu_rounds))
        for c, rounds in r.group_commit.items():
            print(f"{r.name}: group commit at {c} client(s): leader journal syncs/writes per round: "
                  + ", ".join(rounds))
        for note in r.notes:
            print(f"{r.name}: {note}")
        if r.foreign_cpu:
            print(f"{r.name}: other processes on the machine during the wrk steps used mean "
                  f"{statistics.mean(r.foreign_cpu):.0f}% / max {max(r.foreign_cpu):.0f}% of one core "
                  f"(0 on a quiet machine; figures taken beside a busy neighbour are low)")
    if args.json_path:
        with open(args.json_path, "w") as f:
            json.dump({r.name: {"settings": r.settings, "figures": r.figures, "notes": r.notes,
                                "samples": r.samples, "foreign_cpu": r.foreign_cpu, "cpu": r.cpu_rounds}
                       for r in results},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
