"""The schema's `required` flags, enforced at every depth: `missing_required(obj, root_type)`.

A required field that is absent or null gives one cause, `FieldValueRequired` / `Required value`,
named by its path (`spec.hostAliases[0].ip`, `...[key].field` below a map). Presence is all
that counts: `""`, `0` and `false` are values. The root object's `metadata` is left to
`validate_metadata`; `*List` and `Table*` types are server output and never checked. A value of
the wrong JSON type is skipped (the structural check reports it).

This runs on every write, so the walk is planned once per type (`RequiredFields`, built at
import for TYPES): for each type only the fields that are required or lead to a struct type with
something required below it, in schema order. A complete object costs one dict lookup per
planned field and builds no path, list or cause; those are made only for what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from ..errors import Cause
from . import KIND_TYPES, TYPES, element_type
from .model import TypeFields

# how a field holds its struct type: the struct itself, a list of them, a map of them
STRUCT, LIST, MAP = 0, 1, 2
# one planned field: (name, required, holder, plan of the struct type below it or None)
Step: TypeAlias = "tuple[str, bool, int, Plan | None]"
Plan: TypeAlias = "list[Step]"
ROOT_SKIPPED = "metadata"


def is_server_output(type_name: str) -> bool:
    """`*List` and `Table*` types: only the server writes them, so nothing in them is checked."""
    short = type_name.rsplit(".", 1)[-1]
    return short.endswith("List") or short.startswith("Table")


def required_cause(path: str) -> Cause:
    return Cause(path, "Required value", "FieldValueRequired")


class RequiredFields:
    """The required-field walk over objects of the types in `types` (type name -> fields)."""

    def __init__(self, types: Mapping[str, TypeFields], roots: tuple[str, ...] = (),
                 nested_containers: bool = False) -> None:
        """`nested_containers`: skip (rather than refuse) structs below a list of lists (custom resources)."""
        self.types = types
        self.nested_containers = nested_containers
        self.plans = self._build_plans()
        self.root_plans: dict[str, Plan] = {root: self._root_plan(root) for root in roots}

    def missing(self, obj: Any, root_type: str) -> list[Cause]:
        """A `Required value` cause per required field of `obj` (of type `root_type`) that is absent or null."""
        plan = self.root_plans.get(root_type)
        if plan is None:
            plan = self.root_plans[root_type] = self._root_plan(root_type)
        if not plan or not isinstance(obj, dict):
            return []
        paths = _missing(obj, plan)
        return [required_cause(path) for path in paths] if paths else []

    # -------------------------------------------------------------- planning
    def _root_plan(self, root_type: str) -> Plan:
        return [step for step in self.plans.get(root_type, []) if step[0] != ROOT_SKIPPED]

    def _checked_types(self) -> set[str]:
        """The types (not server output) with a required field of their own or in a struct below them."""
        types = self.types
        found = {name for name, fields in types.items()
                 if not is_server_output(name) and any(f.required for f in fields.values())}
        grew = True
        while grew:
            grew = False
            for name, fields in types.items():
                if name not in found and not is_server_output(name) \
                        and any(element_type(f.type) in found for f in fields.values()):
                    found.add(name)
                    grew = True
        return found

    def _build_plans(self) -> dict[str, Plan]:
        checked = self._checked_types()
        plans: dict[str, Plan] = {name: [] for name in checked}  # filled below; steps share these lists
        for name in checked:
            for field_name, field in self.types[name].items():
                below = plans.get(element_type(field.type))
                holder = self._holder(field.type)
                if below is not None and holder is None:
                    if self.nested_containers:
                        continue
                    raise ValueError(f"{name}.{field_name}: {field.type} nests containers; the walk does not")
                if field.required or below is not None:
                    plans[name].append((field_name, field.required, holder or STRUCT, below))
        return plans

    def _holder(self, type_: str) -> int | None:
        """How a field of type `type_` holds a struct: STRUCT, LIST or MAP (None: no struct, or two containers)."""
        if type_.startswith("[]"):
            holder, inner = LIST, type_[2:]
        elif type_.startswith("map[string]"):
            holder, inner = MAP, type_[len("map[string]"):]
        else:
            holder, inner = STRUCT, type_
        return holder if inner in self.types else None


def _missing(value: dict[str, Any], plan: Plan) -> list[str] | None:
    """Paths (relative to `value`) of the required fields missing in `value` and below; None when complete."""
    found: list[str] | None = None
    for name, required, holder, below in plan:
        item = value.get(name)
        if item is None:
            if required:
                if found is None:
                    found = []
                found.append(name)
            continue
        if below is None:
            continue
        if holder == STRUCT:
            if isinstance(item, dict):
                inner = _missing(item, below)
                if inner:
                    found = _prefixed(found, name + ".", inner)
        elif holder == LIST:
            if isinstance(item, list):
                for index, element in enumerate(item):
                    if isinstance(element, dict):
                        inner = _missing(element, below)
                        if inner:
                            found = _prefixed(found, f"{name}[{index}].", inner)
        elif isinstance(item, dict):
            for key, element in item.items():
                if isinstance(element, dict):
                    inner = _missing(element, below)
                    if inner:
                        found = _prefixed(found, f"{name}[{key}].", inner)
    return found


def _prefixed(found: list[str] | None, prefix: str, inner: list[str]) -> list[str]:
    if found is None:
        found = []
    found.extend(prefix + path for path in inner)
    return found


SERVED = RequiredFields(TYPES, tuple(set(KIND_TYPES.values())))


def missing_required(obj: Any, root_type: str) -> list[Cause]:
    """`Required value` causes for `obj`, an object of `root_type` (a key of TYPES), against the served schema."""
    return SERVED.missing(obj, root_type)
