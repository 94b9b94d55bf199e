"""Hypothesis strategies for the fuzz tests: random JSON values (raw bytes, NaN, deep nesting, huge
strings), mutated manifests, objects drawn from the served OpenAPI v3 schemas, and patches."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import yaml
from hypothesis import strategies as st

from raftkube.api.openapi import openapi_v3_document
from tests.api.fuzz.support import (
    BY_KIND,
    KIND_NAMES,
    NS,
    Kind,
    Obj,
    fresh_name,
    target_name,
)


# ------------------------------------------------------------------ strategies: values
class Raw:
    """Bytes spliced verbatim into a JSON body where a value goes (for what json.dumps cannot write)."""

    def __init__(self, text: bytes, label: str = "") -> None:
        self.text, self.label = text, label

    def __repr__(self) -> str:
        return self.label or f"Raw({self.text[:40]!r}{'...' if len(self.text) > 40 else ''})"


def deep(depth: int, opener: bytes = b"[", closer: bytes = b"]") -> Raw:
    middle = b"1" if opener == b'{"a":' else b""
    return Raw(opener * depth + middle + closer * depth, f"<{opener.decode()} nested {depth} deep>")


def huge(size: int) -> Raw:
    return Raw(b'"' + b"x" * size + b'"', f"<a string of {size} x>")


RAW_VALUES = st.sampled_from([
    deep(50), deep(600), deep(5000), deep(100_000), deep(3000, b'{"a":', b"}"),
    Raw(b'"\xff\xfe\xc3("'), Raw(b'"caf\xe9"'), Raw(b'"\\ud800"'), Raw(b'"a\\udfffb"'),
    Raw(b"NaN"), Raw(b"Infinity"), Raw(b"-Infinity"), Raw(b"1e400"), Raw(b"-0"), Raw(b"1" + b"0" * 60),
    Raw(b'{"a": 1, "a": 2}'), Raw(b"0.1e-400"),
])
KEYS = st.sampled_from(["apiVersion", "kind", "metadata", "name", "namespace", "labels", "annotations", "spec",
                        "status", "containers", "image", "replicas", "selector", "matchLabels", "template",
                        "ports", "port", "data", "finalizers", "ownerReferences", "resourceVersion", "uid",
                        "$patch", "$retainKeys", "", "x" * 64]) | st.text(max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.sampled_from([0, -1, 1, 2**31, 2**63])
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
           | st.sampled_from(["", " ", "nginx", "100m", "1Gi", "TCP", "Always", "2024-01-01T00:00:00Z",
                              "delete", "\u0000", "\u202e", "a" * 254, "A_B", "-x-"]))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(KEYS, inner, max_size=4), max_leaves=16)
HUGE = st.sampled_from([huge(n) for n in (1_000, 70_000, 300_000, 1_100_000, 2_000_000)])
NASTY = st.one_of(JSON_VALUES, RAW_VALUES, HUGE, st.just(None), st.just({}), st.just([]),
                  st.just({"$patch": "delete"}), st.just([None]))
PLAIN_NASTY = st.one_of(JSON_VALUES, st.just(None), st.just({}), st.just([]), st.just("x" * 5000))


def encode_json(doc: Any) -> bytes:
    """json.dumps with every `Raw` spliced in verbatim."""
    raws: list[Raw] = []

    def mark(value: Any) -> str:
        if not isinstance(value, Raw):
            raise TypeError(type(value).__name__)
        raws.append(value)
        return f"\x00raw{len(raws) - 1}\x00"
    text = json.dumps(doc, default=mark).encode()
    for i, raw in enumerate(raws):
        text = text.replace(b'"\\u0000raw%d\\u0000"' % i, raw.text)
    return text


# ------------------------------------------------------------------ strategies: mutations
def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from paths(value, (*prefix, i))


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@st.composite
def mutated(draw: st.DrawFn, doc: Obj, values: st.SearchStrategy[Any] = NASTY, most: int = 3) -> Any:
    """`doc` with 1..most random changes: replace, delete, add an unknown field, wrap, duplicate."""
    doc = copy.deepcopy(doc)

    def value() -> Any:  # a copy: strategies such as st.just({}) hand out the same object every time
        return copy.deepcopy(draw(values))
    for _ in range(draw(st.integers(1, most))):
        where = draw(st.sampled_from(sorted(paths(doc), key=len, reverse=True)))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "wrap", "duplicate"]))
        if not where:
            if op == "replace":
                doc = value()
            continue
        parent, key = _at(doc, where[:-1]), where[-1]
        if op == "replace":
            parent[key] = value()
        elif op == "delete":
            del parent[key]
        elif op == "add":
            target = parent[key]
            if isinstance(target, dict):
                target[draw(KEYS)] = value()
            elif isinstance(target, list):
                target.append(value())
            else:
                parent[key] = value()
        elif op == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}]))
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        if not isinstance(doc, dict | list):
            break
    return doc


def has_raw(doc: Any) -> bool:
    if isinstance(doc, Raw):
        return True
    if isinstance(doc, dict):
        return any(has_raw(v) for v in doc.values())
    if isinstance(doc, list):
        return any(has_raw(v) for v in doc)
    return False


@st.composite
def encoded(draw: st.DrawFn, doc: Any) -> tuple[bytes, str]:
    """`doc` as a JSON or (when it can be written so) YAML body."""
    if not has_raw(doc) and draw(st.booleans()):
        try:
            return yaml.safe_dump(doc).encode(), draw(st.sampled_from(["application/yaml", "application/x-yaml"]))
        except (yaml.YAMLError, RecursionError):
            pass
    return encode_json(doc), draw(st.sampled_from(["application/json", "application/json; charset=utf-8"]))


FIELD_VALIDATION = st.sampled_from([None, "Strict", "Warn", "Ignore"])


def params_with(validation: str | None, **more: str) -> dict[str, str]:
    return {**({"fieldValidation": validation} if validation else {}), **more}


# ------------------------------------------------------------------ strategies: from the OpenAPI schemas
_DOCS: dict[str, Obj] = {}
STRINGS = st.sampled_from(["", "a", "nginx", "web-1", "TCP", "Always", "None", "10.0.0.1", "100m", "1Gi", "80",
                           "25%", "2024-01-01T00:00:00Z", "not a time", "A_B", "x" * 70, "/tmp", "kubernetes.io/x"])
INTS = st.sampled_from([0, 1, -1, 2, 80, 65535, 65536, 2**31 - 1, 2**31, 2**63 - 1])


def schemas(kind: Kind) -> Obj:
    if kind.openapi_path not in _DOCS:
        _DOCS[kind.openapi_path] = openapi_v3_document(kind.openapi_path)
    schemas_: Obj = _DOCS[kind.openapi_path]["components"]["schemas"]
    return schemas_


def from_schema(all_schemas: Obj, schema: Obj, depth: int) -> st.SearchStrategy[Any]:
    """Values that follow `schema` (types, enums, nesting), with optional properties left out at random."""
    if "$ref" in schema:
        return from_schema(all_schemas, all_schemas[schema["$ref"].rsplit("/", 1)[-1]], depth)
    if "allOf" in schema:
        return from_schema(all_schemas, schema["allOf"][0], depth)
    if "oneOf" in schema:
        return st.one_of([from_schema(all_schemas, s, depth) for s in schema["oneOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) | STRINGS
    kind = schema.get("type")
    if kind == "string":
        return STRINGS | st.text(max_size=8)
    if kind == "integer":
        return INTS
    if kind == "number":
        return INTS | st.floats(-1e6, 1e6)
    if kind == "boolean":
        return st.booleans()
    if depth <= 0:
        return st.just({}) if kind == "object" else st.just([]) if kind == "array" else st.none()
    if kind == "array":
        return st.lists(from_schema(all_schemas, schema["items"], depth - 1), max_size=2)
    if kind == "object" and "properties" in schema:
        props = {k: from_schema(all_schemas, v, depth - 1) for k, v in schema["properties"].items()
                 if k not in ("apiVersion", "kind", "managedFields")}
        return st.fixed_dictionaries({}, optional=props)
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return st.dictionaries(STRINGS, from_schema(all_schemas, schema["additionalProperties"], depth - 1),
                               max_size=2)
    return JSON_VALUES


_KIND_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {}


def kind_strategy(kind: Kind) -> st.SearchStrategy[Any]:
    """Objects of `kind` drawn from its schema in the OpenAPI v3 document the server serves (built once)."""
    if kind.kind not in _KIND_STRATEGIES:
        all_schemas = schemas(kind)
        root = next(name for name, s in all_schemas.items()
                    if {"kind": kind.kind, "version": kind.api_version.rsplit("/", 1)[-1]}.items()
                    <= (s.get("x-kubernetes-group-version-kind") or [{}])[0].items())
        _KIND_STRATEGIES[kind.kind] = from_schema(all_schemas, {"$ref": root}, 6)
    return _KIND_STRATEGIES[kind.kind]


@st.composite
def schema_objects(draw: st.DrawFn) -> tuple[Kind, Obj]:
    kind = BY_KIND[draw(KIND_NAMES)]
    obj = draw(kind_strategy(kind))
    # keep a valid skeleton under the random values often enough to get past the first checks
    base = kind.manifest(fresh_name())
    if draw(st.booleans()):
        obj = {**base, **obj, "metadata": {**obj.get("metadata", {}), "name": base["metadata"]["name"]}}
    obj.update(apiVersion=kind.api_version, kind=kind.kind)
    obj.setdefault("metadata", {})
    obj["metadata"].pop("namespace", None)
    if isinstance(obj["metadata"], dict) and draw(st.booleans()):
        obj["metadata"]["name"] = base["metadata"]["name"]
    return kind, obj


STATUS: dict[str, Obj] = {
    "Pod": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    "Node": {"conditions": [{"type": "Ready", "status": "True"}], "capacity": {"cpu": "2", "pods": "110"}},
    "Namespace": {"phase": "Active"}, "Service": {"loadBalancer": {}},
    "Deployment": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 1},
    "ReplicaSet": {"observedGeneration": 1, "replicas": 1}, "DaemonSet": {"desiredNumberScheduled": 1,
                                                                          "currentNumberScheduled": 1,
                                                                          "numberMisscheduled": 0, "numberReady": 0},
    "Job": {"active": 1, "startTime": "2024-01-01T00:00:00Z"},
}
MANAGED = [{"manager": "someone", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:x": {}}}}}]


def canonical(kind: Kind, status: bool = False, managed: bool = False) -> Obj:
    """The target as a client would send it back, without what changes on the server between examples.

    Strategies draw only from documents like this one (never from the live object), so that
    Hypothesis can replay and shrink an example; the live resourceVersion is added afterwards."""
    doc = kind.manifest(target_name(kind))
    if kind.namespaced:
        doc["metadata"]["namespace"] = NS
    if status and kind.kind in STATUS:
        doc["status"] = copy.deepcopy(STATUS[kind.kind])
    if managed:
        doc["metadata"]["managedFields"] = copy.deepcopy(MANAGED)
    return doc


def with_version(doc: Any, live: Obj, keep: bool) -> Any:
    if keep and isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
        doc["metadata"].setdefault("resourceVersion", live["metadata"]["resourceVersion"])
    return doc


SMP_DIRECTIVES = st.sampled_from([
    {"$patch": "delete"}, {"$patch": "replace"}, {"$patch": "merge"}, {"$patch": "explode"}, {"$patch": None},
    {"$retainKeys": ["name"]}, {"$retainKeys": "name"}, {"$setElementOrder/containers": [{"name": "app"}]},
    {"$setElementOrder/containers": "x"}, {"$deleteFromPrimitiveList/finalizers": ["a"]},
    {"$deleteFromPrimitiveList/finalizers": 3}, {"$unknownDirective": 1},
])
JSON_PATCH_OPS = st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "explode", None, 1])


@st.composite
def json_patches(draw: st.DrawFn, doc: Obj) -> Any:
    pointers = ["/" + "/".join(str(s).replace("~", "~0").replace("/", "~1") for s in p) for p in paths(doc)
                if p and p[0] not in ("kind", "apiVersion")]
    pointer = st.sampled_from(pointers) | st.sampled_from(["", "/", "/spec/-", "/metadata/labels/~2", "nope",
                                                           "/spec/containers/99", "/spec/containers/-1",
                                                           "/metadata/name", "/kind", "/metadata/resourceVersion"])
    ops = []
    for _ in range(draw(st.integers(0, 4))):
        op: Obj = {"op": draw(JSON_PATCH_OPS), "path": draw(pointer | PLAIN_NASTY)}
        if draw(st.booleans()):
            op["value"] = copy.deepcopy(draw(PLAIN_NASTY))
        if draw(st.booleans()):
            op["from"] = draw(pointer)
        ops.append(op)
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([{"ops": ops}, ops[:1]]) | JSON_VALUES)
    return ops


@st.composite
def patches(draw: st.DrawFn, kind: Kind, sub: str) -> tuple[Any, str, dict[str, str]]:
    """(body, content type, query) of a random patch of the target."""
    content_type = draw(st.sampled_from(["application/merge-patch+json", "application/strategic-merge-patch+json",
                                         "application/json-patch+json", "application/apply-patch+yaml"]))
    params: dict[str, str] = {}
    doc = canonical(kind, status=sub == "status")
    if sub == "scale":
        doc = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": target_name(kind),
                                                                              "namespace": NS},
               "spec": {"replicas": 2}}
    if content_type == "application/json-patch+json":
        return draw(json_patches(doc)), content_type, params
    if content_type == "application/apply-patch+yaml":
        params["fieldManager"] = draw(st.sampled_from(["fuzzer", "kubectl", "x" * 128]) | st.text(min_size=1,
                                                                                                     max_size=8))
        if draw(st.booleans()):
            params["force"] = "true"
        return (draw(mutated(doc, most=2)) if draw(st.integers(0, 3)) else doc), content_type, params
    start = {key: doc[key] for key in ("metadata", "spec", "status", "data", "subsets") if key in doc}
    partial = draw(mutated(start))
    if content_type.startswith("application/strategic") and isinstance(partial, dict) and draw(st.booleans()):
        where = draw(st.sampled_from([p for p in paths(partial) if isinstance(_at(partial, p), dict)] or [()]))
        spot = _at(partial, where) if where else partial
        if isinstance(spot, dict):
            spot.update(copy.deepcopy(draw(SMP_DIRECTIVES)))
    return partial, content_type, params
