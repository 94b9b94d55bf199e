"""`raftkube server --leader-elect-*` (kube-controller-manager's and kube-scheduler's flags): parsed as
Go durations, checked together with the flag named, and the timings reach both leader elections
(their Leases carry the lease duration; a holder keeps acting for the renew deadline)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import pytest

from raftkube.cli.election_timing import election_timing
from raftkube.client import ApiClient, ApiError
from raftkube.control.leader_election import ElectionTiming, LeaderElector
from raftkube.local.control_plane import LocalControlPlane
from tests.control.fake_leases import FakeLeaseApi

KUBERNETES = {"leader_elect_lease_duration": "15s", "leader_elect_renew_deadline": "10s",
              "leader_elect_retry_period": "2s"}
LEASE = ("coordination.k8s.io/v1", "Lease")


def test_unset_flags_keep_raftkubes_quick_failover() -> None:
    assert election_timing({}) == ElectionTiming(1.2, 0.8, 0.2)


def test_go_durations_become_the_timing() -> None:
    assert election_timing(KUBERNETES) == ElectionTiming(15.0, 10.0, 2.0)
    assert election_timing({"leader_elect_lease_duration": "1m", "leader_elect_renew_deadline": "40s",
                            "leader_elect_retry_period": "0.5"}) == ElectionTiming(60, 40, 0.5)


@pytest.mark.parametrize(("values", "named"), [
    ({"leader_elect_renew_deadline": "2s"}, "--leader-elect-renew-deadline"),  # above the 1.2 s lease
    ({"leader_elect_retry_period": "0s"}, "--leader-elect-retry-period"),
    ({"leader_elect_lease_duration": "15s", "leader_elect_renew_deadline": "15s"}, "--leader-elect-lease-duration"),
])
def test_timings_that_do_not_fit_together_are_usage_errors_naming_the_flag(values: dict, named: str) -> None:
    with pytest.raises(click.BadParameter) as caught:
        election_timing(values)
    assert named in str(caught.value.param_hint) and "renew deadline" in caught.value.message


def test_a_malformed_duration_names_its_flag() -> None:
    with pytest.raises(click.BadParameter) as caught:
        election_timing({"leader_elect_retry_period": "soon"})
    assert caught.value.param_hint == "--leader-elect-retry-period"


async def test_with_kubernetes_timings_a_renewal_9_s_late_keeps_leadership() -> None:
    timing = election_timing(KUBERNETES)
    now, api = [0.0], FakeLeaseApi()
    holder = LeaderElector(api, timing.config("l", "holder"), clock=lambda: now[0])  # type: ignore[arg-type]
    other = LeaderElector(api, timing.config("l", "other"), clock=lambda: now[0])  # type: ignore[arg-type]
    assert await holder.try_acquire_or_renew()
    now[0] = 9.0
    assert holder.is_leader() and not await other.try_acquire_or_renew()
    now[0] = 10.5  # past the renew deadline: the holder stops acting, but the Lease is not yet free
    assert not holder.is_leader() and not await other.try_acquire_or_renew()
    now[0] = 26.0  # the record unchanged for 15 s on the other's clock
    assert await other.try_acquire_or_renew() and other.is_leader()


def test_the_flags_reach_the_servers_leader_elections(tmp_path: Path) -> None:
    extra = ["--leader-elect-lease-duration=15s", "--leader-elect-renew-deadline=10s", "--leader-elect-retry-period=2s"]
    plane = LocalControlPlane(str(tmp_path / "plane"), size=1, controllers=True, extra_args=extra)
    try:
        plane.start(timeout=60)
        leases = asyncio.run(held_leases(plane, {"raftkube-scheduler", "raftkube-controller-manager"}))
    finally:
        plane.close()
    for name, lease in leases.items():
        assert lease["spec"]["leaseDurationSeconds"] == 15, name
        assert lease["metadata"]["annotations"]["raftkube.io/lease-duration-ms"] == "15000", name


async def held_leases(plane: LocalControlPlane, names: set[str]) -> dict[str, dict]:
    """The named Leases once each has a holder, seen through a watch (bounded by its timeout)."""
    held: dict[str, dict] = {}
    async with ApiClient(plane.api_urls, plane.token, plane.ca_file) as api:
        for _ in range(20):  # the API may still be starting: retried, bounded
            try:
                async for kind, lease in api.watch(LEASE, "kube-system", timeout_seconds=30, follow=False):
                    if kind == "BOOKMARK":
                        continue
                    if lease["metadata"]["name"] in names and lease["spec"].get("holderIdentity"):
                        held[lease["metadata"]["name"]] = lease
                    if set(held) == names:
                        return held
            except ApiError:
                await asyncio.sleep(0.2)
    raise AssertionError(f"leases held: {sorted(held)}, wanted {sorted(names)}")
