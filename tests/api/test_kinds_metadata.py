"""metadata validation: name syntax per kind, namespace, labels, annotations, owner references,
finalizers, and what may not change on update."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raftkube.api.kinds.metadata import validate_metadata
from raftkube.api.kinds.names import is_dns1123_label, is_label_value, is_qualified_name


def obj(kind: str = "Pod", **meta: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "web", "namespace": "default"}
    base.update(meta)
    return {"kind": kind, "metadata": {k: v for k, v in base.items() if v is not None}}


def fields(causes: list[Any]) -> list[str]:
    return [c.field for c in causes]


LABEL_VALUES = st.from_regex(r"\A([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?\Z")


@given(LABEL_VALUES)
def test_label_values_matching_the_syntax_are_valid(value: str) -> None:
    assert is_label_value(value) == []
    assert validate_metadata(obj(labels={"app": value}), True) == []


@given(st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=64, max_size=80))
def test_label_values_over_63_characters_are_rejected(value: str) -> None:
    assert "must be no more than 63 characters" in is_label_value(value)


@given(st.text(alphabet="/ :@!#", min_size=1, max_size=5), LABEL_VALUES.filter(bool))
def test_label_values_with_other_characters_are_rejected(bad: str, good: str) -> None:
    causes = validate_metadata(obj(labels={"app": good + bad}), True)
    assert fields(causes) == ["metadata.labels"]
    assert causes[0].reason == "FieldValueInvalid"
    assert causes[0].message.startswith(f'Invalid value: "{good + bad}": a valid label must be an empty string')


@pytest.mark.parametrize(("key", "ok"), [
    ("app", True), ("app.kubernetes.io/name", True), ("example.com/My_Key.1", True), ("a" * 63, True),
    ("a" * 64, False), ("/name", False), ("Example.com/name", False), ("a/b/c", False), ("-app", False),
    ("example.com/", False), ("", False),
])
def test_label_keys_are_qualified_names(key: str, ok: bool) -> None:
    assert (is_qualified_name(key) == []) is ok
    causes = validate_metadata(obj(labels={key: "v"}), True)
    assert fields(causes) == ([] if ok else ["metadata.labels"] * len(causes))
    assert bool(causes) is not ok


def test_name_is_required_unless_generate_name() -> None:
    causes = validate_metadata(obj(name=None), True)
    assert [(c.field, c.reason, c.message) for c in causes] == [
        ("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")]
    assert validate_metadata(obj(name=None, generateName="web-"), True) == []
    assert fields(validate_metadata(obj(name=None, generateName="Web-"), True)) == ["metadata.generateName"]


@pytest.mark.parametrize(("kind", "name", "ok"), [
    ("Pod", "web.v1", True), ("Pod", "1web", True), ("Pod", "Web", False), ("Pod", "web_1", False),
    ("Namespace", "web.v1", False), ("Namespace", "dev", True), ("Service", "1web", False),
    ("Service", "web-1", True), ("Deployment", "a" * 253, True), ("Deployment", "a" * 254, False),
    ("Namespace", "a" * 64, False),
])
def test_name_syntax_depends_on_the_kind(kind: str, name: str, ok: bool) -> None:
    namespaced = kind != "Namespace"
    causes = validate_metadata(obj(kind, name=name, namespace="default" if namespaced else None), namespaced)
    assert bool(causes) is not ok
    assert set(fields(causes)) <= {"metadata.name"}


def test_namespace_rules() -> None:
    assert fields(validate_metadata(obj(namespace=None), True)) == ["metadata.namespace"]
    assert fields(validate_metadata(obj(namespace="Bad_NS"), True)) == ["metadata.namespace"]
    causes = validate_metadata(obj("Node", namespace="default"), False)
    assert [(c.field, c.message) for c in causes] == [("metadata.namespace", "Forbidden: not allowed on this type")]
    assert validate_metadata(obj("Node", namespace=None), False) == []


def test_annotations_total_size_is_limited() -> None:
    assert validate_metadata(obj(annotations={"a": "x" * (256 * 1024 - 1)}), True) == []
    causes = validate_metadata(obj(annotations={"a": "x" * (256 * 1024)}), True)
    assert [(c.field, c.reason) for c in causes] == [("metadata.annotations", "FieldValueTooLong")]
    assert fields(validate_metadata(obj(annotations={"bad key": "x"}), True)) == ["metadata.annotations"]
    assert fields(validate_metadata(obj(annotations={"a": 1}), True)) == ["metadata.annotations"]


def test_owner_references_need_api_version_kind_name_uid() -> None:
    good = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1", "controller": True}
    assert validate_metadata(obj(ownerReferences=[good]), True) == []
    causes = validate_metadata(obj(ownerReferences=[{"apiVersion": "apps/", "kind": "ReplicaSet"}]), True)
    assert fields(causes) == ["metadata.ownerReferences.apiVersion", "metadata.ownerReferences.name",
                              "metadata.ownerReferences.uid"]
    two = validate_metadata(obj(ownerReferences=[good, {**good, "name": "web-2", "uid": "u2"}]), True)
    assert fields(two) == ["metadata.ownerReferences"]
    assert "Only one reference can have Controller set to true" in two[0].message


@pytest.mark.parametrize(("finalizers", "ok"), [
    (["kubernetes"], True), (["example.com/cleanup"], True), (["foregroundDeletion"], True),
    (["cleanup"], False), (["example.com/bad name"], False), (["orphan", "foregroundDeletion"], False),
])
def test_finalizers(finalizers: list[str], ok: bool) -> None:
    causes = validate_metadata(obj(finalizers=finalizers), True)
    assert bool(causes) is not ok
    assert set(fields(causes)) <= {"metadata.finalizers"}


def test_identity_fields_are_immutable_on_update() -> None:
    old = obj(uid="u1", creationTimestamp="2024-01-01T00:00:00Z")
    assert validate_metadata(obj(uid="u1", creationTimestamp="2024-01-01T00:00:00Z"), True, old) == []
    assert validate_metadata(obj(), True, old) == []  # left out: the server keeps the stored ones
    for key, value in (("name", "other"), ("namespace", "other"), ("uid", "u2"),
                       ("creationTimestamp", "2025-01-01T00:00:00Z")):
        causes = validate_metadata(obj(**{"uid": "u1", key: value}), True, old)
        assert [(c.field, c.message) for c in causes] == [(f"metadata.{key}",
                                                           f'Invalid value: "{value}": field is immutable')]


def test_no_new_finalizers_while_deleting() -> None:
    old = obj(finalizers=["example.com/a"], deletionTimestamp="2024-01-01T00:00:00Z")
    assert validate_metadata(obj(finalizers=[]), True, old) == []
    causes = validate_metadata(obj(finalizers=["example.com/a", "example.com/b"]), True, old)
    assert [(c.field, c.reason) for c in causes] == [("metadata.finalizers", "FieldValueForbidden")]


@given(st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z"))
def test_dns_labels(name: str) -> None:
    assert is_dns1123_label(name) == []
    assert is_dns1123_label(name + "_") != []
