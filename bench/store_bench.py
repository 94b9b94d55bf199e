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
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile

from bench.store_bench_steps import (
    Bench,
    Options,
    Results,
    run_wrk_step,
    warm_up,
    wrk_steps,
)
from bench.store_bench_watch_failover import bench_watch, failover_once, summarize_gaps

from . import loadgen
from .measure import exit_on_sigterm, log
from .targets import EtcdTarget, RaftkubeTarget


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
