"""`--heartbeat-interval` and `--election-timeout` (etcd's flags, milliseconds) for `raftkube server`
and `raftkube store`: unset, the replica keeps raftkube's defaults (50 ms heartbeats, elections after
300–700 ms of silence, quick failover on an idle machine); a loaded or large cluster sets them as
etcd's tuning guide says (election ≥ 10 × the peers' round trip, more under CPU starvation)."""

from __future__ import annotations

from typing import Any, Callable

import click

from ..store import RaftTuning


def raft_timing_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--election-timeout", "election_timeout_ms", type=click.IntRange(min=50), default=None,
                      help="Milliseconds a follower hears no leader before it campaigns (randomised up to twice "
                           "that); default 300–700 ms. Raise it on a loaded machine to avoid needless elections.")(fn)
    return click.option("--heartbeat-interval", "heartbeat_interval_ms", type=click.IntRange(min=10), default=None,
                        help="Milliseconds between the leader's heartbeats (default 50).")(fn)


def apply_raft_timing(tuning: RaftTuning, heartbeat_ms: int | None, election_ms: int | None) -> None:
    """Set the flags on `tuning`; a usage error naming the flag when they do not fit together."""
    try:
        tuning.set_timing(heartbeat_ms, election_ms)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--election-timeout") from None
