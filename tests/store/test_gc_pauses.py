"""GcPauses: a collector pass longer than the threshold is counted and logged; shorter ones are not."""

from __future__ import annotations

import gc
import logging

import pytest

from raftkube.store.gc_pauses import GcPauses


def cyclic_garbage(n: int) -> None:
    for _ in range(n):
        a: list = []
        a.append(a)  # only the cycle collector frees these


def test_a_pass_over_the_threshold_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    pauses = GcPauses(threshold=0.0)
    pauses.install()
    try:
        cyclic_garbage(1000)
        with caplog.at_level(logging.WARNING, logger="raftkube.gc"):
            gc.collect()
    finally:
        pauses.uninstall()
    assert pauses.count >= 1 and pauses.longest > 0
    assert any("garbage collection of generation 2" in r.getMessage() and "collected" in r.getMessage()
               for r in caplog.records)


def test_short_passes_are_not_reported_and_uninstall_stops_it(caplog: pytest.LogCaptureFixture) -> None:
    pauses = GcPauses(threshold=60.0)
    pauses.install()
    pauses.install()  # once only
    assert gc.callbacks.count(pauses._callback) == 1
    try:
        with caplog.at_level(logging.WARNING, logger="raftkube.gc"):
            gc.collect()
    finally:
        pauses.uninstall()
    assert pauses.count == 0 and not [r for r in caplog.records if r.name == "raftkube.gc"]
    assert pauses._callback not in gc.callbacks
