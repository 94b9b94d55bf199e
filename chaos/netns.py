"""Network namespaces for chaos runs: one per replica, joined by a bridge, like three small VMs.

Address plan for run ``r`` (1..250): bridge ``rkc<r>br`` in the root namespace at 10.77.<r>.254/24;
replica ``i`` (1-based) in namespace ``rkc<r>-s<i>`` at 10.77.<r>.<i> on ``eth0``, the peer of the root
veth ``rkc<r>v<i>`` enslaved to the bridge. The runner (root namespace) reaches every replica over the
bridge. Faults on the wire:

- partition: iptables DROP (INPUT and OUTPUT) inside the isolated replica's namespace for the other
  replicas' addresses only, so the runner still reaches it; heal flushes those chains.
- slow network: a ``tbf`` rate limit on the replica's ``eth0`` (``netem`` is absent from this kernel).

`cleanup_all` removes every ``rkc*`` namespace (killing the processes inside) and link, whoever made them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass, field

NS_RE = re.compile(r"^rkc(\d+)-s(\d+)$")
LINK_RE = re.compile(r"^rkc\d+(br|v\d+)(@\S+)?$")


class NetnsError(RuntimeError):
    """An `ip`/`iptables`/`tc` command failed."""


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one command (no shell); raise NetnsError with its stderr when ``check`` and it fails."""
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise NetnsError(f"{' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def available() -> str | None:
    """None when namespaces, veth pairs and iptables work here; else the reason why not."""
    if os.geteuid() != 0:
        return "needs root (ip netns)"
    probe = f"rkcprobe{os.getpid() % 100000}"
    try:
        sh("ip", "netns", "add", probe)
        try:
            sh("ip", "netns", "exec", probe, "iptables", "-S", "INPUT")
        finally:
            sh("ip", "netns", "del", probe, check=False)
    except (NetnsError, FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return f"ip netns / iptables unavailable: {exc}"
    return None


@dataclass
class Network:
    """The bridge and namespaces of one run; `create` picks a free run number."""

    size: int = 3
    run: int = 0
    created: bool = False
    partitioned: set[int] = field(default_factory=set)

    # ----------------------------------------------------------------- names
    @property
    def bridge(self) -> str:
        return f"rkc{self.run}br"

    @property
    def host_addr(self) -> str:
        return f"10.77.{self.run}.254"

    def ns(self, i: int) -> str:
        return f"rkc{self.run}-s{i}"

    def addr(self, i: int) -> str:
        return f"10.77.{self.run}.{i}"

    def veth(self, i: int) -> str:
        return f"rkc{self.run}v{i}"

    def in_ns(self, i: int, *args: str) -> list[str]:
        """A command line that runs ``args`` inside replica i's namespace."""
        return ["ip", "netns", "exec", self.ns(i), *args]

    # ----------------------------------------------------------------- setup
    def create(self, first_run: int | None = None) -> Network:
        """Claim a free run number (creating its bridge is the atomic claim), then the namespaces."""
        start = first_run if first_run is not None else os.getpid() % 200 + 1
        for step in range(250):
            self.run = (start - 1 + step) % 250 + 1
            if sh("ip", "link", "add", self.bridge, "type", "bridge", check=False).returncode == 0:
                break
        else:
            raise NetnsError("no free run number: run `python -m chaos cleanup`")
        self.created = True
        try:
            sh("ip", "addr", "add", f"{self.host_addr}/24", "dev", self.bridge)
            sh("ip", "link", "set", self.bridge, "up")
            for i in range(1, self.size + 1):
                self._add_replica(i)
        except BaseException:
            self.destroy()
            raise
        return self

    def _add_replica(self, i: int) -> None:
        ns, veth, peer = self.ns(i), self.veth(i), f"rkc{self.run}p{i}"
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", peer)
        sh("ip", "link", "set", peer, "netns", ns)
        sh(*self.in_ns(i, "ip", "link", "set", peer, "name", "eth0"))
        sh(*self.in_ns(i, "ip", "addr", "add", f"{self.addr(i)}/24", "dev", "eth0"))
        sh(*self.in_ns(i, "ip", "link", "set", "eth0", "up"))
        sh(*self.in_ns(i, "ip", "link", "set", "lo", "up"))
        sh("ip", "link", "set", veth, "master", self.bridge)
        sh("ip", "link", "set", veth, "up")

    def destroy(self) -> None:
        """Kill what runs in our namespaces, then delete them, the veths and the bridge."""
        if not self.created:
            return
        for i in range(1, self.size + 1):
            kill_namespace(self.ns(i))
            sh("ip", "link", "del", self.veth(i), check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        self.created = False
        self.partitioned.clear()

    def __enter__(self) -> Network:
        return self.create() if not self.created else self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # ---------------------------------------------------------------- faults
    def partition(self, i: int) -> None:
        """Cut replica i off from the other replicas (both directions); the runner still reaches it."""
        for j in range(1, self.size + 1):
            if j == i:
                continue
            sh(*self.in_ns(i, "iptables", "-A", "INPUT", "-s", self.addr(j), "-j", "DROP"))
            sh(*self.in_ns(i, "iptables", "-A", "OUTPUT", "-d", self.addr(j), "-j", "DROP"))
        self.partitioned.add(i)

    def heal(self, i: int | None = None) -> None:
        """Remove the partition rules of replica i (default: of every replica)."""
        for j in ([i] if i is not None else range(1, self.size + 1)):
            sh(*self.in_ns(j, "iptables", "-F", "INPUT"), check=False)
            sh(*self.in_ns(j, "iptables", "-F", "OUTPUT"), check=False)
            self.partitioned.discard(j)

    def rate_limit(self, i: int, rate: str = "512kbit", burst: str = "16kb", latency: str = "200ms") -> None:
        """Limit what replica i sends (token bucket on its eth0)."""
        sh(*self.in_ns(i, "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", rate, "burst", burst,
                       "latency", latency))

    def clear_rate_limit(self, i: int) -> None:
        sh(*self.in_ns(i, "tc", "qdisc", "del", "dev", "eth0", "root"), check=False)

    def can_reach(self, i: int, addr: str, port: int, timeout: float = 1.0) -> bool:
        """Whether a TCP connection from inside replica i's namespace to addr:port succeeds."""
        code = (f"import socket\ntry:\n socket.create_connection(({addr!r}, {port}), {timeout}).close()\n"
                f"except OSError:\n raise SystemExit(1)")
        import sys

        return sh(*self.in_ns(i, sys.executable, "-c", code), check=False).returncode == 0


def kill_namespace(ns: str) -> None:
    """SIGKILL (after SIGCONT) every process in namespace ``ns`` and delete it."""
    pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
    for pid in pids:
        for sig in (signal.SIGKILL, signal.SIGCONT):
            try:
                os.kill(int(pid), sig)
            except (ProcessLookupError, ValueError):
                break
    sh("ip", "netns", "del", ns, check=False)


def leftovers() -> tuple[list[str], list[str]]:
    """(namespaces, links) named like ours."""
    names = [line.split()[0] for line in sh("ip", "netns", "list", check=False).stdout.splitlines() if line.strip()]
    spaces = [n for n in names if NS_RE.match(n)]
    links = []
    for line in sh("ip", "-o", "link", "show", check=False).stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) > 1 and LINK_RE.match(parts[1].strip()):
            links.append(parts[1].strip().split("@")[0])
    return spaces, links


def cleanup_all() -> list[str]:
    """Remove every leftover rkc* namespace (and its processes) and link; returns what was removed."""
    spaces, links = leftovers()
    for ns in spaces:
        kill_namespace(ns)
    removed = [f"netns {ns}" for ns in spaces]
    for link in sorted(links, key=lambda name: name.endswith("br")):  # veths first, bridges last
        if sh("ip", "link", "del", link, check=False).returncode == 0:
            removed.append(f"link {link}")
    return removed
