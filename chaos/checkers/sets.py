"""Set workload checker: every acknowledged add survives into the final read of its set.

For each set (the op key) the final read is the last ok "read-set", which the runner performs after
the faults stop. Acknowledged (ok) adds that completed before that read was invoked must be in it;
an element that no add ever tried to insert, or whose add definitely failed, must not be; adds of
unknown outcome (info, never completed) may go either way and are only counted.
"""

from __future__ import annotations

from typing import Any

from chaos.checkers.linearizable import freeze
from chaos.history import History, Op
from chaos.result import CheckResult

NAME = "nothing-lost"


def _elements(value: Any) -> set[Any]:
    return {freeze(v) for v in (value or [])}


def check_nothing_lost(history: History) -> CheckResult:
    """Check the add / read-set workload of every set in the history."""
    adds: dict[str, dict[str, set[Any]]] = {}
    final: dict[str, tuple[Op, Op]] = {}
    for invoke, completion in history.pairs():
        if invoke.f == "add":
            outcome = completion.type if completion is not None else "info"
            per = adds.setdefault(invoke.key, {"ok": set(), "fail": set(), "info": set()})
            per[outcome].add(freeze(invoke.value))
        elif invoke.f == "read-set" and completion is not None and completion.type == "ok":
            if invoke.key not in final or completion.time >= final[invoke.key][1].time:
                final[invoke.key] = (invoke, completion)
    # adds acknowledged only after the final read started may legitimately be missing from it
    ack_time = {(inv.key, freeze(inv.value)): comp.time for inv, comp in history.pairs()
                if inv.f == "add" and comp is not None and comp.type == "ok"}
    details: list[str] = []
    failures: list[str] = []
    totals = {"ok": 0, "lost": 0, "info": 0, "info_present": 0, "unexpected": 0}
    for key in sorted(set(adds) | set(final)):
        per = adds.get(key, {"ok": set(), "fail": set(), "info": set()})
        if key not in final:
            failures.append(key)
            details.append(f"set {key!r}: no successful final read-set ({len(per['ok'])} acknowledged adds unchecked)")
            continue
        read_invoke, read_done = final[key]
        present = _elements(read_done.value)
        must = {e for e in per["ok"] if ack_time[(key, e)] < read_invoke.time}
        lost = sorted(must - present, key=repr)
        attempted = per["ok"] | per["info"] | per["fail"]
        never = sorted(present - attempted, key=repr)
        failed_present = sorted(present & (per["fail"] - per["ok"] - per["info"]), key=repr)
        info_present = len(per["info"] & present)
        totals["ok"] += len(must)
        totals["lost"] += len(lost)
        totals["info"] += len(per["info"])
        totals["info_present"] += info_present
        totals["unexpected"] += len(never) + len(failed_present)
        if lost or never or failed_present:
            failures.append(key)
        if lost:
            details.append(f"set {key!r}: {len(lost)} acknowledged add(s) lost: {lost[:20]}")
        if never:
            details.append(f"set {key!r}: {len(never)} element(s) present that no add attempted: {never[:20]}")
        if failed_present:
            details.append(f"set {key!r}: {len(failed_present)} element(s) present whose add failed: "
                           f"{failed_present[:20]}")
        details.append(f"set {key!r}: {len(present)} in final read at {read_done.time:.3f}s, {len(must)} "
                       f"acknowledged, {info_present}/{len(per['info'])} unknown adds present")
    counts = (f"{totals['ok']} acknowledged adds, {totals['lost']} lost, {totals['unexpected']} unexpected, "
              f"{totals['info_present']}/{totals['info']} unknown adds present")
    if not adds and not final:
        return CheckResult(NAME, False, "no add/read-set operations recorded", details)
    if failures:
        return CheckResult(NAME, False, f"FAILED on {len(failures)} set(s) {failures[:5]}: {counts}", details)
    return CheckResult(NAME, True, f"nothing lost: {counts}", details)
