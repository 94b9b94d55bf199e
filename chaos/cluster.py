"""A 3-replica raftkube control plane whose replicas live in their own network namespaces.

Replica i (1-based, named ``s<i>``) is one ``python -m raftkube server`` process started with
``ip netns exec`` (which execs, so the process id is the server's own) at 10.77.<run>.<i>: Raft on
port 7001, the Kubernetes API (TLS from the cluster's own CA, a random token) on 6443, the store's HTTP
port on 8001 (its own random token; on the replica's address, so the runner outside can reach it). With
``controllers`` each replica also runs its controller-manager and scheduler. The runner, in the root
namespace, probes each replica's store status to find the Raft leader and reads the
controller-manager's Lease through the API to find the active one. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx
import yaml

from chaos.netns import Network
from raftkube.client import ApiClient, ApiError
from raftkube.client.failover import RetryPolicy
from raftkube.client.kubeconfig import build_kubeconfig
from raftkube.pki import ensure_pki
from raftkube.secure_files import write_private

RAFT_PORT, API_PORT, STORE_PORT = 7001, 6443, 8001
CM_LEASE = ("kube-system", "raftkube-controller-manager")
SCHED_LEASE = ("kube-system", "raftkube-scheduler")
LEASE = ("coordination.k8s.io/v1", "Lease")


@dataclass
class Replica:
    index: int
    addr: str
    data_dir: str
    process: subprocess.Popen[bytes] | None = None
    paused: bool = False

    @property
    def name(self) -> str:
        return f"s{self.index}"

    @property
    def raft_addr(self) -> str:
        return f"{self.addr}:{RAFT_PORT}"

    @property
    def api_url(self) -> str:
        return f"https://{self.addr}:{API_PORT}"

    @property
    def store_url(self) -> str:
        return f"http://{self.addr}:{STORE_PORT}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class ChaosCluster:
    """Start/stop/kill/pause/resume replicas in their namespaces; find the Raft and controller leaders."""

    def __init__(self, base_dir: str, size: int = 3, controllers: bool = True, first_run: int | None = None) -> None:
        self.base_dir = base_dir
        self.controllers = controllers
        self.net = Network(size=size)
        self._first_run = first_run
        self.replicas: list[Replica] = []
        self._http: httpx.AsyncClient | None = None
        self._api: ApiClient | None = None
        self.token = secrets.token_urlsafe(24)  # the admin's API token
        self.store_token = secrets.token_urlsafe(24)  # the store port's

    # --------------------------------------------------------------- set-up
    @property
    def token_file(self) -> str:
        return os.path.join(self.base_dir, "tokens.csv")

    @property
    def store_token_file(self) -> str:
        return os.path.join(self.base_dir, "store-token")

    @property
    def ca_file(self) -> str:
        return os.path.join(self.base_dir, "pki", "ca.crt")

    @property
    def secret_file(self) -> str:
        return os.path.join(self.base_dir, "cluster-secret")

    @property
    def store_urls(self) -> list[str]:
        return [r.store_url for r in self.replicas]

    @property
    def api_urls(self) -> list[str]:
        return [r.api_url for r in self.replicas]

    def replica(self, i: int) -> Replica:
        return self.replicas[i - 1]

    @property
    def indexes(self) -> list[int]:
        return [r.index for r in self.replicas]

    def api_client(self, endpoints: list[str] | None = None, timeout: float = 2.0, deadline: float = 2.0) -> ApiClient:
        return ApiClient(endpoints or self.api_urls, self.token, self.ca_file, timeout=timeout,
                         retry=RetryPolicy(deadline=deadline, backoff_max=0.2))

    async def start(self, timeout: float = 60.0) -> ChaosCluster:
        os.makedirs(self.base_dir, exist_ok=True)
        self.net.create(self._first_run)
        self.replicas = [Replica(i, self.net.addr(i), os.path.join(self.base_dir, f"s{i}"))
                         for i in range(1, self.net.size + 1)]
        self._write_credentials()
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(0.5, connect=0.3),
                                       headers={"authorization": f"Bearer {self.store_token}"})
        self._api = self.api_client(timeout=1.0, deadline=1.0)
        for r in self.replicas:
            self.start_replica(r.index)
        await self.wait_healthy(timeout=timeout)
        return self

    def _write_credentials(self) -> None:
        write_private(self.secret_file, secrets.token_urlsafe(32))  # a random Raft secret per cluster
        write_private(self.store_token_file, self.store_token)
        write_private(self.token_file, f"{self.token},admin,admin-uid,system:masters\n")
        self.pki = ensure_pki(os.path.join(self.base_dir, "pki"), [r.addr for r in self.replicas])

    def _kubeconfig(self, r: Replica) -> str:
        path = os.path.join(self.base_dir, f"{r.name}.kubeconfig")
        others = [o.api_url for o in self.replicas if o is not r]
        write_private(path, yaml.safe_dump(build_kubeconfig([r.api_url, *others], self.token,
                                                            ca_data=self.pki.ca_pem()), sort_keys=False))
        return path

    def command(self, r: Replica) -> list[str]:
        peers = ",".join(o.raft_addr for o in self.replicas if o is not r)
        control = ["--kubeconfig", self._kubeconfig(r)] if self.controllers else []
        return self.net.in_ns(r.index, sys.executable, "-m", "raftkube", "server", "--id", r.name,
                              "--raft-addr", r.raft_addr, "--peers", peers, "--api-addr", f"{r.addr}:{API_PORT}",
                              "--store-addr", f"{r.addr}:{STORE_PORT}", "--data-dir", r.data_dir,
                              "--cluster-secret-file", self.secret_file, "--token-file", self.token_file,
                              "--store-token-file", self.store_token_file, "--tls-cert", self.pki.server_cert,
                              "--tls-key", self.pki.server_key, *control)

    def start_replica(self, i: int) -> None:
        r = self.replica(i)
        if r.running:
            return
        os.makedirs(r.data_dir, exist_ok=True)
        with open(os.path.join(self.base_dir, f"{r.name}.log"), "ab") as log:
            r.process = subprocess.Popen(self.command(r), stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        r.paused = False

    # -------------------------------------------------------------- signals
    async def kill(self, i: int) -> None:
        """SIGKILL replica i and wait until it is gone."""
        r = self.replica(i)
        if r.process is not None:
            with contextlib.suppress(ProcessLookupError):
                r.process.kill()
            await asyncio.to_thread(r.process.wait, 10)
            r.process = None
        r.paused = False

    async def stop(self, i: int) -> None:
        """SIGTERM (clean shutdown: leases released), SIGKILL after 10 s."""
        r = self.replica(i)
        if r.process is None:
            return
        if r.paused:
            self.resume(i)
        with contextlib.suppress(ProcessLookupError):
            r.process.terminate()
        try:
            await asyncio.to_thread(r.process.wait, 10)
        except subprocess.TimeoutExpired:
            await self.kill(i)
        r.process = None

    def pause(self, i: int) -> None:
        r = self.replica(i)
        if r.running:
            os.kill(r.process.pid, signal.SIGSTOP)  # type: ignore[union-attr]
            r.paused = True

    def resume(self, i: int) -> None:
        r = self.replica(i)
        if r.running:
            os.kill(r.process.pid, signal.SIGCONT)  # type: ignore[union-attr]
        r.paused = False

    async def restart(self, i: int) -> None:
        await self.kill(i)
        self.start_replica(i)

    async def close(self) -> None:
        for r in self.replicas:
            if r.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    r.process.kill()
                    os.kill(r.process.pid, signal.SIGCONT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    await asyncio.to_thread(r.process.wait, 10)
                r.process = None
        for client in (self._api, self._http):
            if client is not None:
                with contextlib.suppress(Exception):
                    await (client.close() if isinstance(client, ApiClient) else client.aclose())
        self._api = self._http = None
        self.net.destroy()

    async def __aenter__(self) -> ChaosCluster:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --------------------------------------------------------------- status
    async def status(self, i: int) -> dict[str, Any] | None:
        r = self.replica(i)
        if not r.running or r.paused or self._http is None:
            return None
        try:
            response = await self._http.get(r.store_url + "/v1/status")
            return response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    async def wait_healthy(self, indexes: list[int] | None = None, timeout: float = 60.0) -> float:
        """Wait until the replicas (default: all) are up, caught up and agree on a leader; returns the wait."""
        wanted = indexes or self.indexes
        began = time.monotonic()
        while time.monotonic() < began + timeout:
            statuses = await asyncio.gather(*(self.status(i) for i in wanted))
            leaders = {s.get("leader") for s in statuses if s}
            if all(s and s.get("ready") and s.get("leader") for s in statuses) and len(leaders) == 1:
                return time.monotonic() - began
            for i in wanted:
                r = self.replica(i)
                if r.process is not None and r.process.poll() is not None:
                    raise RuntimeError(f"{r.name} exited with {r.process.returncode}; see {self.base_dir}/{r.name}.log")
            await asyncio.sleep(0.05)
        raise TimeoutError(f"replicas {wanted} not healthy within {timeout} s (see {self.base_dir}/s*.log)")

    async def leader(self, exclude: set[int] | frozenset[int] = frozenset()) -> int | None:
        """The replica a majority of the (reachable, not excluded) replicas name as Raft leader, if any."""
        by_raft = {r.raft_addr: r.index for r in self.replicas}
        asked = [r.index for r in self.replicas if r.index not in exclude]
        statuses = await asyncio.gather(*(self.status(i) for i in asked))
        votes: dict[int, int] = {}
        for s in statuses:
            leader = by_raft.get((s or {}).get("leader") or "")
            if leader is not None and leader not in exclude:
                votes[leader] = votes.get(leader, 0) + 1
        for index, count in votes.items():
            if count > len(self.replicas) // 2:
                return index
        return None

    async def wait_leader(self, exclude: set[int] | frozenset[int] = frozenset(), timeout: float = 30.0,
                          interval: float = 0.02) -> int | None:
        """Poll until a majority names a leader outside ``exclude``; None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = await self.leader(exclude)
            if found is not None:
                return found
            await asyncio.sleep(interval)
        return None

    async def lease_holder(self, lease: tuple[str, str] = CM_LEASE) -> tuple[str, str] | None:
        """(holderIdentity, renewTime) of a leader-election Lease, read through the API; None if unreadable."""
        if self._api is None:
            return None
        try:
            obj = await self._api.get(LEASE, lease[1], lease[0])
        except (ApiError, httpx.HTTPError):
            return None
        spec = obj.get("spec") or {}
        return spec.get("holderIdentity") or "", str(spec.get("renewTime"))

    async def controller_index(self, lease: tuple[str, str] = CM_LEASE) -> int | None:
        held = await self.lease_holder(lease)
        names = {r.name: r.index for r in self.replicas}
        return names.get(held[0]) if held else None

    async def wait_new_holder(self, old: str | None, lease: tuple[str, str] = CM_LEASE, timeout: float = 30.0,
                              interval: float = 0.05) -> str | None:
        """Wait until someone other than ``old`` holds the Lease (taking it is a renewal); None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            held = await self.lease_holder(lease)
            if held and held[0] and held[0] != old:
                return held[0]
            await asyncio.sleep(interval)
        return None
