"""The API benchmark's pod CREATE and GET/LIST steps, and 10,000 pods listed whole and in pages
against a concurrent writer."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time

import aiohttp

from bench.api_bench_plane import (
    NS_BIG,
    NS_CREATE,
    NS_GET,
    NS_SMALL,
    Options,
    Plane,
    Report,
    Row,
    call,
    memory_kib,
    placements,
    record,
    run_step,
)

from . import api_load
from .measure import cpu_seconds, log, machine_busy_seconds, percentile


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
