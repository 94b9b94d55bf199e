"""The checks every write goes through: structure (unknown fields, types), defaults, validation.

Order as in Kubernetes: decode against the schema (unknown fields are refused, warned about or
dropped per `fieldValidation`; wrong types are Invalid), then the kind's defaults, then
metadata, semantic validation and the schema's required fields at every depth. Nothing is
written when any step fails.

The required fields are checked after the defaults, not with the structure: defaults make
fields present that a client may leave out (Kubernetes' own, like a pod failure policy pattern's
`status: "True"`, and the zero values Kubernetes always serializes, like a container status'
`restartCount`), so the object judged is the one that would be stored. Their causes join the
metadata and kind causes in one 422, without naming a field a kind rule already named. On an
update, a required field that the stored object already lacked is not held against the write
(ratcheting, as Kubernetes does when it tightens validation): objects stored before this check
existed stay writable — their status, their binding, their deletion — and only a field the
write itself leaves out is refused. So binding and finalize, which change nothing else, need no
check of their own.
"""

from __future__ import annotations

from typing import Any

from .crd.resource import CustomResource
from .crd.strategy import CustomResourceStrategy
from .errors import Cause, invalid
from .kinds import strategy_of
from .kinds.metadata import validate_metadata
from .resources import Resource
from .schema import KIND_TYPES
from .schema.required import missing_required
from .schema.structure import check_structure, prune_unknown, strict_decoding_error, unknown_field_warnings

Obj = dict[str, Any]


def root_type(resource: Resource) -> str | None:
    return KIND_TYPES.get((resource.api_version, resource.kind))


def check_fields(resource: Resource, obj: Obj, field_validation: str) -> tuple[Obj, list[str]]:
    """Apply the schema; returns the (possibly pruned) object and warnings."""
    if isinstance(resource, CustomResource):
        return _check_custom_fields(resource, obj, field_validation)
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


def _check_custom_fields(resource: CustomResource, obj: Obj, field_validation: str) -> tuple[Obj, list[str]]:
    """A custom resource's unknown fields (not in its structural schema) are pruned, refused (Strict) or
    warned about, as for the built-ins."""
    strategy = CustomResourceStrategy(resource)
    unknown = strategy.unknown_fields(obj)
    if not unknown:
        return obj, []
    if field_validation == "Strict":
        raise strict_decoding_error(resource.kind, resource.version, unknown)
    return strategy.pruned(obj), unknown_field_warnings(unknown) if field_validation == "Warn" else []


def with_missing_required(causes: list[Cause], resource: Resource, obj: Obj, old: Obj | None) -> list[Cause]:
    """`causes` plus one `Required value` per required field missing in `obj`, unless `causes` names it
    or `old` (the stored object an update replaces) lacked it already."""
    root = root_type(resource)
    if root is None:
        return causes
    missing = missing_required(obj, root)
    if missing and old is not None:
        before = {cause.field for cause in missing_required(old, root)}
        missing = [cause for cause in missing if cause.field not in before]
    if not missing:
        return causes
    named = {cause.field for cause in causes}
    return causes + [cause for cause in missing if cause.field not in named]


def default_and_validate(resource: Resource, obj: Obj, old: Obj | None) -> None:
    strategy = strategy_of(resource)
    strategy.default(obj)
    causes = validate_metadata(obj, resource.namespaced, old) + strategy.validate(obj, old)
    causes = with_missing_required(causes, resource, obj, old)
    if causes:
        raise invalid(resource.kind, obj.get("metadata", {}).get("name", ""), causes, resource.group)


def admit(resource: Resource, obj: Obj, old: Obj | None, field_validation: str) -> tuple[Obj, list[str]]:
    obj, warnings = check_fields(resource, obj, field_validation)
    default_and_validate(resource, obj, old)
    return obj, warnings
