"""`--leader-elect-lease-duration`, `--leader-elect-renew-deadline`, `--leader-elect-retry-period`
(kube-controller-manager's and kube-scheduler's flags, Go durations) for `raftkube server`: the
timings of its controller-manager's and scheduler's leader elections. Unset, raftkube's defaults
(1.2 s / 0.8 s / 0.2 s: a killed leader is replaced in about 1.5 s); a large or loaded cluster
takes Kubernetes' 15s / 10s / 2s, so that a renewal slowed by load does not end a leadership
(each change makes the new leader relist everything)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import click

from .common import parse_duration

if TYPE_CHECKING:
    from ..control.leader_election import ElectionTiming

FLAGS = (("--leader-elect-lease-duration", "lease_duration",
          "How long a candidate waits, after the Lease last changed, before it takes it over (default 1.2s)."),
         ("--leader-elect-renew-deadline", "renew_deadline",
          "How long the leader keeps acting without a successful renewal (default 0.8s)."),
         ("--leader-elect-retry-period", "retry_period",
          "How often candidates try to take or renew the Lease (default 0.2s)."))


def election_timing_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for flag, dest, text in reversed(FLAGS):
        fn = click.option(flag, "leader_elect_" + dest, default=None, metavar="DURATION", help=text)(fn)
    return fn


def election_timing(values: dict[str, str | None]) -> ElectionTiming:
    """The timing from the flags' values (keyed as the options' names), a usage error naming the flag."""
    from ..control.leader_election import ElectionTiming  # (the client library loads only when it runs)

    default = ElectionTiming()
    seconds: dict[str, float] = {}
    for flag, dest, _ in FLAGS:
        text = values.get("leader_elect_" + dest)
        seconds[dest] = getattr(default, dest) if text is None else parse_duration(text, flag)
    try:
        return ElectionTiming(**seconds)
    except ValueError:
        given = [flag for flag, dest, _ in FLAGS if values.get("leader_elect_" + dest) is not None]
        raise click.BadParameter(
            f"needs 0 < retry period ({seconds['retry_period']}s) < renew deadline ({seconds['renew_deadline']}s) "
            f"< lease duration ({seconds['lease_duration']}s)", param_hint=" / ".join(given or [FLAGS[0][0]])) from None
