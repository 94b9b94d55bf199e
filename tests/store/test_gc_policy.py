"""GcPauses: a collector pass longer than the threshold is counted and logged; shorter ones are not."""

from __future__ import annotations

import gc
import logging

import pytest

from raftkube.store.gc_policy import SERVER_THRESHOLDS, GcPauses, server_thresholds, settle_server_process


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


def full_collections_while_keeping(objects: int) -> int:
    """How many generation-2 passes CPython starts by itself while `objects` long-lived lists are made."""
    seen: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start" and info.get("generation") == 2:
            seen.append(1)

    gc.callbacks.append(count)
    try:
        kept = [[i] for i in range(objects)]  # tracked, long-lived (as decoded objects in a cache)
        del kept
    finally:
        gc.callbacks.remove(count)
    return len(seen)


def test_server_thresholds_make_full_collections_rare() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(*before[:1], 10, 10)  # CPython's default shape
        with_defaults = full_collections_while_keeping(300_000)
        server_thresholds()
        assert gc.get_threshold() == SERVER_THRESHOLDS
        with_server = full_collections_while_keeping(300_000)
    finally:
        gc.set_threshold(*before)
    assert with_defaults >= 1 and with_server == 0


def test_settling_a_server_process_freezes_start_up_sets_thresholds_and_logs_pauses() -> None:
    before = gc.get_threshold()
    gc.unfreeze()
    pauses = settle_server_process()
    try:
        assert gc.get_freeze_count() > 0 and gc.get_threshold() == SERVER_THRESHOLDS
        assert pauses._callback in gc.callbacks
    finally:
        pauses.uninstall()
        gc.unfreeze()
        gc.set_threshold(*before)
