"""Back-off sequence, pod IP allocation, Lease renewal jitter and the agent's connection reuse."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raftkube.cli.agent import make_client
from raftkube.client.transport import PERIODIC_KEEPALIVE
from raftkube.node.backoff import Backoff
from raftkube.node.config import AgentConfig, default_pod_cidr
from raftkube.node.heartbeat import jittered
from raftkube.node.ip_alloc import IpAllocator, IpExhausted


def test_backoff_doubles_to_the_cap_and_resets_after_a_good_run() -> None:
    backoff, key = Backoff(base=1.0, cap=8.0, reset_after=60.0), ("uid", "app")
    delays = [backoff.record_exit(key, f"c{i}", 100.0 * i, 100.0 * i + 1) for i in range(6)]
    assert delays == [1, 2, 4, 8, 8, 8]
    assert backoff.record_exit(key, "c5", 500.0, 501.0) == 8  # the same exit counted once
    assert backoff.remaining(key, 501.0) == 8 and backoff.remaining(key, 505.0) == 4
    assert backoff.remaining(key, 600.0) == 0
    assert backoff.record_exit(key, "long", 1000.0, 1070.0) == 1  # ran 70 s > 60 s: back to the base
    backoff.forget_pod("uid")
    assert backoff.delay(key) == 0 and backoff.remaining(key, 0.0) == 0


def test_default_cidr_is_loopback_and_stable() -> None:
    cidr = default_pod_cidr("node-a")
    assert cidr == default_pod_cidr("node-a") and cidr.startswith("127.98.") and cidr.endswith(".0/24")
    assert ipaddress.ip_network(cidr).is_loopback


def test_ip_allocation_never_reuses_held_addresses_and_reserves_on_adopt() -> None:
    ips = IpAllocator("127.98.7.0/29")  # 6 usable addresses
    a, b = ips.allocate("a"), ips.allocate("b")
    assert a != b and ips.allocate("a") == a
    assert ips.reserve("c", a) is False  # held by a
    assert ips.reserve("c", "10.0.0.1") is False  # outside the CIDR
    assert ips.reserve("c", "127.98.7.5") is True and ips.get("c") == "127.98.7.5"
    ips.release("a")
    fresh = ips.allocate("d")
    assert fresh != a and fresh not in (b, "127.98.7.5")  # a just-released address is not reused at once
    ips.allocate("e")
    ips.allocate("f")
    assert ips.allocate("g") == a  # the only one left
    with pytest.raises(IpExhausted):
        ips.allocate("h")
    assert "127.98.7.0" not in ips.held() and "127.98.7.7" not in ips.held()


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 9)), max_size=60))
def test_ip_allocation_model(ops: list[tuple[bool, int]]) -> None:
    ips, held = IpAllocator("127.98.9.0/28"), {}
    for allocate, n in ops:
        uid = f"p{n}"
        if allocate:
            held[uid] = ips.allocate(uid)
        else:
            ips.release(uid)
            held.pop(uid, None)
        assert len(set(held.values())) == len(held)  # no address held twice
        assert {ip: uid for uid, ip in held.items()} == ips.held()


def test_lease_renewals_are_jittered_up_to_four_percent_like_client_go() -> None:
    waits = [jittered(10.0) for _ in range(200)]
    assert all(10.0 <= w <= 10.4 for w in waits)
    assert len({round(w, 6) for w in waits}) > 100  # nodes started together drift apart


def test_the_agents_client_keeps_idle_connections_longer_than_a_lease_renewal_period(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("secret\n")
    client = make_client("https://127.0.0.1:1", None, str(token), None)
    try:
        limits = client.http._transport.limits  # (the pool that reuses connections between renewals)
        assert limits.keepalive_expiry == PERIODIC_KEEPALIVE > 2 * AgentConfig(node="n").heartbeat
    finally:
        asyncio.run(client.close())
