"""`python -m chaos run SCENARIO [--duration 60s] [--out DIR] [--seed N]`, `list`, `cleanup`.

`run` prints the report (faults, write gaps, failovers, checker verdicts) and exits 1 when any
check failed; the history, result JSON, report and PNG plot are in the output directory.
"""

from __future__ import annotations

import asyncio
import re
import sys

import click

from chaos import scenarios

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min)?\s*$")


def parse_duration(text: str) -> float:
    """"60s", "1.5m", "500ms" or a bare number of seconds."""
    match = _DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 60s, 2m or 500ms")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0}[unit]


@click.group(help="Fault-injection runs against a 3-replica cluster in network namespaces.")
def cli() -> None:
    pass


@cli.command("run")
@click.argument("scenario", type=click.Choice(list(scenarios.SCENARIOS)))
@click.option("--duration", default="60s", show_default=True, help="Workload time (faults fit inside it).")
@click.option("--out", "out_dir", default=None, help="Output directory (default: a new temporary one).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds targets and workload choices.")
@click.option("--clients", default=5, show_default=True, type=int, help="Concurrent register clients.")
@click.option("--timeout", default=1.5, show_default=True, type=float, help="Per-operation timeout, seconds.")
@click.option("--controllers/--no-controllers", default=None, help="Run controller-managers (default: scenario's).")
@click.option("--deployment/--no-deployment", default=None, help="Roll a Deployment on fake nodes during the run.")
def run_cmd(scenario: str, duration: str, out_dir: str | None, seed: int, clients: int, timeout: float,
            controllers: bool | None, deployment: bool | None) -> None:
    """Run SCENARIO and print its report."""
    from chaos.netns import available
    from chaos.runner import RunOptions, run_sync

    reason = available()
    if reason:
        raise click.ClickException(reason)
    options = RunOptions(duration=parse_duration(duration), out_dir=out_dir, seed=seed, clients=clients,
                         timeout=timeout, controllers=controllers, deployment=deployment)
    from chaos import report

    try:
        result, where = run_sync(scenarios.get(scenario), options)
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo("interrupted: the cluster and its namespaces were removed", err=True)
        sys.exit(130)
    click.echo(report.render_text(result))
    click.echo(f"history, result.json, summary.json, report.txt and plot.png in {where}")
    sys.exit(0 if result.ok else 1)


@cli.command("list")
def list_cmd() -> None:
    """The scenarios and what each does."""
    for scenario in scenarios.SCENARIOS.values():
        click.echo(f"{scenario.name:<16} {scenario.about}")


@cli.command("cleanup")
def cleanup_cmd() -> None:
    """Remove every leftover rkc* network namespace (and the processes in it) and link."""
    from chaos.netns import cleanup_all

    removed = cleanup_all()
    click.echo("\n".join(removed) if removed else "nothing to clean up")


def main() -> None:
    cli(prog_name="python -m chaos")


if __name__ == "__main__":
    main()
