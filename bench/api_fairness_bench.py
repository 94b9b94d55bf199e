"""A well-behaved user's GET/LIST latency while another user floods the API, with and without the limits.

    python -m bench.api_fairness_bench [--flooders 150] [--seconds 15]

Each run starts the in-process API (one store replica + uvicorn, tests/api/inproc.py) in a child
process with the given FairnessConfig, seeds 200 ConfigMaps in the `flood` namespace, then runs
`--flooders` concurrent clients of user `flood` (each: create a ConfigMap, list the namespace, in a
loop) and one client of user `alice` that GETs one ConfigMap and LISTs a small namespace in turn.
It prints alice's p50/p99 per verb, her errors, and the flood's throughput and 429 count.
Timing figures only: nothing here passes or fails.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import click
import httpx

RUNS = {
    "no limits": {"max_requests_inflight": 0, "max_mutating_requests_inflight": 0, "max_watches": 0,
                  "max_watches_per_user": 0},
    "defaults (100/50)": {},
    "tight (20/10)": {"max_requests_inflight": 20, "max_mutating_requests_inflight": 10},
}
TOKENS = {"flood": "flood-token", "alice": "alice-token"}


def serve(limits: dict[str, Any]) -> None:
    from raftkube.api.auth import User
    from raftkube.api.fairness import FairnessConfig
    from tests.api.inproc import running_api

    tokens = {token: User(name, f"{name}-uid") for name, token in TOKENS.items()}
    with running_api(app_options={"fairness": FairnessConfig(**limits)}, tokens=tokens) as api:
        print(api.url, flush=True)
        sys.stdin.read()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else float("nan")


async def measure(url: str, flooders: int, seconds: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=flooders + 10)
    flood = httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {TOKENS['flood']}"}, limits=limits,
                              timeout=60)
    alice = httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {TOKENS['alice']}"}, timeout=60)
    admin = httpx.AsyncClient(base_url=url, headers={"authorization": "Bearer test-admin-token"}, timeout=60)
    for name in ("flood", "quiet"):
        await admin.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    await admin.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json={  # fairness, not RBAC, is measured
        "metadata": {"name": "bench-users"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u} for u in TOKENS]})
    for _ in range(200):  # the RBAC index learns the binding from its watch
        if (await alice.get("/api/v1/namespaces/quiet/configmaps")).status_code == 200:
            break
        await asyncio.sleep(0.05)
    blob = "x" * 2000
    await asyncio.gather(*(admin.post("/api/v1/namespaces/flood/configmaps", json={
        "metadata": {"name": f"seed-{i}"}, "data": {"b": blob}}) for i in range(200)))
    for i in range(5):
        await admin.post("/api/v1/namespaces/quiet/configmaps", json={"metadata": {"name": f"q{i}"}})
    stop = time.monotonic() + seconds
    counts = {"flood_ok": 0, "flood_429": 0, "flood_other": 0}
    latency: dict[str, list[float]] = {"get": [], "list": []}
    alice_errors = 0

    async def flooder(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            i += 1
            for call in (flood.post("/api/v1/namespaces/flood/configmaps", json={
                    "metadata": {"name": f"f{n}-{i}"}, "data": {"b": blob}}),
                    flood.get("/api/v1/namespaces/flood/configmaps", params={"limit": "100"})):
                try:
                    code = (await call).status_code
                except httpx.HTTPError:
                    code = 0
                key = "flood_ok" if code < 300 and code else "flood_429" if code == 429 else "flood_other"
                counts[key] += 1

    async def well_behaved() -> None:
        nonlocal alice_errors
        await asyncio.sleep(1.0)  # let the flood build up
        while time.monotonic() < stop:
            for verb, path in (("get", "/api/v1/namespaces/quiet/configmaps/q0"),
                               ("list", "/api/v1/namespaces/quiet/configmaps")):
                start = time.monotonic()
                response = await alice.get(path)
                if response.status_code == 200:
                    latency[verb].append(time.monotonic() - start)
                else:
                    alice_errors += 1
            await asyncio.sleep(0.02)

    await asyncio.gather(well_behaved(), *(flooder(n) for n in range(flooders)))
    for client in (flood, alice, admin):
        await client.aclose()
    return {"get_p50": percentile(latency["get"], 0.5), "get_p99": percentile(latency["get"], 0.99),
            "list_p50": percentile(latency["list"], 0.5), "list_p99": percentile(latency["list"], 0.99),
            "alice_requests": len(latency["get"]) + len(latency["list"]), "alice_errors": alice_errors,
            "flood_per_s": counts["flood_ok"] / seconds, "flood_429": counts["flood_429"],
            "flood_other": counts["flood_other"], "median_get_ms": statistics.median(latency["get"]) * 1000
            if latency["get"] else float("nan")}


@click.command()
@click.option("--flooders", default=150, show_default=True, help="Concurrent clients of the flooding user.")
@click.option("--seconds", default=15.0, show_default=True)
@click.option("--serve", "serve_limits", default=None, hidden=True)
def main(flooders: int, seconds: float, serve_limits: str | None) -> None:
    if serve_limits is not None:
        serve(json.loads(serve_limits))
        return
    print(f"{'run':<20} {'GET p50':>8} {'GET p99':>8} {'LIST p50':>9} {'LIST p99':>9} {'alice n/err':>11} "
          f"{'flood ok/s':>10} {'flood 429':>9}")
    for name, limits in RUNS.items():
        child = subprocess.Popen([sys.executable, "-m", "bench.api_fairness_bench", "--serve", json.dumps(limits)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        try:
            r = asyncio.run(measure(url, flooders, seconds))
        finally:
            child.kill()
            child.wait()
        print(f"{name:<20} {r['get_p50']:>7.1f}ms {r['get_p99']:>7.1f}ms {r['list_p50']:>8.1f}ms "
              f"{r['list_p99']:>8.1f}ms {r['alice_requests']:>5}/{r['alice_errors']:<5} {r['flood_per_s']:>10.0f} "
              f"{r['flood_429']:>9}", flush=True)


if __name__ == "__main__":
    main()
