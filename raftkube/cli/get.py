"""`raftkube get`: kubectl's get, asking the server for meta.k8s.io/v1 Tables (NAME/AGE if it answers lists)."""

from __future__ import annotations

from typing import Any

import click

from ..api.resources import Resource
from ..client import ApiError
from .common import CliError, Session, client_options, namespace_option, parse_targets, run
from .printing import TablePrinter, as_table, dump, table_rows, type_name

Obj = dict[str, Any]
OUTPUTS = ("yaml", "json", "wide", "name")


@click.command("get")
@click.argument("targets", nargs=-1, required=True)
@namespace_option
@click.option("-A", "--all-namespaces", is_flag=True, help="List across all namespaces.")
@click.option("-l", "--selector", default=None, help="Label selector, e.g. app=web,tier!=db.")
@click.option("--field-selector", default=None, help="Field selector, e.g. spec.nodeName=n1.")
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default=None, help="Output format.")
@click.option("-w", "--watch", is_flag=True, help="After listing, watch for changes.")
@click.option("--show-labels", is_flag=True, help="Add a LABELS column.")
@click.option("--no-headers", is_flag=True, help="Leave out the column headers.")
@click.option("--chunk-size", default=500, show_default=True, help="Items per list request (0: no chunking).")
@click.option("--request-timeout", default=0, help="With -w: stop after this many seconds (0: never).")
@client_options
def get(targets: tuple[str, ...], namespace: str | None, all_namespaces: bool, selector: str | None,
        field_selector: str | None, output: str | None, watch: bool, show_labels: bool, no_headers: bool,
        chunk_size: int, request_timeout: int, kubeconfig: str | None, context: str | None) -> None:
    """Display one or many resources: TYPE[,TYPE] [NAME...] or TYPE/NAME..."""
    async def action(session: Session) -> int:
        wanted = parse_targets(targets)
        if watch and (len(wanted) != 1 or len(wanted[0][1]) > 1):
            raise CliError("you may only watch one resource type (and at most one name)")
        opts = _Options(session, all_namespaces, selector, field_selector, output, show_labels, no_headers,
                        chunk_size, multi=len(wanted) > 1)
        failed = False
        collected: list[Obj] = []
        for res, names in wanted:
            failed |= await opts.show(res, names, collected)
        if opts.multi and output in (None, "wide") and not opts.printed and not failed:
            where = f" in {session.namespace} namespace" if not all_namespaces else ""
            click.echo(f"No resources found{where}.", err=True)
        if output in ("json", "yaml") and not watch:
            single = len(wanted) == 1 and len(wanted[0][1]) == 1
            if collected or not failed:
                click.echo(dump(collected[0] if single and collected else
                                {"apiVersion": "v1", "kind": "List", "items": collected,
                                 "metadata": {"resourceVersion": ""}}, output))
        if watch:
            res, names = wanted[0]
            await opts.watch(res, names[0] if names else None, request_timeout)
        return 1 if failed else 0

    run(kubeconfig, context, namespace, action)


class _Options:
    def __init__(self, session: Session, all_namespaces: bool, selector: str | None, field_selector: str | None,
                 output: str | None, show_labels: bool, no_headers: bool, chunk_size: int, multi: bool) -> None:
        self.session, self.all_namespaces = session, all_namespaces
        self.selector, self.field_selector, self.output = selector, field_selector, output
        self.show_labels, self.no_headers, self.chunk_size, self.multi = show_labels, no_headers, chunk_size, multi
        self.printed = False
        self.list_rv: str | None = None
        self.printer: TablePrinter | None = None

    def namespace(self, res: Resource) -> str | None:
        if not res.namespaced or self.all_namespaces:
            return None
        return self.session.namespace

    def _table_mode(self) -> bool:
        return self.output in (None, "wide")

    async def show(self, res: Resource, names: list[str], collected: list[Obj]) -> bool:
        """Print (or collect, for json/yaml) one resource type; True if something failed."""
        api, ns, failed = self.session.api, self.namespace(res), False
        answers: list[Obj] = []
        if names:
            for name in names:
                try:
                    answer = await api.get(res, name, ns or self.session.namespace, table=self._table_mode())
                    answers.append(answer)
                    self.list_rv = (answer.get("metadata") or {}).get("resourceVersion")
                except ApiError as err:
                    click.echo(err.kubectl_message(), err=True)
                    failed = True
        else:
            listing = await api.list(res, ns, label_selector=self.selector, field_selector=self.field_selector,
                                     limit=self.chunk_size or None, table=self._table_mode())
            self.list_rv = (listing.get("metadata") or {}).get("resourceVersion")
            answers.append(listing)
        if self._table_mode():
            tables = [as_table(a) for a in answers]
            merged = {**tables[0], "rows": [r for t in tables for r in t.get("rows") or []]} if tables else {}
            if not merged.get("rows"):
                if not names and not self.multi:
                    where = f" in {ns} namespace" if ns else ""
                    click.echo(f"No resources found{where}.", err=True)
                return failed
            self._print_table(res, merged)
            return failed
        for answer in answers:
            items = answer.get("items") if "items" in answer else [answer]
            for item in items or []:
                if "items" in answer:
                    item.setdefault("apiVersion", res.api_version)
                    item.setdefault("kind", res.kind)
                if self.output == "name":
                    click.echo(type_name(res, item["metadata"]["name"]))
                else:
                    collected.append(item)
        return failed

    def _print_table(self, res: Resource, table: Obj, headers: bool = True) -> None:
        prefix = type_name(res, "") if self.multi else ""
        head, rows = table_rows(table, wide=self.output == "wide", name_prefix=prefix, show_labels=self.show_labels,
                                with_namespace=self.all_namespaces and res.namespaced)
        if headers and self.printed:
            click.echo()  # a blank line between the tables of several types, as kubectl prints
        if headers or self.printer is None:
            self.printer = TablePrinter(head)
        for line in self.printer.lines(rows, headers=headers and not self.no_headers):
            click.echo(line)
        self.printed = True

    async def watch(self, res: Resource, name: str | None, request_timeout: int) -> None:
        field_selector = self.field_selector
        if name:
            field_selector = ",".join(filter(None, [f"metadata.name={name}", field_selector]))
        events = self.session.api.watch(res, self.namespace(res), resource_version=self.list_rv,
                                        label_selector=self.selector, field_selector=field_selector,
                                        allow_bookmarks=True, timeout_seconds=request_timeout or None,
                                        follow=not request_timeout, table=self._table_mode())
        async for kind, obj in events:
            if kind == "BOOKMARK":
                continue
            if self._table_mode():
                self._print_table(res, as_table(obj), headers=self.printer is None)
            elif self.output == "name":
                meta = obj.get("metadata") or {}
                click.echo(type_name(res, meta.get("name", "")))
            else:
                click.echo(dump(obj, self.output or "yaml") + ("\n---" if self.output == "yaml" else ""))
