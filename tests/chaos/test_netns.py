"""Namespace plumbing: a partitioned replica cannot reach the others but the runner can; cleanup leaves nothing."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from chaos.netns import Network, available, cleanup_all, leftovers, sh

REASON = available()
pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120),
              pytest.mark.skipif(REASON is not None, reason=f"network namespaces unavailable: {REASON}")]
PORT = 7001


def runner_reaches(addr: str, port: int = PORT) -> bool:
    try:
        socket.create_connection((addr, port), 1.0).close()
        return True
    except OSError:
        return False


def wait_listening(net: Network, i: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runner_reaches(net.addr(i)):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listening in {net.ns(i)} within {timeout} s")


@pytest.fixture
def net() -> Iterator[Network]:
    """Three namespaces, each with a TCP listener on its own address."""
    network = Network().create()
    servers = []
    try:
        for i in (1, 2, 3):
            servers.append(subprocess.Popen(network.in_ns(i, sys.executable, "-m", "http.server", "--bind",
                                                          network.addr(i), str(PORT)),
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for i in (1, 2, 3):
            wait_listening(network, i)
        yield network
    finally:
        network.destroy()
        for server in servers:
            server.wait(10)


def test_each_replica_has_its_own_address_and_reaches_the_others(net: Network) -> None:
    assert net.addr(1) != net.addr(2)
    assert net.can_reach(1, net.addr(2), PORT) and net.can_reach(3, net.addr(1), PORT)
    assert not net.can_reach(1, "127.0.0.1", 22)  # its own loopback, not the host's
    for i in (1, 2, 3):
        assert runner_reaches(net.addr(i))


def test_partition_cuts_replicas_but_not_the_runner(net: Network) -> None:
    net.partition(1)
    assert not net.can_reach(1, net.addr(2), PORT)
    assert not net.can_reach(2, net.addr(1), PORT)  # both directions
    assert net.can_reach(2, net.addr(3), PORT)  # the majority still talks
    assert runner_reaches(net.addr(1))  # the runner still reaches the isolated replica
    net.heal(1)
    assert net.can_reach(1, net.addr(2), PORT) and net.can_reach(2, net.addr(1), PORT)


def test_rate_limit_installs_and_removes_a_token_bucket(net: Network) -> None:
    net.rate_limit(2, "256kbit")
    assert "tbf" in sh(*net.in_ns(2, "tc", "qdisc", "show", "dev", "eth0")).stdout
    assert net.can_reach(1, net.addr(2), PORT)
    net.clear_rate_limit(2)
    assert "tbf" not in sh(*net.in_ns(2, "tc", "qdisc", "show", "dev", "eth0")).stdout


def test_destroy_and_cleanup_leave_nothing() -> None:
    kept = Network().create()
    leaked = Network().create()
    sleeper = subprocess.Popen(leaked.in_ns(1, "sleep", "600"))
    kept.destroy()
    spaces, links = leftovers()
    assert not [s for s in spaces if s.startswith(f"rkc{kept.run}-")]
    assert kept.bridge not in links and kept.veth(1) not in links
    assert leaked.ns(1) in spaces and leaked.bridge in links
    removed = cleanup_all()
    assert f"netns {leaked.ns(1)}" in removed
    assert sleeper.wait(10) == -9  # the process inside was killed
    spaces, links = leftovers()
    assert not [s for s in spaces if s.startswith(f"rkc{leaked.run}-")] and leaked.bridge not in links
