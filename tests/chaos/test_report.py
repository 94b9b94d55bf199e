"""Tests of recorded data (history, recorder, run results) and of the text and PNG reports."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import pytest

from chaos.history import Definite, History, Op, Recorder
from chaos.report import plot, render_text
from chaos.result import CheckResult, Failover, FaultRecord, RunResult


def fake_clock(start: float = 100.0, tick: float = 0.25):
    counter = itertools.count()
    return lambda: start + tick * next(counter)


async def test_recorder_records_ok_fail_and_info() -> None:
    history = History()
    recorder = Recorder(history, clock=fake_clock(), t0=100.0)
    async with recorder.op(1, "write", "k", 5) as handle:
        handle.result = 5
        assert handle.key == "k" and handle.process == 1
    async with recorder.op(2, "cas", "k", [1, 2]):
        raise Definite("compare failed")
    async with recorder.op(3, "read", "k", None):
        raise ConnectionError("lost")
    with pytest.raises(asyncio.CancelledError):
        async with recorder.op(4, "write", "k", 6):
            raise asyncio.CancelledError()
    types = [(op.process, op.type) for op in history.ops]
    assert types == [(1, "invoke"), (1, "ok"), (2, "invoke"), (2, "fail"), (3, "invoke"), (3, "info"),
                     (4, "invoke"), (4, "info")]
    assert [op.index for op in history.ops] == list(range(8))
    assert history.ops[0].time == 0.0 and history.ops[1].time == 0.25
    assert history.ops[1].value == 5 and history.ops[3].value == [1, 2]


def test_history_pairs_by_key_and_save_load(tmp_path: Path) -> None:
    history = History()
    recorder = Recorder(history, clock=fake_clock())
    a = recorder.invoke(1, "write", "a", 1)
    b = recorder.invoke(2, "read", "b", None)
    recorder.complete(b, "ok", None)
    recorder.invoke(3, "add", "s", 7)  # never completes
    recorder.complete(a, "ok", 1)
    pairs = history.pairs()
    assert [(i.process, c.type if c else None) for i, c in pairs] == [(1, "ok"), (2, "ok"), (3, None)]
    assert sorted(history.by_key()) == ["a", "b", "s"] and len(history.by_key()["a"]) == 2
    path = tmp_path / "history.jsonl"
    history.save(path)
    assert len(path.read_text().splitlines()) == 5
    assert History.load(path).ops == history.ops
    with pytest.raises(ValueError):
        History([Op(1, "ok", "read", "k", None, 0.0)]).pairs()


def sample_run() -> RunResult:
    history = History()
    t = 0.0
    for second in range(10):
        for slot in range(4):
            t = second + slot * 0.2
            inv = history.append(Op(slot, "invoke", "write", f"k{slot}", second, t))
            outcome = "info" if 3 <= second < 5 else "ok"  # no successful write during 3..5s
            if second == 4 and slot == 0:
                outcome = "fail"
            history.append(Op(inv.process, outcome, "write", inv.key, second, t + 0.1))
    faults = [FaultRecord("partition", "n1", 2.9, 5.0, "n1 | n2 n3"), FaultRecord("kill", "n2", 7.0, None)]
    checks = [CheckResult("linearizable", True, "linearizable (40 ops)", []),
              CheckResult("nothing-lost", False, "FAILED on 1 set(s)", ["set 's': 1 lost"])]
    return RunResult("partition-leader", 10.0, faults, history, [Failover("store leader", 2.9, 4.1)], checks,
                     ["tiny synthetic run"])


def test_run_result_json_round_trip_gaps_and_throughput() -> None:
    run = sample_run()
    again = RunResult.from_json(run.to_json())
    assert again == run and again.failovers[0].seconds == pytest.approx(1.2)
    gaps = run.write_gaps(min_gap=0.5)
    assert len(gaps) == 1
    start, length = gaps[0]
    assert start == pytest.approx(2.7) and length == pytest.approx(2.4)  # last ok at 2.7, next at 5.1
    rows = run.throughput(bucket=1.0)
    assert len(rows) == 10 and rows[0] == (0.0, 4, 0, 0)
    assert rows[4] == (4.0, 0, 1, 3)
    assert sum(r[1] + r[2] + r[3] for r in rows) == 40
    assert not run.ok


def test_render_text_names_faults_gaps_failovers_and_verdicts() -> None:
    text = render_text(sample_run())
    for needle in ("partition n1", "n1 | n2 n3", "kill n2", "(not healed)", "no successful write for 2.40s",
                   "store leader", "1.20s", "[PASS] linearizable", "[FAIL] nothing-lost", "1 lost",
                   "verdict FAIL", "tiny synthetic run"):
        assert needle in text, needle
    assert ["write", "32", "1", "7"] in [line.split() for line in text.splitlines()]


def test_plot_writes_a_png(tmp_path: Path) -> None:
    path = tmp_path / "run.png"
    plot(sample_run(), str(path))
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000
    empty = RunResult("empty", 0.0, [], History())
    plot(empty, str(tmp_path / "empty.png"))
    assert (tmp_path / "empty.png").read_bytes().startswith(b"\x89PNG")
    assert "(none)" in render_text(empty)


def test_summary_has_the_gaps_failovers_and_verdicts_but_no_history() -> None:
    summary = json.loads(json.dumps(sample_run().summary()))
    assert "history" not in summary and summary["scenario"] == "partition-leader" and summary["ok"] is False
    [gap] = summary["write_gaps"]
    assert gap["start"] == pytest.approx(2.7) and gap["seconds"] == pytest.approx(2.4)
    assert summary["longest_gap"] == pytest.approx(2.4)
    assert summary["failovers"] == [{"what": "store leader", "fault_time": 2.9, "recovered_time": 4.1,
                                     "seconds": pytest.approx(1.2)}]
    assert [c["name"] for c in summary["checks"]] == ["linearizable", "nothing-lost"]
    assert summary["operations"]["ok"] + summary["operations"]["fail"] + summary["operations"]["info"] == 40
    assert summary["faults"][1] == {"kind": "kill", "target": "n2", "start": 7.0, "end": None, "detail": ""}
