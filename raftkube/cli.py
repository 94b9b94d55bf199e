"""The `raftkube` command line; each command family lives in a small module beside this one."""

from __future__ import annotations

import click

from . import __version__
from .cli_agent import agent
from .cli_apply import apply
from .cli_chaos import chaos
from .cli_delete import delete
from .cli_describe import describe
from .cli_get import get
from .cli_kubeconfig import kubeconfig
from .cli_logs import logs
from .cli_rollout import rollout, scale
from .cli_server import server
from .cli_store import store
from .cli_up import down, up


@click.group()
@click.version_option(__version__, prog_name="raftkube")
def main() -> None:
    """raftkube: a Kubernetes-style control plane on a Raft-replicated store."""


main.add_command(store)
main.add_command(server)
main.add_command(agent)
main.add_command(chaos)
for _command in (apply, get, describe, delete, kubeconfig, logs, rollout, scale):
    main.add_command(_command)
main.add_command(up)
main.add_command(down)

if __name__ == "__main__":
    main()
