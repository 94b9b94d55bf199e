"""kubectl-style ages and cells: human durations, timestamps, label and selector strings."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raftkube.api.kinds.printing import age, format_labels, since
from raftkube.api.kinds.selectors import format_selector, matches, selector_string
from raftkube.machinery.times import human_duration, parse_rfc3339

MINUTE, HOUR, DAY = 60, 3600, 86400


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (5, "5s"), (59.9, "59s"), (119, "119s"), (120, "2m"), (182, "3m2s"),
    (9 * MINUTE + 59, "9m59s"), (10 * MINUTE + 30, "10m"), (3 * HOUR - 1, "179m"), (3 * HOUR, "3h"),
    (5 * HOUR + 3 * MINUTE, "5h3m"), (8 * HOUR + 59 * MINUTE, "8h"), (47 * HOUR, "47h"), (2 * DAY, "2d"),
    (2 * DAY + 3 * HOUR, "2d3h"), (8 * DAY + 5 * HOUR, "8d"), (400 * DAY, "400d"), (730 * DAY, "2y"),
    (735 * DAY, "2y5d"), (9 * 365 * DAY, "9y"),
])
def test_human_duration_like_kubectl(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@given(st.integers(min_value=0, max_value=20 * 365 * DAY))
def test_human_durations_are_short_with_a_unit_suffix(seconds: int) -> None:
    text = human_duration(seconds)
    assert 2 <= len(text) <= 7
    assert text[-1] in "smhdy"


def test_timestamps() -> None:
    assert parse_rfc3339("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert parse_rfc3339("2023-11-14T23:13:20+01:00") == 1_700_000_000.0
    assert parse_rfc3339("2023-11-14T22:13:20.123456Z") == pytest.approx(1_700_000_000.123456)
    assert parse_rfc3339("2023-11-14T22:13:20.123456789Z") == pytest.approx(1_700_000_000.123456)
    for bad in (None, "", "yesterday", "2023-11-14 22:13:20", 17, "2023-11-14T22:13:20"):
        assert parse_rfc3339(bad) is None
    assert since(None, 0) == "<unknown>"
    now = 1_700_000_000.0
    assert age({"metadata": {"creationTimestamp": "2023-11-14T22:08:20Z"}}, now) == "5m"
    assert age({"metadata": {}}, now) == "<unknown>"
    assert age({}, now) == "<unknown>"


def test_label_cells() -> None:
    assert format_labels({"zone": "a", "disk": "ssd"}) == "disk=ssd,zone=a"
    assert format_labels({}) == "<none>"
    assert format_labels(None) == "<none>"


SELECTOR = {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]},
                                 {"key": "canary", "operator": "DoesNotExist"},
                                 {"key": "zone", "operator": "NotIn", "values": ["x"]},
                                 {"key": "track", "operator": "Exists"}]}


def test_selector_string_like_kubectl() -> None:
    assert selector_string(SELECTOR) == "app=web,!canary,tier in (a,b),track,zone notin (x)"
    assert selector_string({}) == ""
    assert format_selector({}) == "<none>"
    assert format_selector({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"


@pytest.mark.parametrize(("labels", "selected"), [
    ({"app": "web", "tier": "a", "track": "stable"}, True),
    ({"app": "web", "tier": "a", "track": "stable", "zone": "y"}, True),
    ({"app": "web", "tier": "c", "track": "stable"}, False),
    ({"app": "web", "tier": "a", "track": "stable", "canary": "1"}, False),
    ({"app": "web", "tier": "a", "track": "stable", "zone": "x"}, False),
    ({"app": "web", "tier": "a"}, False),
    ({"app": "api", "tier": "a", "track": "stable"}, False),
    ({}, False),
])
def test_selector_matching(labels: dict[str, str], selected: bool) -> None:
    assert matches(SELECTOR, labels) is selected


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["1", "2"])),
       st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["1", "2"])))
def test_match_labels_selects_supersets(selector: dict[str, str], labels: dict[str, Any]) -> None:
    assert matches({"matchLabels": selector}, labels) is (selector.items() <= labels.items())
    assert matches({}, labels)
