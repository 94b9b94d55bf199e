"""Printing like kubectl: Table columns in tabwriter layout, ages, names, and describe's key/value blocks."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import yaml

from ..api.resources import Resource
from ..client import qualified_kind
from ..machinery.times import human_duration, parse_rfc3339

Obj = dict[str, Any]


def age(obj: Obj, now: float | None = None) -> str:
    created = parse_rfc3339((obj.get("metadata") or {}).get("creationTimestamp"))
    if created is None:
        return "<unknown>"
    return human_duration((now if now is not None else time.time()) - created)


def type_name(res: Resource, name: str) -> str:
    """`pod/web`, `deployment.apps/web`: kubectl's -o name and apply output."""
    return f"{qualified_kind(res)}/{name}"


def cell_text(value: Any) -> str:
    if value is None:
        return "<none>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class TablePrinter:
    """Rows aligned as kubectl's tabwriter does (min width 6, padding 3, the last column unpadded)."""

    def __init__(self, headers: list[str]) -> None:
        self.headers = headers
        self.widths = [0] * len(headers)

    def fit(self, rows: list[list[str]]) -> None:
        for row in [self.headers, *rows]:
            for i, cell in enumerate(row[:-1]):
                self.widths[i] = max(self.widths[i], len(cell) + 3, 6)

    def line(self, row: list[str]) -> str:
        cells = [cell.ljust(self.widths[i]) for i, cell in enumerate(row[:-1])]
        return ("".join(cells) + (row[-1] if row else "")).rstrip()

    def lines(self, rows: list[list[str]], headers: bool = True) -> list[str]:
        self.fit(rows)
        return ([self.line(self.headers)] if headers else []) + [self.line(r) for r in rows]


def table_rows(table: Obj, *, wide: bool, with_namespace: bool, name_prefix: str = "",
               show_labels: bool = False) -> tuple[list[str], list[list[str]]]:
    """(headers, rows as text) from a meta.k8s.io Table, choosing columns as kubectl does."""
    cols = table.get("columnDefinitions") or []
    keep = [i for i, c in enumerate(cols) if wide or not c.get("priority")]
    name_idx = next((i for i, c in enumerate(cols) if c.get("format") == "name"), 0)
    headers = [str(cols[i].get("name", "")).upper() for i in keep]
    if with_namespace:
        headers.insert(0, "NAMESPACE")
    if show_labels:
        headers.append("LABELS")
    rows = []
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        meta = (row.get("object") or {}).get("metadata") or {}
        text = [cell_text(cells[i]) if i < len(cells) else "" for i in keep]
        if name_prefix and name_idx in keep:
            text[keep.index(name_idx)] = name_prefix + text[keep.index(name_idx)]
        if with_namespace:
            text.insert(0, str(meta.get("namespace") or ""))
        if show_labels:
            text.append(",".join(f"{k}={v}" for k, v in (meta.get("labels") or {}).items()) or "<none>")
        rows.append(text)
    return headers, rows


def objects_as_table(objs: list[Obj]) -> Obj:
    """A NAME/AGE Table for a server that answered a plain list instead of a Table."""
    return {"kind": "Table", "columnDefinitions": [{"name": "Name", "format": "name", "priority": 0},
                                                    {"name": "Age", "priority": 0}],
            "rows": [{"cells": [o["metadata"].get("name"), age(o)], "object": o} for o in objs]}


def as_table(answer: Obj) -> Obj:
    """The server's Table, or one built from a plain object or list."""
    if answer.get("kind") == "Table":
        return answer
    if "items" in answer:
        return objects_as_table(list(answer.get("items") or []))
    return objects_as_table([answer])


def dump(obj: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(obj, indent=4)
    return str(yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)).rstrip("\n")


def smart_label(key: str) -> str:
    """`creationTimestamp` -> `Creation Timestamp`, as kubectl's generic describer labels fields."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)
    return spaced[:1].upper() + spaced[1:]


def describe_value(value: Any, indent: int, lines: list[str]) -> None:
    """Nested fields as labelled lines; scalar values of one map start in one column."""
    pad = "  " * indent
    if isinstance(value, dict):
        def nested(item: Any) -> bool:
            return isinstance(item, (dict, list)) and bool(item)

        width = max((len(smart_label(str(k))) + 3 for k, v in value.items() if not nested(v)), default=0)
        for key, item in value.items():
            label = f"{smart_label(str(key))}:"
            if nested(item):
                lines.append(f"{pad}{label}")
                describe_value(item, indent + 1, lines)
            elif item in (None, "") or isinstance(item, (dict, list)):
                lines.append(f"{pad}{label}")
            else:
                lines.append(f"{pad}{label.ljust(width)}{cell_text(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                describe_value(item, indent, lines)
            else:
                lines.append(f"{pad}{cell_text(item)}")
    else:
        lines.append(f"{pad}{cell_text(value)}")


def key_values(pairs: list[tuple[str, Any]]) -> list[str]:
    """`Name:         web` blocks: values start in one column; maps go one `k=v` per line."""
    width = max(len(k) for k, _ in pairs) + 2
    out = []
    for key, value in pairs:
        label = f"{key}:".ljust(width + 1)
        if isinstance(value, dict):
            items = [f"{k}={v}" for k, v in value.items()] or ["<none>"]
            out.append(label + items[0])
            out.extend(" " * len(label) + item for item in items[1:])
        else:
            out.append(label + ("<none>" if value in (None, "") else cell_text(value)))
    return out
