"""A 3-member etcd cluster on 127.0.0.1 for comparison benchmarks (start, kill, restart, leader).

Each member is an `etcd` process (Debian's etcd-server, 3.4) with its own data directory
under `base_dir`, free loopback ports, and etcd's default timing and fsync behaviour. Clients
use the HTTP/JSON gRPC gateway on the client port (/v3/kv/put, /v3/kv/range, /v3/watch).
Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from raftkube.local.store_cluster import free_port

ETCD_BINARY = "etcd"


@dataclass
class EtcdMember:
    name: str
    client_port: int
    peer_port: int
    data_dir: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _post_json(url: str, body: dict[str, object], timeout: float = 1.0) -> dict[str, object] | None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def etcd_version() -> str:
    binary = shutil.which(ETCD_BINARY)
    if binary is None:
        return "not installed"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    return out.splitlines()[0].removeprefix("etcd Version: ").strip() if out else "unknown"


@dataclass
class EtcdCluster:
    base_dir: str
    size: int = 3
    token: str = "raftkube-bench"
    extra_flags: list[str] = field(default_factory=list)
    members: list[EtcdMember] = field(default_factory=list)

    def __post_init__(self) -> None:
        for i in range(self.size):
            name = f"e{i + 1}"
            self.members.append(EtcdMember(name, free_port(), free_port(), os.path.join(self.base_dir, name)))

    @property
    def endpoints(self) -> list[str]:
        return [m.url for m in self.members]

    def flags(self, member: EtcdMember) -> list[str]:
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        return [f"--name={member.name}", f"--data-dir={member.data_dir}",
                f"--listen-client-urls={member.url}", f"--advertise-client-urls={member.url}",
                f"--listen-peer-urls={member.peer_url}", f"--initial-advertise-peer-urls={member.peer_url}",
                f"--initial-cluster={initial}", "--initial-cluster-state=new",
                f"--initial-cluster-token={self.token}", "--logger=zap", *self.extra_flags]

    def start_member(self, i: int) -> None:
        member = self.members[i]
        if member.running:
            return
        binary = shutil.which(ETCD_BINARY)
        if binary is None:
            raise RuntimeError("etcd is not installed (apt-get install -y etcd-server etcd-client)")
        log = open(os.path.join(self.base_dir, f"{member.name}.log"), "ab")
        member.process = subprocess.Popen([binary, *self.flags(member)], stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        log.close()

    def start(self, timeout: float = 30.0) -> EtcdCluster:
        os.makedirs(self.base_dir, exist_ok=True)
        for i in range(self.size):
            self.start_member(i)
        self.wait_healthy(timeout=timeout)
        return self

    def kill(self, i: int) -> None:
        member = self.members[i]
        if member.process is not None:
            if member.running:
                member.process.kill()
            member.process.wait(timeout=10)
            member.process = None

    def restart(self, i: int, timeout: float = 30.0) -> None:
        self.kill(i)
        self.start_member(i)
        self.wait_healthy([i], timeout)

    def close(self) -> None:
        for i in range(self.size):
            self.kill(i)

    def pids(self) -> list[int | None]:
        return [m.process.pid if m.process is not None and m.running else None for m in self.members]

    def status(self, i: int, timeout: float = 1.0) -> dict[str, object] | None:
        """etcd's maintenance status of member i (member_id in header, leader id, raft index)."""
        return _post_json(self.members[i].url + "/v3/maintenance/status", {}, timeout)

    def _leader_of(self, i: int) -> str | None:
        status = self.status(i)
        leader = status.get("leader") if status else None
        return str(leader) if leader and str(leader) != "0" else None

    def _member_id(self, i: int) -> str | None:
        status = self.status(i)
        header = status.get("header") if status else None
        return str(header.get("member_id")) if isinstance(header, dict) else None

    def wait_healthy(self, indexes: list[int] | None = None, timeout: float = 30.0) -> None:
        """Wait until the given members (default: all running) answer a linearizable read."""
        wanted = indexes if indexes is not None else [i for i, m in enumerate(self.members) if m.running]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(_post_json(self.members[i].url + "/v3/kv/range", {"key": "aGVhbHRo"}) is not None
                   for i in wanted):
                return
            for i in wanted:
                member = self.members[i]
                if member.process is not None and member.process.poll() is not None:
                    raise RuntimeError(f"{member.name} exited with {member.process.returncode}; "
                                       f"see {self.base_dir}/{member.name}.log")
            time.sleep(0.05)
        raise TimeoutError(f"etcd members {wanted} not healthy within {timeout} s")

    def leader_index(self, timeout: float = 10.0) -> int:
        """Index of the member that a majority of running members name as leader."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = {self._member_id(i): i for i, m in enumerate(self.members) if m.running}
            votes: dict[str, int] = {}
            for i, m in enumerate(self.members):
                if m.running:
                    leader = self._leader_of(i)
                    if leader is not None:
                        votes[leader] = votes.get(leader, 0) + 1
            for leader, count in votes.items():
                if count > self.size // 2 and leader in ids:
                    return ids[leader]
            time.sleep(0.02)
        raise TimeoutError(f"no etcd leader agreed on within {timeout} s")
