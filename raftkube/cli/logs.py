"""`raftkube logs POD|TYPE/NAME [-c CONTAINER] [-f] [-p] [--tail N]`: a container's output, as `kubectl logs`.

`POD` may also be `pod/NAME`, or a workload or Service (`deploy/web`, `job/once`, `svc/web`):
then one of the pods it selects is read, chosen as kubectl chooses (`cli_logs_target`). The API
server relays the log from the agent of the pod's node; with `-f` the output follows until the
container exits or the command is interrupted.
"""

from __future__ import annotations

import sys

import click

from .common import CliError, Session, client_options, lookup, namespace_option, run
from .logs_target import first_pod, selector_of


@click.command()
@click.argument("pod")
@click.option("-c", "--container", default=None, help="The container (needed when the pod has several).")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming new output.")
@click.option("-p", "--previous", is_flag=True, help="The previous, terminated instance's output.")
@click.option("--tail", "tail", type=int, default=-1, help="Lines from the end to show (-1: all).")
@click.option("--timestamps", is_flag=True, help="Prefix each line with its time.")
@click.option("--pod-running-timeout", "pod_timeout", type=click.IntRange(min=1), default=20, show_default=True,
              help="Seconds to wait for a pod of TYPE/NAME to exist.")
@namespace_option
@client_options
def logs(pod: str, container: str | None, follow: bool, previous: bool, tail: int, timestamps: bool,
         pod_timeout: int, namespace: str | None, kubeconfig: str | None, context: str | None) -> None:
    """Print the logs of a container in a pod, or in a pod that a workload or Service selects."""
    type_name, _, name = pod.rpartition("/")
    if not name:
        raise click.UsageError("a pod name is required")

    async def action(session: Session) -> int:
        if tail < -1:
            raise CliError("--tail must be -1 or more")
        pod_name = name
        if type_name:
            res = lookup(type_name)
            if res.kind != "Pod":
                owner = await session.api.get(res, name, session.namespace if res.namespaced else None)
                chosen, found = await first_pod(session.api, session.namespace, selector_of(owner), pod_timeout)
                pod_name = chosen["metadata"]["name"]
                if found > 1:
                    click.echo(f"Found {found} pods, using pod/{pod_name}", err=True)
        out = sys.stdout.buffer
        async for chunk in session.api.logs(pod_name, session.namespace, container=container, follow=follow,
                                            previous=previous, tail_lines=None if tail == -1 else tail,
                                            timestamps=timestamps):
            out.write(chunk)
            out.flush()
        return 0

    run(kubeconfig, context, namespace, action)
