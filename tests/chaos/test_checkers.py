"""Self-tests of the chaos checkers on hand-built and generated histories."""

from __future__ import annotations

import math
import random
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.checkers import check_deployment, check_linearizable, check_nothing_lost, check_watches
from chaos.checkers.linearizable import check_key, register_ops
from chaos.history import History, Op

Spec = tuple[int, str, str, Any, float, float | None, str | None, Any]


def build(*specs: Spec) -> History:
    """History from (process, f, key, value, call, ret, completion type, completion value) specs.

    ret/type None = never completed. Events are appended in time order (completions first on ties).
    """
    events: list[tuple[float, int, Op]] = []
    for process, f, key, value, call, ret, kind, result in specs:
        events.append((call, 1, Op(process, "invoke", f, key, value, call)))
        if kind is not None and ret is not None:
            events.append((ret, 0, Op(process, kind, f, key, result, ret)))  # type: ignore[arg-type]
    events.sort(key=lambda e: (e[0], e[1]))
    return History([op for _, _, op in events])


def w(p: int, v: Any, call: float, ret: float | None, kind: str | None = "ok", key: str = "k") -> Spec:
    return (p, "write", key, v, call, ret, kind, v)


def r(p: int, v: Any, call: float, ret: float, key: str = "k") -> Spec:
    return (p, "read", key, None, call, ret, "ok", v)


def cas(p: int, old: Any, new: Any, call: float, ret: float | None, kind: str | None = "ok", key: str = "k") -> Spec:
    return (p, "cas", key, [old, new], call, ret, kind, [old, new])


# --- linearizability: histories that are linearizable pass ------------------------------------------------------

def test_concurrent_writes_read_in_either_order() -> None:
    for seen in (1, 2):
        result = check_linearizable(build(w(1, 1, 0, 2), w(2, 2, 1, 3), r(3, seen, 4, 5)))
        assert result.ok, result


def test_read_concurrent_with_write_sees_old_or_new() -> None:
    for seen in (None, 1):
        assert check_linearizable(build(w(1, 1, 0, 2), r(2, seen, 1, 1.5))).ok


def test_info_write_seen_or_not() -> None:
    assert check_linearizable(build(w(1, 5, 1, 2, "info"), r(2, 5, 3, 4))).ok
    assert check_linearizable(build(w(1, 5, 1, 2, "info"), r(2, None, 3, 4))).ok
    # takes effect late: absent first, then present
    assert check_linearizable(build(w(1, 5, 1, None, None), r(2, None, 3, 4), r(2, 5, 5, 6))).ok


def test_cas_chain_and_failed_ops_ignored() -> None:
    history = build(w(1, 0, 0, 1), cas(1, 0, 1, 2, 3), cas(2, 1, 2, 2.5, 3.5), cas(3, 7, 8, 4, 5, "fail"),
                    w(4, 9, 4, 5, "fail"), r(1, 2, 6, 7))
    assert check_linearizable(history).ok


def test_keys_are_independent() -> None:
    history = build(w(1, 1, 0, 1, key="a"), w(2, 1, 0, 1, key="b"), r(1, 1, 2, 3, key="a"), r(2, 1, 2, 3, key="b"))
    result = check_linearizable(history)
    assert result.ok and "2 keys" in result.summary


# --- linearizability: violations are caught -------------------------------------------------------------------

def expect_violation(*specs: Spec) -> str:
    result = check_linearizable(build(*specs))
    assert not result.ok, result
    assert "NOT linearizable" in result.summary
    return "\n".join(result.details)


def test_stale_read_caught_with_key_and_window() -> None:
    details = expect_violation(w(1, 1, 0, 1, key="x"), w(1, 2, 2, 3, key="x"), r(2, 1, 4, 5, key="x"))
    assert "'x'" in details and "read 1" in details and "write 2" in details


def test_lost_acknowledged_write_caught() -> None:
    expect_violation(w(1, 1, 0, 1), r(2, None, 2, 3))


def test_duplicated_cas_caught() -> None:
    expect_violation(w(1, 0, 0, 1), cas(1, 0, 1, 2, 3), cas(2, 0, 2, 4, 5))
    expect_violation(w(1, 0, 0, 1), cas(1, 0, 1, 2, 4), cas(2, 0, 2, 2.5, 4.5))  # concurrent, still only one can swap


def test_read_of_value_never_written_caught() -> None:
    assert "never written" in expect_violation(w(1, 1, 0, 1), r(2, 7, 2, 3))


def test_read_of_failed_write_caught() -> None:
    expect_violation(w(1, 9, 0, 1, "fail"), r(2, 9, 2, 3))


def test_write_seen_before_its_invoke_caught() -> None:
    expect_violation(r(2, 5, 0, 1), w(1, 5, 2, 3))


def test_budget_exhausted_is_unknown_not_ok() -> None:
    history = build(*(w(p, p, 0, 10) for p in range(1, 9)), r(9, 3, 11, 12), r(9, 4, 13, 14))
    result = check_linearizable(history, budget_per_key=5)
    assert not result.ok and "budget exhausted" in result.summary


# --- generated histories ----------------------------------------------------------------------------------------

def model_history(rng: random.Random, n_ops: int, keys: int, processes: int, info_rate: float = 0.03,
                  span: float = 2.0) -> History:
    """A linearizable history: each op gets a linearization point inside its [call, ret] interval.

    Each process runs ops back to back; results come from applying ops in point order to a register per key.
    Info writes either take effect at their point or never happen.
    """
    ops: list[dict[str, Any]] = []
    clock = [0.0] * processes
    serial = 0
    for i in range(n_ops):
        p = i % processes
        call = clock[p] + rng.random() * 0.01
        ret = call + rng.random() * span * 0.01
        clock[p] = ret
        f = rng.choice(("read", "read", "write", "cas"))
        serial += 1
        ops.append({"p": p, "f": f, "key": f"k{rng.randrange(keys)}", "call": call, "ret": ret,
                    "point": rng.uniform(call, ret), "new": serial, "info": f == "write" and rng.random() < info_rate})
    state: dict[str, Any] = {}
    specs: list[Spec] = []
    pid = {p: p for p in range(processes)}
    for op in sorted(ops, key=lambda o: o["point"]):
        key, p = op["key"], op["p"]
        if op["f"] == "read":
            specs.append((pid[p], "read", key, None, op["call"], op["ret"], "ok", state.get(key)))
        elif op["f"] == "write":
            if not op["info"] or rng.random() < 0.5:
                state[key] = op["new"]
            specs.append(w(pid[p], op["new"], op["call"], op["ret"], "info" if op["info"] else "ok", key))
        else:
            expected = state.get(key) if rng.random() < 0.7 else -5
            swapped = state.get(key) == expected
            if swapped:
                state[key] = op["new"]
            specs.append(cas(pid[p], expected, op["new"], op["call"], op["ret"], "ok" if swapped else "fail", key))
        if op["info"]:
            pid[p] += processes  # Jepsen: a process whose op is indeterminate is replaced by a fresh one
    return build(*specs)


def mutate_one_read(history: History, rng: random.Random) -> History:
    reads = [op for op in history.ops if op.f == "read" and op.type == "ok"]
    target = rng.choice(reads)
    ops = [Op(o.process, o.type, o.f, o.key, -999 if o is target else o.value, o.time) for o in history.ops]
    return History(ops)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_ops=st.integers(4, 60), keys=st.integers(1, 3),
       processes=st.integers(1, 5))
def test_generated_histories_pass_and_a_mutated_read_fails(seed: int, n_ops: int, keys: int, processes: int) -> None:
    rng = random.Random(seed)
    history = model_history(rng, n_ops, keys, processes, info_rate=0.2, span=rng.choice((0.5, 2.0, 10.0)))
    result = check_linearizable(history)
    assert result.ok, "\n".join([result.summary, *result.details])
    if any(op.f == "read" and op.type == "ok" for op in history.ops):
        mutated = mutate_one_read(history, rng)
        assert not check_linearizable(mutated).ok
        # the search itself (not only the never-written fast path) must refute the mutated key
        key = next(a.key for a, b in zip(history.ops, mutated.ops, strict=True) if a.value != b.value)
        assert check_key(register_ops(mutated)[key]).ok is False


def test_scale_20k_ops_50_keys_concurrency_8() -> None:
    rng = random.Random(6)
    history = model_history(rng, 20_000, keys=50, processes=8, span=4.0)
    started = time.perf_counter()
    result = check_linearizable(history)
    elapsed = time.perf_counter() - started
    print(f"\nlinearizability of {len(history.pairs())} ops on 50 keys: {elapsed:.2f}s — {result.summary}")
    assert result.ok, result.details[:20]
    started = time.perf_counter()
    assert not check_linearizable(mutate_one_read(history, rng)).ok
    print(f"mutated history rejected in {time.perf_counter() - started:.2f}s")


# --- sets -------------------------------------------------------------------------------------------------------

def add(p: int, v: Any, call: float, ret: float | None, kind: str | None = "ok", key: str = "s") -> Spec:
    return (p, "add", key, v, call, ret, kind, v)


def read_set(p: int, values: list[Any], call: float, ret: float, key: str = "s") -> Spec:
    return (p, "read-set", key, None, call, ret, "ok", sorted(values))


def test_set_nothing_lost_passes_with_info_adds_either_way() -> None:
    result = check_nothing_lost(build(add(1, 1, 0, 1), add(2, 2, 0, 1, "info"), add(3, 3, 0, 1, "info"),
                                      add(4, 4, 0, 1, "fail"), read_set(1, [1], 1.5, 1.6),
                                      read_set(1, [1, 2], 5, 6)))
    assert result.ok, result
    assert "1/2 unknown adds present" in result.summary


def test_set_lost_acknowledged_add_fails() -> None:
    result = check_nothing_lost(build(add(1, 1, 0, 1), add(2, 2, 0, 1), read_set(1, [1], 5, 6)))
    assert not result.ok and "1 lost" in result.summary
    assert any("lost: [2]" in d for d in result.details)


def test_set_element_never_added_or_failed_fails() -> None:
    result = check_nothing_lost(build(add(1, 1, 0, 1), read_set(1, [1, 42], 5, 6)))
    assert not result.ok and any("no add attempted: [42]" in d for d in result.details)
    result = check_nothing_lost(build(add(1, 1, 0, 1), add(2, 2, 0, 1, "fail"), read_set(1, [1, 2], 5, 6)))
    assert not result.ok and any("whose add failed" in d for d in result.details)


def test_set_without_final_read_fails() -> None:
    assert not check_nothing_lost(build(add(1, 1, 0, 1))).ok


# --- watches ----------------------------------------------------------------------------------------------------

EVENTS = [(5, "/r/a", "PUT"), (6, "/r/b", "PUT"), (7, "/r/a", "DELETE"), (7, "/r/c", "PUT"), (9, "/r/b", "PUT")]


def test_watches_agree_and_cover_acknowledged_writes() -> None:
    streams = {"n1:/r/": EVENTS, "n2:/r/": EVENTS[1:], "n3:/other/": [(8, "/other/x", "PUT")]}
    result = check_watches(streams, {"/r/b": 6, "/r/c": 7, "/r/z": 100})
    assert result.ok, result
    assert "(0 missing)" in result.summary


def test_watch_gap_between_replicas_fails() -> None:
    streams = {"n1:/r/": EVENTS, "n2:/r/": EVENTS[:1] + EVENTS[2:]}
    result = check_watches(streams)
    assert not result.ok and any("first difference at revision 6" in d for d in result.details)


def test_watch_duplicate_and_reordered_events_fail() -> None:
    result = check_watches({"n1:/r/": EVENTS + [EVENTS[-1]]})
    assert not result.ok and any("duplicate" in d for d in result.details)
    result = check_watches({"n1:/r/": [EVENTS[1], EVENTS[0]]})
    assert not result.ok and any("went back" in d for d in result.details)


def test_watch_missing_acknowledged_write_fails() -> None:
    result = check_watches({"n1:/r/": EVENTS}, {"/r/d": 8})
    assert not result.ok and any("'/r/d' at revision 8 not delivered" in d for d in result.details)


# --- deployment ---------------------------------------------------------------------------------------------------

def test_deployment_within_surge_and_converged_passes() -> None:
    samples = [(0.0, 3, 3), (1.0, 4, 3), (2.0, 3, 2), (3.0, 3, 3)]
    assert check_deployment(samples, replicas=3, max_surge=1, converged=True).ok


def test_deployment_over_surge_fails() -> None:
    result = check_deployment([(0.0, 3, 3), (1.5, 5, 3), (3.0, 3, 3)], replicas=3, max_surge=1, converged=True)
    assert not result.ok and "1 sample(s) above 4 pods" in result.summary
    assert any("t=1.500s: 5 pods" in d for d in result.details)


def test_deployment_not_converged_fails() -> None:
    result = check_deployment([(0.0, 3, 3), (1.0, 2, 1)], replicas=3, max_surge=1, converged=False)
    assert not result.ok and "not converged" in result.summary
    assert not check_deployment([], replicas=3, max_surge=1, converged=True).ok


def test_info_op_times_are_unbounded() -> None:
    ops = register_ops(build(w(1, 1, 0, 1, "info")))["k"]
    assert math.isinf(ops[0].ret)


def brute_force(ops: list[Any]) -> bool:
    """Oracle: some order of all ok ops plus any subset of info ops respects real time and the register."""
    from itertools import permutations

    from chaos.checkers.linearizable import _step

    infos = [op for op in ops if not op.definite]
    oks = [op for op in ops if op.definite]
    for mask in range(1 << len(infos)):
        chosen = oks + [op for i, op in enumerate(infos) if mask >> i & 1]
        for order in permutations(chosen):
            if any(b.ret < a.call for i, a in enumerate(order) for b in order[i + 1:]):
                continue
            state, valid = None, True
            for op in order:
                valid, state = _step(op, state)
                if not valid:
                    break
            if valid:
                return True
    return False


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["read", "write", "cas"]), st.sampled_from([None, 1, 2]),
                          st.sampled_from([1, 2]), st.integers(0, 6), st.integers(1, 4),
                          st.sampled_from(["ok", "ok", "info", "fail"])), min_size=1, max_size=6))
def test_search_agrees_with_brute_force(raw: list[tuple[str, Any, int, int, int, str]]) -> None:
    specs: list[Spec] = []
    for p, (f, a, b, call, length, kind) in enumerate(raw):
        if f == "read":
            specs.append((p, "read", "k", None, call, call + length, kind, a))
        elif f == "write":
            specs.append(w(p, b, call, call + length, kind))
        else:
            specs.append(cas(p, a, b, call, call + length, kind))
    ops = register_ops(build(*specs)).get("k", [])
    assert (check_key(ops).ok is True) == brute_force(ops)
