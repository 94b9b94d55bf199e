"""Linearizability of per-key read/write/cas registers (Wing & Gong search, Porcupine-style).

Each key is checked on its own. Operations become call/return entries in a doubly linked list
sorted by time; the search linearizes any call that precedes the first pending return, memoising
(linearized bitmask, register value) so no configuration is explored twice, and backtracks when a
return is reached first. ``fail`` ops never happened and are dropped; ``info`` (and never-completed)
ops may take effect at any point after their invoke or never: they get an infinite return time, an
info cas whose compare does not match is a no-op, and an info write of a value that nobody ever
observed is dropped up front (placing it at the end is always equivalent). A step budget per key
turns pathological searches into an "unknown" verdict instead of a hang.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from chaos.history import History, Op
from chaos.result import CheckResult

NAME = "linearizable"
REGISTER_FS = frozenset({"read", "write", "cas"})
BASE_BUDGET = 100_000
BUDGET_PER_OP = 1000
_MISSING = object()


def freeze(value: Any) -> Any:
    """A hashable, comparable form of a JSON-like value (lists -> tuples, dicts -> sorted items)."""
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(freeze(v) for v in value))
    return value


@dataclass
class RegOp:
    """One register operation of a key, ready for the search."""

    f: str
    arg: Any          # write: value; cas: (expected, new); read: value read
    definite: bool    # True for ok, False for info / never completed
    call: float
    ret: float
    invoke: Op
    completion: Op | None

    def describe(self) -> str:
        end = "?" if math.isinf(self.ret) else f"{self.ret:.3f}"
        outcome = self.completion.type if self.completion is not None else "pending"
        shown = self.arg if self.f != "cas" else list(self.arg)
        return f"[{self.call:.3f}..{end}] p{self.invoke.process} {self.f} {shown!r} -> {outcome}"


def _step(op: RegOp, state: Any) -> tuple[bool, Any]:
    if op.f == "write":
        return True, op.arg
    if op.f == "read":
        return state == op.arg, state
    expected, new = op.arg
    if state == expected:
        return True, new
    return (not op.definite), state  # an info cas whose compare fails simply did nothing


def register_ops(history: History) -> dict[str, list[RegOp]]:
    """Per key, the register ops that constrain the search (fail ops and info reads dropped)."""
    per_key: dict[str, list[RegOp]] = {}
    for invoke, completion in history.pairs():
        if invoke.f not in REGISTER_FS:
            continue
        kind = completion.type if completion is not None else "info"
        if kind == "fail" or (kind == "info" and invoke.f == "read"):
            continue
        definite = kind == "ok"
        if invoke.f == "read":
            arg = freeze(completion.value if completion is not None else None)
        elif invoke.f == "cas":
            expected, new = invoke.value
            arg = (freeze(expected), freeze(new))
        else:
            arg = freeze(invoke.value)
        ret = completion.time if definite and completion is not None else math.inf
        per_key.setdefault(invoke.key, []).append(
            RegOp(invoke.f, arg, definite, invoke.time, ret, invoke, completion))
    return per_key


def _prune_unobserved(ops: list[RegOp]) -> list[RegOp]:
    """Drop info writes/cas whose new value no ok read returned and no cas expected."""
    observed = {op.arg for op in ops if op.f == "read"} | {op.arg[0] for op in ops if op.f == "cas"}
    observed.add(None)

    def keep(op: RegOp) -> bool:
        if op.definite or op.f == "read":
            return True
        new = op.arg if op.f == "write" else op.arg[1]
        return new in observed

    return [op for op in ops if keep(op)]


@dataclass
class KeyVerdict:
    ok: bool | None   # None = budget exhausted
    steps: int
    stuck: RegOp | None = None
    state: Any = None
    linearized: int = 0


def default_budget(n_ops: int) -> int:
    """Search steps allowed for a key: a clean history needs a few dozen steps per op."""
    return BASE_BUDGET + BUDGET_PER_OP * n_ops


def check_key(ops: list[RegOp], budget: int | None = None, initial: Any = None) -> KeyVerdict:
    """Wing & Gong depth-first search over one key's ops with a (bitmask, state) cache."""
    ops = _prune_unobserved(ops)
    n = len(ops)
    budget = default_budget(n) if budget is None else budget
    if n == 0:
        return KeyVerdict(True, 0)
    # entries: 0..n-1 are calls of op i, n..2n-1 are returns; node 2n is the head sentinel
    events = [(op.call, 0, i) for i, op in enumerate(ops)] + [(op.ret, 1, n + i) for i, op in enumerate(ops)]
    events.sort()
    head = 2 * n
    nxt = [-1] * (2 * n + 1)
    prv = [-1] * (2 * n + 1)
    last = head
    for _, _, node in events:
        nxt[last] = node
        prv[node] = last
        last = node

    def lift(i: int) -> None:
        for node in (i, n + i):
            nxt[prv[node]] = nxt[node]
            if nxt[node] != -1:
                prv[nxt[node]] = prv[node]

    def unlift(i: int) -> None:
        for node in (n + i, i):
            if nxt[node] != -1:
                prv[nxt[node]] = node
            nxt[prv[node]] = node

    cache: set[tuple[int, Any]] = set()
    stack: list[tuple[int, Any, int]] = []
    state, mask, steps = initial, 0, 0
    best = KeyVerdict(False, 0, None, initial, -1)
    # Children of a configuration are tried in phases: 0 = ok reads, 1 = ok writes/cas, 2 = info ops.
    # A read that is valid now is linearized without branching: it leaves the register unchanged and
    # nothing pending must precede it, so any solution that places it later also works with it here.
    # Info ops come last so they are only placed once the ok ops cannot proceed without them.
    kind = [0 if op.f == "read" else 1 if op.definite else 2 for op in ops]
    phase, entry = 0, nxt[head]
    while nxt[head] != -1:
        steps += 1
        if steps > budget:
            best.ok, best.steps = None, steps
            return best
        stuck = False
        if 0 <= entry < n:
            if kind[entry] == phase:
                valid, new_state = _step(ops[entry], state)
                if valid:
                    new_mask = mask | (1 << entry)
                    config = (new_mask, new_state)
                    if config not in cache:
                        cache.add(config)
                        stack.append((entry, state, phase))
                        state, mask = new_state, new_mask
                        lift(entry)
                        phase, entry = 0, nxt[head]
                        continue
                    stuck = phase == 0  # a forced read leads to a configuration already refuted
            if not stuck:
                entry = nxt[entry]
                continue
        elif phase < 2:
            phase, entry = phase + 1, nxt[head]
            continue
        if len(stack) > best.linearized:
            first_return = entry
            while first_return < n:
                first_return = nxt[first_return]
            best.linearized, best.stuck, best.state = len(stack), ops[first_return - n], state
        while stack:  # undo forced reads wholesale, then try the next sibling of a real choice
            entry, state, phase = stack.pop()
            mask &= ~(1 << entry)
            unlift(entry)
            if phase != 0:
                break
        else:
            best.steps = steps
            return best
        entry = nxt[entry]
    return KeyVerdict(True, steps)


def _window(ops: list[RegOp], stuck: RegOp, before: int = 2, limit: int = 20) -> list[RegOp]:
    """Ops concurrent with the stuck op plus the last few that completed before it was called."""
    concurrent = [op for op in ops if op.call <= stuck.ret and op.ret >= stuck.call]
    earlier = sorted((op for op in ops if op.ret < stuck.call and op.definite), key=lambda op: op.ret)[-before:]
    window = sorted({id(op): op for op in earlier + concurrent}.values(), key=lambda op: op.call)
    return window[:limit]


def check_linearizable(history: History, budget_per_key: int | None = None) -> CheckResult:
    """Check every key's register history; report each violating key with a window of ops.

    ``budget_per_key`` caps the search steps per key (default: `default_budget` of its op count).
    """
    per_key = register_ops(history)
    details: list[str] = []
    violations: list[str] = []
    unknown: list[str] = []
    total_steps = 0
    for key in sorted(per_key):
        ops = per_key[key]
        never_written = _reads_of_unwritten(ops)
        if never_written is not None:
            violations.append(key)
            details.append(f"key {key!r}: read of a value never written: {never_written.describe()}")
            continue
        verdict = check_key(ops, budget_per_key)
        total_steps += verdict.steps
        if verdict.ok is None:
            unknown.append(key)
            details.append(f"key {key!r}: search budget exhausted after {verdict.steps - 1} steps ({len(ops)} ops)")
        elif not verdict.ok:
            violations.append(key)
            stuck = verdict.stuck
            assert stuck is not None
            details.append(f"key {key!r}: cannot linearize {stuck.describe()} "
                           f"(register was {verdict.state!r} after the longest linearizable prefix "
                           f"of {verdict.linearized} ops); window:")
            details.extend(f"    {op.describe()}" for op in _window(ops, stuck))
    count = sum(len(v) for v in per_key.values())
    scope = f"{count} register ops on {len(per_key)} keys, {total_steps} search steps"
    if violations:
        return CheckResult(NAME, False, f"NOT linearizable: {len(violations)} key(s) {violations[:5]} ({scope})",
                           details)
    if unknown:
        return CheckResult(NAME, False, f"unknown: search budget exhausted on {len(unknown)} key(s) "
                           f"{unknown[:5]} ({scope})", details)
    return CheckResult(NAME, True, f"linearizable ({scope})", details)


def _reads_of_unwritten(ops: list[RegOp], initial: Any = None) -> RegOp | None:
    """Fast path: an ok read (or ok cas expectation) of a value no write or cas ever tried to store."""
    written = {initial} | {op.arg for op in ops if op.f == "write"} | {op.arg[1] for op in ops if op.f == "cas"}
    for op in ops:
        seen = op.arg if op.f == "read" else op.arg[0] if op.f == "cas" and op.definite else _MISSING
        if seen is not _MISSING and seen not in written:
            return op
    return None
