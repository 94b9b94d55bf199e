"""Start, kill and restart store replicas as real processes on 127.0.0.1.

Used by the integration tests, the benchmarks and the chaos tools: each replica is a
`python -m raftkube store ...` process with its own data directory, raft port and HTTP port.
Every wait is bounded and polls the replicas' own status. The HTTP ports serve only clients
with the cluster's random `store_token` (in `store_token_file`, 0600): `client()` is one.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx

from ..secure_files import open_private_log, private_dir, read_secret, write_private
from ..store import HttpClient

# Ports for child processes come from below the kernel's ephemeral range (and below the NodePort
# range, 30000-32767, that the service proxies listen on). A port found by binding to port 0 comes
# from the ephemeral range, and until the child binds it, any outgoing connection on the machine
# may take it as its source port. A replica that cannot bind its Raft port looks exactly like a
# flake seen once in a full test run (no leader in 30 s, nothing logged); it now exits with an
# error instead (`StoreReplica.start`). Below the range only listeners compete, and the bind
# check here sees those.
LOW_PORTS = (20000, 30000)
_handed_out: set[int] = set()
_pick = random.Random(os.getpid())


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _binds(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now, below the ephemeral range when there is room there,
    and never handed out before by this process."""
    low, high = LOW_PORTS[0], min(LOW_PORTS[1], _ephemeral_low())
    for _ in range(200 if high - low >= 1000 else 0):
        port = _pick.randrange(low, high)
        if port not in _handed_out and _binds(port):
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # no room below: the kernel's choice
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    _handed_out.add(port)
    return port


@dataclass
class ReplicaProcess:
    name: str
    raft_addr: str
    http_addr: str
    data_dir: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.http_addr}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class LocalCluster:
    base_dir: str
    size: int = 3
    extra_args: list[str] = field(default_factory=list)
    replicas: list[ReplicaProcess] = field(default_factory=list)
    # fixed (raft_port, http_port) per replica; free ports are picked when not given
    ports: list[tuple[int, int]] = field(default_factory=list)
    store_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def __post_init__(self) -> None:
        for i in range(self.size):
            self._new_replica(i)

    def _new_replica(self, i: int) -> ReplicaProcess:
        raft_port, http_port = self.ports[i] if i < len(self.ports) else (free_port(), free_port())
        replica = ReplicaProcess(f"s{i + 1}", f"127.0.0.1:{raft_port}", f"127.0.0.1:{http_port}",
                                 os.path.join(self.base_dir, f"s{i + 1}"))
        self.replicas.append(replica)
        return replica

    @property
    def secret_file(self) -> str:
        """The cluster's Raft secret: random, made on first use, 0600 in the base directory."""
        path = os.path.join(self.base_dir, "cluster-secret")
        if not os.path.exists(path):
            private_dir(self.base_dir)
            write_private(path, secrets.token_urlsafe(32))
        return path

    @property
    def endpoints(self) -> list[str]:
        return [r.url for r in self.replicas]

    @property
    def store_token_file(self) -> str:
        return os.path.join(self.base_dir, "store-token")

    @property
    def store_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.store_token}"}

    def client(self, endpoints: list[str] | None = None, **options: float) -> HttpClient:
        """A store client with the cluster's token (all replicas' endpoints unless given)."""
        return HttpClient(endpoints if endpoints is not None else self.endpoints, token=self.store_token, **options)

    def command(self, replica: ReplicaProcess, peers: list[str]) -> list[str]:
        return [sys.executable, "-m", "raftkube", "store", "--id", replica.name, "--raft-addr", replica.raft_addr,
                "--peers", ",".join(peers), "--http-addr", replica.http_addr, "--data-dir", replica.data_dir,
                "--cluster-secret-file", self.secret_file, "--token-file", self.store_token_file, *self.extra_args]

    def start_replica(self, i: int, peers: list[str] | None = None) -> None:
        replica = self.replicas[i]
        if replica.running:
            return
        private_dir(self.base_dir)
        if os.path.exists(self.store_token_file):  # a directory used before keeps its token
            self.store_token = read_secret(self.store_token_file)
        else:
            write_private(self.store_token_file, self.store_token + "\n")
        private_dir(replica.data_dir)
        if peers is None:
            peers = [r.raft_addr for r in self.replicas if r is not replica]
        log = open_private_log(os.path.join(self.base_dir, f"{replica.name}.log"))
        replica.process = subprocess.Popen(self.command(replica, peers), stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)
        log.close()

    def start(self, timeout: float = 30.0) -> LocalCluster:
        private_dir(self.base_dir)
        for i in range(len(self.replicas)):
            self.start_replica(i)
        self.wait_healthy(timeout=timeout)
        return self

    def signal(self, i: int, sig: int) -> None:
        replica = self.replicas[i]
        if replica.process is not None and replica.running:
            os.kill(replica.process.pid, sig)

    def kill(self, i: int) -> None:
        """SIGKILL replica i and wait for it to be gone."""
        replica = self.replicas[i]
        if replica.process is not None:
            if replica.running:
                replica.process.kill()
            replica.process.wait(timeout=10)
            replica.process = None

    def stop(self, i: int) -> None:
        replica = self.replicas[i]
        if replica.process is not None:
            if replica.running:
                replica.process.send_signal(signal.SIGTERM)
                try:
                    replica.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    replica.process.kill()
                    replica.process.wait(timeout=10)
            replica.process = None

    def restart(self, i: int, timeout: float = 30.0) -> None:
        self.kill(i)
        self.start_replica(i)
        self.wait_healthy([i], timeout)

    def close(self) -> None:
        for i in range(len(self.replicas)):
            self.kill(i)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- status
    def status(self, i: int, timeout: float = 1.0) -> dict | None:
        try:
            response = httpx.get(self.replicas[i].url + "/v1/status", headers=self.store_headers, timeout=timeout)
            return response.json() if response.status_code == 200 else None
        except httpx.HTTPError:
            return None

    def wait_healthy(self, indexes: list[int] | None = None, timeout: float = 30.0) -> None:
        """Wait until the given replicas (default: all running ones) are caught up and see a leader."""
        wanted = indexes if indexes is not None else [i for i, r in enumerate(self.replicas) if r.running]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statuses = [self.status(i) for i in wanted]
            if all(s is not None and s.get("ready") and s.get("leader") for s in statuses):
                return
            for i in wanted:
                replica = self.replicas[i]
                if replica.process is not None and replica.process.poll() is not None:
                    raise RuntimeError(f"{replica.name} exited with {replica.process.returncode}; "
                                       f"see {self.base_dir}/{replica.name}.log")
            time.sleep(0.05)
        raise TimeoutError(f"replicas {wanted} not healthy within {timeout} s")

    def leader_index(self, timeout: float = 10.0, exclude: set[int] | frozenset[int] = frozenset()) -> int:
        """Index of the replica that a majority of running replicas name as leader."""
        deadline = time.monotonic() + timeout
        by_raft = {r.raft_addr: i for i, r in enumerate(self.replicas)}
        while time.monotonic() < deadline:
            votes: dict[str, int] = {}
            running = [i for i, r in enumerate(self.replicas) if r.running and i not in exclude]
            for i in running:
                s = self.status(i)
                if s and s.get("leader"):
                    votes[s["leader"]] = votes.get(s["leader"], 0) + 1
            for leader, count in votes.items():
                if count > len(self.replicas) // 2 and by_raft.get(leader) in running:
                    return by_raft[leader]
            time.sleep(0.02)
        raise TimeoutError(f"no leader agreed on within {timeout} s")

    def add_replica(self) -> int:
        """Create a new replica entry (not yet a member or started); returns its index."""
        self._new_replica(len(self.replicas))
        return len(self.replicas) - 1
