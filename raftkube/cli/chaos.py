"""`raftkube chaos ...`: the fault-injection runner (`chaos/`, outside the package) as a CLI group.

The commands are those of `python -m chaos` (run, list, cleanup), loaded only when the group is
used, so `raftkube` starts without importing the runner, its checkers or matplotlib.
"""

from __future__ import annotations

import click


class _LazyChaosGroup(click.Group):
    """Delegates to `chaos.__main__.cli`, imported on first use."""

    @staticmethod
    def _target() -> click.Group:
        try:
            from chaos.__main__ import cli
        except ImportError as exc:  # installed without the chaos package
            raise click.ClickException(f"the chaos runner is not installed: {exc}") from None
        return cli

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._target().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._target().get_command(ctx, cmd_name)


chaos = _LazyChaosGroup(name="chaos", help="Failover experiments against a 3-replica cluster in network namespaces "
                        "(run SCENARIO, list, cleanup).")
