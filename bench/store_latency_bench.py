"""One client's latency, raftkube against etcd 3.4: where a put's time goes.

    .venv/bin/python -m bench.store_latency_bench [--ops 2000] [--readers 16] [--no-etcd]

Starts a 3-replica raftkube store and a 3-member etcd on 127.0.0.1 (as bench/store_bench does)
and drives each from one aiohttp client on one keep-alive connection to the leader: sequential
serializable reads (the HTTP round trip and the server's request handling, no Raft), sequential
linearizable reads (plus one heartbeat round to a majority: raftkube's ReadIndex, etcd's own),
and sequential puts (plus the log entry, the journal syncs and the apply). Then linearizable
reads from `--readers` concurrent clients (reads/s). The two systems take turns phase by phase.
Prints p50/p99 and ops/s per phase and the machine's load (`uptime`); never asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

import aiohttp

from .measure import exit_on_sigterm, log
from .targets import EtcdTarget, RaftkubeTarget, put_once

Op = Callable[[aiohttp.ClientSession, int], Awaitable[None]]
READ_KEY = b"/bench/latency-read-key"
VALUE = b"v" * 100


def raftkube_ops(target: RaftkubeTarget, url: str) -> dict[str, Op]:
    import msgpack

    headers = {"content-type": "application/msgpack", **target.cluster.store_headers}

    async def call(session: aiohttp.ClientSession, path: str, body: dict) -> None:
        async with session.post(url + path, data=msgpack.packb(body, use_bin_type=True), headers=headers) as r:
            await r.read()
            assert r.status == 200, r.status

    async def put(session: aiohttp.ClientSession, n: int) -> None:
        key = b"/bench/latency/%010d" % n
        await call(session, "/v1/execute", {"t": "txn", "rid": os.urandom(16), "cmp": [],
                                            "ok": [["put", key, VALUE, 0, False]], "fail": []})

    async def linearizable(session: aiohttp.ClientSession, n: int) -> None:
        await call(session, "/v1/range", {"key": READ_KEY})

    async def serializable(session: aiohttp.ClientSession, n: int) -> None:
        await call(session, "/v1/range", {"key": READ_KEY, "serializable": True})
    return {"put": put, "linearizable read": linearizable, "serializable read": serializable}


def etcd_ops(url: str) -> dict[str, Op]:
    import base64

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    async def call(session: aiohttp.ClientSession, path: str, body: dict) -> None:
        async with session.post(url + path, json=body) as r:
            await r.read()
            assert r.status == 200, r.status

    async def put(session: aiohttp.ClientSession, n: int) -> None:
        await call(session, "/v3/kv/put", {"key": b64(b"/bench/latency/%010d" % n), "value": b64(VALUE)})

    async def linearizable(session: aiohttp.ClientSession, n: int) -> None:
        await call(session, "/v3/kv/range", {"key": b64(READ_KEY)})

    async def serializable(session: aiohttp.ClientSession, n: int) -> None:
        await call(session, "/v3/kv/range", {"key": b64(READ_KEY), "serializable": True})
    return {"put": put, "linearizable read": linearizable, "serializable read": serializable}


async def sequential(op: Op, ops: int) -> list[float]:
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        for n in range(50):  # warm the connection and the server
            await op(session, -n - 1)
        latencies = []
        for n in range(ops):
            start = time.perf_counter()
            await op(session, n)
            latencies.append(time.perf_counter() - start)
        return latencies


async def concurrent(op: Op, clients: int, duration: float) -> float:
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        done = 0
        stop = time.perf_counter() + duration

        async def client() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                await op(session, 0)
                done += 1
        start = time.perf_counter()
        await asyncio.gather(*[client() for _ in range(clients)])
        return done / (time.perf_counter() - start)


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99)] * 1000
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, {len(ordered) / sum(ordered):.0f}/s"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000, help="operations per sequential phase")
    parser.add_argument("--readers", type=int, default=16, help="concurrent clients of the reads/s phase")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of the reads/s phase")
    parser.add_argument("--no-etcd", action="store_true")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="latency-bench-") as base:
        targets: list[RaftkubeTarget | EtcdTarget] = [RaftkubeTarget(base)]
        if not args.no_etcd:
            targets.append(EtcdTarget(base))
        try:
            suites = {}
            for target in targets:
                log(f"starting {target.name}")
                target.start()
                url = target.endpoints[target.leader_index()]
                put_once(target, url, READ_KEY, VALUE)
                suites[target.name] = (raftkube_ops(target, url) if isinstance(target, RaftkubeTarget)
                                       else etcd_ops(url))
            print(f"load at start: {uptime()}")
            for phase in ("serializable read", "linearizable read", "put"):
                for name, ops in suites.items():
                    latencies = asyncio.run(sequential(ops[phase], args.ops))
                    print(f"{name:9s} 1 client, sequential {phase:18s}: {summary(latencies)}")
            for name, ops in suites.items():
                rate = asyncio.run(concurrent(ops["linearizable read"], args.readers, args.duration))
                print(f"{name:9s} {args.readers} clients, linearizable reads: {rate:.0f}/s")
            print(f"load at end: {uptime()}")
        finally:
            for target in targets:
                target.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
