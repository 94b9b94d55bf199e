"""List latency at 30,000 pods with and without the API server's watch cache, one run.

    .venv/bin/python -m bench.watch_cache_bench [--pods 30000] [--repeat 5] [--creators 64]

Starts `LocalControlPlane` (3 `raftkube server` processes, TLS, no controllers: the pods stay
Pending), creates `--pods` pods through the API (100 namespaces; 1 % labelled `tier=rare`), then
measures lists on one API server, first with the watch cache (the default), then after restarting
every replica with `--watch-cache=false`: all pods (resourceVersion unset: a consistent read; and
"0"), the first page of 500, one namespace (300 pods), a label selector matching 1 %, and a field
selector (spec.nodeName=). Each is the median (and max) of `--repeat` requests, timed until the
whole body is in; plus the serving replica's RSS. Prints figures and `uptime`; never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp

from raftkube.local.control_plane import LocalControlPlane

from .api_bench_plane import memory_kib
from .measure import exit_on_sigterm

NAMESPACES = 100
LISTS = [
    ("all pods, resourceVersion unset (consistent)", "/api/v1/pods"),
    ("all pods, resourceVersion=0", "/api/v1/pods?resourceVersion=0"),
    ("first page of 500", "/api/v1/pods?limit=500"),
    ("one namespace (1 % of the pods)", "/api/v1/namespaces/ns-007/pods"),
    ("label selector tier=rare (1 %)", "/api/v1/pods?labelSelector=tier%3Drare"),
    ("field selector spec.nodeName= (all Pending)", "/api/v1/pods?fieldSelector=spec.nodeName%3D&limit=500"),
]


def pod(name: str, rare: bool) -> dict:
    labels = {"app": "bench", **({"tier": "rare"} if rare else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "registry.local/pause:1"}]}}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


class Client:
    def __init__(self, plane: LocalControlPlane) -> None:
        self.plane = plane
        self.ssl = ssl.create_default_context(cafile=plane.ca_file)
        self.headers = {"authorization": f"Bearer {plane.token}"}

    def session(self, connections: int) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections, ssl=self.ssl),
                                     headers=self.headers, timeout=aiohttp.ClientTimeout(total=300))

    async def create_pods(self, count: int, creators: int) -> float:
        urls = self.plane.api_urls
        async with self.session(creators) as session:
            for n in range(NAMESPACES):
                body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns-{n:03d}"}}
                async with session.post(urls[0] + "/api/v1/namespaces", json=body) as r:
                    await r.read()
            queue = iter(range(count))
            start = time.monotonic()

            async def creator(k: int) -> None:
                url = urls[k % len(urls)]
                for i in queue:
                    ns = f"ns-{i % NAMESPACES:03d}"
                    for _ in range(5):
                        async with session.post(f"{url}/api/v1/namespaces/{ns}/pods",
                                                json=pod(f"p{i:06d}", i % 100 == 7)) as r:
                            await r.read()
                            if r.status in (201, 409):
                                break
                        await asyncio.sleep(0.2)
                    if i and i % 5000 == 0:
                        print(f"  {i} pods created ({i / (time.monotonic() - start):.0f}/s)", flush=True)
            await asyncio.gather(*(creator(k) for k in range(creators)))
            return count / (time.monotonic() - start)

    async def measure(self, index: int, repeat: int) -> list[str]:
        url = self.plane.api_urls[index]
        lines = []
        async with self.session(1) as session:
            for label, path in LISTS:
                times, size, items = [], 0, 0
                for _ in range(repeat):
                    t = time.perf_counter()
                    async with session.get(url + path) as r:
                        body = await r.read()
                        assert r.status == 200, (r.status, body[:300])
                    times.append(time.perf_counter() - t)
                    size = len(body)
                    items = body.count(b'"kind":"Pod"') or body.count(b'"uid"')
                lines.append(f"  {label:46s}: median {statistics.median(times) * 1000:8.1f} ms, "
                             f"max {max(times) * 1000:8.1f} ms ({size / 1e6:.1f} MB, ~{items} pods)")
        return lines


async def run(args: argparse.Namespace) -> None:
    base = tempfile.mkdtemp(prefix="raftkube-watch-cache-bench-")
    plane = LocalControlPlane(os.path.join(base, "plane"), size=3, controllers=False)
    client = Client(plane)
    try:
        plane.start(timeout=60)
        print(f"load at start: {uptime()}")
        rate = await client.create_pods(args.pods, args.creators)
        print(f"created {args.pods} pods through the API at {rate:.0f}/s ({args.creators} creators)")
        index = 1  # one API server (its replica may lead or follow)
        for mode in ("on", "off"):
            if mode == "off":
                plane.extra_args = [*plane.extra_args, "--watch-cache=false"]
                for i in range(len(plane.replicas)):
                    plane.restart(i, timeout=120)
                plane.leader_index(60)
            await client.measure(index, 1)  # warm: with the cache, this is its first load
            rss_before = memory_kib(plane.replicas[index].process.pid, "VmRSS")  # type: ignore[union-attr]
            lines = await client.measure(index, args.repeat)
            rss = memory_kib(plane.replicas[index].process.pid, "VmRSS")  # type: ignore[union-attr]
            print(f"watch cache {mode} ({uptime()}):")
            print("\n".join(lines))
            print(f"  serving replica RSS {rss / 1024:.0f} MiB (before the timed lists {rss_before / 1024:.0f} MiB)",
                  flush=True)
    finally:
        plane.close()
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--creators", type=int, default=64)
    signal.signal(signal.SIGTERM, exit_on_sigterm)  # so that the finally blocks stop the plane
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
