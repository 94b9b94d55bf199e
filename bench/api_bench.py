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
import ssl
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import aiohttp

from raftkube.local.control_plane import LocalControlPlane

from . import api_load, api_profile, loadgen
from .measure import cpu_seconds, exit_on_sigterm, log, machine_busy_seconds, percentile

NS_CREATE, NS_GET, NS_SMALL, NS_BIG, NS_WATCH = "bench-create", "bench-get", "bench-list100", "bench-list10k", \
    "bench-watch"


@dataclass
class Options:
    duration: float = 5.0
    clients: tuple[int, ...] = (1, 16, 64)
    read_clients: int = 16
    small_list: int = 100
    big_list: int = 10_000
    bulk_concurrency: int = 64
    page: int = 500
    list_runs: int = 3
    watchers: int = 100
    watch_events: int = 200
    watch_warmup: int = 3
    interference_seconds: float = 20.0
    single: bool = True
    controllers: bool = False
    profile_dir: str | None = None
    profile_seconds: float = 5.0


@dataclass
class Row:
    figure: str
    clients: int
    where: str
    result: loadgen.WrkResult
    cpu: str
    term_bumps: int
    cpu_ms: tuple[float, float]  # replica CPU ms per request: all replicas, the busiest one


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    single_rows: list[Row] = field(default_factory=list)
    big: list[tuple[str, str]] = field(default_factory=list)
    watch: list[tuple[str, str]] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    foreign_cpu: list[float] = field(default_factory=list)


# ------------------------------------------------------------------ helpers
def memory_kib(pid: int | None, key: str) -> int:
    """VmRSS / VmHWM of a process in KiB (0 if gone)."""
    if pid is None:
        return 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Plane:
    """A started control plane plus what the steps need: pids, leader, roles, token."""

    def __init__(self, base_dir: str, size: int, controllers: bool) -> None:
        self.cp = LocalControlPlane(base_dir, size=size, controllers=controllers)
        self.leader = 0
        self.ssl: ssl.SSLContext | None = None

    def start(self) -> None:
        ca = self.cp.ca_file  # written before the servers start
        self.ssl = ssl.create_default_context(cafile=ca) if ca else None
        self.cp.start(timeout=60)
        self.wait_api()
        self.leader = self.cp.leader_index()

    def close(self) -> None:
        self.cp.close()

    @property
    def token(self) -> str:
        return self.cp.token

    @property
    def urls(self) -> list[str]:
        return self.cp.api_urls

    @property
    def size(self) -> int:
        return len(self.cp.replicas)

    def pids(self) -> list[int | None]:
        return [r.process.pid if r.process is not None and r.running else None for r in self.cp.replicas]

    def refresh_leader(self) -> None:
        self.leader = self.cp.leader_index(timeout=30)

    def term(self) -> int:
        """The highest Raft term any running replica reports (each election bumps it at least once)."""
        terms = [int(s["term"]) for i in range(self.size) if (s := self.cp.status(i, timeout=2.0))]
        return max(terms, default=0)

    def follower(self) -> int:
        return (self.leader + 1) % self.size

    def role(self, i: int) -> str:
        return "leader" if i == self.leader else "follower"

    def wait_api(self, timeout: float = 60.0) -> None:
        """Until every replica answers GET namespaces/default (the server bootstraps it after the store is up)."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        for url in self.urls:
            while True:
                request = urllib.request.Request(url + "/api/v1/namespaces/default",
                                                 headers=api_load.auth_headers(self.token))
                try:
                    with urllib.request.urlopen(request, timeout=2, context=self.ssl) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"API at {url} not ready within {timeout} s")
                time.sleep(0.1)


def call(plane: Plane, method: str, path: str, body: object | None = None, i: int = 0) -> dict[str, object]:
    """One JSON request (set-up only, not timed)."""
    async def go() -> dict[str, object]:
        async with aiohttp.ClientSession(connector=api_load.connector(plane.ssl)) as session, session.request(
                method, plane.urls[i] + path, json=body, headers=api_load.auth_headers(plane.token),
                timeout=aiohttp.ClientTimeout(total=30)) as response:
            data = await response.json(content_type=None)
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {data}")
            return data  # type: ignore[no-any-return]
    return asyncio.run(go())


def create_namespace(plane: Plane, name: str) -> None:
    call(plane, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


# ----------------------------------------------------------------- wrk steps
@dataclass
class Step:
    result: loadgen.WrkResult
    member_cpu: list[float]
    wrk_cpu: float
    foreign_cpu: float
    term_bumps: int


def run_step(plane: Plane, indexes: list[int], scripts: list[str], scratch: str, clients: int,
             duration: float) -> Step:
    """`clients` wrk connections split over the replicas `indexes` (one wrk each, at once, merged)."""
    plane.refresh_leader()
    term_before = plane.term()
    pids = plane.pids()
    members_before = [cpu_seconds(p) for p in pids]
    machine_before = machine_busy_seconds()
    me_before = os.times()
    started = time.monotonic()
    shares = [clients // len(indexes) + (1 if k < clients % len(indexes) else 0) for k in range(len(indexes))]
    work = [(plane.urls[i], scripts[k], shares[k]) for k, i in enumerate(indexes) if shares[k] > 0]
    with ThreadPoolExecutor(len(work)) as pool:
        runs = list(pool.map(lambda w: api_load.run_wrk(w[0], w[1], scratch, w[2], duration), work))
    result = runs[0] if len(runs) == 1 else loadgen.merge(runs)
    elapsed = time.monotonic() - started
    me_after = os.times()
    members = [100 * (cpu_seconds(p) - b) / elapsed for p, b in zip(pids, members_before, strict=True)]
    machine = 100 * (machine_busy_seconds() - machine_before) / elapsed
    me = 100 * ((me_after.user - me_before.user) + (me_after.system - me_before.system)) / elapsed
    wrk = 100 * result.wrk_cpu_s / elapsed
    return Step(result, members, wrk, max(0.0, machine - sum(members) - wrk - me), plane.term() - term_before)


def cpu_text(plane: Plane, step: Step) -> str:
    parts = [f"{'L' if i == plane.leader else 'F'} {c:.0f}" for i, c in enumerate(step.member_cpu)]
    return " / ".join(parts) + f"; wrk {step.wrk_cpu:.0f}; other {step.foreign_cpu:.0f}"


def record(plane: Plane, report: Report, rows: list[Row], figure: str, clients: int, where: str,
           step: Step) -> None:
    r = step.result
    rate = r.ok_rate if r.ok_rate > 0 else float("nan")
    cpu_ms = (10 * sum(step.member_cpu) / rate, 10 * max(step.member_cpu) / rate)
    rows.append(Row(figure, clients, where, r, cpu_text(plane, step), step.term_bumps, cpu_ms))
    report.foreign_cpu.append(step.foreign_cpu)
    if r.errors:
        report.notes.append(f"{figure}, {clients} clients ({where}): {r.errors} failed requests of {r.requests}")
    if step.term_bumps:
        report.notes.append(f"{figure}, {clients} clients ({where}): the Raft term went up by {step.term_bumps} "
                            f"(leader elections) during the step")
    log(f"{figure} c={clients} {where}: {r.ok_rate:.0f}/s p50 {r.p50_ms:.2f} p99 {r.p99_ms:.2f} ms; "
        f"CPU % {cpu_text(plane, step)}; term +{step.term_bumps}")


def placements(plane: Plane, clients: int) -> list[tuple[str, list[int]]]:
    """Where `clients` connections go: one client on the leader and on a follower, or spread over all."""
    if clients == 1 and plane.size > 1:
        return [("leader", [plane.leader]), ("follower", [plane.follower()])]
    if plane.size == 1:
        return [("the only replica", [0])]
    return [(f"spread over {plane.size}", list(range(plane.size)))]


def bench_creates(plane: Plane, opts: Options, scratch: str, report: Report, rows: list[Row]) -> None:
    idx = list(range(plane.size))
    warm = [api_load.create_pods_script(NS_CREATE, f"warm{i}", plane.token) for i in idx]
    run_step(plane, idx, warm, scratch, 16, 1.0)  # warm-up, not counted
    for n, clients in enumerate(opts.clients):
        for k, (where, indexes) in enumerate(placements(plane, clients)):
            scripts = [api_load.create_pods_script(NS_CREATE, f"c{n}{k}r{i}", plane.token) for i in indexes]
            record(plane, report, rows, "CREATE pod", clients, where,
                   run_step(plane, indexes, scripts, scratch, clients, opts.duration))


def bench_reads(plane: Plane, opts: Options, scratch: str, report: Report) -> None:
    call(plane, "POST", f"/api/v1/namespaces/{NS_GET}/pods", api_load.pod_manifest("target"))
    get_path = f"/api/v1/namespaces/{NS_GET}/pods/target"
    list_path = f"/api/v1/namespaces/{NS_SMALL}/pods"
    cases = [("GET pod", get_path, ""), ("GET pod", get_path, "0"),
             (f"LIST {opts.small_list} pods", list_path, ""), (f"LIST {opts.small_list} pods", list_path, "0")]
    for figure, path, rv in cases:
        full = path + (f"?resourceVersion={rv}" if rv else "")
        label = f"{figure}, {'resourceVersion=0' if rv else 'linearizable'}"
        script = api_load.get_script(full, plane.token)
        run_step(plane, list(range(plane.size)), [script] * plane.size, scratch, 3, 1.0)  # warm-up
        for clients in (1, opts.read_clients):
            for where, indexes in placements(plane, clients):
                if clients == 1 and (rv or figure.startswith("LIST")) and where == "leader":
                    continue  # leader vs follower matters for linearizable GETs; the rest: one client on a follower
                record(plane, report, report.rows, label, clients, where,
                       run_step(plane, indexes, [script] * len(indexes), scratch, clients, opts.duration))


# --------------------------------------------------------------- big list
def roles_text(plane: Plane, values: list[float]) -> str:
    return " / ".join(f"{'L' if i == plane.leader else 'F'} {v:.0f}" for i, v in enumerate(values))


def bench_big_list(plane: Plane, opts: Options, report: Report) -> None:
    names = [f"big-{i:05d}" for i in range(opts.big_list)]
    plane.refresh_leader()
    term_before = plane.term()
    pids = plane.pids()
    before = [cpu_seconds(p) for p in pids]
    machine_before = machine_busy_seconds()
    me_before = os.times()
    bulk = asyncio.run(api_load.bulk_create_pods(plane.urls, plane.token, NS_BIG, names, opts.bulk_concurrency,
                                                 plane.ssl))
    me_after = os.times()
    members = [100 * (cpu_seconds(p) - b) / bulk.seconds for p, b in zip(pids, before, strict=True)]
    me = 100 * ((me_after.user - me_before.user) + (me_after.system - me_before.system)) / bulk.seconds
    other = max(0.0, 100 * (machine_busy_seconds() - machine_before) / bulk.seconds - sum(members) - me)
    report.foreign_cpu.append(other)
    bumps = plane.term() - term_before
    per_create = 10 * sum(members) * bulk.seconds / max(bulk.created, 1)
    cpu = f"{roles_text(plane, members)}; client {me:.0f}; other {other:.0f}; replica CPU {per_create:.1f} ms/create"
    log(f"bulk create {bulk.created} pods in {bulk.seconds:.1f} s ({bulk.created / bulk.seconds:.0f}/s); "
        f"CPU % {cpu}; term +{bumps}")
    report.big.append((f"create {opts.big_list:,} pods ({opts.bulk_concurrency} in flight, aiohttp, spread "
                       f"over {plane.size})",
                       f"{bulk.seconds:.1f} s = {bulk.created / bulk.seconds:.0f} creates/s (CPU % {cpu}; "
                       f"elections {bumps})"))
    if bulk.failed or bulk.retried:
        report.notes.append(f"bulk create: {bulk.failed} failed, {bulk.retried} retried")
    plane.refresh_leader()
    where = plane.follower()
    url = plane.urls[where]
    path = f"/api/v1/namespaces/{NS_BIG}/pods"
    pid = pids[where]
    role = plane.role(where)

    async def whole(session: aiohttp.ClientSession, rv: str, label: str) -> None:
        times: list[float] = []
        size = count = failures = 0
        term0 = await asyncio.to_thread(plane.term)
        cpu_before = cpu_seconds(pid)
        for _ in range(opts.list_runs):
            got, failed = await api_load.fetch_retrying(session, url + path + (f"?resourceVersion={rv}" if rv else ""),
                                                        plane.token)
            failures += failed
            times.append(got.seconds)
            size = got.size
            count = len(json.loads(got.body)["items"])
        server_cpu = cpu_seconds(pid) - cpu_before
        bumps = await asyncio.to_thread(plane.term) - term0
        log(f"LIST {count} pods unpaginated {label}: {[round(t * 1000) for t in times]} ms, {size} bytes; "
            f"term +{bumps}, {failures} failed tries")
        report.big.append((f"LIST {count:,} pods, one response, {label} (on a {role}; {opts.list_runs} runs)",
                           f"median {statistics.median(times) * 1000:.0f} ms (runs: "
                           f"{', '.join(f'{t * 1000:.0f}' for t in times)} ms); {size / 1e6:.1f} MB "
                           f"({size / max(count, 1):.0f} B/pod); replica CPU "
                           f"{server_cpu / opts.list_runs * 1000:.0f} ms per list; elections {bumps}"
                           + (f"; {failures} tries failed (503) and were repeated" if failures else "")))

    async def paged(session: aiohttp.ClientSession) -> None:
        walls: list[float] = []
        fetch_sums: list[float] = []
        pages = size = count = failures = 0
        term0 = await asyncio.to_thread(plane.term)
        for _ in range(opts.list_runs):
            token, pages, size, count, fetch_sum = "", 0, 0, 0, 0.0
            started = time.perf_counter()
            for _page in range(opts.big_list // opts.page + 10):
                query = f"?limit={opts.page}" + (f"&continue={token}" if token else "")
                got, failed = await api_load.fetch_retrying(session, url + path + query, plane.token)
                failures += failed
                fetch_sum += got.seconds
                body = json.loads(got.body)
                pages, size, count = pages + 1, size + got.size, count + len(body["items"])
                token = body["metadata"].get("continue", "")
                if not token:
                    break
            walls.append(time.perf_counter() - started)
            fetch_sums.append(fetch_sum)
        bumps = await asyncio.to_thread(plane.term) - term0
        log(f"LIST {count} pods in {pages} pages: {[round(t * 1000) for t in fetch_sums]} ms; term +{bumps}")
        report.big.append((f"LIST {count:,} pods, limit={opts.page} following continue ({pages} pages, on a "
                           f"{role}; {opts.list_runs} runs)",
                           f"median {statistics.median(fetch_sums) * 1000:.0f} ms in requests "
                           f"({statistics.median(fetch_sums) * 1000 / max(pages, 1):.0f} ms per page), "
                           f"{statistics.median(walls) * 1000:.0f} ms with client JSON parsing; "
                           f"{size / 1e6:.1f} MB in all; elections {bumps}"
                           + (f"; {failures} tries failed (503) and were repeated" if failures else "")))

    async def interference(session: aiohttp.ClientSession, seconds: float) -> None:
        """One client lists all pods back to back on a follower; another creates a pod every 20 ms on the leader."""
        await asyncio.to_thread(plane.refresh_leader)
        lister, writer = plane.follower(), plane.leader
        term0 = await asyncio.to_thread(plane.term)
        until = time.monotonic() + seconds
        lists = list_failures = 0
        latencies: list[float] = []
        failed = 0
        headers = {**api_load.auth_headers(plane.token), "Content-Type": "application/json"}

        async def lister_loop() -> None:
            nonlocal lists, list_failures
            while time.monotonic() < until and lists < 1000:
                try:
                    await api_load.fetch(session, plane.urls[lister] + path, plane.token)
                    lists += 1
                except (RuntimeError, aiohttp.ClientError, TimeoutError):
                    list_failures += 1
                    await asyncio.sleep(0.5)

        async def writer_loop() -> None:
            nonlocal failed
            for n in range(100_000):
                if time.monotonic() >= until:
                    return
                body = json.dumps(api_load.pod_manifest(f"during-list-{n:06d}"))
                t0 = time.perf_counter()
                try:
                    async with session.post(plane.urls[writer] + f"/api/v1/namespaces/{NS_CREATE}/pods", data=body,
                                            headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as r:
                        await r.read()
                        if r.status == 201:
                            latencies.append((time.perf_counter() - t0) * 1000)
                        else:
                            failed += 1
                except (aiohttp.ClientError, TimeoutError):
                    failed += 1
                await asyncio.sleep(max(0.0, 0.02 - (time.perf_counter() - t0)))

        await asyncio.gather(lister_loop(), writer_loop())
        bumps = await asyncio.to_thread(plane.term) - term0
        log(f"interference: {lists} lists, creates p50 {percentile(latencies, 50):.0f} p99 "
            f"{percentile(latencies, 99):.0f} max {max(latencies, default=0):.0f} ms, {failed} failed; "
            f"term +{bumps}")
        report.big.append((f"one client listing all {opts.big_list:,} pods back to back on a follower for "
                           f"{seconds:.0f} s, while another creates a pod every 20 ms on the leader",
                           f"{lists} lists ({list_failures} failed); creates: {len(latencies)} ok, p50 "
                           f"{percentile(latencies, 50):.0f} · p99 {percentile(latencies, 99):.0f} · max "
                           f"{max(latencies, default=float('nan')):.0f} ms, {failed} failed; "
                           f"elections {bumps}"))

    async def lists() -> None:
        async with aiohttp.ClientSession(connector=api_load.connector(plane.ssl)) as session:
            await paged(session)  # first: the unpaginated lists below disturb the cluster
            for rv, label in (("", "linearizable"), ("0", "resourceVersion=0")):
                await whole(session, rv, label)
            await interference(session, opts.interference_seconds)

    asyncio.run(lists())
    report.big.append(("replica memory after the lists (RSS / peak)",
                       " · ".join(f"{'L' if i == plane.leader else 'F'} {memory_kib(p, 'VmRSS') // 1024} / "
                                  f"{memory_kib(p, 'VmHWM') // 1024} MiB" for i, p in enumerate(pids))))


# --------------------------------------------------------------- watch fan-out
async def watch_fanout(plane: Plane, opts: Options, report: Report) -> None:
    await asyncio.to_thread(plane.refresh_leader)
    name = "fanout"
    base = f"/api/v1/namespaces/{NS_WATCH}/configmaps"
    total = opts.watch_warmup + opts.watch_events
    counts: Counter[int] = Counter()
    done: dict[int, asyncio.Event] = {}

    def on_seq(seq: int) -> None:
        counts[seq] += 1
        if counts[seq] >= opts.watchers and seq in done:
            done[seq].set()

    headers = {**api_load.auth_headers(plane.token), "Content-Type": "application/json"}
    streams: list[api_load.WatchStream] = []
    placed: list[int] = []
    async with aiohttp.ClientSession(connector=api_load.connector(plane.ssl)) as session:
        async with session.post(plane.urls[0] + base, headers=headers, timeout=aiohttp.ClientTimeout(total=30),
                                json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                                      "data": {"seq": "0"}}) as response:
            created = await response.json()
            if response.status != 201:
                raise RuntimeError(f"create ConfigMap: {response.status} {created}")
        rv = created["metadata"]["resourceVersion"]
        try:
            for i in range(opts.watchers):
                placed.append(i % plane.size)
                streams.append(await api_load.open_watch(plane.urls[i % plane.size],
                                                         f"{base}?watch=1&resourceVersion={rv}", plane.token,
                                                         on_seq, plane.ssl))
            for _ in range(1000):  # at most 10 s for every stream's response headers
                if all(s.status for s in streams):
                    break
                await asyncio.sleep(0.01)
            sent: dict[int, float] = {}
            acks: list[float] = []
            term0 = await asyncio.to_thread(plane.term)
            pids = plane.pids()
            cpu_before = [cpu_seconds(p) for p in pids]
            me_before = os.times()
            started = time.perf_counter()
            disturbed: set[int] = set()

            async def write(seq: int) -> tuple[float, float]:
                """PUT seq (compare-and-swap on rv); (time just before the write that went through, ack ms).

                A failed try (503 during an election, timeout) is repeated after re-reading the ConfigMap
                (the write may have gone through); such updates are left out of the figures.
                """
                nonlocal rv
                url = plane.urls[seq % plane.size] + f"{base}/{name}"
                for _attempt in range(20):
                    body = {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": name, "namespace": NS_WATCH, "resourceVersion": rv},
                            "data": {"seq": str(seq)}}
                    t0 = time.perf_counter()
                    try:
                        async with session.put(url, data=json.dumps(body), headers=headers,
                                               timeout=aiohttp.ClientTimeout(total=10)) as response:
                            answer = await response.json(content_type=None)
                            ack = (time.perf_counter() - t0) * 1000
                            if response.status == 200:
                                rv = answer["metadata"]["resourceVersion"]
                                return t0, ack
                    except (aiohttp.ClientError, TimeoutError, ValueError):
                        pass
                    disturbed.add(seq)
                    await asyncio.sleep(0.5)
                    try:
                        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as r:
                            current = await r.json(content_type=None)
                            if r.status == 200:
                                rv = current["metadata"]["resourceVersion"]
                                if current.get("data", {}).get("seq") == str(seq):
                                    return t0, float("nan")
                    except (aiohttp.ClientError, TimeoutError, ValueError):
                        pass
                raise RuntimeError(f"could not update the ConfigMap to seq {seq} in 20 tries")

            for seq in range(1, total + 1):
                done[seq] = asyncio.Event()
                sent[seq], ack = await write(seq)
                if seq > opts.watch_warmup and seq not in disturbed:
                    acks.append(ack)
                try:
                    await asyncio.wait_for(done[seq].wait(), 5.0)
                except TimeoutError:
                    pass
            elapsed = time.perf_counter() - started
            me_after = os.times()
            cpu = [100 * (cpu_seconds(p) - b) / elapsed for p, b in zip(pids, cpu_before, strict=True)]
            me = 100 * ((me_after.user - me_before.user) + (me_after.system - me_before.system)) / elapsed
            bumps = await asyncio.to_thread(plane.term) - term0
        finally:
            for s in streams:
                s.close()
    measured = [seq for seq in range(opts.watch_warmup + 1, total + 1) if seq not in disturbed]
    all_lat: list[float] = []
    by_role: dict[str, list[float]] = {"leader": [], "follower": []}
    missed = 0
    for s, i in zip(streams, placed, strict=True):
        for seq in measured:
            if seq in s.seen:
                lat = (s.seen[seq] - sent[seq]) * 1000
                all_lat.append(lat)
                by_role[plane.role(i)].append(lat)
            else:
                missed += 1
    errors = [e for s in streams for e in s.errors]
    per_role = {r: sum(1 for i in placed if plane.role(i) == r) for r in by_role}

    def fig(values: list[float]) -> str:
        return (f"p50 {percentile(values, 50):.1f} · p99 {percentile(values, 99):.1f} · "
                f"max {max(values, default=float('nan')):.1f} ms")

    log(f"watch fan-out: {fig(all_lat)} (n={len(all_lat)}, missed {missed}, errors {len(errors)})")
    report.watch += [
        (f"update → event at each of {opts.watchers} watchers, all ({len(all_lat):,} deliveries)", fig(all_lat)),
        *[(f"… watchers on the {r} ({per_role[r]})", fig(v)) for r, v in by_role.items() if v],
        ("the update itself (PUT ack, writer round-robin over the replicas)",
         f"p50 {percentile(acks, 50):.1f} · p99 {percentile(acks, 99):.1f} ms"),
        ("updates / left out (a try failed, e.g. 503 in an election) / missed deliveries / stream errors",
         f"{opts.watch_events} / {len(disturbed)} / {missed} / {len(errors)}"),
        ("CPU % during the updates; elections", f"{roles_text(plane, cpu)}; client {me:.0f}; elections {bumps}"),
    ]
    if errors:
        report.notes.append(f"watch stream errors: {errors[:3]}")


# ------------------------------------------------------------------ profiles
def bench_profiles(plane: Plane, opts: Options, scratch: str, report: Report) -> None:
    """py-spy on the leader and a follower while 64 clients create pods; on a follower while it lists 10k pods."""
    assert opts.profile_dir is not None
    if not api_profile.available():
        report.notes.append(f"no py-spy at {api_profile.PY_SPY}: profiles skipped")
        return
    seconds = opts.profile_seconds
    plane.refresh_leader()
    pids = plane.pids()
    idx = list(range(plane.size))
    clients = max(opts.clients)
    scripts = [api_load.create_pods_script(NS_CREATE, f"prof{i}", plane.token) for i in idx]
    targets = {f"{plane.role(i)}{i}": p for i, p in enumerate(pids) if p is not None and i in
               (plane.leader, plane.follower())}
    with ThreadPoolExecutor(1) as pool:
        spy = pool.submit(api_profile.record, targets, seconds, opts.profile_dir, "create")
        time.sleep(0.3)
        step = run_step(plane, idx, scripts, scratch, clients, seconds + 1.0)
        for name, gil, wall in spy.result():
            report.profiles.append(api_profile.summarize(
                gil, wall, f"{name}: {clients} clients creating pods ({step.result.ok_rate:.0f}/s while sampled; "
                           f"CPU % {cpu_text(plane, step)})", seconds))
    where = plane.follower()
    url = plane.urls[where] + f"/api/v1/namespaces/{NS_BIG}/pods"

    async def list_loop(until: float) -> int:
        n = 0
        async with aiohttp.ClientSession(connector=api_load.connector(plane.ssl)) as session:
            while time.monotonic() < until and n < 1000:
                await api_load.fetch_retrying(session, url, plane.token)
                n += 1
        return n

    pid = pids[where]
    if pid is None:
        return
    with ThreadPoolExecutor(1) as pool:
        spy = pool.submit(api_profile.record, {f"follower{where}": pid}, seconds, opts.profile_dir, "list")
        time.sleep(0.3)
        n = asyncio.run(list_loop(time.monotonic() + seconds + 1.0))
        for name, gil, wall in spy.result():
            report.profiles.append(api_profile.summarize(
                gil, wall, f"{name}: one client listing all {opts.big_list:,} pods over and over ({n} lists)",
                seconds))


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
