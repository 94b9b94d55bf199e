"""Results of a chaos run: checker verdicts, fault records, failovers and the whole `RunResult`."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from chaos.history import History


@dataclass
class CheckResult:
    """A checker verdict; ``details`` holds human-readable evidence (violations, counts)."""

    name: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)


@dataclass
class FaultRecord:
    """One injected fault; ``end`` is None when it was never healed."""

    kind: str
    target: str
    start: float
    end: float | None
    detail: str = ""


@dataclass
class Failover:
    """Time from a fault to recovery of ``what`` (e.g. "store leader", "api writes")."""

    what: str
    fault_time: float
    recovered_time: float

    @property
    def seconds(self) -> float:
        return self.recovered_time - self.fault_time


@dataclass
class RunResult:
    """Everything a scenario produced; serialisable with `to_json` / `from_json`."""

    scenario: str
    duration: float
    faults: list[FaultRecord]
    history: History
    failovers: list[Failover] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "duration": self.duration,
            "faults": [asdict(f) for f in self.faults],
            "history": self.history.to_list(),
            "failovers": [asdict(f) for f in self.failovers],
            "checks": [asdict(c) for c in self.checks],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)

    def summary(self, min_gap: float = 0.5) -> dict[str, Any]:
        """What the dashboard shows of a run (summary.json): everything but the history, plus its write gaps."""
        gaps = self.write_gaps(min_gap)
        ops = [op for op in self.history.ops if op.type != "invoke"]
        return {
            "scenario": self.scenario, "duration": self.duration, "ok": self.ok,
            "faults": [asdict(f) for f in self.faults],
            "failovers": [{**asdict(f), "seconds": f.seconds} for f in self.failovers],
            "write_gaps": [{"start": start, "seconds": length} for start, length in gaps],
            "min_gap": min_gap, "longest_gap": max((length for _, length in gaps), default=0.0),
            "operations": {kind: sum(1 for op in ops if op.type == kind) for kind in ("ok", "fail", "info")},
            "checks": [{"name": c.name, "ok": c.ok, "summary": c.summary} for c in self.checks],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, text: str) -> RunResult:
        data = json.loads(text)
        return cls(
            scenario=data["scenario"],
            duration=float(data["duration"]),
            faults=[FaultRecord(**f) for f in data.get("faults", [])],
            history=History.from_list(data.get("history", [])),
            failovers=[Failover(**f) for f in data.get("failovers", [])],
            checks=[CheckResult(**c) for c in data.get("checks", [])],
            notes=list(data.get("notes", [])),
        )

    def write_gaps(self, min_gap: float = 0.5) -> list[tuple[float, float]]:
        """(start, length) of periods of at least ``min_gap`` s with no successful write completion.

        Writes are "write", "cas" and "add" ops; the run's start and end bound the first and last gap.
        """
        times = sorted(op.time for op in self.history.ops if op.type == "ok" and op.f in WRITE_FS)
        edges = [0.0, *times, max(self.duration, times[-1] if times else 0.0)]
        gaps: list[tuple[float, float]] = []
        for start, end in zip(edges, edges[1:], strict=False):
            if end - start >= min_gap:
                gaps.append((start, end - start))
        return gaps

    def throughput(self, bucket: float = 1.0) -> list[tuple[float, int, int, int]]:
        """(bucket start, ok, failed, unknown) completions per ``bucket`` seconds over the run."""
        if bucket <= 0:
            raise ValueError("bucket must be positive")
        completions = [op for op in self.history.ops if op.type != "invoke"]
        end = max([self.duration, *(op.time for op in completions)])
        count = max(1, math.ceil(end / bucket))
        rows = [[0, 0, 0] for _ in range(count)]
        column = {"ok": 0, "fail": 1, "info": 2}
        for op in completions:
            rows[min(int(op.time // bucket), count - 1)][column[op.type]] += 1
        return [(i * bucket, r[0], r[1], r[2]) for i, r in enumerate(rows)]


WRITE_FS = frozenset({"write", "cas", "add"})
