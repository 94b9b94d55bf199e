"""Fuzzing the write verbs of every kind through real HTTP: bad input is a 4xx Status that writes nothing.

Hypothesis builds bodies for POST, PUT and PATCH (all four patch types), the scale subresource,
DELETE options, YAML-only values and list query parameters (see strategies.py); every answer is
checked by `exchange` (support.py). Runs are derandomized so a failure reproduces;
RAFTKUBE_FUZZ_EXAMPLES (default 150 per test) and RAFTKUBE_FUZZ_SHRINK=1 make a deeper run.
"""

from __future__ import annotations

from typing import Any

import httpx
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.api.fuzz.strategies import (
    FIELD_VALIDATION,
    JSON_VALUES,
    NASTY,
    SCALARS,
    _at,
    canonical,
    encode_json,
    encoded,
    has_raw,
    mutated,
    params_with,
    patches,
    paths,
    schema_objects,
    with_version,
)
from tests.api.fuzz.support import (
    BY_KIND,
    FUZZ,
    KIND_NAMES,
    KINDS,
    NS,
    Kind,
    Obj,
    deserialize,
    ensure_target,
    exchange,
    fresh_name,
    strict_json,
    target_name,
)
from tests.api.inproc import ChildProcessAPI, expect_status


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
