"""Label and field selectors: the syntax kubectl sends, and matching."""

from __future__ import annotations

import pytest

from raftkube.api.errors import APIError
from raftkube.api.selectors import parse_field_selector, parse_label_selector, selector_from_spec
from raftkube.api.subresources import to_scale

LABELS = {"app": "web", "tier": "front", "env": "prod"}


@pytest.mark.parametrize(("text", "expected"), [
    ("", True), ("app=web", True), ("app==web", True), ("app!=web", False), ("app=db", False),
    ("app in (web,db)", True), ("app in (db)", False), ("app notin (db, cache)", True), ("app notin (web)", False),
    ("tier", True), ("!tier", False), ("missing", False), ("!missing", True), ("missing!=x", True),
    ("app=web,tier=front", True), ("app=web,tier=back", False), ("app in (web),env notin (dev),!canary", True),
])
def test_label_selector_matches_like_kubernetes(text: str, expected: bool) -> None:
    assert parse_label_selector(text).matches(LABELS) is expected


@pytest.mark.parametrize("text", ["app=(", "=web", "app in web", "a b c"])
def test_malformed_label_selector_is_bad_request(text: str) -> None:
    with pytest.raises(APIError) as info:
        parse_label_selector(text)
    assert info.value.code == 400 and text in info.value.message


def test_label_selector_object_and_its_string_form() -> None:
    spec = {"matchLabels": {"app": "web"}, "matchExpressions": [
        {"key": "env", "operator": "In", "values": ["prod", "stage"]}, {"key": "canary", "operator": "DoesNotExist"}]}
    selector = selector_from_spec(spec)
    assert selector.matches(LABELS) and not selector.matches({"app": "web", "env": "dev"})
    # a Scale's status.selector is LabelSelectorAsSelector(...).String(): requirements sorted by key
    deployment = {"metadata": {"name": "d"}, "spec": {"replicas": 2, "selector": spec}}
    assert to_scale(deployment)["status"]["selector"] == "app=web,!canary,env in (prod,stage)"
    assert not selector_from_spec(None).matches(LABELS)
    assert selector_from_spec({}).matches({})


def test_field_selectors_per_kind() -> None:
    pod = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"nodeName": "n1"},
           "status": {"phase": "Running"}}
    assert parse_field_selector("spec.nodeName=n1,status.phase!=Failed", "Pod").matches(pod)
    assert not parse_field_selector("spec.nodeName=", "Pod").matches(pod)
    assert parse_field_selector("metadata.name=p", "ConfigMap").exact_name() == "p"
    with pytest.raises(APIError) as info:
        parse_field_selector("spec.nodeName=n1", "ConfigMap")
    assert "field label not supported: spec.nodeName" in info.value.message
