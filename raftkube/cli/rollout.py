"""`raftkube rollout status|history|undo DEPLOYMENT` and `raftkube scale TYPE/NAME --replicas N`.

What kubectl does, with the same messages: `rollout status` watches the Deployment until
kubectl's completeness rule holds (or its progress deadline is exceeded); `rollout history`
lists the ReplicaSets it controls by revision with their change-cause; `rollout undo` sends
the JSON patch that puts an earlier ReplicaSet's template (minus pod-template-hash) back
into the Deployment; `scale` patches the `/scale` subresource.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from typing import Any

import click

from ..api.resources import Resource
from ..client.refs import object_path
from ..control.deployment_status import rollout_message
from ..control.deployment_util import (
    CHANGE_CAUSE,
    HASH_LABEL,
    REVISION,
    SKIP_COPY,
    equal_ignore_hash,
    int_annotation,
)
from ..control.runtime import controller_of
from .common import CliError, Session, client_options, lookup, namespace_option, parse_duration, parse_targets, run
from .printing import dump, type_name

Obj = dict[str, Any]


def _deployment_target(args: tuple[str, ...]) -> tuple[Resource, str]:
    """`NAME`, `TYPE/NAME` or `TYPE NAME`; the type must be deployments."""
    if len(args) == 1 and "/" not in args[0]:
        return lookup("deployments"), args[0]
    targets = parse_targets(args)
    if len(targets) != 1 or len(targets[0][1]) != 1:
        raise CliError("expected one deployment: NAME, deployment/NAME or deployment NAME")
    [(res, [name])] = targets
    if res.kind != "Deployment":
        raise CliError(f"no rollout support for {res.plural}: only deployments are rolled out here")
    return res, name


async def _owned_sets(session: Session, d: Obj) -> list[Obj]:
    """The ReplicaSets the Deployment controls, by revision (those without one left out)."""
    listing = await session.api.list(("apps/v1", "ReplicaSet"), d["metadata"]["namespace"])
    uid = d["metadata"]["uid"]
    owned = [rs for rs in listing.get("items") or [] if (controller_of(rs) or {}).get("uid") == uid]
    return sorted((rs for rs in owned if int_annotation(rs, REVISION) is not None), key=_revision)


def _revision(rs: Obj) -> int:
    return int_annotation(rs, REVISION) or 0


@click.group("rollout")
def rollout() -> None:
    """Manage the rollout of a deployment: status, history, undo."""


@rollout.command("status")
@click.argument("target", nargs=-1, required=True)
@namespace_option
@click.option("--watch/--no-watch", "-w", default=True, show_default=True, help="Watch until the rollout is done.")
@click.option("--timeout", default="0", help="How long to wait before giving up: 90, 90s, 2m, 1h (0: forever).")
@client_options
def status(target: tuple[str, ...], namespace: str | None, watch: bool, timeout: str, kubeconfig: str | None,
           context: str | None) -> None:
    """Show the status of a rollout, waiting for it to finish."""
    seconds = parse_duration(timeout)

    async def action(session: Session) -> int:
        res, name = _deployment_target(target)
        d = await session.api.get(res, name, session.namespace)
        shown: set[str] = set()

        def show(obj: Obj) -> bool | None:
            message, done, error = rollout_message(obj)
            if error:
                raise CliError(error)
            if message not in shown:
                click.echo(message)
                shown.add(message)
            return done or (None if watch else False)

        if show(d) is not None:
            return 0
        try:
            async with asyncio.timeout(seconds or None):
                events = session.api.watch(res, session.namespace, resource_version=d["metadata"]["resourceVersion"],
                                           field_selector=f"metadata.name={name}")
                async with contextlib.aclosing(events):
                    async for kind, obj in events:
                        if kind == "DELETED":
                            raise CliError(f'deployment "{name}" was deleted')
                        if kind in ("ADDED", "MODIFIED") and show(obj) is not None:
                            return 0
        except TimeoutError:
            raise CliError("timed out waiting for the condition") from None
        return 1

    run(kubeconfig, context, namespace, action)


@rollout.command("history")
@click.argument("target", nargs=-1, required=True)
@namespace_option
@click.option("--revision", default=0, help="Show the pod template of this revision.")
@client_options
def history(target: tuple[str, ...], namespace: str | None, revision: int, kubeconfig: str | None,
            context: str | None) -> None:
    """List the revisions of a deployment (with their change-cause)."""
    async def action(session: Session) -> int:
        res, name = _deployment_target(target)
        d = await session.api.get(res, name, session.namespace)
        sets = await _owned_sets(session, d)
        if revision:
            found = next((rs for rs in sets if _revision(rs) == revision), None)
            if found is None:
                raise CliError(f"unable to find the specified revision {revision}")
            click.echo(f"{type_name(res, name)} with revision #{revision}")
            click.echo("Pod Template:")
            for line in dump(found["spec"]["template"], "yaml").splitlines():
                click.echo(f"  {line}")
            return 0
        rows = [["REVISION", "CHANGE-CAUSE"]]
        rows += [[str(_revision(rs)), (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE) or "<none>"]
                 for rs in sets]
        width = max(len(r[0]) for r in rows) + 2
        click.echo(f"{type_name(res, name)} ")
        for row in rows:
            click.echo(row[0].ljust(width) + row[1])
        click.echo()
        return 0

    run(kubeconfig, context, namespace, action)


@rollout.command("undo")
@click.argument("target", nargs=-1, required=True)
@namespace_option
@click.option("--to-revision", default=0, help="The revision to roll back to (0: the previous one).")
@client_options
def undo(target: tuple[str, ...], namespace: str | None, to_revision: int, kubeconfig: str | None,
         context: str | None) -> None:
    """Roll a deployment back to an earlier revision."""
    async def action(session: Session) -> int:
        res, name = _deployment_target(target)
        d = await session.api.get(res, name, session.namespace)
        if (d.get("spec") or {}).get("paused"):
            raise CliError("you cannot rollback a paused deployment; resume it first (spec.paused: false) "
                           "and try again")
        sets = await _owned_sets(session, d)
        if to_revision:
            chosen = next((rs for rs in sets if _revision(rs) == to_revision), None)
            if chosen is None:
                raise CliError(f"unable to find specified revision {to_revision} in history")
        else:
            if len(sets) < 2:
                raise CliError(f'no rollout history found for deployment "{name}"')
            chosen = sets[-2]  # the latest revision is the current one
        if equal_ignore_hash(chosen["spec"]["template"], d["spec"]["template"]):
            click.echo(f"{type_name(res, name)} skipped rollback (current template already matches revision "
                       f"{_revision(chosen)})")
            return 0
        template = copy.deepcopy(chosen["spec"]["template"])
        ((template.get("metadata") or {}).get("labels") or {}).pop(HASH_LABEL, None)
        annotations = {k: v for k, v in (chosen["metadata"].get("annotations") or {}).items() if k not in SKIP_COPY}
        patch = [{"op": "replace", "path": "/spec/template", "value": template},
                 {"op": "add", "path": "/metadata/annotations", "value": annotations}]
        await session.api.patch(res, name, patch, session.namespace, patch_type="json")
        click.echo(f"{type_name(res, name)} rolled back")
        return 0

    run(kubeconfig, context, namespace, action)


@click.command("scale")
@click.argument("targets", nargs=-1, required=True)
@namespace_option
@click.option("--replicas", type=click.IntRange(min=0), required=True, help="The new number of replicas.")
@click.option("--current-replicas", type=int, default=None,
              help="Scale only if the current size is this (a precondition).")
@client_options
def scale(targets: tuple[str, ...], namespace: str | None, replicas: int, current_replicas: int | None,
          kubeconfig: str | None, context: str | None) -> None:
    """Set a new size for deployments, replica sets, ...: TYPE/NAME... or TYPE NAME..."""
    async def action(session: Session) -> int:
        for res, names in parse_targets(targets):
            if "scale" not in res.subresources:
                raise CliError(f"cannot scale {res.plural}: they have no scale subresource")
            if not names:
                raise CliError("resource(s) were provided, but no name was specified")
            for name in names:
                if current_replicas is None:
                    await session.api.patch(res, name, {"spec": {"replicas": replicas}}, session.namespace,
                                            subresource="scale")
                else:
                    current = await session.api.get(res, name, session.namespace, subresource="scale")
                    if int((current.get("spec") or {}).get("replicas") or 0) != current_replicas:
                        raise CliError(f"Expected replicas to be {current_replicas}, was "
                                       f"{(current.get('spec') or {}).get('replicas', 0)}")
                    body = {**current, "spec": {"replicas": replicas}}  # carries its resourceVersion
                    await _put_scale(session, res, name, body)
                click.echo(f"{type_name(res, name)} scaled")
        return 0

    run(kubeconfig, context, namespace, action)


async def _put_scale(session: Session, res: Resource, name: str, body: Obj) -> None:
    """PUT the Scale: conditional on the resourceVersion it carries."""
    path = object_path(res, session.namespace if res.namespaced else None, name, "scale")
    await session.api.request("PUT", path, body=body)
