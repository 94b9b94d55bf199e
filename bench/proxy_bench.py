"""Service proxy benchmark: connections/s and MB/s through the proxy, and straight to the backend.

    .venv/bin/python -m bench.proxy_bench [--connections 2000] [--concurrency 16] [--megabytes 256]
                                          [--streams 1] [--uvloop]

An in-process API server (tests/api/inproc.py) holds one Service (ports `hello` and `sink`) and
the Endpoints naming two backends in this process: `hello` answers one byte and closes, `sink`
reads until EOF and answers how many bytes it got. The proxy (`raftkube.node.service_proxy`) runs
in a child process, as in an agent; the clients run on this process's loop, beside the backends.
Measured, each run straight to the backend and then through the proxy's ClusterIP:
  - connections/s: `--connections` connect/read-one-byte/close cycles, `--concurrency` at a time
    (with p50/p99 of one cycle);
  - MB/s: `--megabytes` MiB sent over `--streams` connections to the sink, until it has them all;
and the proxy process's CPU seconds spent on each (per connection, and MB per CPU second: the
proxy's own ceiling, as the clients and backends here are often the slower side). Prints figures;
never passes or fails on them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

from raftkube.client import ApiClient
from raftkube.node.service_proxy import ServiceProxy
from tests.api.inproc import TOKEN, running_api

from .measure import cpu_seconds, log, percentile

NAME, NAMESPACE = "proxy-bench", "default"
HELLO_PORT, SINK_PORT = 7001, 7002
BACKEND_IP = "127.98.254.1"
CHUNK = 1 << 20


# ------------------------------------------------------------------ the proxy's process
async def serve_proxy(url: str) -> None:
    async with ApiClient(url, TOKEN) as client:
        proxy = ServiceProxy(client)
        await proxy.start()
        await proxy.wait_for(lambda table: sum(1 for lis, backends in table.items()
                                               if lis.service == NAME and backends) >= 2, 60)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
        await proxy.stop()


# ------------------------------------------------------------------ backends and clients
async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"!")
    writer.close()


async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    total = 0
    for _ in range(10**9):
        data = await reader.read(CHUNK)
        if not data:
            break
        total += len(data)
    writer.write(str(total).encode())
    writer.close()


async def connection_rate(ip: str, port: int, count: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    remaining = iter(range(count))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            reader, writer = await asyncio.open_connection(ip, port)
            got = await reader.read()
            writer.close()
            assert got == b"!", got
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"per_s": count / elapsed, "p50_ms": percentile(latencies, 50) * 1e3,
            "p99_ms": percentile(latencies, 99) * 1e3, "elapsed": elapsed}


async def throughput(ip: str, port: int, megabytes: int, streams: int) -> dict[str, float]:
    block = bytes(CHUNK)
    per_stream = max(1, megabytes // streams)

    async def stream() -> None:
        reader, writer = await asyncio.open_connection(ip, port)
        for _ in range(per_stream):
            writer.write(block)
            await writer.drain()
        writer.write_eof()
        got = int(await reader.read())
        writer.close()
        assert got == per_stream * CHUNK, got

    started = time.perf_counter()
    await asyncio.gather(*(stream() for _ in range(streams)))
    elapsed = time.perf_counter() - started
    return {"mb_s": per_stream * streams * CHUNK / elapsed / 1e6, "elapsed": elapsed}


async def write_service(url: str, hello_port: int, sink_port: int) -> str:
    """The Service and its Endpoints (written by hand, as for a Service without selector); returns the ClusterIP."""
    async with ApiClient(url, TOKEN) as client:
        service = await client.create(("v1", "Service"), {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME},
            "spec": {"ports": [{"name": "hello", "port": HELLO_PORT}, {"name": "sink", "port": SINK_PORT}]}},
            NAMESPACE)
        await client.create(("v1", "Endpoints"), {
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": NAME},
            "subsets": [{"addresses": [{"ip": BACKEND_IP}], "ports": [{"name": "hello", "port": hello_port},
                                                                      {"name": "sink", "port": sink_port}]}]},
            NAMESPACE)
        return str(service["spec"]["clusterIP"])


async def bench(url: str, args: argparse.Namespace) -> None:
    hello_server = await asyncio.start_server(hello, BACKEND_IP, 0, backlog=1024)
    sink_server = await asyncio.start_server(sink, BACKEND_IP, 0)
    hello_port, sink_port = (s.sockets[0].getsockname()[1] for s in (hello_server, sink_server))
    cluster_ip = await write_service(url, hello_port, sink_port)
    command = [sys.executable, "-m", "bench.proxy_bench", "--serve", url] + (["--uvloop"] if args.uvloop else [])
    child = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.PIPE,
                                                 stdout=asyncio.subprocess.PIPE)
    try:
        assert child.stdout is not None
        ready = await asyncio.wait_for(child.stdout.readline(), 120)
        if ready.strip() != b"ready":
            raise RuntimeError(f"the proxy process did not start: {ready!r}")
        results: list[tuple[str, dict[str, float], float]] = []
        targets = {"direct": (BACKEND_IP, hello_port, sink_port), "proxy": (cluster_ip, HELLO_PORT, SINK_PORT)}
        for path, (ip, h_port, s_port) in targets.items():
            cpu = cpu_seconds(child.pid)
            rate = await connection_rate(ip, h_port, args.connections, args.concurrency)
            results.append((f"{path} connections", rate, cpu_seconds(child.pid) - cpu))
            cpu = cpu_seconds(child.pid)
            flow = await throughput(ip, s_port, args.megabytes, args.streams)
            results.append((f"{path} throughput", flow, cpu_seconds(child.pid) - cpu))
            log(f"{path} done")
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 30)
        except TimeoutError:
            child.kill()
            await child.wait()
        hello_server.close()
        sink_server.close()
    report(results, args)


def report(results: list[tuple[str, dict[str, float], float]], args: argparse.Namespace) -> None:
    loop_name = "uvloop" if args.uvloop else "asyncio"
    print(f"service proxy: {loop_name} in the proxy process, {os.cpu_count()} cores; clients and backends share "
          "one asyncio loop in the parent")
    print(f"{'run':<22}{'proxy CPU s':>12}  figure")
    for name, figures, cpu in results:
        if "per_s" in figures:
            text = (f"{figures['per_s']:7.0f} conn/s  p50 {figures['p50_ms']:.2f} ms  p99 {figures['p99_ms']:.2f} ms"
                    f"  ({args.connections} conns, {args.concurrency} at a time)")
            if cpu > 0:
                text += f"; proxy CPU {cpu / args.connections * 1e6:.0f} us/conn"
        else:
            text = f"{figures['mb_s']:7.1f} MB/s  ({args.megabytes} MiB over {args.streams} stream(s))"
            if cpu > 0:
                text += f"; {args.megabytes * CHUNK / 1e6 / cpu:.0f} MB per proxy CPU second"
        print(f"{name:<22}{cpu:>12.2f}  {text}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--megabytes", type=int, default=256)
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--uvloop", action="store_true", help="run the proxy process on uvloop")
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)  # the child: run the proxy only
    args = parser.parse_args(argv)
    runner: Any = asyncio.run
    if args.uvloop:
        import uvloop
        runner = uvloop.run
    if args.serve:
        runner(serve_proxy(args.serve))
        return
    with running_api() as api:
        asyncio.run(bench(api.url, args))


if __name__ == "__main__":
    main()
