"""Load for the API benchmark: wrk Lua scripts for Kubernetes requests, aiohttp bulk calls, raw watch streams.

Throughput and latency steps use wrk (the same generator and result format as the store
benchmark, `bench/loadgen.py`); bulk creates and big lists use aiohttp; watch streams are
plain asyncio protocols that stamp the arrival time of each event in `data_received`,
before any parsing, so that 100 streams in one process skew the figures as little as possible.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from . import loadgen

NAME_MARK = "@@NAME@@"


def pod_manifest(name: str) -> dict[str, Any]:
    """A small, realistic pod: labels, one container with a port, resources, env and a probe."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web", "tier": "frontend", "bench": "api"}},
        "spec": {"containers": [{
            "name": "web", "image": "nginx:1.25",
            "ports": [{"name": "http", "containerPort": 80}],
            "env": [{"name": "LOG_LEVEL", "value": "info"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5},
        }]},
    }


def _headers_lua(token: str, json_body: bool) -> str:
    items = [f'["authorization"] = "Bearer {token}"', '["accept"] = "application/json"']
    if json_body:
        items.append('["content-type"] = "application/json"')
    return "{" + ", ".join(items) + "}"


def create_pods_script(namespace: str, prefix: str, token: str) -> str:
    """Lua: POST a pod named `<prefix>-<thread>-<n>` per request (distinct names, same manifest otherwise)."""
    body = json.dumps(pod_manifest(NAME_MARK), separators=(",", ":"))
    head, tail = body.split(NAME_MARK)
    return loadgen._THREADS + f"""
local counter = 0
local head, tail = {loadgen.lua_bytes(head.encode())}, {loadgen.lua_bytes(tail.encode())}
local headers = {_headers_lua(token, True)}
function request()
  counter = counter + 1
  local name = string.format("%s-%02d-%07d", "{prefix}", tid, counter)
  return wrk.format("POST", "/api/v1/namespaces/{namespace}/pods", headers, head .. name .. tail)
end
""" + loadgen._DONE


def get_script(path: str, token: str) -> str:
    """Lua: the same GET over and over."""
    return f"""
wrk.method = "GET"
wrk.path = "{path}"
wrk.headers["authorization"] = "Bearer {token}"
wrk.headers["accept"] = "application/json"
""" + loadgen._DONE


def run_wrk(url: str, script: str, script_dir: str, connections: int, duration: float,
            timeout: float = 10.0) -> loadgen.WrkResult:
    """`loadgen.run_wrk`, for http or https on loopback (wrk does not verify the certificate; fine on 127.0.0.1)."""
    if not url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
        raise ValueError(f"benchmark traffic goes to loopback only, not {url}")
    if url.startswith("http://"):
        return loadgen.run_wrk(url, script, script_dir, connections, duration, timeout=timeout)
    path = os.path.join(script_dir, f"wrk-{os.getpid()}-{abs(hash((script, url))) % 10**8}.lua")
    with open(path, "w") as f:
        f.write(script)
    cmd = [loadgen.WRK, "-t", "1", "-c", str(connections), "-d", f"{max(duration, 1.0):.0f}s",
           "--timeout", f"{timeout:.0f}s", "-s", path, url]
    with open(path + ".out", "w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        killer = threading.Timer(duration + timeout + 30, proc.kill)  # bounded even if wrk hangs
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        out.seek(0)
        stdout = out.read()
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (exit {os.waitstatus_to_exitcode(status)}): {stdout[-500:]}")
    d = json.loads(line.removeprefix("WRKJSON "))
    errors = d["connect"] + d["read"] + d["write"] + d["status"] + d["timeout"]
    qline = next((ln for ln in stdout.splitlines() if ln.startswith("WRKQ ")), "WRKQ ")
    quantiles = [float(x) / 1000 for x in qline.removeprefix("WRKQ ").split(",") if x]
    return loadgen.WrkResult(d["requests"], d["duration_us"] / 1e6, errors, d["p50"] / 1000, d["p90"] / 1000,
                             d["p99"] / 1000, d["p999"] / 1000, d["max"] / 1000, d["mean"] / 1000,
                             usage.ru_utime + usage.ru_stime, quantiles)


# ------------------------------------------------------------------ aiohttp
def connector(ssl_context: ssl.SSLContext | None) -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(limit=0, ssl=ssl_context if ssl_context is not None else True)


def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


@dataclass
class BulkResult:
    created: int
    failed: int
    retried: int
    seconds: float


async def bulk_create_pods(urls: list[str], token: str, namespace: str, names: list[str], concurrency: int,
                           ssl_context: ssl.SSLContext | None, timeout: float = 30.0) -> BulkResult:
    """Create every pod in `names` with `concurrency` requests in flight, spread over `urls`.

    A failed create is tried again (at most 3 times; an AlreadyExists on a retry means the earlier try
    went through).
    """
    queue = list(reversed(names))
    created = failed = attempts = 0
    headers = {**auth_headers(token), "Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession, url: str) -> None:
        nonlocal created, failed, attempts
        while queue:
            name = queue.pop()
            body = json.dumps(pod_manifest(name), separators=(",", ":"))
            for attempt in range(3):
                attempts += 1
                try:
                    async with session.post(f"{url}/api/v1/namespaces/{namespace}/pods", data=body,
                                            headers=headers,
                                            timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                        await response.read()
                        if response.status == 201 or (response.status == 409 and attempt > 0):
                            created += 1
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
            else:
                failed += 1

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector(ssl_context)) as session:
        await asyncio.gather(*(worker(session, urls[i % len(urls)]) for i in range(concurrency)))
    return BulkResult(created, failed, attempts - len(names), time.perf_counter() - started)


@dataclass
class Fetched:
    seconds: float
    size: int
    body: bytes


async def fetch(session: aiohttp.ClientSession, url: str, token: str, timeout: float = 120.0) -> Fetched:
    """GET `url`; time from sending to the last byte of the body."""
    started = time.perf_counter()
    async with session.get(url, headers=auth_headers(token), timeout=aiohttp.ClientTimeout(total=timeout)) as r:
        body = await r.read()
        elapsed = time.perf_counter() - started
        if r.status != 200:
            raise RuntimeError(f"GET {url}: {r.status} {body[:300]!r}")
    return Fetched(elapsed, len(body), body)


async def fetch_retrying(session: aiohttp.ClientSession, url: str, token: str, attempts: int = 10,
                         timeout: float = 120.0) -> tuple[Fetched, int]:
    """`fetch`, tried again (1 s apart, at most `attempts` times) on errors such as 503 during an election.

    Returns the response and how many tries failed before it.
    """
    for failures in range(attempts):
        try:
            return await fetch(session, url, token, timeout), failures
        except (RuntimeError, aiohttp.ClientError, TimeoutError):
            if failures == attempts - 1:
                raise
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


# --------------------------------------------------------------- watch streams
SEQ = re.compile(rb'"seq":"(\d+)"')
_OVERLAP = 32  # bytes kept between reads so that a marker split across two reads is still found


@dataclass
class WatchStream(asyncio.Protocol):
    """One `?watch=1` stream over raw HTTP/1.1; records when each `"seq":"N"` first arrives."""

    request: bytes
    on_seq: Callable[[int], None]
    seen: dict[int, float] = field(default_factory=dict)
    status: bytes = b""
    errors: list[str] = field(default_factory=list)
    closed: bool = False
    transport: asyncio.Transport | None = None
    _tail: bytes = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.status:
            self.status = data.split(b"\r\n", 1)[0]
            if b" 200 " not in self.status:
                self.errors.append(self.status.decode(errors="replace"))
        buf = self._tail + data
        for m in SEQ.finditer(buf):
            seq = int(m.group(1))
            if seq not in self.seen:
                self.seen[seq] = now
                self.on_seq(seq)
        if b'"type":"ERROR"' in buf:
            self.errors.append(buf[buf.find(b'"type":"ERROR"'):][:200].decode(errors="replace"))
        self._tail = buf[-_OVERLAP:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_watch(url: str, path: str, token: str, on_seq: Callable[[int], None],
                     ssl_context: ssl.SSLContext | None) -> WatchStream:
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        raise ValueError(f"benchmark traffic goes to loopback only, not {url}")
    request = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
               f"Accept: application/json\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    tls = ssl_context if parts.scheme == "https" else None
    _, protocol = await loop.create_connection(lambda: WatchStream(request, on_seq), parts.hostname, parts.port,
                                               ssl=tls, server_hostname=parts.hostname if tls else None)
    return protocol
