"""`raftkube describe TYPE [NAME]`: kubectl's generic describer (every field, labelled) plus Events."""

from __future__ import annotations

from typing import Any

import click

from ..api.resources import Resource
from ..client import ApiError, BadRequest, Invalid
from .common import Session, client_options, lookup, namespace_option, run
from .printing import TablePrinter, age, describe_value, key_values

Obj = dict[str, Any]
EVENT = ("v1", "Event")
_META_SHOWN = {"name", "namespace", "labels", "annotations"}


@click.command("describe")
@click.argument("type_name", metavar="TYPE")
@click.argument("names", nargs=-1)
@namespace_option
@click.option("-l", "--selector", default=None, help="Describe every object matching this label selector.")
@click.option("--show-events/--no-show-events", default=True, show_default=True)
@client_options
def describe(type_name: str, names: tuple[str, ...], namespace: str | None, selector: str | None,
             show_events: bool, kubeconfig: str | None, context: str | None) -> None:
    """Show details of a resource or group of resources (TYPE NAME, TYPE/NAME or TYPE -l SEL)."""
    if "/" in type_name:
        type_name, _, first = type_name.partition("/")
        names = (first, *names)

    async def action(session: Session) -> int:
        res = lookup(type_name)
        ns = session.namespace if res.namespaced else None
        objs: list[Obj] = []
        failed = False
        if names:
            for name in names:
                try:
                    objs.append(await session.api.get(res, name, ns))
                except ApiError as err:
                    click.echo(err.kubectl_message(), err=True)
                    failed = True
        else:
            objs = list((await session.api.list(res, ns, label_selector=selector)).get("items") or [])
            if not objs:
                click.echo(f"No resources found{f' in {ns} namespace' if ns else ''}.", err=True)
        for i, obj in enumerate(objs):
            if i:
                click.echo("\n")
            lines = describe_object(res, obj)
            if show_events:
                lines += await events_for(session, res, obj)
            click.echo("\n".join(lines))
        return 1 if failed else 0

    run(kubeconfig, context, namespace, action)


def describe_object(res: Resource, obj: Obj) -> list[str]:
    meta = obj.get("metadata") or {}
    pairs: list[tuple[str, Any]] = [("Name", meta.get("name"))]
    if res.namespaced:
        pairs.append(("Namespace", meta.get("namespace")))
    pairs += [("Labels", meta.get("labels") or {}), ("Annotations", meta.get("annotations") or {}),
              ("API Version", obj.get("apiVersion") or res.api_version), ("Kind", obj.get("kind") or res.kind)]
    lines = key_values(pairs)
    rest = {k: v for k, v in meta.items() if k not in _META_SHOWN}
    if rest:
        lines.append("Metadata:")
        describe_value(rest, 1, lines)
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if isinstance(value, (dict, list)):
            lines.append(f"{key[:1].upper()}{key[1:]}:")
            describe_value(value, 1, lines)
        else:
            lines.append(f"{key[:1].upper()}{key[1:]}:  {value}")
    return lines


async def events_for(session: Session, res: Resource, obj: Obj) -> list[str]:
    """The `Events:` block: events whose involvedObject is this object (newest last)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or session.namespace
    try:
        try:
            listing = await session.api.list(EVENT, ns, field_selector=f"involvedObject.name={meta.get('name')}")
        except (BadRequest, Invalid):  # a server without that field selector: filter here
            listing = await session.api.list(EVENT, ns)
    except ApiError:
        return ["Events:  <unknown>"]
    mine = [e for e in listing.get("items") or []
            if (e.get("involvedObject") or {}).get("name") == meta.get("name")
            and (e.get("involvedObject") or {}).get("kind") == res.kind
            and (not meta.get("uid") or (e.get("involvedObject") or {}).get("uid") in (None, meta.get("uid")))]
    if not mine:
        return ["Events:  <none>"]
    mine.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    headers = ["Type", "Reason", "Age", "From", "Message"]
    rows = [[str(e.get("type", "")), str(e.get("reason", "")),
             age({"metadata": {"creationTimestamp": e.get("lastTimestamp") or e.get("eventTime")
                               or (e.get("metadata") or {}).get("creationTimestamp")}}),
             str((e.get("source") or {}).get("component") or e.get("reportingComponent") or ""),
             str(e.get("message", "")).strip()] for e in mine]
    printer = TablePrinter(headers)
    body = printer.lines([["-" * len(h) for h in headers], *rows])
    return ["Events:"] + ["  " + line for line in body]
