"""The API benchmark's options, report rows and control plane (`LocalControlPlane` with the replicas'
memory and CPU), and its wrk steps."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import aiohttp

from raftkube.local.control_plane import LocalControlPlane

from . import api_load, loadgen
from .measure import cpu_seconds, log, machine_busy_seconds

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
