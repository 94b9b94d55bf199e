"""A CRD's openAPIV3Schema turned into the field model (`openapi_import.crd_schema`) is checked by the
same structural, required and constraint walks as built-in kinds, with Kubernetes' messages, and defaulted."""

from __future__ import annotations

from typing import Any

from raftkube.api.schema.defaults import apply_defaults
from raftkube.api.schema.openapi_import import crd_schema
from raftkube.api.schema.required import RequiredFields
from raftkube.api.schema.structure import check_structure, prune_unknown

PREFIX = "com.example.v1.Widget"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "minLength": 2},
                         "x-kubernetes-list-type": "set"},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "required": ["name"],
                                    "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"},
                           "x-kubernetes-map-type": "atomic"},
                "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                         "properties": {"mode": {"type": "string"}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
                "when": {"type": "string", "format": "date-time"},
                "anything": {"x-kubernetes-preserve-unknown-fields": True},
                "empty": {"type": "object"},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}
CUSTOM = crd_schema(SCHEMA, PREFIX)
REQUIRED = RequiredFields(CUSTOM.types, (CUSTOM.root,), nested_containers=True)


def _check(spec: dict[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}
    unknown, causes = check_structure(obj, CUSTOM.root, CUSTOM.types, CUSTOM.root_preserves_unknown)
    return unknown, [(c.field, c.message) for c in causes]


def test_the_schema_becomes_named_types_under_the_prefix() -> None:
    root = CUSTOM.types[PREFIX]
    assert set(root) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert root["metadata"].type == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    spec = CUSTOM.types[PREFIX + ".spec"]
    assert spec["size"].required and spec["size"].type == "integer"
    assert spec["size"].constraints is not None and spec["size"].constraints.default == "3"
    assert spec["port"].type == "int-or-string"
    assert spec["tags"].type == "[]string" and spec["tags"].list_type == "set"
    assert spec["ports"].type == "[]" + PREFIX + ".spec.ports[]" and spec["ports"].list_map_keys == ("name",)
    assert spec["labels"].type == "map[string]string" and spec["labels"].map_type == "atomic"
    assert spec["config"].type == "object" and spec["anything"].type == "any"
    assert spec["open"].preserve_unknown and CUSTOM.types[PREFIX + ".spec.open"].keys() == {"mode"}
    assert {"apiVersion", "kind", "metadata", "spec"} <= CUSTOM.types[PREFIX + ".spec.template"].keys()
    assert spec["when"].type == "time" and CUSTOM.types[PREFIX + ".spec.empty"] == {}


def test_a_valid_object_passes() -> None:
    spec = {"size": 3, "color": "red", "name": "abc", "port": "http", "tags": ["aa"], "ports": [{"name": "p"}],
            "labels": {"a": "b"}, "config": {"x": {"y": 1}}, "open": {"mode": "m", "extra": 1},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"any": 1}},
            "when": "2024-01-01T00:00:00Z", "anything": [1, "x"]}
    assert _check(spec) == ([], [])
    obj = {"spec": spec}
    assert REQUIRED.missing(obj, CUSTOM.root) == []


def test_unknown_fields_are_found_except_where_preserved() -> None:
    unknown, _ = _check({"size": 1, "bogus": 1, "open": {"kept": 1}, "empty": {"gone": 1},
                         "ports": [{"name": "a", "extra": 2}]})
    assert sorted(unknown) == ["spec.bogus", "spec.empty.gone", "spec.ports[0].extra"]


def test_root_preserving_unknown_fields_keeps_them() -> None:
    custom = crd_schema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, PREFIX)
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}, "spec": {"x": 1}}
    assert check_structure(obj, custom.root, custom.types, custom.root_preserves_unknown) == ([], [])
    assert prune_unknown(obj, custom.root, custom.types, custom.root_preserves_unknown) == obj


def test_pruning_drops_unknown_fields_and_keeps_preserved_ones() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
           "spec": {"size": 1, "bogus": 1, "open": {"mode": "m", "kept": 2}, "config": {"deep": {"x": 1}}},
           "extra": True}
    pruned = prune_unknown(obj, CUSTOM.root, CUSTOM.types)
    assert pruned == {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                      "spec": {"size": 1, "open": {"mode": "m", "kept": 2}, "config": {"deep": {"x": 1}}}}


def test_constraints_give_kubernetes_messages() -> None:
    _, causes = _check({"size": 20, "color": "green", "name": "toolong", "tags": ["a", "bb", "cc"]})
    assert causes == [
        ("spec.size", "Invalid value: 20: spec.size in body should be less than or equal to 10"),
        ("spec.color", 'Unsupported value: "green": supported values: "red", "blue"'),
        ("spec.name", "Too long: may not be more than 5 bytes"),
        ("spec.tags[0]", 'Invalid value: "a": spec.tags[0] in body should be at least 2 chars long'),
        ("spec.tags", "Too many: 3: must have at most 2 items"),
    ]
    _, causes = _check({"size": 0, "name": "AB"})
    assert causes == [("spec.size", "Invalid value: 0: spec.size in body should be greater than or equal to 1"),
                      ("spec.name", "Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'")]


def test_wrong_types_are_reported_before_constraints() -> None:
    _, causes = _check({"size": "big", "port": 1.5, "tags": "x"})
    assert [field for field, _ in causes] == ["spec.size", "spec.port", "spec.tags"]
    assert causes[0][1] == 'Invalid value: "string": spec.size in body must be of type integer'


def test_required_fields_are_found_at_every_depth() -> None:
    missing = REQUIRED.missing({"spec": {"ports": [{"port": 1}]}}, CUSTOM.root)
    assert [(c.field, c.message) for c in missing] == [("spec.size", "Required value"),
                                                       ("spec.ports[0].name", "Required value")]


def test_lists_of_lists_are_typed_and_the_required_walk_skips_them() -> None:
    schema = {"type": "object", "properties": {"grid": {"type": "array", "items": {"type": "array", "items": {
        "type": "object", "required": ["x"], "properties": {"x": {"type": "integer", "maximum": 5}}}}}}}
    custom = crd_schema(schema, PREFIX)
    assert custom.types[PREFIX]["grid"].type == f"[][]{PREFIX}.grid[][]"
    obj = {"grid": [[{"x": 9}, {"y": 1}]]}
    unknown, causes = check_structure(obj, custom.root, custom.types)
    assert unknown == ["grid[0][1].y"]
    assert [c.field for c in causes] == ["grid[0][0].x"]
    assert RequiredFields(custom.types, (custom.root,), nested_containers=True).missing(obj, custom.root) == []


def test_defaults_fill_absent_and_null_fields_top_down() -> None:
    schema = {"type": "object", "properties": {"spec": {
        "type": "object", "default": {},
        "properties": {
            "size": {"type": "integer", "default": 3},
            "mode": {"type": "string", "default": "fast", "nullable": True},
            "ports": {"type": "array", "items": {"type": "object", "properties": {
                "protocol": {"type": "string", "default": "TCP"}}}},
            "limits": {"type": "object", "default": {"cpu": "1"}, "additionalProperties": {"type": "string"}},
        }}}}
    custom = crd_schema(schema, PREFIX)
    assert apply_defaults({}, custom.root, custom.types) == {"spec": {"size": 3, "mode": "fast",
                                                                      "limits": {"cpu": "1"}}}
    obj = {"spec": {"size": None, "mode": None, "ports": [{}, {"protocol": "UDP"}], "limits": {"mem": "2"}}}
    assert apply_defaults(obj, custom.root, custom.types) == {"spec": {
        "size": 3, "mode": None, "ports": [{"protocol": "TCP"}, {"protocol": "UDP"}], "limits": {"mem": "2"}}}
