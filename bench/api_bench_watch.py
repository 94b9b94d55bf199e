"""The API benchmark's watch fan-out (one ConfigMap update reaching 100 watchers) and the py-spy
profiles under create and list load."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import aiohttp

from bench.api_bench_lists import roles_text
from bench.api_bench_plane import (
    NS_BIG,
    NS_CREATE,
    NS_WATCH,
    Options,
    Plane,
    Report,
    cpu_text,
    run_step,
)

from . import api_load, api_profile
from .measure import cpu_seconds, log, percentile


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
