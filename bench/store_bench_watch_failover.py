"""The store benchmark's watch event latency and the write gap after SIGKILL of the leader."""

from __future__ import annotations

import asyncio
import os
import statistics
import time

import aiohttp

from bench.store_bench_steps import (
    VALUE,
    Bench,
    Options,
    Results,
)

from .measure import log, percentile
from .targets import Target, settle


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
