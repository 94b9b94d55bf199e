"""Helpers of the service proxy tests: pods that are small asyncio TCP servers on 127.98.x.y, Services
and Endpoints written by the test, and bounded waits."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from raftkube.client import ApiClient, NotFound
from raftkube.node.proxy_table import Backend, Listener, ProxyTable

Obj = dict[str, Any]
SERVICE, ENDPOINTS, NAMESPACE = ("v1", "Service"), ("v1", "Endpoints"), ("v1", "Namespace")
WAIT = 10.0  # seconds: a bounded wait for anything (never a timing assertion)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
_pod_ips = iter(f"127.98.{200 + n // 250}.{1 + n % 250}" for n in range(10_000))


# ------------------------------------------------------------------ pods, services, endpoints
class Pods:
    """Small TCP servers on pod addresses, closed at the end of the test."""

    def __init__(self) -> None:
        self.servers: list[asyncio.Server] = []

    async def start(self, handler: Handler) -> Backend:
        ip = next(_pod_ips)
        server = await asyncio.start_server(handler, ip, 0)
        self.servers.append(server)
        return Backend(ip, server.sockets[0].getsockname()[1])

    async def whoami(self, name: str) -> Backend:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(name.encode())
            await writer.drain()
            writer.close()
        return await self.start(answer)

    async def echo(self) -> Backend:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for _ in range(100_000):
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            writer.close()
        return await self.start(echo)

    def close(self) -> None:
        for server in self.servers:
            server.close()


async def create_service(client: ApiClient, ns: str, name: str, ports: list[Obj], kind: str = "ClusterIP") -> Obj:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": kind, "ports": ports}}
    return await client.create(SERVICE, body, ns)


async def write_endpoints(client: ApiClient, ns: str, name: str,
                          backends: list[Backend] | dict[str, list[Backend]]) -> None:
    """Create or replace an Endpoints: one subset per backend (their ports differ), by port name."""
    by_name = backends if isinstance(backends, dict) else {"": backends}
    subsets = [{"addresses": [{"ip": b.ip}], "ports": [{"port": b.port, **({"name": port} if port else {})}]}
               for port, listed in by_name.items() for b in listed]
    body = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name}, "subsets": subsets}
    try:
        current = await client.get(ENDPOINTS, name, ns)
    except NotFound:
        await client.create(ENDPOINTS, body, ns)
        return
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    await client.update(ENDPOINTS, body, ns)


def cluster_listener(service: Obj, port_index: int = 0) -> Listener:
    port = service["spec"]["ports"][port_index]
    meta = service["metadata"]
    return Listener(service["spec"]["clusterIP"], port["port"], "TCP", meta["namespace"], meta["name"],
                    port.get("name") or "")


def has(listener: Listener, backends: list[Backend] | None = None) -> Callable[[ProxyTable], bool]:
    return lambda table: listener in table and (backends is None or set(table[listener]) == set(backends))


async def ask(address: str, port: int) -> bytes:
    """Connect, read until the server closes, return what it sent."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), WAIT)
    try:
        return await asyncio.wait_for(reader.read(), WAIT)
    finally:
        writer.close()


async def eventually(condition: Callable[[], bool]) -> None:
    """A bounded poll, for what no event announces (the proxy's connection count)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def block_a_node_port() -> socket.socket:
    """A listening socket without SO_REUSEPORT on 127.0.0.1, on a port of the nodePort range."""
    rng = random.Random()
    for _ in range(200):
        blocker = socket.socket()
        try:
            blocker.bind(("127.0.0.1", rng.randint(30000, 32767)))
        except OSError:
            blocker.close()
            continue
        blocker.listen()
        return blocker
    raise AssertionError("no free port in the nodePort range")
