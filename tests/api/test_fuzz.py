"""Fuzzing the write verbs of every kind through real HTTP: bad input is a 4xx Status that writes nothing.

Hypothesis builds bodies for POST, PUT and PATCH (all four patch types) and the status/scale
subresources: random JSON values, objects drawn from the served OpenAPI v3 schemas, and valid
manifests mutated at random paths (wrong types, unknown fields, nulls, huge strings, deep
nesting, raw non-UTF-8 bytes, NaN, YAML-only values). For every request: the answer comes within a
bounded time, is a 2xx or a 4xx `Status` (never a 5xx); a 4xx leaves the store's revision where it
was; a 2xx answer is strict JSON and the object read back deserializes with the official
kubernetes client into its model (V1Pod, V1Deployment, ...). Bugs found so far are pinned by the
`test_regression_*` tests at the end. Runs are derandomized so a failure reproduces;
RAFTKUBE_FUZZ_EXAMPLES (default 150 per test) and RAFTKUBE_FUZZ_SHRINK=1 make a deeper run.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kubernetes.client import ApiClient

from raftkube.api.openapi import openapi_v3_document
from raftkube.api.schema import KIND_TYPES, TYPES
from raftkube.api.schema.proto_numbers import DECODE_TYPES, NUMBERS, OBJECT_MESSAGES, RAW_JSON

from .inproc import REASONS, ChildProcessAPI, cause_fields, child_process_api, expect_status

Obj = dict[str, Any]
REQUEST_TIMEOUT = 15.0  # a bound on every request, so a wedged server fails the test instead of hanging it
BOMB_TIMEOUT = 10.0
NS = "fuzz"
EXAMPLES = int(os.environ.get("RAFTKUBE_FUZZ_EXAMPLES", "150"))
# no shrinking by default: a failing request (some take seconds on the server) is reported as found, which
# keeps a failing run as short as a passing one; RAFTKUBE_FUZZ_SHRINK=1 shrinks to a minimal example
PHASES = (Phase.explicit, Phase.generate, *((Phase.shrink,) if os.environ.get("RAFTKUBE_FUZZ_SHRINK") else ()))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
                phases=PHASES, report_multiple_bugs=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much, HealthCheck.large_base_example])
_names = itertools.count()

IMAGE = "nginx:1.27"
TEMPLATE: Obj = {"metadata": {"labels": {"app": "fz"}},
                 "spec": {"containers": [{"name": "app", "image": IMAGE, "ports": [{"containerPort": 80}],
                                          "env": [{"name": "A", "value": "b"}],
                                          "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}]}}


@dataclass(frozen=True)
class Kind:
    kind: str
    api_version: str
    plural: str
    namespaced: bool
    model: str
    body: Obj = field(default_factory=dict)  # everything but apiVersion, kind and metadata.name
    subresources: tuple[str, ...] = ()

    @property
    def collection(self) -> str:
        base = f"/apis/{self.api_version}" if "/" in self.api_version else f"/api/{self.api_version}"
        return f"{base}/namespaces/{NS}/{self.plural}" if self.namespaced else f"{base}/{self.plural}"

    @property
    def openapi_path(self) -> str:
        return f"apis/{self.api_version}" if "/" in self.api_version else f"api/{self.api_version}"

    def manifest(self, name: str) -> Obj:
        body = copy.deepcopy(self.body)
        meta = {"name": name, **body.pop("metadata", {})}
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": meta, **body}


KINDS = [
    Kind("Pod", "v1", "pods", True, "V1Pod", {"metadata": {"labels": {"app": "fz"}}, "spec": TEMPLATE["spec"]},
         ("status",)),
    Kind("Service", "v1", "services", True, "V1Service",
         {"spec": {"selector": {"app": "fz"}, "ports": [{"port": 80, "targetPort": 8080}]}}, ("status",)),
    Kind("Endpoints", "v1", "endpoints", True, "V1Endpoints",
         {"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
    Kind("ConfigMap", "v1", "configmaps", True, "V1ConfigMap", {"data": {"a": "b"}, "binaryData": {"c": "aGk="}}),
    Kind("Secret", "v1", "secrets", True, "V1Secret", {"type": "Opaque", "data": {"a": "aGk="},
                                                       "stringData": {"b": "c"}}),
    Kind("Node", "v1", "nodes", False, "V1Node", {"metadata": {"labels": {"zone": "a"}},
                                                  "spec": {"podCIDR": "10.1.0.0/24"}}, ("status",)),
    Kind("Event", "v1", "events", True, "CoreV1Event",
         {"involvedObject": {"kind": "Pod", "name": "p", "namespace": NS}, "reason": "Started",
          "message": "started", "type": "Normal", "count": 1}),
    Kind("Namespace", "v1", "namespaces", False, "V1Namespace", {"metadata": {"labels": {"team": "a"}}},
         ("status",)),
    Kind("Deployment", "apps/v1", "deployments", True, "V1Deployment",
         {"spec": {"replicas": 2, "selector": {"matchLabels": {"app": "fz"}}, "template": TEMPLATE}},
         ("status", "scale")),
    Kind("ReplicaSet", "apps/v1", "replicasets", True, "V1ReplicaSet",
         {"spec": {"replicas": 1, "selector": {"matchLabels": {"app": "fz"}}, "template": TEMPLATE}},
         ("status", "scale")),
    Kind("DaemonSet", "apps/v1", "daemonsets", True, "V1DaemonSet",
         {"spec": {"selector": {"matchLabels": {"app": "fz"}}, "template": TEMPLATE}}, ("status",)),
    Kind("Job", "batch/v1", "jobs", True, "V1Job",
         {"spec": {"backoffLimit": 2, "template": {"spec": {**TEMPLATE["spec"], "restartPolicy": "Never"}}}},
         ("status",)),
    Kind("Lease", "coordination.k8s.io/v1", "leases", True, "V1Lease",
         {"spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}),
]
BY_KIND = {k.kind: k for k in KINDS}
KIND_NAMES = st.sampled_from([k.kind for k in KINDS])


# ------------------------------------------------------------------ the server and its invariants
@pytest.fixture(scope="module")
def api() -> Iterator[ChildProcessAPI]:
    """One server for the module, in a child process: its crashes, recursion and CPU stay out of pytest's."""
    with child_process_api() as server:
        with server.client() as c:
            assert c.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": NS}}).status_code == 201
        yield server


@pytest.fixture(scope="module")
def client(api: ChildProcessAPI) -> Iterator[httpx.Client]:
    with api.client(timeout=REQUEST_TIMEOUT) as c:
        yield c


def fresh_name() -> str:
    return f"fz-{next(_names)}"


def target_name(kind: Kind) -> str:
    return f"target-{kind.kind.lower()}"


def ensure_target(client: httpx.Client, kind: Kind) -> Obj:
    """The long-lived object PUT and PATCH work on (created again if a write removed it)."""
    path = f"{kind.collection}/{target_name(kind)}"
    live = client.get(path)
    if live.status_code == 404:
        live = client.post(kind.collection, json=kind.manifest(target_name(kind)))
        assert live.status_code == 201, live.text
    assert live.status_code == 200 or live.status_code == 201, live.text
    obj: Obj = live.json()
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str) -> Any:
    """Parse as a strict JSON parser (Go's, kubectl's) would: NaN and Infinity are not JSON."""
    return json.loads(text, parse_constant=_reject_constant)


def deserialize(obj: Obj, model: str) -> Any:
    """`obj` through the official client's deserializer into `model` (it validates required fields)."""
    client, text = ApiClient(), json.dumps(obj)
    if "response_text" in inspect.signature(client.deserialize).parameters:
        return client.deserialize(text, model, "application/json")

    class Response:  # clients before the pydantic models take a response object
        data = text
    return client.deserialize(Response(), model)  # type: ignore[call-arg,arg-type,unused-ignore]


def describe(method: str, path: str, params: dict[str, str] | None, content_type: str, content: bytes) -> str:
    shown = content[:600] + (b"...(%d bytes)" % len(content) if len(content) > 600 else b"")
    return f"{method} {path} {params or ''} [{content_type}] {shown!r}"


def exchange(api: ChildProcessAPI, client: httpx.Client, method: str, path: str, content: bytes, content_type: str,
             params: dict[str, str] | None = None, model: str | None = None) -> httpx.Response:
    """Send one request and check every invariant; returns the response."""
    request = describe(method, path, params, content_type, content)
    before = api.revision()
    try:
        response = client.request(method, path, content=content, params=params,
                                  headers={"content-type": content_type})
    except httpx.TimeoutException:
        pytest.fail(f"no answer within {REQUEST_TIMEOUT} s to {request}")
    except httpx.TransportError as exc:
        pytest.fail(f"the server dropped the connection ({exc}) on {request}")
    code = response.status_code
    assert code < 500, f"{request}\n-> {code} {response.text[:1500]}"
    assert 200 <= code < 300 or 400 <= code < 500, f"{request}\n-> {code} {response.text[:500]}"
    if code >= 400:
        assert response.headers.get("content-type", "").startswith("application/json"), \
            f"{request}\n-> {code} is not a Status: {response.text[:500]}"
        reason = response.json().get("reason")
        assert reason in REASONS.get(code, ()), f"{request}\n-> {code} with reason {reason!r}: {response.text[:500]}"
        status = expect_status(response, code, reason)
        if code == 422 and " is invalid: " in status["message"]:  # Kubernetes' NewInvalid: always with causes
            cause_fields(status)
        assert api.revision() == before, f"a {code} write changed the store: {request}\n-> {response.text[:500]}"
        return response
    try:
        body = strict_json(response.text)
    except ValueError as exc:
        pytest.fail(f"the {code} answer is not strict JSON ({exc}): {request}\n-> {response.text[:1500]}")
    assert isinstance(body, dict), f"{request}\n-> {code} {response.text[:500]}"
    if model is not None and body.get("kind") not in ("Status", "Scale"):
        deserialize(body, model)
        name = body["metadata"]["name"]
        read = client.get(f"{path}/{name}" if method == "POST" else path.removesuffix("/status"))
        if read.status_code == 404:  # only a write that finished a deletion may leave nothing behind
            assert body["metadata"].get("deletionTimestamp"), f"{request}\n-> {code}, then GET: {read.text[:300]}"
        else:
            assert read.status_code == 200, read.text[:500]
            deserialize(strict_json(read.text), model)
    return response


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


# ------------------------------------------------------------------ the tests
def test_every_seed_manifest_is_accepted_and_reads_back(api: ChildProcessAPI, client: httpx.Client) -> None:
    for kind in KINDS:
        response = exchange(api, client, "POST", kind.collection, encode_json(kind.manifest(fresh_name())),
                            "application/json", model=kind.model)
        assert response.status_code == 201, (kind.kind, response.text)
        ensure_target(client, kind)


@FUZZ
@given(kind=KIND_NAMES, body=JSON_VALUES | NASTY, as_yaml=st.booleans())
def test_create_with_random_bodies(api: ChildProcessAPI, client: httpx.Client, kind: str, body: Any,
                                   as_yaml: bool) -> None:
    k = BY_KIND[kind]
    if as_yaml and not has_raw(body):
        content, content_type = yaml.safe_dump(body).encode(), "application/yaml"
    else:
        content, content_type = encode_json(body), "application/json"
    exchange(api, client, "POST", k.collection, content, content_type, model=k.model)


@FUZZ
@given(data=st.data(), kind=KIND_NAMES, validation=FIELD_VALIDATION)
def test_create_with_mutated_manifests(api: ChildProcessAPI, client: httpx.Client, data: st.DataObject, kind: str,
                                       validation: str | None) -> None:
    k = BY_KIND[kind]
    doc = data.draw(mutated(k.manifest(fresh_name())), label="body")
    content, content_type = data.draw(encoded(doc), label="encoding")
    exchange(api, client, "POST", k.collection, content, content_type, params_with(validation), model=k.model)


@FUZZ
@given(generated=schema_objects(), validation=FIELD_VALIDATION)
def test_create_with_objects_drawn_from_the_openapi_schema(api: ChildProcessAPI, client: httpx.Client,
                                                           generated: tuple[Kind, Obj],
                                                           validation: str | None) -> None:
    kind, obj = generated
    exchange(api, client, "POST", kind.collection, encode_json(obj), "application/json", params_with(validation),
             model=kind.model)


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


@FUZZ
@given(data=st.data(), kind=KIND_NAMES, keep_version=st.booleans(), managed=st.booleans(),
       validation=FIELD_VALIDATION)
def test_update_with_mutated_objects(api: ChildProcessAPI, client: httpx.Client, data: st.DataObject, kind: str,
                                     keep_version: bool, managed: bool, validation: str | None) -> None:
    k = BY_KIND[kind]
    sub = data.draw(st.sampled_from(["", *[s for s in k.subresources if s == "status"]]), label="subresource")
    doc = data.draw(mutated(canonical(k, status=True, managed=managed)), label="body")
    content, content_type = data.draw(encoded(with_version(doc, ensure_target(client, k), keep_version)),
                                      label="encoding")
    path = f"{k.collection}/{target_name(k)}" + (f"/{sub}" if sub else "")
    exchange(api, client, "PUT", path, content, content_type, params_with(validation), model=k.model)


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


@FUZZ
@given(data=st.data(), kind=KIND_NAMES, keep_version=st.booleans(), validation=FIELD_VALIDATION)
def test_patch_with_random_patches(api: ChildProcessAPI, client: httpx.Client, data: st.DataObject, kind: str,
                                   keep_version: bool, validation: str | None) -> None:
    k = BY_KIND[kind]
    sub = data.draw(st.sampled_from(["", *k.subresources]), label="subresource")
    body, content_type, params = data.draw(patches(k, sub), label="patch")
    live = ensure_target(client, k)
    if content_type == "application/apply-patch+yaml":
        content, _ = data.draw(encoded(body), label="encoding")
    else:
        content = encode_json(with_version(body, live, keep_version))
    path = f"{k.collection}/{target_name(k)}" + (f"/{sub}" if sub else "")
    exchange(api, client, "PATCH", path, content, content_type, {**params, **params_with(validation)},
             model=None if sub == "scale" else k.model)


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["Deployment", "ReplicaSet"]), verb=st.sampled_from(["PUT", "PATCH"]),
       keep_version=st.booleans())
def test_scale_with_random_bodies(api: ChildProcessAPI, client: httpx.Client, data: st.DataObject, kind: str,
                                  verb: str, keep_version: bool) -> None:
    k = BY_KIND[kind]
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale",
             "metadata": {"name": target_name(k), "namespace": NS}, "spec": {"replicas": 2}}
    body = data.draw(mutated(scale) | JSON_VALUES, label="body")
    content_type = "application/json" if verb == "PUT" else data.draw(
        st.sampled_from(["application/merge-patch+json", "application/strategic-merge-patch+json"]))
    body = with_version(body, ensure_target(client, k), keep_version)
    response = exchange(api, client, verb, f"{k.collection}/{target_name(k)}/scale", encode_json(body), content_type)
    if response.status_code < 300:
        assert response.json()["kind"] == "Scale"
        deserialize(response.json(), "V1Scale")


YAML_FRAGMENTS = st.sampled_from([
    "2024-01-01", "2024-01-01T10:00:00Z", "!!binary aGVsbG8=", "!!set {a, b}", "{2024-01-01: x}", "{1: x}",
    "{null: x}", "{true: x}", "{1.5: x}", "{[1, 2]: x}", ".nan", ".inf", "-.inf", "0x1F", "0o17", "1_000", "~",
    "yes", "on", "!!str 12", "!!float 1", "!!timestamp 2001-12-14", "'\\xff'", "[" * 1100 + "]" * 1100,
    "!!python/object/apply:os.getcwd []", "*nowhere", "&here x", "!<tag:yaml.org,2002:int> 12", "!custom x",
    "\"\\ud800\"", "\"\\x00\"", "|\n    multi\n    line", "{a: 1, a: 2}",
])


@FUZZ
@given(data=st.data(), kind=KIND_NAMES, apply=st.booleans())
def test_yaml_only_values(api: ChildProcessAPI, client: httpx.Client, data: st.DataObject, kind: str,
                          apply: bool) -> None:
    """YAML has values JSON has not (timestamps, binary, sets, non-string keys, NaN): each is 4xx or stored as JSON."""
    k = BY_KIND[kind]
    doc = k.manifest(target_name(k) if apply else fresh_name())
    where = data.draw(st.sampled_from([p for p in paths(doc) if p]), label="where")
    parent, key = _at(doc, where[:-1]), where[-1]
    parent[key] = "PLACEHOLDER-VALUE"
    fragment = data.draw(YAML_FRAGMENTS, label="fragment")
    text = yaml.safe_dump(doc, default_flow_style=False, width=1_000_000).replace("PLACEHOLDER-VALUE", fragment)
    if apply:
        exchange(api, client, "PATCH", f"{k.collection}/{target_name(k)}", text.encode(),
                 "application/apply-patch+yaml", {"fieldManager": "yaml-fuzz", "force": "true"}, model=k.model)
    else:
        exchange(api, client, "POST", k.collection, text.encode(), "application/yaml", model=k.model)


@FUZZ
@given(options=JSON_VALUES | st.fixed_dictionaries(
    {}, optional={"kind": st.sampled_from(["DeleteOptions", "Pod", 1]), "apiVersion": st.sampled_from(["v1", 7]),
                  "propagationPolicy": st.sampled_from(["Foreground", "Background", "Orphan", "Sideways", None, 3]),
                  "gracePeriodSeconds": SCALARS, "orphanDependents": SCALARS, "dryRun": JSON_VALUES,
                  "preconditions": JSON_VALUES | st.fixed_dictionaries({}, optional={"uid": SCALARS,
                                                                                      "resourceVersion": SCALARS})}))
def test_delete_with_random_options(api: ChildProcessAPI, client: httpx.Client, options: Any) -> None:
    name = fresh_name()
    assert client.post(BY_KIND["ConfigMap"].collection, json=BY_KIND["ConfigMap"].manifest(name)).status_code == 201
    response = exchange(api, client, "DELETE", f"{BY_KIND['ConfigMap'].collection}/{name}", encode_json(options),
                        "application/json")
    if response.status_code >= 400:
        assert client.get(f"{BY_KIND['ConfigMap'].collection}/{name}").status_code == 200


QUERY_TEXT = st.text(max_size=30) | st.sampled_from(["app=fz", "app in (fz,x)", "!app", "a,b", "metadata.name=x",
                                                     "status.phase!=Running", "spec.nodeName=", "=", "(", "a in",
                                                     "-1", "0", "99999999999999999999", "1.5", "e30="])


@FUZZ
@given(kind=KIND_NAMES, params=st.dictionaries(st.sampled_from(["labelSelector", "fieldSelector", "limit", "continue",
                                                                "resourceVersion", "resourceVersionMatch",
                                                                "includeObject", "fieldValidation"]),
                                               QUERY_TEXT, max_size=3),
       accept=st.sampled_from(["application/json", "application/json;as=Table;v=v1;g=meta.k8s.io",
                               "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", "*/*"]))
def test_list_with_random_query_parameters(api: ChildProcessAPI, client: httpx.Client, kind: str,
                                           params: dict[str, str], accept: str) -> None:
    k = BY_KIND[kind]
    before = api.revision()
    response = client.get(k.collection, params=params, headers={"accept": accept})
    assert response.status_code < 500, (k.collection, params, response.text[:1000])
    if response.status_code >= 400:
        expect_status(response, response.status_code, response.json()["reason"])
    else:
        strict_json(response.text)
    assert api.revision() == before


# ------------------------------------------------------------------ protobuf bodies (kubectl create ...)
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, value: int | bytes) -> bytes:
    key = _varint(number << 3 | wire)
    if wire == 0:
        return key + _varint(int(value))  # type: ignore[arg-type]
    if wire == 1:
        return key + int(value).to_bytes(8, "little", signed=False)  # type: ignore[arg-type]
    if wire == 5:
        return key + int(value).to_bytes(4, "little", signed=False)  # type: ignore[arg-type]
    data = bytes(value) if not isinstance(value, int) else _varint(value)
    return key + _varint(len(data)) + data


PROTO_SCALARS = st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**31, 2**63, 2**64 - 1])
PROTO_BYTES = st.binary(max_size=12) | st.sampled_from([b"", b"app", b"nginx:1.27", b"\xff\xfe", b"2024-01-01"])


@st.composite
def proto_messages(draw: st.DrawFn, depth: int = 3) -> bytes:
    """A structurally valid protobuf message with random field numbers, wire types and values."""
    out = b""
    for _ in range(draw(st.integers(0, 5))):
        number = draw(st.integers(1, 20) | st.sampled_from([0, 99, 2**29 - 1]))
        wire = draw(st.sampled_from([0, 1, 2, 2, 2, 5]))
        if wire == 2:
            value: int | bytes = draw(proto_messages(depth - 1)) if depth > 0 and draw(st.booleans()) \
                else draw(PROTO_BYTES)
        else:
            value = draw(PROTO_SCALARS) & ((1 << (32 if wire == 5 else 64)) - 1)
        out += _field(number, wire, value)
    if draw(st.integers(0, 7)) == 0:  # now and then a broken tail: a truncated or garbage field
        out += draw(st.sampled_from([b"\x0a\x7f", b"\x08", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                                     b"\x0b", b"\x0f\x00"]))
    return out


PROTO_TEXT = st.sampled_from([b"", b"app", b"fz", b"nginx:1.27", b"TCP", b"Always", b"100m", b"1Gi", b"10.0.0.1",
                               b"2024-01-01T00:00:00Z", b"\xff\xfe", b"A_B", b"x" * 300]) | st.binary(max_size=8)


def _one(type_: str, owner: str, name: str, depth: int) -> st.SearchStrategy[tuple[int, int | bytes]]:
    """(wire type, value) of one value of schema type `type_` (a field `name` of `owner`)."""
    if type_ == "string":
        return st.tuples(st.just(2), PROTO_TEXT)
    if type_ in ("integer", "boolean"):
        return st.tuples(st.just(0), PROTO_SCALARS if type_ == "integer" else st.integers(0, 2))
    if type_ == "number":
        return st.tuples(st.just(1), PROTO_SCALARS)
    if type_ == "time":
        return st.tuples(st.just(2), st.builds(lambda sec, nanos: _field(1, 0, sec) + _field(2, 0, nanos),
                                               PROTO_SCALARS | st.integers(0, 2**33), st.integers(0, 2**31)))
    if type_ == "quantity":
        return st.tuples(st.just(2), PROTO_TEXT.map(lambda q: _field(1, 2, q)))
    if type_ == "int-or-string":
        def int_or_string(t: int, i: int, text: bytes) -> bytes:
            return _field(1, 0, t) + _field(2, 0, i) + _field(3, 2, text)
        return st.tuples(st.just(2), st.builds(int_or_string, st.integers(0, 3), PROTO_SCALARS, PROTO_TEXT))
    message = OBJECT_MESSAGES.get((owner, name), type_ if type_ in DECODE_TYPES else None)
    if message == RAW_JSON:
        return st.tuples(st.just(2), st.sampled_from([b"{}", b'{"f:x":{}}', b"[", b"NaN", b"[" * 3000])
                         .map(lambda raw: _field(1, 2, raw)))
    if message is None or depth <= 0:
        return st.tuples(st.just(2), st.just(b"") | proto_messages(1))
    return st.tuples(st.just(2), proto_objects(message, depth - 1))


@st.composite
def proto_objects(draw: st.DrawFn, type_name: str, depth: int = 4) -> bytes:
    """A message of `type_name` built from its protobuf field numbers, values of about the right shape,
    and now and then a field with the wrong wire type or a number the type does not have."""
    numbers, fields = NUMBERS.get(type_name, {}), DECODE_TYPES.get(type_name, {})
    out = b""
    for name in draw(st.lists(st.sampled_from(sorted(numbers)), max_size=4, unique=True)) if numbers else []:
        number = numbers[name]
        path = number if isinstance(number, tuple) else (number,)
        type_ = fields[name].type
        if type_.startswith("[]"):
            values = draw(st.lists(_one(type_[2:], type_name, name, depth), max_size=2))
        elif type_.startswith("map[string]"):
            entries = draw(st.lists(st.tuples(PROTO_TEXT, _one(type_[len("map[string]"):], type_name, name, depth)),
                                    max_size=2))
            values = [(2, _field(1, 2, key) + _field(2, wire, value)) for key, (wire, value) in entries]
        else:
            values = [draw(_one(type_, type_name, name, depth))]
        if values and draw(st.integers(0, 15)) == 0:
            values[0] = (draw(st.sampled_from([0, 1, 2, 5])), draw(PROTO_SCALARS.map(lambda n: n & 0xFFFFFFFF)))
        leaf = b"".join(_field(path[-1], wire, value) for wire, value in values)
        for step in reversed(path[:-1]):
            leaf = _field(step, 2, leaf)
        out += leaf
    if draw(st.integers(0, 15)) == 0:
        out += draw(proto_messages(0))
    return out


@FUZZ
@given(data=st.data(), kind=KIND_NAMES, named=st.booleans(),
       envelope_extra=st.sampled_from([b"", b"", b"\x1a\x04gzip", b"\x22\x00", b"\x2a\x01x"]),
       type_meta=st.none() | st.none() | st.tuples(st.sampled_from(["v1", "apps/v1", "x/y", ""]),
                                                   st.sampled_from(["Pod", "ConfigMap", "Table", "Status", ""])))
def test_create_with_random_protobuf_bodies(api: ChildProcessAPI, client: httpx.Client, data: st.DataObject, kind: str,
                                            named: bool, envelope_extra: bytes,
                                            type_meta: tuple[str, str] | None) -> None:
    """What kubectl's typed clients send (`kubectl create ...`): the k8s magic, a runtime.Unknown envelope
    and the object's own message, here built from the served types' field numbers with random values."""
    k = BY_KIND[kind]
    root = KIND_TYPES[(k.api_version, k.kind)]
    raw = data.draw(proto_objects(root) | proto_messages(), label="object message")
    if named:  # a valid metadata.name first, so that more bodies get past validation
        raw = _field(1, 2, _field(1, 2, fresh_name().encode())) + raw
    api_version, kind_name = type_meta or (k.api_version, k.kind)
    meta = _field(1, 2, api_version.encode()) + _field(2, 2, kind_name.encode())
    body = b"k8s\x00" + _field(1, 2, meta) + _field(2, 2, raw) + envelope_extra
    exchange(api, client, "POST", k.collection, body, "application/vnd.kubernetes.protobuf", model=k.model)


# ------------------------------------------------------------------ regressions: what the fuzzing found
def post_raw(client: httpx.Client, path: str, content: bytes, content_type: str) -> httpx.Response:
    return client.post(path, content=content, headers={"content-type": content_type})


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000,
                                  b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}, "data": '
                                  + b'{"a":' * 5000 + b'"x"' + b"}" * 5000 + b"}"])
def test_regression_deeply_nested_json_body_is_a_bad_request(api: ChildProcessAPI, client: httpx.Client,
                                                             body: bytes) -> None:
    exchange(api, client, "POST", BY_KIND["ConfigMap"].collection, body, "application/json")


def test_regression_deeply_nested_yaml_body_is_a_bad_request(api: ChildProcessAPI, client: httpx.Client) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + b"[" * 1500 + b"]" * 1500
    exchange(api, client, "POST", BY_KIND["ConfigMap"].collection, body, "application/yaml")


def test_regression_deeply_nested_patch_is_a_bad_request(api: ChildProcessAPI, client: httpx.Client) -> None:
    k = BY_KIND["ConfigMap"]
    ensure_target(client, k)
    body = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    exchange(api, client, "PATCH", f"{k.collection}/{target_name(k)}", body, "application/merge-patch+json")


@pytest.mark.parametrize("yaml_text", [
    "metadata:\n  name: 2024-01-01\n",
    "metadata:\n  name: ok\n  labels:\n    2024-01-01: x\n",
    "metadata:\n  name: ok\n  labels:\n    1: x\n",
    "metadata:\n  name: ok\ndata:\n  2024-01-01: x\n",
    "metadata:\n  name: ok\ndata:\n  1: x\n",
])
def test_regression_yaml_values_that_are_not_json_are_refused(api: ChildProcessAPI, client: httpx.Client,
                                                              yaml_text: str) -> None:
    """A YAML body decodes to JSON values only (timestamps stay strings; keys must be strings), or is a 4xx."""
    body = f"apiVersion: v1\nkind: ConfigMap\n{yaml_text}".encode()
    response = exchange(api, client, "POST", BY_KIND["ConfigMap"].collection, body, "application/yaml")
    if response.status_code < 300:
        meta = response.json()["metadata"]
        assert all(isinstance(k, str) for k in meta.get("labels", {}))


@pytest.mark.parametrize("fragment", ["{a: 2024-01-01}", "{1: x, null: y}", "{x: !!binary aGVsbG8=}"])
def test_regression_yaml_values_in_free_form_fields(api: ChildProcessAPI, client: httpx.Client, fragment: str) -> None:
    """Node spec.configSource is a free-form object: whatever YAML puts there must still be JSON."""
    body = f"apiVersion: v1\nkind: Node\nmetadata:\n  name: {fresh_name()}\nspec:\n  configSource: {fragment}\n"
    exchange(api, client, "POST", BY_KIND["Node"].collection, body.encode(), "application/yaml", model="V1Node")


@pytest.mark.parametrize(("content", "content_type"), [
    (b'{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "nan-%d"}, "spec": {"configSource": {"a": NaN}}}',
     "application/json"),
    (b"apiVersion: v1\nkind: Node\nmetadata: {name: inf-%d}\nspec:\n  configSource: {a: .inf}\n", "application/yaml"),
])
def test_regression_nan_and_infinity_are_never_stored(api: ChildProcessAPI, client: httpx.Client, content: bytes,
                                                      content_type: str) -> None:
    """NaN/Infinity are not JSON: storing them makes every later list unreadable for kubectl and Go clients."""
    exchange(api, client, "POST", BY_KIND["Node"].collection, content % next(_names), content_type, model="V1Node")
    listed = client.get(BY_KIND["Node"].collection)
    strict_json(listed.text)


def test_regression_lone_surrogate_in_an_annotation(api: ChildProcessAPI, client: httpx.Client) -> None:
    body = (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "surrogate", '
            b'"annotations": {"note": "\\ud800"}}}')
    exchange(api, client, "POST", BY_KIND["ConfigMap"].collection, body, "application/json")


def test_regression_error_for_a_yaml_date_name_is_a_status(api: ChildProcessAPI, client: httpx.Client) -> None:
    """The error answer itself must be JSON even when the name in it came from YAML as a date."""
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 2024-01-01\n"
    response = post_raw(client, BY_KIND["ConfigMap"].collection, body, "application/yaml")
    assert response.headers.get("content-type", "").startswith("application/json"), response.text[:300]
    assert 400 <= response.status_code < 500, response.text[:300]


@pytest.mark.parametrize(("content_type", "patch"), [
    ("application/merge-patch+json", b'{"metadata": [{"namespace": "fuzz"}]}'),
    ("application/merge-patch+json", b'{"metadata": "none"}'),
    ("application/strategic-merge-patch+json", b'{"metadata": 7}'),
    ("application/json-patch+json", b'[{"op": "add", "path": "/metadata", "value": null}]'),
    ("application/json-patch+json", b'[{"op": "replace", "path": "/metadata", "value": []}]'),
])
def test_regression_patch_that_makes_metadata_not_an_object(api: ChildProcessAPI, client: httpx.Client,
                                                            content_type: str, patch: bytes) -> None:
    k = BY_KIND["ConfigMap"]
    ensure_target(client, k)
    exchange(api, client, "PATCH", f"{k.collection}/{target_name(k)}", patch, content_type, model=k.model)


@pytest.mark.parametrize(("verb", "body"), [
    ("PUT", b'{"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": [], "spec": {"replicas": 2}}'),
    ("PUT", b'{"spec": null}'),
    ("PUT", b'{"spec": "two"}'),
    ("PATCH", b'{"spec": [{"replicas": 2}]}'),
    ("PATCH", b'{"metadata": 1}'),
    ("APPLY", b"apiVersion: autoscaling/v1\nkind: Scale\nmetadata: {name: target-deployment, namespace: fuzz}\n"
              b"spec:\n- {}\n"),
])
def test_regression_scale_body_whose_parts_are_not_objects(api: ChildProcessAPI, client: httpx.Client, verb: str,
                                                           body: bytes) -> None:
    k = BY_KIND["Deployment"]
    ensure_target(client, k)
    content_type = {"PUT": "application/json", "PATCH": "application/merge-patch+json"}.get(
        verb, "application/apply-patch+yaml")
    exchange(api, client, "PATCH" if verb == "APPLY" else verb, f"{k.collection}/{target_name(k)}/scale", body,
             content_type, {"fieldManager": "fuzz"} if verb == "APPLY" else None)


@pytest.mark.parametrize("unknown_field", ["\x1f", "line\nbreak", "\u03bb", "\u2603"])
def test_regression_warning_header_for_an_unknown_field_with_odd_characters(api: ChildProcessAPI,
                                                                            client: httpx.Client,
                                                                            unknown_field: str) -> None:
    """fieldValidation=Warn names the unknown field in a Warning header: it must stay a valid header.

    (Today the object is written and then the answer fails: a dropped connection, or a 500.)"""
    body = json.dumps({**BY_KIND["ConfigMap"].manifest(fresh_name()), unknown_field: 1}).encode()
    response = exchange(api, client, "POST", BY_KIND["ConfigMap"].collection, body, "application/json",
                        {"fieldValidation": "Warn"}, model="V1ConfigMap")
    assert response.status_code == 201
    assert "unknown field" in response.headers.get("warning", "")


def _paths_to_required(type_name: str, depth: int, path: tuple[tuple[str, bool], ...] = (),
                       seen: frozenset[str] = frozenset()) -> Iterator[tuple[tuple[str, bool], ...]]:
    """Paths (field, is-a-list) from a kind's root to every nested struct type that has required fields."""
    fields = TYPES.get(type_name, {})
    if path and any(f.required for f in fields.values()):
        yield path
    if depth == 0:
        return
    for name, spec in fields.items():
        type_, is_list = (spec.type[2:], True) if spec.type.startswith("[]") else (spec.type, False)
        if type_ in TYPES and type_ not in seen and name != "metadata":
            yield from _paths_to_required(type_, depth - 1, (*path, (name, is_list)), seen | {type_})


def _with_empty_struct(doc: Obj, path: tuple[tuple[str, bool], ...]) -> Obj:
    """`doc` with an empty object ({} or [{}]) at `path`, creating what lies on the way."""
    here: Obj = doc
    for name, is_list in path[:-1]:
        below = here.get(name)
        below = below[0] if isinstance(below, list) and below else below
        if not isinstance(below, dict):
            below = {}
            here[name] = [below] if is_list else below
        here = below
    name, is_list = path[-1]
    here[name] = [{}] if is_list else {}
    return doc


def test_regression_nested_objects_without_their_required_fields(api: ChildProcessAPI, client: httpx.Client) -> None:
    """An empty nested object (spec.os: {}, hostAliases: [{}], ...) lacks fields its type requires.

    Kubernetes refuses most of these with 422 (`spec.os.name: Required value`); whatever the server
    accepts must still deserialize in the official client, whose models require those fields. Every
    kind, every nested type with required fields (to depth 5), one request each."""
    unreadable: list[str] = []
    for kind in KINDS:
        for path in _paths_to_required(KIND_TYPES[(kind.api_version, kind.kind)], 5):
            doc = _with_empty_struct(kind.manifest(fresh_name()), path)
            response = exchange(api, client, "POST", kind.collection, encode_json(doc), "application/json")
            if response.status_code >= 300:
                continue
            try:
                deserialize(response.json(), kind.model)
            except Exception as exc:  # the client's validation error, whatever its class
                where = ".".join(name + ("[0]" if is_list else "") for name, is_list in path)
                unreadable.append(f"{kind.kind} {where}: {str(exc).splitlines()[0]}")
    assert not unreadable, f"{len(unreadable)} accepted objects the client cannot read:\n" + "\n".join(unreadable)


def yaml_alias_bomb(levels: int, width: int) -> bytes:
    """A few hundred bytes of YAML whose aliases expand to width**levels strings (a "billion laughs")."""
    lines = [f"x0: &x0 [{', '.join(['lol'] * width)}]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * width)}]" for i in range(1, levels)]
    lines += ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: bomb", f"data: {{a: *x{levels - 1}}}"]
    return "\n".join(lines).encode()


def test_regression_yaml_alias_bomb_in_an_apply_patch() -> None:
    """Kubernetes refuses YAML with excessive aliasing (CVE-2019-11253) at once; the server must not expand it.

    5**10 (about ten million) strings from 500 bytes: the answer must be a 4xx within the timeout
    and the server must still answer afterwards. The server is a child process of its own, killed
    at the end, so that a wedged one costs nothing more than the timeout."""
    with child_process_api() as server, server.client(timeout=BOMB_TIMEOUT) as c:
        try:
            response = c.patch("/api/v1/namespaces/default/configmaps/bomb", content=yaml_alias_bomb(10, 5),
                               params={"fieldManager": "bomb"},
                               headers={"content-type": "application/apply-patch+yaml"})
        except httpx.TimeoutException:
            pytest.fail(f"no answer within {BOMB_TIMEOUT} s: the alias expansion wedged the server")
        assert 400 <= response.status_code < 500, response.text[:300]
        assert c.get("/api/v1/namespaces/default/configmaps").status_code == 200
