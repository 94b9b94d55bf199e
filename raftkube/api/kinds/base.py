"""What the API server asks of each kind: defaults, semantic validation, table columns.

A `KindStrategy` works on plain dicts (the object as JSON). The server calls, in order:
`default(obj)` then `validate(obj, old)` on create (old None), update and patch; the
structural checks (unknown fields, types) happen before, from the schema. `table_columns`
and `table_row` give `kubectl get` its columns (a meta.k8s.io/v1 Table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Cause

Obj = dict[str, Any]


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"  # string, integer, number, boolean, date
    format: str = ""  # "name" for the NAME column
    description: str = ""
    priority: int = 0  # 1: only with -o wide


class KindStrategy:
    """Defaults for kinds without rules of their own; subclass per kind."""

    kind: str = ""

    def default(self, obj: Obj) -> None:
        """Fill in defaults in place (spec and status), as the Kubernetes API server does."""

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        """Semantic checks (required fields, ranges, enums, immutability on update)."""
        return []

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name of the object"),
                Column("Age", "date", description="Time since creation")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        """Cells for `table_columns`; `now` is the wall clock (epoch seconds) for ages."""
        from .printing import age

        return [obj["metadata"]["name"], age(obj, now)]
