"""Property: for any short schedule of 2-3 faults (which replica, which fault, when, how long),
every checker passes. Hypothesis generates the schedules and, on a failure, shrinks it to a
minimal one (printed as the falsifying example). Few examples, so CI stays small."""

from __future__ import annotations

import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos import report, scenarios
from chaos.netns import available
from chaos.runner import RunOptions, run_sync
from chaos.scenarios import Step

REASON = available()
pytestmark = [pytest.mark.cluster, pytest.mark.chaos, pytest.mark.timeout(240),
              pytest.mark.skipif(REASON is not None, reason=f"network namespaces unavailable: {REASON}")]
DURATION = 8.0
KINDS = ["kill", "pause", "partition", "slow-net", "slow-replica", "kill-quorum"]

steps = st.builds(Step,
                  at=st.floats(0.5, 5.0).map(lambda t: round(t, 1)),
                  kind=st.sampled_from(KINDS),
                  target=st.sampled_from(["leader", "random", 1, 2, 3]),
                  length=st.floats(0.5, 2.5).map(lambda t: round(t, 1)))
schedules = st.lists(steps, min_size=2, max_size=3)


def test_schedules_are_generated_as_described() -> None:
    @given(schedules)
    @settings(max_examples=50, deadline=None)
    def check(schedule: list[Step]) -> None:
        assert 2 <= len(schedule) <= 3
        assert all(0.5 <= s.at <= 5.0 and s.at + s.length <= 7.5 and s.kind in KINDS for s in schedule)
    check()


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
@given(schedules)
def test_every_check_passes_under_any_short_schedule(schedule: list[Step]) -> None:
    scenario = scenarios.custom(schedule, name="generated", controllers=False)
    with tempfile.TemporaryDirectory(prefix="chaos-hyp-") as out:
        result, _ = run_sync(scenario, RunOptions(duration=DURATION, out_dir=out, seed=3, clients=4))
        failed = [c for c in result.checks if not c.ok]
        assert not failed, report.render_text(result)
        assert len(result.faults) == len(schedule)
