"""`raftkube apply -f FILE|DIR|-`: create-or-update, printing `pod/x created|configured|unchanged`.

Client-side by default, as kubectl: GET the object; if absent, POST it with the
`kubectl.kubernetes.io/last-applied-configuration` annotation; if present, PATCH a JSON
merge patch computed from (last applied, file, live) — see `cli_merge` — or nothing at all
("unchanged"). `--server-side` sends the object as an `application/apply-patch+yaml` PATCH
with a field manager instead (the server creates it if missing).
"""

from __future__ import annotations

from typing import Any

import click

from ..client import ApiError, NotFound
from .common import Session, client_options, namespace_option, run
from .manifests import load_manifests
from .merge import original_of, three_way_patch, with_last_applied
from .printing import type_name

Obj = dict[str, Any]


@click.command("apply")
@click.option("-f", "--filename", "filenames", multiple=True, required=True,
              help="File, folder or - (stdin) with the objects to apply.")
@click.option("-R", "--recursive", is_flag=True, help="Read folders recursively.")
@namespace_option
@click.option("--server-side", is_flag=True, help="Server-side apply (PATCH application/apply-patch+yaml).")
@click.option("--force-conflicts", is_flag=True, help="With --server-side: take over conflicting fields.")
@click.option("--field-manager", default="raftkube", show_default=True, help="Field manager for --server-side.")
@click.option("--dry-run", type=click.Choice(["none", "server"]), default="none", show_default=True)
@click.option("-o", "--output", type=click.Choice(["name"]), default=None, help="Print only type/name.")
@client_options
def apply(filenames: tuple[str, ...], recursive: bool, namespace: str | None, server_side: bool,
          force_conflicts: bool, field_manager: str, dry_run: str, output: str | None, kubeconfig: str | None,
          context: str | None) -> None:
    """Apply a configuration to resources from files or stdin (multi-document YAML or JSON)."""
    explicit_ns = namespace

    async def action(session: Session) -> int:
        objects = load_manifests(filenames, recursive)
        failed = False
        for source, obj in objects:
            try:
                verb, res_name = await _apply_one(session, obj, explicit_ns, server_side, force_conflicts,
                                                  field_manager, dry_run == "server")
            except ApiError as err:
                click.echo(f"Error from server ({err.reason}): error when applying {source!r}: {err.message}",
                           err=True)
                failed = True
                continue
            except ValueError as err:
                click.echo(f"error: {err}", err=True)
                failed = True
                continue
            suffix = " (server dry run)" if dry_run == "server" else ""
            click.echo(res_name if output == "name" else f"{res_name} {verb}{suffix}")
        return 1 if failed else 0

    run(kubeconfig, context, namespace, action)


async def _apply_one(session: Session, obj: Obj, explicit_ns: str | None, server_side: bool, force: bool,
                     field_manager: str, dry_run: bool) -> tuple[str, str]:
    api = session.api
    res = await api.resolve((obj["apiVersion"], obj["kind"]))
    meta = obj.setdefault("metadata", {})
    name = meta["name"]
    namespace: str | None = None
    if res.namespaced:
        if explicit_ns and meta.get("namespace") and meta["namespace"] != explicit_ns:
            raise ValueError(f'the namespace from the provided object "{meta["namespace"]}" does not match the '
                             f'namespace "{explicit_ns}". You must pass \'--namespace={meta["namespace"]}\' to '
                             "perform this operation.")
        namespace = meta.get("namespace") or session.namespace
    label = type_name(res, name)
    if server_side:
        await api.patch(res, name, obj, namespace, patch_type="apply", field_manager=field_manager,
                        force=force or None, dry_run=dry_run)
        return "serverside-applied", label
    modified = with_last_applied(obj)
    try:
        live = await api.get(res, name, namespace)
    except NotFound:
        await api.create(res, modified, namespace, dry_run=dry_run)
        return "created", label
    patch = three_way_patch(original_of(live), modified, live)
    if not patch:
        return "unchanged", label
    await api.patch(res, name, patch, namespace, patch_type="merge", dry_run=dry_run)
    return "configured", label
