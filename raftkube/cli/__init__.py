"""The `raftkube` command line; each command family lives in a small module beside this one."""

from __future__ import annotations

import click

from .. import __version__
from ..secure_files import restrict_umask
from .agent import agent
from .apply import apply
from .certs import certs
from .chaos import chaos
from .delete import delete
from .describe import describe
from .get import get
from .ingress import ingress_controller
from .init import init, token
from .join import join
from .kubeconfig import kubeconfig
from .logs import logs
from .rollout import rollout, scale
from .server import server
from .store import store
from .store_snapshot import snapshot
from .up import down, up


@click.group()
@click.version_option(__version__, prog_name="raftkube")
def main() -> None:
    """raftkube: a Kubernetes-style control plane on a Raft-replicated store."""
    restrict_umask()  # every file a raftkube process creates is private unless written public on purpose


store.add_command(snapshot)
main.add_command(store)
main.add_command(server)
main.add_command(agent)
main.add_command(chaos)
for _command in (apply, get, describe, delete, kubeconfig, logs, rollout, scale):
    main.add_command(_command)
main.add_command(up)
for _command in (init, join, token, certs):
    main.add_command(_command)
main.add_command(down)
main.add_command(ingress_controller)

if __name__ == "__main__":
    main()
