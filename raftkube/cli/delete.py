"""`raftkube delete TYPE NAME... | TYPE/NAME... | -f FILE`: kubectl's delete (prints `pod "x" deleted`).

Deletes with a DeleteOptions body (propagationPolicy from --cascade, Background by default)
and, with --wait (the default, as kubectl), waits until the object is gone: a GET, then a
watch on its name until DELETED, for at most --timeout seconds.
"""

from __future__ import annotations

import asyncio

import click

from ..api.resources import Resource
from ..client import ApiError, NotFound, qualified_kind
from .common import CliError, Session, client_options, namespace_option, parse_targets, run
from .manifests import load_manifests

CASCADE = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan"}


@click.command("delete")
@click.argument("targets", nargs=-1)
@click.option("-f", "--filename", "filenames", multiple=True, help="Delete the objects in these files (- = stdin).")
@click.option("-R", "--recursive", is_flag=True, help="Read folders recursively.")
@namespace_option
@click.option("-l", "--selector", default=None, help="Delete every object of TYPE matching this label selector.")
@click.option("--all", "delete_all", is_flag=True, help="Delete every object of TYPE in the namespace.")
@click.option("--cascade", type=click.Choice(sorted(CASCADE)), default="background", show_default=True)
@click.option("--grace-period", default=None, type=int, help="Seconds before a pod is killed.")
@click.option("--ignore-not-found", is_flag=True, help="A missing object is not an error.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until the objects are gone.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait with --wait.")
@client_options
def delete(targets: tuple[str, ...], filenames: tuple[str, ...], recursive: bool, namespace: str | None,
           selector: str | None, delete_all: bool, cascade: str, grace_period: int | None, ignore_not_found: bool,
           wait: bool, timeout: float, kubeconfig: str | None, context: str | None) -> None:
    """Delete resources by type and name, by selector, or from files."""
    async def action(session: Session) -> int:
        work: list[tuple[Resource, str, str | None]] = []
        if filenames:
            if targets:
                raise CliError("there is no need to specify a resource type as a separate argument when "
                               "passing arguments in resource/name form or with -f")
            for _, obj in load_manifests(filenames, recursive):
                res = await session.api.resolve((obj["apiVersion"], obj["kind"]))
                ns = (obj["metadata"].get("namespace") or session.namespace) if res.namespaced else None
                work.append((res, obj["metadata"]["name"], ns))
        else:
            for res, names in parse_targets(targets):
                ns = session.namespace if res.namespaced else None
                if not names:
                    if not (selector or delete_all):
                        raise CliError("resource(s) were provided, but no name was specified")
                    listing = await session.api.list(res, ns, label_selector=selector)
                    names = [item["metadata"]["name"] for item in listing.get("items") or []]
                    if not names:
                        click.echo(f"No resources found{f' in {ns} namespace' if ns else ''}", err=True)
                work.extend((res, name, ns) for name in names)
        failed = False
        for res, name, ns in work:
            failed |= not await _delete_one(session, res, name, ns, CASCADE[cascade], grace_period,
                                            ignore_not_found, wait, timeout)
        return 1 if failed else 0

    run(kubeconfig, context, namespace, action)


async def _delete_one(session: Session, res: Resource, name: str, ns: str | None, policy: str,
                      grace_period: int | None, ignore_not_found: bool, wait: bool, timeout: float) -> bool:
    label = f'{qualified_kind(res)} "{name}"'
    try:
        await session.api.delete(res, name, ns, propagation_policy=policy, grace_period_seconds=grace_period)
    except NotFound as err:
        if ignore_not_found:
            return True
        click.echo(err.kubectl_message(), err=True)
        return False
    except ApiError as err:
        click.echo(err.kubectl_message(), err=True)
        return False
    click.echo(f"{label} deleted")
    if wait:
        try:
            await asyncio.wait_for(_wait_gone(session, res, name, ns), timeout)
        except TimeoutError:
            click.echo(f"error: timed out waiting for the deletion of {label}", err=True)
            return False
    return True


async def _wait_gone(session: Session, res: Resource, name: str, ns: str | None) -> None:
    try:
        live = await session.api.get(res, name, ns)
    except NotFound:
        return
    rv = (live.get("metadata") or {}).get("resourceVersion")
    async for kind, _ in session.api.watch(res, ns, resource_version=rv, field_selector=f"metadata.name={name}"):
        if kind == "DELETED":
            return
