"""The load generator: wrk (C, one epoll thread) driven by generated Lua scripts.

The same generator drives raftkube and etcd; only the request body differs (msgpack txn
for raftkube's /v1/execute, JSON with base64 for etcd's gateway /v3/kv/put). Puts use a
distinct key per request (run prefix, wrk thread, counter) and, for raftkube, a distinct
16-byte request id. wrk reports each run as one JSON line from its `done` hook: request
count, duration, error counts and latency percentiles in microseconds. The CPU time wrk
itself used is measured too, to show it is not the bottleneck.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass

WRK = "wrk"
_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
  local q = {}
  for i = 1, 999 do q[i] = latency:percentile(i / 10) end
  io.write('WRKQ ', table.concat(q, ','), '\n')
end
"""
_THREADS = r"""
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end
"""
_BASE64 = r"""
local b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function b64(data)
  local out = {}
  for i = 1, #data, 3 do
    local a, b, c = data:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) .. b64chars:sub(c2 + 1, c2 + 1)
      .. (b and b64chars:sub(c3 + 1, c3 + 1) or '=') .. (c and b64chars:sub(c4 + 1, c4 + 1) or '=')
  end
  return table.concat(out)
end
"""


def lua_bytes(data: bytes) -> str:
    """A Lua string literal holding exactly `data` (decimal escapes, Lua 5.1 / LuaJIT)."""
    return '"' + "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\{b:03d}" for b in data) + '"'


def _mp_bin(data: bytes) -> bytes:
    assert len(data) < 256
    return b"\xc4" + bytes([len(data)]) + data


def raftkube_put_script(prefix: str, value: bytes, token: str = "") -> str:
    """Lua for puts of distinct keys `<prefix><thread>/<n>` to raftkube's POST /v1/execute (msgpack txn),
    with the store's bearer token."""
    assert len(prefix) == 4, "the request id is <prefix:4><thread:2><counter:10>"
    head = b"\x85\xa1t\xa3txn\xa3rid\xc4\x10"
    mid = b"\xa3cmp\x90\xa2ok\x91\x95\xa3put\xc4"
    tail = _mp_bin(value) + b"\x00\xc2\xa4fail\x90"
    return _THREADS + f"""
local counter = 0
local head, mid, tail = {lua_bytes(head)}, {lua_bytes(mid)}, {lua_bytes(tail)}
local headers = {{["content-type"] = "application/msgpack", ["authorization"] = "Bearer {token}"}}
function request()
  counter = counter + 1
  local key = string.format("/bench/%s%02d/%010d", "{prefix}", tid, counter)
  local rid = string.format("%s%02d%010d", "{prefix}", tid, counter)
  local body = head .. rid .. mid .. string.char(#key) .. key .. tail
  return wrk.format("POST", "/v1/execute", headers, body)
end
""" + _DONE


def etcd_put_script(prefix: str, value: bytes) -> str:
    """Lua for puts of distinct keys `<prefix><thread>/<n>` to etcd's gateway POST /v3/kv/put (JSON)."""
    import base64

    value_b64 = base64.b64encode(value).decode()
    return _THREADS + _BASE64 + f"""
local counter = 0
local headers = {{["content-type"] = "application/json"}}
function request()
  counter = counter + 1
  local key = string.format("/bench/%s%02d/%010d", "{prefix}", tid, counter)
  local body = '{{"key":"' .. b64(key) .. '","value":"{value_b64}"}}'
  return wrk.format("POST", "/v3/kv/put", headers, body)
end
""" + _DONE


def fixed_request_script(path: str, body: bytes, content_type: str, token: str = "") -> str:
    """Lua for the same POST over and over (wrk builds it once); a bearer token when given."""
    auth = f'wrk.headers["authorization"] = "Bearer {token}"\n' if token else ""
    return f"""
wrk.method = "POST"
wrk.path = "{path}"
wrk.body = {lua_bytes(body)}
wrk.headers["content-type"] = "{content_type}"
""" + auth + _DONE


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    wrk_cpu_s: float  # CPU seconds (user + system) wrk itself used
    quantiles_ms: list[float]  # latency at p0.1, p0.2, ... p99.9 (to merge several runs)

    @property
    def rate(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def ok_rate(self) -> float:
        return (self.requests - self.errors) / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def wrk_cpu_fraction(self) -> float:
        return self.wrk_cpu_s / self.duration_s if self.duration_s > 0 else 0.0


def wrk_available() -> bool:
    return shutil.which(WRK) is not None


def run_wrk(url: str, script: str, script_dir: str, connections: int, duration: float, threads: int = 1,
            timeout: float = 10.0) -> WrkResult:
    """Run wrk against `url` (loopback only) with `connections` concurrent connections, one request each."""
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError(f"benchmark traffic goes to loopback only, not {url}")
    threads = max(1, min(threads, connections))
    path = os.path.join(script_dir, f"wrk-{os.getpid()}-{abs(hash((script, url))) % 10**8}.lua")
    with open(path, "w") as f:
        f.write(script)
    cmd = [WRK, "-t", str(threads), "-c", str(connections), "-d", f"{max(duration, 1.0):.0f}s",
           "--timeout", f"{timeout:.0f}s", "-s", path, url]
    out_path = path + ".out"
    with open(out_path, "w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        killer = threading.Timer(duration + timeout + 30, proc.kill)  # bounded even if wrk hangs
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read()
    cpu = usage.ru_utime + usage.ru_stime
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (exit {proc.returncode}): {stdout[-500:]}")
    d = json.loads(line.removeprefix("WRKJSON "))
    errors = d["connect"] + d["read"] + d["write"] + d["status"] + d["timeout"]
    qline = next((ln for ln in stdout.splitlines() if ln.startswith("WRKQ ")), "WRKQ ")
    quantiles = [float(x) / 1000 for x in qline.removeprefix("WRKQ ").split(",") if x]
    return WrkResult(d["requests"], d["duration_us"] / 1e6, errors, d["p50"] / 1000, d["p90"] / 1000,
                     d["p99"] / 1000, d["p999"] / 1000, d["max"] / 1000, d["mean"] / 1000, cpu, quantiles)


def merge(results: list[WrkResult]) -> WrkResult:
    """Several concurrent wrk runs as one: rates add up; percentiles from the runs' quantiles, weighted."""
    points: list[tuple[float, float]] = []
    for r in results:
        weight = r.requests / max(1, len(r.quantiles_ms))
        points.extend((q, weight) for q in r.quantiles_ms)
    points.sort()
    total = sum(w for _, w in points)

    def at(p: float) -> float:
        acc = 0.0
        for value, w in points:
            acc += w
            if acc >= total * p / 100:
                return value
        return points[-1][0] if points else float("nan")

    duration = max(r.duration_s for r in results)
    requests = sum(round(r.rate * duration) for r in results)
    mean = sum(r.mean_ms * r.requests for r in results) / max(1, sum(r.requests for r in results))
    return WrkResult(requests, duration, sum(r.errors for r in results), at(50), at(90), at(99), at(99.9),
                     max(r.max_ms for r in results), mean, sum(r.wrk_cpu_s for r in results),
                     [at(i / 10) for i in range(1, 1000)])
