"""`raftkube logs POD [-c CONTAINER] [-f] [-p] [--tail N]`: a container's output, as `kubectl logs`.

`POD` may also be `pod/NAME`. The API server relays the log from the agent of the pod's node;
with `-f` the output follows until the container exits or the command is interrupted.
"""

from __future__ import annotations

import sys

import click

from .cli_common import CliError, Session, client_options, namespace_option, run


@click.command()
@click.argument("pod")
@click.option("-c", "--container", default=None, help="The container (needed when the pod has several).")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming new output.")
@click.option("-p", "--previous", is_flag=True, help="The previous, terminated instance's output.")
@click.option("--tail", "tail", type=int, default=-1, help="Lines from the end to show (-1: all).")
@click.option("--timestamps", is_flag=True, help="Prefix each line with its time.")
@namespace_option
@client_options
def logs(pod: str, container: str | None, follow: bool, previous: bool, tail: int, timestamps: bool,
         namespace: str | None, kubeconfig: str | None, context: str | None) -> None:
    """Print the logs of a container in a pod."""
    kind, _, name = pod.rpartition("/")
    if kind not in ("", "pod", "pods", "po"):
        raise click.UsageError(f"logs are read from pods, not {kind!r}")
    if not name:
        raise click.UsageError("a pod name is required")

    async def action(session: Session) -> int:
        if tail < -1:
            raise CliError("--tail must be -1 or more")
        out = sys.stdout.buffer
        async for chunk in session.api.logs(name, session.namespace, container=container, follow=follow,
                                            previous=previous, tail_lines=None if tail == -1 else tail,
                                            timestamps=timestamps):
            out.write(chunk)
            out.flush()
        return 0

    run(kubeconfig, context, namespace, action)
