"""JSON merge patch (RFC 7386): what kubectl scale/label/annotate send."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from raftkube.api.patch import create_merge_patch, merge_patch

DEPLOY: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "annotations": {"a": "1"}},
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
}


def test_scale_patch_sets_replicas() -> None:
    out = merge_patch(DEPLOY, {"spec": {"replicas": 5}})
    assert out["spec"]["replicas"] == 5
    assert out["spec"]["template"] == DEPLOY["spec"]["template"]


def test_label_added_and_removed_with_null() -> None:
    out = merge_patch(DEPLOY, {"metadata": {"labels": {"env": "prod", "tier": None}}})
    assert out["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert out["metadata"]["annotations"] == {"a": "1"}


def test_annotate_overwrite_and_remove_missing_key_is_noop() -> None:
    out = merge_patch(DEPLOY, {"metadata": {"annotations": {"a": "2", "missing": None}}})
    assert out["metadata"]["annotations"] == {"a": "2"}


def test_lists_are_replaced_whole() -> None:
    out = merge_patch(DEPLOY, {"spec": {"template": {"spec": {"containers": [{"name": "other"}]}}}})
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "other"}]


def test_object_replaces_scalar_and_drops_nested_nulls() -> None:
    assert merge_patch({"a": 1}, {"a": {"b": 1, "c": None}}) == {"a": {"b": 1}}
    assert merge_patch({"a": {"b": 1}}, {"a": 3}) == {"a": 3}


def test_inputs_are_not_modified_and_result_shares_nothing() -> None:
    before = copy.deepcopy(DEPLOY)
    patch = {"metadata": {"labels": {"x": "y"}}, "spec": {"extra": {"k": [1]}}}
    out = merge_patch(DEPLOY, patch)
    assert DEPLOY == before
    out["spec"]["extra"]["k"].append(2)
    out["spec"]["template"]["spec"]["containers"][0]["image"] = "changed"
    assert patch == {"metadata": {"labels": {"x": "y"}}, "spec": {"extra": {"k": [1]}}}
    assert DEPLOY == before


def test_rfc7386_examples() -> None:
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["example", "sample"],
              "content": "This will be unchanged"}
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None}, "tags": ["example"]}
    assert merge_patch(target, patch) == {
        "title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"], "content": "This will be unchanged",
        "phoneNumber": "+01-123-456-7890"}
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch(["a", "b"], ["c", "d"]) == ["c", "d"]
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


def test_create_merge_patch_examples() -> None:
    assert create_merge_patch(DEPLOY, DEPLOY) == {}
    changed = copy.deepcopy(DEPLOY)
    changed["spec"]["replicas"] = 3
    del changed["metadata"]["labels"]["tier"]
    assert create_merge_patch(DEPLOY, changed) == {"spec": {"replicas": 3}, "metadata": {"labels": {"tier": None}}}


# property: diff then apply gives the target ------------------------------------------------
scalars = st.one_of(st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=3))
keys = st.text(alphabet="abcd", min_size=1, max_size=2)
# values inside objects are never null: a merge patch cannot express a null field
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(st.one_of(inner, st.none()), max_size=3),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12)
objects = st.dictionaries(keys, json_values, max_size=5)


@settings(max_examples=150, deadline=None)
@given(objects, objects)
def test_applying_the_diff_gives_the_target(a: dict[str, Any], b: dict[str, Any]) -> None:
    patch = create_merge_patch(a, b)
    assert merge_patch(a, patch) == b
    assert merge_patch(b, create_merge_patch(b, b)) == b


@settings(max_examples=100, deadline=None)
@given(objects, objects)
def test_merge_patch_is_idempotent(a: dict[str, Any], patch: dict[str, Any]) -> None:
    once = merge_patch(a, patch)
    assert merge_patch(once, patch) == once
