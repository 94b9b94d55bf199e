"""Leader election: one candidate acts at a time, across a kill and a SIGSTOP of the leader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from raftkube.control.leader_election import ElectionConfig
from raftkube.local.control_plane import LocalControlPlane

pytestmark = pytest.mark.cluster
GAP = 0.25  # lines further apart than this end an acting interval (probes write every 20 ms)


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane]:
    cluster = LocalControlPlane(str(tmp_path_factory.mktemp("election")), size=1, controllers=False)
    cluster.start()
    yield cluster
    cluster.close()


def intervals(log: Path) -> list[tuple[str, float, float]]:
    """Maximal runs of one probe's acting lines: (name, first, last)."""
    runs: list[tuple[str, float, float]] = []
    for line in log.read_text().splitlines():
        name, stamp = line.split()
        t = float(stamp)
        if runs and runs[-1][0] == name and t - runs[-1][2] <= GAP:
            runs[-1] = (name, runs[-1][1], t)
        else:
            runs.append((name, t, t))
    return runs


def overlaps(runs: list[tuple[str, float, float]]) -> list[tuple[tuple[str, float, float], ...]]:
    bad = []
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            if a[0] != b[0] and a[1] <= b[2] and b[1] <= a[2]:
                bad.append((a, b))
    return bad


def wait_for(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def probe(name: str, log: Path, plane: LocalControlPlane) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.control.elector_probe", name, str(log), plane.api_url(0),
                             plane.token, plane.ca_file or ""], cwd=str(Path(__file__).parents[2]))


def last_actor(log: Path) -> str | None:
    lines = log.read_text().splitlines() if log.exists() else []
    return lines[-1].split()[0] if lines else None


def test_config_requires_retry_below_deadline_below_duration() -> None:
    with pytest.raises(ValueError):
        ElectionConfig("x", "me", lease_duration=1.0, renew_deadline=1.0)


def test_two_candidates_never_act_at_once_across_kill_and_sigstop(plane: LocalControlPlane, tmp_path: Path) -> None:
    log = tmp_path / "acting.log"
    procs = {name: probe(name, log, plane) for name in ("a", "b")}
    try:
        wait_for(lambda: last_actor(log) is not None, 20)
        first = last_actor(log)
        assert first is not None
        other = "b" if first == "a" else "a"

        os.kill(procs[first].pid, signal.SIGSTOP)  # a paused leader that wakes up after its lease expired
        stopped_at = time.monotonic()
        wait_for(lambda: last_actor(log) == other, 10)
        print(f"takeover after SIGSTOP: {time.monotonic() - stopped_at:.2f}s")
        size = log.stat().st_size
        wait_for(lambda: log.stat().st_size > size + 2000, 10)  # the new leader acts for a while
        os.kill(procs[first].pid, signal.SIGCONT)
        size = log.stat().st_size
        wait_for(lambda: log.stat().st_size > size + 2000, 10)  # both alive again: still one actor

        procs[other].kill()
        procs[other].wait()
        killed_at = time.monotonic()
        wait_for(lambda: last_actor(log) == first, 10)
        print(f"takeover after SIGKILL: {time.monotonic() - killed_at:.2f}s")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
                proc.wait()
    runs = intervals(log)
    assert [r[0] for r in runs][:3] == [first, other, first]
    assert overlaps(runs) == []
