"""The schema generated from the pinned Kubernetes v1.32 spec equals the hand-kept one it replaced.

`data/handkept_schema.json.gz` is the hand-kept schema as main had it before the switch (every
type's fields without descriptions, protobuf numbers, zero-kept fields, MicroTime fields, atomic
structs). Per type and field, the generated schema must agree on type, required, patch strategy,
merge key, list type and keys, map type, format and enum values, except for the deliberate
differences listed in `DELIBERATE` (upstream wins there); and for every served kind, random objects
and mutations of them (an unknown field, a value of the wrong type, a field removed) get the same
unknown fields, type errors and missing required fields from both.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftkube.api.schema import ATOMIC_STRUCTS, TYPES
from raftkube.api.schema.model import Field, TypeFields
from raftkube.api.schema.proto_numbers import MICRO_TIMES, NUMBERS, ZERO_KEPT
from raftkube.api.schema.required import RequiredFields, missing_required
from raftkube.api.schema.structure import check_structure

SNAPSHOT = json.loads(gzip.decompress((Path(__file__).parent / "data" / "handkept_schema.json.gz").read_bytes()))
ATTRIBUTES = ("type", "required", "patch_strategy", "merge_key", "list_type", "list_map_keys", "format", "map_type",
              "enum")
CORE = "io.k8s.api.core.v1."
_LEGACY = ("awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "ephemeral", "fc", "flexVolume",
           "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "iscsi", "photonPersistentDisk", "portworxVolume",
           "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume")
DELIBERATE: dict[tuple[str, str], str] = {
    **{(CORE + "Volume", name): "typed upstream; hand-kept kept it free-form" for name in _LEGACY},
    (CORE + "VolumeProjection", "clusterTrustBundle"): "typed upstream; hand-kept kept it free-form",
    (CORE + "NodeSpec", "configSource"): "typed upstream; hand-kept kept it free-form",
    (CORE + "NodeStatus", "config"): "typed upstream; hand-kept kept it free-form",
    ("io.k8s.api.authorization.v1.ResourceAttributes", "fieldSelector"): "new in 1.31; hand-kept lacked it",
    ("io.k8s.api.authorization.v1.ResourceAttributes", "labelSelector"): "new in 1.31; hand-kept lacked it",
}
"""Where the generated schema differs from the hand-kept one, and why upstream wins."""


def _field(data: dict[str, Any]) -> Field:
    data = dict(data)
    for key in ("enum", "list_map_keys"):
        if key in data:
            data[key] = tuple(data[key])
    return Field(**data)


HAND: dict[str, TypeFields] = {name: {key: _field(f) for key, f in fields.items()}
                               for name, fields in SNAPSHOT["types"].items()}
HAND_REQUIRED = RequiredFields(HAND, tuple(SNAPSHOT["kind_types"]))


def differences() -> list[str]:
    """`Type.field: attribute hand-kept=... generated=...` for every disagreement, types and fields alike."""
    out = []
    for name, fields in HAND.items():
        if name not in TYPES:
            out.append(f"{name}: not generated")
            continue
        for key in sorted(set(fields) | set(TYPES[name])):
            if (name, key) in DELIBERATE:
                continue
            mine, theirs = fields.get(key), TYPES[name].get(key)
            if mine is None or theirs is None:
                out.append(f"{name}.{key}: only in the {'generated' if mine is None else 'hand-kept'} schema")
                continue
            out.extend(f"{name}.{key}: {attr} hand-kept={getattr(mine, attr)!r} generated={getattr(theirs, attr)!r}"
                       for attr in ATTRIBUTES if getattr(mine, attr) != getattr(theirs, attr))
    return out


def test_every_hand_kept_type_is_generated_field_by_field() -> None:
    assert differences() == []
    for name, key in DELIBERATE:  # each listed difference is real
        theirs = TYPES[name][key]
        assert key not in HAND[name] or HAND[name][key].type == "object" != theirs.type, (name, key)


def test_protobuf_tables_equal_the_hand_kept_ones() -> None:
    for name, numbers in SNAPSHOT["numbers"].items():
        generated = {k: n for k, n in NUMBERS[name].items() if k in numbers or (name, k) not in DELIBERATE}
        assert {k: tuple(v) if isinstance(v, list) else v for k, v in numbers.items()} == generated, name
    assert {name: sorted(ZERO_KEPT[name]) for name in SNAPSHOT["zero_kept"]} == SNAPSHOT["zero_kept"]
    assert all(name not in HAND for name in set(ZERO_KEPT) - set(SNAPSHOT["zero_kept"]))  # new types only
    assert sorted(map(list, MICRO_TIMES)) == SNAPSHOT["micro_times"]
    assert sorted(ATOMIC_STRUCTS & HAND.keys()) == SNAPSHOT["atomic"]  # (the types hand-kept did not have: more)


# -- behaviour: the same answers for random objects of every served kind and mutations of them ---------------------

_KEYS = st.text(alphabet="abxyz-.", min_size=1, max_size=3)
_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=3), "integer": st.integers(-3, 3), "number": st.integers(-3, 3) | st.floats(-2, 2),
    "boolean": st.booleans(), "int-or-string": st.integers(0, 9) | st.just("25%"),
    "quantity": st.sampled_from(["1", "100m", "1Gi"]), "time": st.just("2024-05-01T12:00:00Z"),
    "object": st.dictionaries(_KEYS, st.integers(), max_size=1), "any": st.none() | st.integers(),
}


def _values(type_: str, fmt: str, depth: int) -> st.SearchStrategy[Any]:
    if type_.startswith("[]"):
        return st.lists(_values(type_[2:], fmt, depth + 1), max_size=1 if depth < 4 else 0)
    if type_.startswith("map[string]"):
        return st.dictionaries(_KEYS, _values(type_[len("map[string]"):], fmt, depth + 1), max_size=1)
    if type_ in HAND:
        if depth > 5:
            return st.just({})
        optional = {k: _values(f.type, f.format, depth + 1) for k, f in HAND[type_].items()
                    if (type_, k) not in DELIBERATE}
        return st.fixed_dictionaries({}, optional=optional)
    if type_ == "string" and fmt == "byte":
        return st.just("aGk=")
    return _SCALARS[type_]


def _structs(value: Any, type_: str) -> list[tuple[dict[str, Any], str]]:
    if type_.startswith("[]") and isinstance(value, list):
        return [s for item in value for s in _structs(item, type_[2:])]
    if type_.startswith("map[string]") and isinstance(value, dict):
        return [s for item in value.values() for s in _structs(item, type_[len("map[string]"):])]
    if type_ in HAND and isinstance(value, dict):
        return [(value, type_)] + [s for k, item in value.items() for s in _structs(item, HAND[type_][k].type)]
    return []


KINDS = sorted(name for name in SNAPSHOT["kind_types"] if not name.endswith("List"))
objects = st.sampled_from(KINDS).flatmap(lambda root: st.tuples(st.just(root), _values(root, "", 0)))


def _answers(obj: dict[str, Any], root: str, types: dict[str, TypeFields], required: Any) -> Any:
    unknown, causes = check_structure(obj, root, types)
    return sorted(unknown), [(c.field, c.message) for c in causes], [c.field for c in required(obj, root)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objects, st.data())
def test_both_schemas_accept_and_refuse_the_same_objects(sample: tuple[str, dict[str, Any]],
                                                         data: st.DataObject) -> None:
    root, obj = sample
    obj = copy.deepcopy(obj)
    target, type_name = data.draw(st.sampled_from(_structs(obj, root)))
    mutation = data.draw(st.sampled_from(["unknown", "wrong type", "remove", "none"]))
    keys = sorted(k for k in HAND[type_name] if (type_name, k) not in DELIBERATE)
    if mutation == "unknown":
        target["zzUnknown"] = 1
    elif mutation == "wrong type" and keys:
        target[data.draw(st.sampled_from(keys))] = data.draw(st.sampled_from([12345, "x", [True], {"a": 1}]))
    elif mutation == "remove" and target:
        del target[data.draw(st.sampled_from(sorted(target)))]
    assert _answers(obj, root, HAND, HAND_REQUIRED.missing) == _answers(obj, root, TYPES, missing_required)
