"""Client transports for the API's small requests: CPU per pod bind, client and server in one process.

    .venv/bin/python -m bench.transport_bench [--pods 1500] [--in-flight 8] [--rounds 2]

One store replica (no peers) and the API server over TLS on 127.0.0.1, in this process on
uvloop, as in a `raftkube server` replica whose scheduler binds through its own API. For each
transport it creates `--pods` pending pods, then binds them (`POST .../pods/NAME/binding`) with
`--in-flight` requests at a time, and prints binds/s and the process's CPU milliseconds per bind
(client, API server and store together: what a replica pays). Transports: httpx with its own
transport (httpcore on anyio's TLS stream), `ApiClient`'s (httpx on aiohttp connections,
raftkube/client/transport.py), aiohttp alone, and httpx's in-process ASGI transport (no
socket, no TLS). Prints figures only; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import uvicorn

from raftkube.api.app import build_app
from raftkube.api.auth import TokenAuthenticator, User
from raftkube.api.bootstrap import ensure_system_namespaces
from raftkube.api.storage import ObjectStorage
from raftkube.client.transport import api_transport
from raftkube.local.store_cluster import free_port
from raftkube.pki import ensure_pki
from raftkube.store import LocalClient, ReplicaConfig, StoreReplica
from raftkube.store.server import run_loop

NS = "transport-bench"
Send = Callable[[str, bytes], Awaitable[int]]  # (path, JSON body) -> HTTP status


async def create_pods(http: httpx.AsyncClient, url: str, prefix: str, count: int) -> list[str]:
    """`count` pending pods named prefix-i; their uids."""
    gate = asyncio.Semaphore(16)

    async def one(i: int) -> str:
        async with gate:
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{prefix}-{i}"},
                    "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]}}
            response = await http.post(f"{url}/api/v1/namespaces/{NS}/pods", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"create {prefix}-{i}: {response.status_code} {response.text[:200]}")
            return str(response.json()["metadata"]["uid"])
    return await asyncio.gather(*(one(i) for i in range(count)))


async def bind_all(prefix: str, uids: list[str], in_flight: int, send: Send) -> tuple[float, float]:
    """Bind every pod through `send`; (binds/s, CPU ms per bind)."""
    gate = asyncio.Semaphore(in_flight)

    async def one(i: int) -> None:
        async with gate:
            body = {"apiVersion": "v1", "kind": "Binding",
                    "metadata": {"name": f"{prefix}-{i}", "namespace": NS, "uid": uids[i]},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
            status = await send(f"/api/v1/namespaces/{NS}/pods/{prefix}-{i}/binding", json.dumps(body).encode())
            if status != 201:
                raise RuntimeError(f"bind {prefix}-{i}: HTTP {status}")
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.gather(*(one(i) for i in range(len(uids))))
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    return len(uids) / wall, 1000 * cpu / len(uids)


async def main(opts: argparse.Namespace) -> None:
    base = tempfile.mkdtemp(prefix="raftkube-transport-bench-")
    replica = StoreReplica(ReplicaConfig(raft_addr=f"127.0.0.1:{free_port()}", peers=[],
                                         data_dir=os.path.join(base, "data"), password=secrets.token_urlsafe(16)))
    await replica.start()
    await replica.wait_ready(30)
    storage = ObjectStorage(LocalClient(replica))
    await ensure_system_namespaces(storage)
    token = secrets.token_urlsafe(32)
    app = build_app(storage, TokenAuthenticator({token: User("admin", "admin-uid", ("system:masters",))}),
                    lambda: True)
    pki = ensure_pki(os.path.join(base, "pki"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                           ssl_certfile=pki.server_cert, ssl_keyfile=pki.server_key,
                                           proxy_headers=False))
    serving = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    url = f"https://127.0.0.1:{port}"
    tls = ssl.create_default_context(cafile=pki.ca_cert)
    setup = httpx.AsyncClient(verify=tls, timeout=30)
    plain = httpx.AsyncClient(verify=tls, timeout=30, limits=httpx.Limits(max_connections=48))
    on_aiohttp = httpx.AsyncClient(transport=api_transport(tls, 48), timeout=30)
    in_process = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://in-process", timeout=30)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls, limit=48))
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}

    def via(client: httpx.AsyncClient, prefix: str) -> Send:
        async def send(path: str, body: bytes) -> int:
            return (await client.post(prefix + path, content=body, headers=headers)).status_code
        return send

    async def via_aiohttp(path: str, body: bytes) -> int:
        async with session.post(url + path, data=body, headers=headers) as response:
            await response.read()
            return response.status

    transports: list[tuple[str, Send]] = [
        ("httpx, its own transport (TLS)", via(plain, url)),
        ("ApiClient's: httpx on aiohttp (TLS)", via(on_aiohttp, url)),
        ("aiohttp alone (TLS)", via_aiohttp),
        ("httpx ASGI, in process (no TLS)", via(in_process, "")),
    ]
    try:
        await setup.post(f"{url}/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                             "metadata": {"name": NS}})
        print(f"{opts.pods} binds per run, {opts.in_flight} in flight; CPU = this whole process "
              "(client + API server + store)")
        for round_no in range(opts.rounds):
            for index, (label, send) in enumerate(transports):
                prefix = f"r{round_no}-t{index}"
                uids = await create_pods(setup, url, prefix, opts.pods)
                rate, cpu_ms = await bind_all(prefix, uids, opts.in_flight, send)
                print(f"  round {round_no + 1}  {label:38s} {rate:7.0f} binds/s   {cpu_ms:5.2f} ms CPU per bind",
                      flush=True)
    finally:
        for client in (setup, plain, on_aiohttp, in_process):
            await client.aclose()
        await session.close()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await replica.stop()
        shutil.rmtree(base, ignore_errors=True)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=1500)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    run_loop(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
