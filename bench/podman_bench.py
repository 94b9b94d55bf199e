"""Podman runtime benchmark: create+start latency of N one-container sandboxes through PodmanRuntime.

    .venv/bin/python -m bench.podman_bench [--n 20] [--concurrency 1]

Starts a private Podman service in a temporary directory, builds the busybox image if missing
(deploy/images/build.sh), then for each of N sandboxes times `ensure_sandbox` + `start_container`
(a busybox `sleep`) and prints p50/p99/max and the throughput; finally it times `remove_sandbox`
for all of them. Everything it creates carries a node name unique to the run and is removed on
the way out. It prints figures and never asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench.measure import log, percentile
from raftkube.node.podman_runtime import PodmanRuntime
from raftkube.node.podman_service import podman_env
from raftkube.node.runtime import ContainerSpec, SandboxSpec

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "localhost/raftkube/busybox:latest"


async def run(n: int, concurrency: int) -> None:
    node = f"bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="rk-podman-bench-") as run_dir:
        rt = PodmanRuntime(node, start_service_in=run_dir)
        await rt.start()
        assert rt.service is not None
        await asyncio.to_thread(subprocess.run, ["bash", str(ROOT / "deploy/images/build.sh")],
                                env=podman_env(rt.service.conf_path), check=True, timeout=120)
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []
        uids: list[str] = []

        async def one(i: int) -> None:
            uid = str(uuid.uuid4())
            uids.append(uid)
            spec = SandboxSpec(uid=uid, namespace="bench", name=f"p{i}", node=node, pod_ip=f"127.98.251.{i % 250 + 1}",
                               ports=(8080,))
            async with gate:
                started = time.perf_counter()
                sandbox = await rt.ensure_sandbox(spec)
                await rt.start_container(sandbox, ContainerSpec("main", IMAGE, command=("sleep",), args=("600",)))
                latencies.append(time.perf_counter() - started)

        try:
            began = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(n)))
            wall = time.perf_counter() - began
            print(f"podman create+start, N={n}, concurrency={concurrency}: "
                  f"p50 {percentile(latencies, 50) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms, "
                  f"max {max(latencies) * 1000:.0f} ms, {n / wall:.1f} sandboxes/s")
            listed = time.perf_counter()
            found = await rt.list_sandboxes()
            print(f"list_sandboxes with {len(found)} sandboxes: {(time.perf_counter() - listed) * 1000:.0f} ms")
        finally:
            removing = time.perf_counter()
            await asyncio.gather(*(rt.remove_sandbox(uid, grace=5) for uid in uids))
            log(f"removed {len(uids)} sandboxes in {time.perf_counter() - removing:.1f} s")
            await rt.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(run(args.n, args.concurrency))


if __name__ == "__main__":
    main()
