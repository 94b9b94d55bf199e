"""etcd's --heartbeat-interval / --election-timeout on raftkube's replicas: how they map onto PySyncObj's
settings, and flags that do not fit together refused with the flag named (nothing started)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from raftkube.cli.store import store
from raftkube.secure_files import write_private
from raftkube.store import RaftTuning


def test_unset_flags_keep_the_defaults() -> None:
    tuning = RaftTuning()
    tuning.set_timing(None, None)
    assert tuning == RaftTuning()


def test_election_timeout_as_etcd_randomises_up_to_twice_and_the_leader_steps_down_before() -> None:
    tuning = RaftTuning()
    tuning.set_timing(100, 1000)
    assert (tuning.heartbeat_period, tuning.election_timeout_min, tuning.election_timeout_max) == (0.1, 1.0, 2.0)
    assert tuning.leader_fallback_timeout == pytest.approx(0.8) and tuning.tick_period <= tuning.heartbeat_period
    fast = RaftTuning()
    fast.set_timing(20, None)
    assert fast.tick_period == 0.02  # a tick never waits longer than a heartbeat


@pytest.mark.parametrize("heartbeat, election", [(100, 300), (None, 200)])
def test_an_election_timeout_under_five_heartbeats_is_refused(heartbeat: int | None, election: int) -> None:
    with pytest.raises(ValueError, match="--election-timeout"):
        RaftTuning().set_timing(heartbeat, election)


def test_the_store_command_names_the_flag(tmp_path: Path) -> None:
    secret = write_private(str(tmp_path / "secret"), "a-long-random-cluster-secret-for-raft-peers\n")
    token = write_private(str(tmp_path / "token"), "s3cret\n")
    result = CliRunner().invoke(store, ["--data-dir", str(tmp_path / "data"), "--cluster-secret-file", secret,
                                        "--token-file", token, "--heartbeat-interval", "100",
                                        "--election-timeout", "300"])
    assert result.exit_code == 2 and "--election-timeout" in result.output and "5 ×" in result.output
    assert not (tmp_path / "data").exists()  # refused before anything was written
