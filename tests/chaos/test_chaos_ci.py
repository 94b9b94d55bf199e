"""CI-sized chaos runs (~15 s of faults each) against 3 replicas in network namespaces.

Every checker must pass (linearizable registers, nothing lost, watches, deployment bounds,
recovery, bounded operations). Quorum loss must make writes fail cleanly (fail/info, none hanging,
none succeeding while two of three replicas are down) and the cluster must recover afterwards.
Timings are printed, never asserted.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos import report, scenarios
from chaos.netns import available, leftovers, sh
from chaos.result import RunResult
from chaos.runner import RunOptions, run_sync

REASON = available()
pytestmark = [pytest.mark.cluster, pytest.mark.chaos, pytest.mark.timeout(180),
              pytest.mark.skipif(REASON is not None, reason=f"network namespaces unavailable: {REASON}")]
DURATION = 15.0
ROOT = Path(__file__).resolve().parents[2]


def run(name: str, out: Path, **options: object) -> RunResult:
    result, where = run_sync(scenarios.get(name), RunOptions(duration=DURATION, out_dir=str(out), seed=7,
                                                             **options))  # type: ignore[arg-type]
    print(report.render_text(result))
    for artefact in ("history.jsonl", "result.json", "report.txt", "plot.png"):
        assert (Path(where) / artefact).stat().st_size > 0, artefact
    return result


def assert_all_checks_pass(result: RunResult) -> None:
    failed = [f"{c.name}: {c.summary} {c.details[:5]}" for c in result.checks if not c.ok]
    assert not failed, "\n".join(failed)
    names = {c.name for c in result.checks}
    assert {"linearizable", "nothing-lost", "watch", "recovery", "bounded-ops"} <= names


def assert_faults_as_scheduled(result: RunResult, kind: str, count: int) -> None:
    assert [f.kind for f in result.faults] == [kind] * count
    assert all(f.end is not None and f.end > f.start for f in result.faults)


def test_leader_kill(tmp_path: Path) -> None:
    result = run("leader-kill", tmp_path, deployment=True)
    assert_all_checks_pass(result)
    assert_faults_as_scheduled(result, "kill", 2)
    assert all(f.detail == "raft leader" for f in result.faults)
    assert len([f for f in result.failovers if f.what.startswith("raft leader")]) == 2
    assert any(c.name == "deployment" for c in result.checks)
    oks = [op for op in result.history.ops if op.type == "ok" and op.f == "write"]
    assert any(op.time > result.faults[-1].end for op in oks)  # writes go on after the last heal


def test_partition_one(tmp_path: Path) -> None:
    result = run("partition-one", tmp_path, controllers=False)
    assert_all_checks_pass(result)
    assert_faults_as_scheduled(result, "partition", 2)


def test_pause_leader(tmp_path: Path) -> None:
    result = run("pause-leader", tmp_path, controllers=False)
    assert_all_checks_pass(result)
    assert_faults_as_scheduled(result, "pause", 2)
    assert len([f for f in result.failovers if f.what.startswith("raft leader")]) == 2


def test_quorum_loss_fails_writes_cleanly_and_recovers(tmp_path: Path) -> None:
    result = run("quorum-loss", tmp_path, controllers=False)
    assert_all_checks_pass(result)
    [fault] = result.faults
    assert fault.kind == "kill-quorum" and len(fault.target.split(",")) == 2
    assert fault.end is not None
    no_quorum = next(c for c in result.checks if c.name == "no-quorum-writes")
    assert no_quorum.ok and "0 ok" in no_quorum.summary
    inside = [(inv, done) for inv, done in result.history.pairs()
              if inv.f in ("write", "cas", "add") and done is not None
              and fault.start <= inv.time and done.time <= fault.end]
    assert inside and all(done.type in ("fail", "info") for _, done in inside)
    assert all(done.time - inv.time <= RunOptions().timeout + 1.5 for inv, done in inside)  # none hung
    after = [op for op in result.history.ops if op.type == "ok" and op.f in ("write", "add") and op.time > fault.end]
    assert after, "no write succeeded after the two replicas came back"


def test_sigterm_mid_run_removes_namespaces_and_processes(tmp_path: Path) -> None:
    before = set(leftovers()[0])
    proc = subprocess.Popen([sys.executable, "-m", "chaos", "run", "partition-one", "--duration", "60s", "--out",
                             str(tmp_path), "--no-controllers"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    ours: set[str] = set()
    while time.monotonic() < deadline and not ours:
        ours = set(leftovers()[0]) - before
        time.sleep(0.1)
    assert ours, "the run never created its namespaces"
    while time.monotonic() < deadline and not (tmp_path / "cluster" / "s3.log").exists():
        time.sleep(0.1)
    pids = [int(p) for ns in ours for p in sh("ip", "netns", "pids", ns, check=False).stdout.split()]
    assert pids, "no replica process started"
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert proc.returncode != 0, output
    assert not (set(leftovers()[0]) & ours), output
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
