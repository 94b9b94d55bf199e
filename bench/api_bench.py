"""API server benchmark: the Kubernetes REST API of a 3-replica raftkube control plane, one run.

    .venv/bin/python -m bench.api_bench [--duration 5] [--quick] [--profile DIR] [--no-single]
                                        [--controllers]

Starts `LocalControlPlane` (3 `raftkube server` processes on 127.0.0.1) in a temporary
directory and prints tables of: pod CREATE at 1/16/64 clients, GET (linearizable and
resourceVersion=0) and LIST of 100 pods (wrk + Lua, connections spread over the replicas);
creating 10,000 pods then listing them whole and in pages of 500, and what back-to-back
whole lists do to a concurrent writer (and to Raft leadership: elections are counted in
every step); the latency of one ConfigMap update reaching 100 watchers; and CREATE against
a 1-replica cluster. With
`--profile DIR` it also samples replicas with py-spy under create and list load and prints
where their time goes. It never asserts on time; it prints figures. Every process it starts
is killed on the way out.
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

from bench.api_bench_lists import bench_big_list, bench_creates, bench_reads
from bench.api_bench_plane import (
    NS_BIG,
    NS_CREATE,
    NS_GET,
    NS_SMALL,
    NS_WATCH,
    Options,
    Plane,
    Report,
    Row,
    create_namespace,
)
from bench.api_bench_watch import bench_profiles, watch_fanout

from . import api_load, loadgen
from .measure import exit_on_sigterm, log


# ------------------------------------------------------------------- driver
def run_three(opts: Options, base: str, report: Report) -> str:
    plane = Plane(os.path.join(base, "three"), 3, opts.controllers)
    log("starting a 3-replica control plane")
    try:
        plane.start()
        settings = f"3 replicas, leader s{plane.leader + 1}"
        for ns in (NS_CREATE, NS_GET, NS_SMALL, NS_BIG, NS_WATCH):
            create_namespace(plane, ns)
        names = [f"small-{i:04d}" for i in range(opts.small_list)]
        asyncio.run(api_load.bulk_create_pods(plane.urls, plane.token, NS_SMALL, names, 16, plane.ssl))
        bench_creates(plane, opts, base, report, report.rows)
        bench_reads(plane, opts, base, report)
        asyncio.run(watch_fanout(plane, opts, report))
        bench_big_list(plane, opts, report)
        if opts.profile_dir:
            bench_profiles(plane, opts, base, report)
        return settings
    finally:
        plane.close()


def run_single(opts: Options, base: str, report: Report) -> None:
    plane = Plane(os.path.join(base, "single"), 1, opts.controllers)
    log("starting a 1-replica control plane")
    try:
        plane.start()
        create_namespace(plane, NS_CREATE)
        bench_creates(plane, opts, base, report, report.single_rows)
    finally:
        plane.close()


def render_rows(rows: list[Row]) -> list[str]:
    lines = ["| request | clients | sent to | req/s | p50 ms | p99 ms | replica CPU ms/req: all; busiest "
             "| CPU % of a core: replicas (L/F); wrk; other | elections |",
             "|---|---:|---|---:|---:|---:|---|---|---:|"]
    for r in rows:
        lines.append(f"| {r.figure} | {r.clients} | {r.where} | {r.result.ok_rate:.0f} | {r.result.p50_ms:.1f} | "
                     f"{r.result.p99_ms:.1f} | {r.cpu_ms[0]:.2f}; {r.cpu_ms[1]:.2f} | {r.cpu} | {r.term_bumps} |")
    return lines


def render(report: Report) -> str:
    lines = ["#### Requests (wrk, one connection per client; 3-replica control plane)", ""]
    lines += render_rows(report.rows)
    if report.single_rows:
        lines += ["", "#### CREATE pod against a 1-replica control plane (no replication)", ""]
        lines += render_rows(report.single_rows)
        three = {r.clients: r for r in report.rows if r.figure == "CREATE pod" and r.where != "follower"}
        ratios = [f"{c} client{'s' if c > 1 else ''}: {three[c].result.ok_rate / r.result.ok_rate:.2f}× the rate, "
                  f"{three[c].result.p50_ms / r.result.p50_ms:.2f}× the p50"
                  for c, r in ((r.clients, r) for r in report.single_rows)
                  if c in three and r.result.ok_rate > 0 and r.result.p50_ms > 0]
        if ratios:
            lines += ["", "3 replicas vs 1, CREATE at the same client count (1 client: on the leader): "
                      + "; ".join(ratios)]
    if report.big:
        lines += ["", "#### Large lists", "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in report.big]
    if report.watch:
        lines += ["", "#### Watch fan-out", "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in report.watch]
    return "\n".join(lines)


def source_revision() -> str:
    """The git commit of the code under test, marked when the work tree differs from it."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no", "raftkube"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes in raftkube/' if dirty else ''}" if head else "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk step")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s steps, small lists, few watchers")
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--watch-events", type=int, default=200, help="ConfigMap updates in the fan-out step")
    parser.add_argument("--big-list", type=int, default=10_000, help="pods in the large list")
    parser.add_argument("--controllers", action="store_true",
                        help="run each replica's controller-manager and scheduler too (default: API and store only)")
    parser.add_argument("--no-single", action="store_true", help="skip the 1-replica CREATE comparison")
    parser.add_argument("--profile", dest="profile_dir", default=None,
                        help="sample replicas with py-spy under load and keep the raw profiles in this directory")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    args = parser.parse_args(argv)
    opts = Options(duration=args.duration, watchers=args.watchers, watch_events=args.watch_events,
                   interference_seconds=4 * args.duration,
                   big_list=args.big_list, single=not args.no_single, profile_dir=args.profile_dir,
                   controllers=args.controllers)
    if args.quick:
        opts = Options(duration=1.0, watchers=min(args.watchers, 12), watch_events=min(args.watch_events, 20),
                       big_list=min(args.big_list, 600), page=100, list_runs=1, single=not args.no_single,
                       profile_dir=args.profile_dir, profile_seconds=1.0, small_list=20,
                       interference_seconds=3.0, controllers=args.controllers)
    if not loadgen.wrk_available():
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    load_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    revision = source_revision()
    signal.signal(signal.SIGTERM, exit_on_sigterm)  # so that the finally blocks kill the replicas
    base = tempfile.mkdtemp(prefix="raftkube-api-bench-")
    report = Report()
    started = time.monotonic()
    try:
        settings = run_three(opts, base, report)
        if opts.single:
            run_single(opts, base, report)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    cpu_model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
                     "?")
    print(f"\nmachine: {os.cpu_count()} cores ({cpu_model}), {platform.platform()}, Python "
          f"{platform.python_version()}; load average at start {load_at_start}; run took "
          f"{time.monotonic() - started:.0f} s")
    print(f"code: {revision}; controller-manager/scheduler in the replicas: {'on' if opts.controllers else 'off'}")
    print(f"setup: {settings}; `raftkube server` processes on 127.0.0.1 "
          f"(HTTPS, bearer token); wrk -t1 per "
          f"replica, {opts.duration:g} s per step; pods are a {len(json.dumps(api_load.pod_manifest('x')))}-byte "
          f"manifest (1 container, port, env, resources, probe)")
    print()
    print(render(report))
    print()
    for note in report.notes:
        print(f"note: {note}")
    if report.foreign_cpu:
        print(f"note: other processes on the machine used mean {statistics.mean(report.foreign_cpu):.0f}% / max "
              f"{max(report.foreign_cpu):.0f}% of one core during the steps (0 on a quiet machine)")
    for text in report.profiles:
        print()
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
