"""The type tables hang together: references resolve, merge keys exist, field names and JSON types
agree with the kubernetes Python client's generated models, and structural checks hold for random
objects generated from the schema (hypothesis)."""

from __future__ import annotations

import base64
import re
from typing import Any

import kubernetes.client.models as k8s_models
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftkube.api.resources import RESOURCES
from raftkube.api.schema import KIND_TYPES, PRIMITIVES, TYPE_DESCRIPTIONS, TYPES, element_type, kind_type
from raftkube.api.schema.generate import load_definitions
from raftkube.api.schema.structure import check_structure, prune_unknown

STRATEGIES = {"merge", "retainKeys", "merge,retainKeys", "replace"}


def test_every_reference_resolves_and_every_field_is_described() -> None:
    upstream = load_definitions()  # a few upstream fields have no description (JSONSchemaProps'): none here either
    for name, fields in TYPES.items():
        assert name in TYPE_DESCRIPTIONS, name
        for key, field in fields.items():
            assert element_type(field.type) in PRIMITIVES | TYPES.keys(), (name, key, field.type)
            undescribed = "description" not in upstream.get(name, {}).get("properties", {}).get(key, {"description": 1})
            assert field.description or undescribed, (name, key)


def test_every_resource_has_a_kind_type() -> None:
    for r in RESOURCES:
        root = KIND_TYPES[(r.api_version, r.kind)]
        assert root == kind_type(r) and root in TYPES
        assert {"apiVersion", "kind", "metadata"} <= TYPES[root].keys()
        assert KIND_TYPES[(r.api_version, r.kind + "List")] in TYPES
    assert all(root in TYPES for root in KIND_TYPES.values())


def test_patch_metadata_is_consistent() -> None:
    for name, fields in TYPES.items():
        for key, field in fields.items():
            where = f"{name}.{key}"
            if field.patch_strategy:
                assert field.patch_strategy in STRATEGIES, where
            if field.list_type:
                assert field.type.startswith("[]") and field.list_type in {"atomic", "set", "map"}, where
            item = field.type[2:] if field.type.startswith("[]") else ""
            if field.merge_key:
                assert "merge" in (field.patch_strategy or "") and field.merge_key in TYPES[item], where
            if field.list_type == "map":
                assert field.list_map_keys and all(k in TYPES[item] for k in field.list_map_keys), where
            elif field.list_map_keys:
                pytest.fail(f"{where}: list_map_keys without list_type map")


@pytest.mark.parametrize(("type_name", "field", "strategy", "key", "map_keys"), [
    ("io.k8s.api.core.v1.PodSpec", "containers", "merge", "name", ("name",)),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", "merge", "name", ("name",)),
    ("io.k8s.api.core.v1.PodSpec", "volumes", "merge,retainKeys", "name", ("name",)),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", "merge", "name", ("name",)),
    ("io.k8s.api.core.v1.PodSpec", "tolerations", None, None, ()),
    ("io.k8s.api.core.v1.Container", "ports", "merge", "containerPort", ("containerPort", "protocol")),
    ("io.k8s.api.core.v1.Container", "env", "merge", "name", ("name",)),
    ("io.k8s.api.core.v1.Container", "volumeMounts", "merge", "mountPath", ("mountPath",)),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "merge", "port", ("port", "protocol")),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", "merge", "uid", ("uid",)),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", "merge", None, ()),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", "merge", "type", ("type",)),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", "retainKeys", None, ()),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", "merge", "type", ("type",)),
])
def test_real_patch_strategies(type_name: str, field: str, strategy: str | None, key: str | None,
                               map_keys: tuple[str, ...]) -> None:
    f = TYPES[type_name][field]
    assert (f.patch_strategy, f.merge_key, f.list_map_keys) == (strategy, key, map_keys)


def _model_class(type_name: str) -> Any:
    version, short = type_name.rsplit(".", 2)[1:]
    prefix = version.capitalize()  # V1, V2
    for candidate in (f"{prefix}{short}", f"Core{prefix}{short}", f"Rbac{prefix}{short}"):
        cls = getattr(k8s_models, candidate, None)
        if cls is not None and (short not in ("Event", "EventSeries") or candidate.startswith("CoreV1")):
            return cls
    return None


def _compatible(ours: str, theirs: str) -> bool:
    if ours.startswith("[]"):
        m = re.fullmatch(r"List\[(.+)\]", theirs)
        return bool(m) and _compatible(ours[2:], m.group(1))
    if ours.startswith("map[string]"):
        return theirs.startswith("Dict[str, ") or theirs == "object"
    simple = {"string": {"str"}, "integer": {"int"}, "number": {"float"}, "boolean": {"bool"},
              "time": {"datetime"}, "quantity": {"str"}, "int-or-string": {"object"},
              "object": {"object"}, "any": {"object"}}
    if ours in simple:
        return theirs in simple[ours] or (ours == "object" and theirs.startswith(("V1", "Dict")))
    if not TYPES.get(ours, True):  # an empty struct (CustomResourceSubresourceStatus)
        return theirs == "object"
    return re.match(r"([A-Z][a-z]+)?V\d", theirs) is not None


def test_fields_agree_with_the_python_client_models() -> None:
    checked = 0
    for name, fields in TYPES.items():
        cls = _model_class(name)
        if cls is None or name.endswith("List"):
            continue
        json_types = {cls.attribute_map[attr]: t for attr, t in cls.openapi_types.items()}
        for key, field in fields.items():
            assert key in json_types, f"{name}.{key} is not a Kubernetes field"
            assert _compatible(field.type, json_types[key]), (name, key, field.type, json_types[key])
            checked += 1
    assert checked > 700


# -- hypothesis: random objects generated from the schema -----------------------------------------------------

_KEYS = st.text(alphabet="abcxyz-._", min_size=1, max_size=4)
_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=4),
    "number": st.integers(-5, 5) | st.floats(-10, 10, allow_nan=False),
    "boolean": st.booleans(),
    "int-or-string": st.integers(0, 100) | st.sampled_from(["25%", "http"]),
    "quantity": st.sampled_from(["1", "100m", "1Gi", "0.5", "2e3"]) | st.integers(0, 8),
    "time": st.sampled_from(["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456+02:00"]),
    "object": st.dictionaries(_KEYS, st.integers() | st.text(max_size=3), max_size=2),
    "any": st.none() | st.integers() | st.text(max_size=3),
}
_cache: dict[tuple[str, str, int], st.SearchStrategy[Any]] = {}


def values(type_: str, fmt: str = "", depth: int = 0) -> st.SearchStrategy[Any]:
    key = (type_, fmt, depth)
    if key not in _cache:
        _cache[key] = _values(type_, fmt, depth)
    return _cache[key]


def _values(type_: str, fmt: str, depth: int) -> st.SearchStrategy[Any]:
    if type_.startswith("[]"):
        return st.lists(values(type_[2:], fmt, depth + 1), max_size=2 if depth < 4 else 0)
    if type_.startswith("map[string]"):
        return st.dictionaries(_KEYS, values(type_[len("map[string]"):], fmt, depth + 1), max_size=2)
    if type_ in TYPES:
        if depth > 6:
            return st.just({})
        optional = {k: values(f.type, f.format, depth + 1) for k, f in TYPES[type_].items()}
        return st.fixed_dictionaries({}, optional=optional)
    if type_ == "integer":
        bound = 2**31 - 1 if fmt == "int32" else 2**63 - 1
        return st.integers(-bound - 1, bound)
    if type_ == "string" and fmt == "byte":
        return st.binary(max_size=6).map(lambda b: base64.b64encode(b).decode())
    return _SCALARS[type_]


def struct_dicts(value: Any, type_: str, path: str) -> list[tuple[str, dict[str, Any], str]]:
    """Every dict inside `value` that the schema types as a struct: (path, dict, type name)."""
    if type_.startswith("[]") and isinstance(value, list):
        return [d for i, item in enumerate(value) for d in struct_dicts(item, type_[2:], f"{path}[{i}]")]
    if type_.startswith("map[string]") and isinstance(value, dict):
        inner = type_[len("map[string]"):]
        return [d for k, item in value.items() for d in struct_dicts(item, inner, f"{path}.{k}" if path else k)]
    if type_ in TYPES and isinstance(value, dict):
        out = [(path, value, type_)]
        for k, item in value.items():
            out += struct_dicts(item, TYPES[type_][k].type, f"{path}.{k}" if path else k)
        return out
    return []


ROOTS = sorted(set(KIND_TYPES.values()))
objects = st.sampled_from(ROOTS).flatmap(lambda root: st.tuples(st.just(root), values(root)))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(objects)
def test_generated_objects_are_structurally_valid(sample: tuple[str, dict[str, Any]]) -> None:
    root, obj = sample
    assert check_structure(obj, root) == ([], [])
    assert prune_unknown(obj, root) == obj


@SETTINGS
@given(objects, st.data())
def test_an_injected_unknown_field_is_reported_once_and_pruned(sample: tuple[str, dict[str, Any]],
                                                               data: st.DataObject) -> None:
    root, obj = sample
    clean = prune_unknown(obj, root)
    path, target, _ = data.draw(st.sampled_from(struct_dicts(obj, root, "")))
    target["zzUnknown"] = {"nested": [1, 2]}
    unknown, causes = check_structure(obj, root)
    assert causes == []
    assert unknown == [f"{path}.zzUnknown" if path else "zzUnknown"]
    assert prune_unknown(obj, root) == clean


@SETTINGS
@given(objects, st.data())
def test_a_value_of_the_wrong_type_is_named(sample: tuple[str, dict[str, Any]], data: st.DataObject) -> None:
    root, obj = sample
    path, target, type_name = data.draw(st.sampled_from(struct_dicts(obj, root, "")))
    key = data.draw(st.sampled_from(sorted(TYPES[type_name])))
    field = TYPES[type_name][key]
    if field.type in ("any", "object") or field.type.startswith("map[string]"):
        return
    target[key] = 12345 if field.type in ("string", "time", "boolean") or field.type.startswith("[]") else [True]
    unknown, causes = check_structure(obj, root)
    assert unknown == []
    full = f"{path}.{key}" if path else key
    assert [c.field for c in causes] == [full]
    assert causes[0].message.startswith("Invalid value: ")

