"""The checks every write goes through: structure (unknown fields, types), defaults, validation.

Order as in Kubernetes: decode against the schema (unknown fields are refused, warned about or
dropped per `fieldValidation`; wrong types are Invalid), then the kind's defaults, then
metadata and semantic validation. Nothing is written when any step fails.
"""

from __future__ import annotations

from typing import Any

from .errors import invalid
from .kinds import strategy_for
from .kinds.metadata import validate_metadata
from .resources import Resource
from .schema import KIND_TYPES
from .schema.structure import check_structure, prune_unknown, strict_decoding_error, unknown_field_warnings

Obj = dict[str, Any]


def root_type(resource: Resource) -> str | None:
    return KIND_TYPES.get((resource.api_version, resource.kind))


def check_fields(resource: Resource, obj: Obj, field_validation: str) -> tuple[Obj, list[str]]:
    """Apply the schema; returns the (possibly pruned) object and warnings."""
    root = root_type(resource)
    if root is None:
        return obj, []
    unknown, causes = check_structure(obj, root)
    warnings: list[str] = []
    if unknown:
        if field_validation == "Strict":
            raise strict_decoding_error(resource.kind, resource.version, unknown)
        if field_validation == "Warn":
            warnings = unknown_field_warnings(unknown)
        obj = prune_unknown(obj, root)
    if causes:
        raise invalid(resource.kind, obj.get("metadata", {}).get("name", ""), causes, resource.group)
    return obj, warnings


def default_and_validate(resource: Resource, obj: Obj, old: Obj | None) -> None:
    strategy = strategy_for(resource.kind)
    strategy.default(obj)
    causes = validate_metadata(obj, resource.namespaced, old) + strategy.validate(obj, old)
    if causes:
        raise invalid(resource.kind, obj.get("metadata", {}).get("name", ""), causes, resource.group)


def admit(resource: Resource, obj: Obj, old: Obj | None, field_validation: str) -> tuple[Obj, list[str]]:
    obj, warnings = check_fields(resource, obj, field_validation)
    default_and_validate(resource, obj, old)
    return obj, warnings
