"""Bugs the fuzz tests found, pinned: deep nesting, YAML-only values, NaN, lone surrogates, odd field
names, objects without their required fields, YAML alias bombs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from raftkube.api.schema import KIND_TYPES, TYPES
from tests.api.fuzz.strategies import (
    encode_json,
)
from tests.api.fuzz.support import (
    BOMB_TIMEOUT,
    BY_KIND,
    KINDS,
    Obj,
    _names,
    deserialize,
    ensure_target,
    exchange,
    fresh_name,
    strict_json,
    target_name,
)
from tests.api.inproc import ChildProcessAPI, child_process_api


# ------------------------------------------------------------------ regressions: what the fuzzing found
def post_raw(client: httpx.Client, path: str, content: bytes, content_type: str) -> httpx.Response:
    return client.post(path, content=content, headers={"content-type": content_type})


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000,
                                  b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}, "data": '
                                  + b'{"a":' * 5000 + b'"x"' + b"}" * 5000 + b"}"])
def test_regression_deeply_nested_json_body_is_a_bad_request(api: ChildProcessAPI, client: httpx.Client,
                                                             body: bytes) -> None:
    assert exchange(api, client, "POST", BY_KIND["ConfigMap"].collection, body, "application/json"
                    ).status_code == 400


def test_regression_deeply_nested_yaml_body_is_a_bad_request(api: ChildProcessAPI, client: httpx.Client) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + b"[" * 1500 + b"]" * 1500
    assert exchange(api, client, "POST", BY_KIND["ConfigMap"].collection, body, "application/yaml"
                    ).status_code == 400


def test_regression_deeply_nested_patch_is_a_bad_request(api: ChildProcessAPI, client: httpx.Client) -> None:
    k = BY_KIND["ConfigMap"]
    ensure_target(client, k)
    body = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert exchange(api, client, "PATCH", f"{k.collection}/{target_name(k)}", body, "application/merge-patch+json"
                    ).status_code == 400


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
    assert listed.status_code == 200 and isinstance(strict_json(listed.text), dict)


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
    response = exchange(api, client, "PATCH", f"{k.collection}/{target_name(k)}", patch, content_type, model=k.model)
    assert 400 <= response.status_code < 500  # metadata must stay an object


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
    response = exchange(api, client, "PATCH" if verb == "APPLY" else verb, f"{k.collection}/{target_name(k)}/scale",
                        body, content_type, {"fieldManager": "fuzz"} if verb == "APPLY" else None)
    assert 400 <= response.status_code < 500  # a Scale's parts must be objects


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
