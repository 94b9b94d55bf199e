"""Protobuf field numbers of every served type, for decoding `application/vnd.kubernetes.protobuf`.

`NUMBERS[type][field]` is the field's number in the type's message (k8s.io/api `generated.proto`,
generated into `generated/proto_numbers.json`; meta.k8s.io's, which k8s.io/api does not hold, in
`_META` below), or a tuple: the path through messages that Go embeds inline. Every field of `TYPES`
has one, except `apiVersion`/`kind` of the kinds (they travel in the envelope's TypeMeta), the
Table types (`NOT_PROTOBUF`) and the types the pinned protos lack (`NO_NUMBERS`: apiextensions').
Free-form ("object") fields whose message carries JSON bytes (RawExtension, FieldsV1) are in
`OBJECT_MESSAGES`. `ZERO_KEPT` (`proto_zero_kept`): the scalars whose zero value stays in the JSON.
"""

from __future__ import annotations

from . import KIND_TYPES, TYPES, generated
from .build import META
from .model import TypeFields
from .proto_zero_kept import ZERO_KEPT

Number = int | tuple[int, ...]

__all__ = ["DECODE_TYPES", "MICRO_TIMES", "NOT_PROTOBUF", "NO_NUMBERS", "NUMBERS", "OBJECT_MESSAGES", "RAW_JSON",
           "TYPE_META", "ZERO_KEPT", "Number", "has_type_meta"]

RAW_JSON = "raw-json"
"""A message whose field 1 holds JSON bytes (`FieldsV1`, `RawExtension`): decoded to the JSON value itself."""

_META: dict[str, dict[str, Number]] = {
    META + "ObjectMeta": {"name": 1, "generateName": 2, "namespace": 3, "selfLink": 4, "uid": 5, "resourceVersion": 6,
        "generation": 7, "creationTimestamp": 8, "deletionTimestamp": 9, "deletionGracePeriodSeconds": 10, "labels": 11,
        "annotations": 12, "ownerReferences": 13, "finalizers": 14, "managedFields": 17},
    META + "OwnerReference": {"apiVersion": 5, "kind": 1, "name": 3, "uid": 4, "controller": 6,
        "blockOwnerDeletion": 7},
    META + "ManagedFieldsEntry": {"manager": 1, "operation": 2, "apiVersion": 3, "time": 4, "fieldsType": 6,
        "fieldsV1": 7, "subresource": 8},
    META + "LabelSelector": {"matchLabels": 1, "matchExpressions": 2},
    META + "LabelSelectorRequirement": {"key": 1, "operator": 2, "values": 3},
    META + "ListMeta": {"selfLink": 1, "resourceVersion": 2, "continue": 3, "remainingItemCount": 4},
    META + "DeleteOptions": {"gracePeriodSeconds": 1, "preconditions": 2, "orphanDependents": 3, "propagationPolicy": 4,
        "dryRun": 5, "ignoreStoreReadErrorWithClusterBreakingPotential": 6},
    META + "Preconditions": {"uid": 1, "resourceVersion": 2},
    META + "Status": {"metadata": 1, "status": 2, "message": 3, "reason": 4, "details": 5, "code": 6},
    META + "StatusDetails": {"name": 1, "group": 2, "kind": 3, "uid": 6, "causes": 4, "retryAfterSeconds": 5},
    META + "StatusCause": {"reason": 1, "message": 2, "field": 3},
    META + "Condition": {"type": 1, "status": 2, "observedGeneration": 3, "lastTransitionTime": 4, "reason": 5,
        "message": 6},
    META + "PartialObjectMetadata": {"metadata": 1},
    META + "FieldSelectorRequirement": {"key": 1, "operator": 2, "values": 3},
}

NOT_PROTOBUF: frozenset[str] = frozenset(META + name for name in (
    "Table", "TableColumnDefinition", "TableRow", "TableRowCondition"))
"""Types Kubernetes never encodes as protobuf (`+protobuf=false`)."""

TYPE_META = ("apiVersion", "kind")
MICRO_TIMES: frozenset[tuple[str, str]] = generated.MICRO_TIMES
"""`time` fields that are meta.v1.MicroTime (RFC 3339 with microseconds) rather than Time."""


def has_type_meta(type_name: str) -> bool:
    """Whether `type_name` is the root type of a kind (its apiVersion/kind come from the envelope)."""
    return type_name in _KIND_ROOTS


_KIND_ROOTS = frozenset(KIND_TYPES.values()) | generated.KINDS
OBJECT_MESSAGES: dict[tuple[str, str], str] = {field: RAW_JSON for field in generated.RAW_JSON_FIELDS}

NUMBERS: dict[str, dict[str, Number]] = {**generated.NUMBERS, **_META}
_JSON_ONLY_LISTS: set[str] = set()
for _name, _fields in TYPES.items():  # the <Kind>List types: metadata = 1, items = 2
    if _name.endswith("List") and _name not in NUMBERS and set(_fields) == {*TYPE_META, "metadata", "items"}:
        if _fields["items"].type.removeprefix("[]") in generated.NUMBERS:
            NUMBERS[_name] = {"metadata": 1, "items": 2}
        else:  # a list of a JSON-only kind (CustomResourceDefinitionList) is JSON only too
            _JSON_ONLY_LISTS.add(_name)

NO_NUMBERS: frozenset[str] = frozenset(name for name in generated.TYPES if name not in NUMBERS) | frozenset(
    _JSON_ONLY_LISTS)
"""Generated types without a message in the pinned generated.proto files (apiextensions'), and their lists:
JSON only here."""

DECODE_TYPES: dict[str, TypeFields] = TYPES
"""The field types of every message a protobuf body may hold (every one is in `TYPES` now)."""
