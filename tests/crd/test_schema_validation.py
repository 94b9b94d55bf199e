"""The structural-schema machinery of custom resources, without a server: the CRD's schema rules, and objects
checked through the field-model converter (messages, pruning, defaulting, embedded resources), with no exception
for any value under any accepted schema."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftkube.api.crd.schema_validation import CompiledSchema, apply_defaults, pruned, unknown_fields, validate
from raftkube.api.crd.structural import structural_causes

from .crds import WIDGET_SCHEMA

JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 300) | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                  max_size=3), max_leaves=8)
SCHEMA_KEYS = st.sampled_from(["type", "properties", "items", "required", "enum", "maximum", "minimum", "pattern",
                               "maxLength", "maxItems", "default", "additionalProperties", "nullable",
                               "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields",
                               "x-kubernetes-embedded-resource", "minLength", "minItems", "exclusiveMaximum"])
SCHEMAS = st.recursive(st.dictionaries(SCHEMA_KEYS, JSON, max_size=4),
                       lambda inner: st.dictionaries(SCHEMA_KEYS, inner | st.dictionaries(st.text(max_size=4),
                                                                                          inner, max_size=3),
                                                     max_size=4), max_leaves=10)


WIDGET = CompiledSchema(WIDGET_SCHEMA, "com.example.v1.Widget")


def messages(obj: Any, schema: CompiledSchema = WIDGET) -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate(obj, schema)]


def test_kubernetes_messages() -> None:
    assert messages({"spec": {"size": "x"}}) == [
        'spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"']
    assert messages({"spec": {"size": 0}}) == [
        "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"]
    assert messages({"spec": {}}) == ["spec.size: Required value"]
    assert messages({"spec": {"size": 1, "port": 1.5}}) == [
        'spec.port: Invalid value: "number": spec.port in body must be of type integer or string: "number"']
    assert messages({"spec": {"size": 1, "name": "abc", "tags": ["a"]}}) == []
    assert messages({"spec": {"size": 1.0}}) == []  # a whole float is an integer, as in JSON


def test_embedded_resource_needs_apiversion_and_kind() -> None:
    assert messages({"spec": {"size": 1, "template": {"metadata": {"name": "x"}}}}) == [
        "spec.template.apiVersion: Required value: must not be empty",
        "spec.template.kind: Required value: must not be empty"]


def test_pruning_keeps_what_the_schema_names_or_preserves() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "x": 1},
           "spec": {"size": 1, "bogus": 2, "extra": {"free": {"deep": 1}},
                    "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "junk": 1}, "spec": {}}},
           "status": {"phase": "x", "nope": 1}, "top": 1}
    assert sorted(unknown_fields(obj, WIDGET)) == ["metadata.x", "spec.bogus", "spec.template.metadata.junk",
                                                   "status.nope", "top"]
    kept = pruned(obj, WIDGET)
    assert kept["metadata"] == {"name": "w"} and kept["spec"]["template"]["metadata"] == {"name": "p"}
    assert kept["spec"]["extra"] == {"free": {"deep": 1}} and "top" not in kept and "bogus" not in kept["spec"]


def test_defaults_apply_at_every_depth_without_overwriting() -> None:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {
        "a": {"type": "integer", "default": 3}, "list": {"type": "array", "items": {
            "type": "object", "properties": {"b": {"type": "string", "default": "x"}}}}}}}}
    compiled = CompiledSchema(schema, "com.example.v1.D")
    obj: dict[str, Any] = {}
    apply_defaults(obj, compiled)
    assert obj == {"spec": {"a": 3}}
    obj = {"spec": {"a": 5, "list": [{}, {"b": "y"}]}}
    apply_defaults(obj, compiled)
    assert obj == {"spec": {"a": 5, "list": [{"b": "x"}, {"b": "y"}]}}


def test_structural_rules() -> None:
    path = "spec.versions[0].schema.openAPIV3Schema"
    assert [c.message for c in structural_causes({}, path)] == ["Required value: schemas are required"]
    causes = structural_causes({"properties": {"spec": {"properties": {"a": {"type": "strin"}}}}}, path)
    assert [f"{c.field}: {c.message}" for c in causes] == [
        f"{path}.type: Required value: must not be empty at the root",
        f"{path}.properties[spec].type: Required value: must not be empty for specified object fields",
        f'{path}.properties[spec].properties[a].type: Unsupported value: "strin": supported values: "object", '
        '"array", "string", "integer", "number", "boolean"']
    meta = structural_causes({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
        "labels": {"type": "object"}}}}}, path)
    assert [c.field for c in meta] == [f"{path}.properties[metadata]"]
    array = structural_causes({"type": "object", "properties": {"l": {"type": "array"}}}, path)
    assert [f"{c.field}: {c.message}" for c in array] == [f"{path}.properties[l].items: Required value: must be "
                                                          "specified"]
    typed = structural_causes({"type": "object", "properties": {"a": {"type": "integer", "maximum": "x"}}}, path)
    assert [f"{c.field}: {c.message}" for c in typed] == [
        f'{path}.properties[a].maximum: Invalid value: "x": must be a number']
    assert structural_causes(copy.deepcopy(WIDGET_SCHEMA), path) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=JSON, schema=SCHEMAS, typed=st.booleans())
def test_any_value_under_any_schema_gives_causes_not_exceptions(obj: Any, schema: dict[str, Any],
                                                                typed: bool) -> None:
    if typed:  # mostly structural roots, so that the value is validated too
        schema = {**schema, "type": "object"}
    if structural_causes(schema, "s"):
        return  # the API refuses such a CRD: its objects are never validated against it
    compiled = CompiledSchema(schema, "com.example.v1.Any")
    value = pruned({"spec": copy.deepcopy(obj)}, compiled)
    apply_defaults(value, compiled)
    assert all(isinstance(c.field, str) for c in validate(value, compiled))


@settings(max_examples=200, deadline=None)
@given(obj=JSON)
def test_any_value_under_the_widget_schema(obj: Any) -> None:
    value = pruned({"spec": obj, "status": copy.deepcopy(obj)}, WIDGET)
    apply_defaults(value, WIDGET)
    causes = validate(value, WIDGET)  # any JSON gives causes, never an exception
    assert all(isinstance(c.field, str) and isinstance(c.message, str) and c.message for c in causes)
