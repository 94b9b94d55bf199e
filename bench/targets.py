"""The two systems under test behind one interface: a raftkube store cluster and an etcd cluster.

Each target starts its 3-member cluster on 127.0.0.1, names its leader, kills and restarts
members, gives wrk scripts for puts and reads, and offers the async calls (aiohttp) the
watch-latency and failover steps use: one put, and a watch stream that yields
(receive time, key) for every event.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.request
from dataclasses import asdict
from typing import AsyncIterator, Protocol

import aiohttp
import msgpack

from raftkube.local.store_cluster import LocalCluster
from raftkube.store.config import RaftTuning

from . import loadgen
from .etcd_cluster import EtcdCluster, etcd_version

MSGPACK = "application/msgpack"


def prefix_end(prefix: bytes) -> bytes:
    """The range end that selects every key starting with `prefix` (etcd's rule)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


class Target(Protocol):
    name: str

    @property
    def endpoints(self) -> list[str]: ...
    def start(self) -> None: ...
    def close(self) -> None: ...
    def leader_index(self) -> int: ...
    def kill(self, i: int) -> None: ...
    def restart(self, i: int) -> None: ...
    def pids(self) -> list[int | None]: ...
    def settings(self) -> str: ...
    def put_script(self, prefix: str, value: bytes) -> str: ...
    def read_script(self, key: bytes, serializable: bool) -> str: ...
    def status(self, i: int) -> dict[str, object] | None: ...
    def leader_term(self, i: int) -> tuple[str, int] | None: ...
    async def put(self, session: aiohttp.ClientSession, endpoint: str, key: bytes, value: bytes, rid: bytes,
                  timeout: float) -> bool: ...
    def watch(self, session: aiohttp.ClientSession, endpoint: str,
              prefix: bytes) -> AsyncIterator[tuple[float, bytes]]: ...


class RaftkubeTarget:
    name = "raftkube"

    def __init__(self, base_dir: str) -> None:
        self.cluster = LocalCluster(os.path.join(base_dir, "raftkube"))

    @property
    def endpoints(self) -> list[str]:
        return self.cluster.endpoints

    def start(self) -> None:
        self.cluster.start()

    def close(self) -> None:
        self.cluster.close()

    def leader_index(self) -> int:
        return self.cluster.leader_index()

    def kill(self, i: int) -> None:
        self.cluster.kill(i)

    def restart(self, i: int) -> None:
        self.cluster.restart(i)
        self.cluster.leader_index()

    def pids(self) -> list[int | None]:
        return [r.process.pid if r.process is not None and r.running else None for r in self.cluster.replicas]

    def settings(self) -> str:
        tuning = ", ".join(f"{k}={v}" for k, v in asdict(RaftTuning()).items())
        return (f"3 replicas (`python -m raftkube store`), PySyncObj unbatched AppendEntries + group commit "
                f"(one journal fdatasync per tick: a follower's before its acks, a leader's before it counts its "
                f"own copy), concurrent writes batched into one log entry per loop iteration, AES-GCM peer "
                f"messages; RaftTuning: {tuning}")

    def put_script(self, prefix: str, value: bytes) -> str:
        return loadgen.raftkube_put_script(prefix, value, self.cluster.store_token)

    def read_script(self, key: bytes, serializable: bool) -> str:
        body = msgpack.packb({"key": key, "range_end": b"", "limit": 0, "keys_only": False, "count_only": False,
                              "serializable": serializable}, use_bin_type=True)
        return loadgen.fixed_request_script("/v1/range", body, MSGPACK, self.cluster.store_token)

    def status(self, i: int) -> dict[str, object] | None:
        return self.cluster.status(i)

    def leader_term(self, i: int) -> tuple[str, int] | None:
        """(leader address, term) as member i sees them, or None."""
        if not self.cluster.replicas[i].running:
            return None
        status = self.cluster.status(i)
        if not status or not status.get("leader"):
            return None
        return str(status["leader"]), int(status["term"])  # type: ignore[call-overload]

    async def put(self, session: aiohttp.ClientSession, endpoint: str, key: bytes, value: bytes, rid: bytes,
                  timeout: float) -> bool:
        cmd = {"t": "txn", "rid": rid, "cmp": [], "ok": [["put", key, value, 0, False]], "fail": []}
        try:
            async with session.post(endpoint + "/v1/execute", data=msgpack.packb(cmd, use_bin_type=True),
                                    headers={"content-type": MSGPACK, **self.cluster.store_headers},
                                    timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                body = await response.read()
                return response.status == 200 and "txn" in msgpack.unpackb(body, raw=False)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False

    async def watch(self, session: aiohttp.ClientSession, endpoint: str,
                    prefix: bytes) -> AsyncIterator[tuple[float, bytes]]:
        body = {"key": prefix, "range_end": prefix_end(prefix), "start_revision": 0, "prev_kv": False}
        async with session.post(endpoint + "/v1/watch", data=msgpack.packb(body, use_bin_type=True),
                                headers={"content-type": MSGPACK, **self.cluster.store_headers},
                                timeout=aiohttp.ClientTimeout(total=None, sock_connect=2)) as response:
            response.raise_for_status()
            unpacker = msgpack.Unpacker(raw=False)
            async for chunk in response.content.iter_any():
                now = time.perf_counter()
                unpacker.feed(chunk)
                for item in unpacker:
                    if "error" in item:
                        raise RuntimeError(f"watch cut off: {item}")
                    for event in item.get("events", []):
                        yield now, event[1][0]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class EtcdTarget:
    name = "etcd"

    def __init__(self, base_dir: str) -> None:
        self.cluster = EtcdCluster(os.path.join(base_dir, "etcd"))

    @property
    def endpoints(self) -> list[str]:
        return self.cluster.endpoints

    def start(self) -> None:
        self.cluster.start()

    def close(self) -> None:
        self.cluster.close()

    def leader_index(self) -> int:
        return self.cluster.leader_index()

    def kill(self, i: int) -> None:
        self.cluster.kill(i)

    def restart(self, i: int) -> None:
        self.cluster.restart(i)
        self.cluster.leader_index()

    def pids(self) -> list[int | None]:
        return self.cluster.pids()

    def settings(self) -> str:
        flags = " ".join(f for f in self.cluster.flags(self.cluster.members[0])
                         if not f.startswith(("--name", "--data-dir", "--initial-cluster=", "--listen", "--advertise",
                                              "--initial-advertise")))
        return (f"etcd {etcd_version()}, 3 members, defaults (heartbeat 100 ms, election 1000 ms, WAL fsync per "
                f"batch, snapshot-count 100000); clients use the HTTP/JSON gRPC gateway; flags besides names, "
                f"URLs and data dir: `{flags}`")

    def put_script(self, prefix: str, value: bytes) -> str:
        return loadgen.etcd_put_script(prefix, value)

    def read_script(self, key: bytes, serializable: bool) -> str:
        body = json.dumps({"key": _b64(key), "serializable": serializable}).encode()
        return loadgen.fixed_request_script("/v3/kv/range", body, "application/json")

    def status(self, i: int) -> dict[str, object] | None:
        return self.cluster.status(i)

    def leader_term(self, i: int) -> tuple[str, int] | None:
        """(leader member id, raft term) as member i sees them, or None."""
        if not self.cluster.members[i].running:
            return None
        status = self.cluster.status(i)
        header = status.get("header") if status else None
        if not status or not isinstance(header, dict) or str(status.get("leader", "0")) == "0":
            return None
        return str(status["leader"]), int(header.get("raft_term", 0))

    async def put(self, session: aiohttp.ClientSession, endpoint: str, key: bytes, value: bytes, rid: bytes,
                  timeout: float) -> bool:
        try:
            async with session.post(endpoint + "/v3/kv/put", json={"key": _b64(key), "value": _b64(value)},
                                    timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                body = await response.read()
                return response.status == 200 and "header" in json.loads(body)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False

    async def watch(self, session: aiohttp.ClientSession, endpoint: str,
                    prefix: bytes) -> AsyncIterator[tuple[float, bytes]]:
        body = {"create_request": {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix))}}
        async with session.post(endpoint + "/v3/watch", json=body,
                                timeout=aiohttp.ClientTimeout(total=None, sock_connect=2)) as response:
            response.raise_for_status()
            async for line in response.content:
                now = time.perf_counter()
                if not line.strip():
                    continue
                item = json.loads(line)
                if "error" in item:
                    raise RuntimeError(f"watch cut off: {item}")
                for event in item.get("result", {}).get("events", []) or []:
                    yield now, base64.b64decode(event["kv"]["key"])


def settle(target: Target, timeout: float = 15.0, quiet: float = 1.0) -> tuple[str, int]:
    """Wait until every running member names the same leader and term, unchanged for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    stable_since, last = time.monotonic(), None
    while time.monotonic() < deadline:
        views = [target.leader_term(i) for i in range(len(target.endpoints)) if target.pids()[i] is not None]
        agreed = views[0] if views and all(v == views[0] and v is not None for v in views) else None
        if agreed != last:
            stable_since, last = time.monotonic(), agreed
        elif agreed is not None and time.monotonic() - stable_since >= quiet:
            return agreed
        time.sleep(0.05)
    raise TimeoutError(f"{target.name}: members did not agree on a stable leader within {timeout} s")


def put_once(target: Target, endpoint: str, key: bytes, value: bytes) -> None:
    """One blocking put (set-up of the read benchmark)."""
    if isinstance(target, RaftkubeTarget):
        cmd = {"t": "txn", "rid": os.urandom(16), "cmp": [], "ok": [["put", key, value, 0, False]], "fail": []}
        data, path, ctype = msgpack.packb(cmd, use_bin_type=True), "/v1/execute", MSGPACK
        auth = target.cluster.store_headers
    else:
        data = json.dumps({"key": _b64(key), "value": _b64(value)}).encode()
        path, ctype, auth = "/v3/kv/put", "application/json", {}
    request = urllib.request.Request(endpoint + path, data=data, method="POST", headers={"content-type": ctype, **auth})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
