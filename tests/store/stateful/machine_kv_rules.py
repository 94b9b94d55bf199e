"""The state machine's rules for writes and reads (put, delete, txn, range and the bare state invariant),
checked against `KVModel`."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from raftkube.store import (
    DeleteOp,
    KeyValue,
    PutOp,
    TxnResult,
    prefix_end,
)
from raftkube.store.client import new_request_id
from tests.store.stateful.machine_base import StoreMachineBase
from tests.store.stateful.strategies import compares, keys, lease_picks, range_specs, request_ops, values, vias
from tests.store.stateful.targets import MachineTarget


class KVRules(StoreMachineBase):
    """Writes and reads."""

    # -------------------------------------------------------------------- writes
    @rule(key=keys, value=values, lease=lease_picks, prev_kv=st.booleans(), via=vias)
    def put(self, key: bytes, value: bytes, lease: int | None, prev_kv: bool, via: int) -> None:
        k, lease_id = self.P + key, self.lease_for(lease)
        expected, events = self.m.txn([], [PutOp(k, value, lease_id, prev_kv)], [])
        got, err = self.call(self.t.client(via).put(k, value, lease_id, prev_kv))
        if isinstance(expected, TxnResult):
            expected_answer: Any = (expected.revision, expected.responses[0])
        else:
            expected_answer = expected
        self.expect(f"put({k!r}, {value!r}, lease={lease_id})", got, err, expected_answer)
        self.applied(via, events)

    @rule(key=keys, value=values, lease=lease_picks, prev_kv=st.booleans(), via=vias)
    def put_more(self, key: bytes, value: bytes, lease: int | None, prev_kv: bool, via: int) -> None:
        self.put(key, value, lease, prev_kv, via)

    @rule(spec=range_specs, prev_kv=st.booleans(), via=vias)
    def delete(self, spec: tuple[Any, ...], prev_kv: bool, via: int) -> None:
        key, end = self.span(spec)
        expected, events = self.m.txn([], [DeleteOp(key, end, prev_kv)], [])
        assert isinstance(expected, TxnResult)
        got, err = self.call(self.t.client(via).delete(key, end, prev_kv))
        self.expect(f"delete({key!r}, {end!r})", got, err, (expected.revision, expected.responses[0]))
        self.applied(via, events)

    @rule(cmps=st.lists(compares, max_size=3), ok=request_ops, fail=request_ops, raw=st.booleans(), via=vias)
    def txn(self, cmps: list[tuple[Any, ...]], ok: list[tuple[Any, ...]], fail: list[tuple[Any, ...]],
            raw: bool, via: int) -> None:
        compares_ = [self.compare_of(c) for c in cmps]
        success = [self.op_of(o) for o in ok]
        failure = [self.op_of(o) for o in fail]
        what = f"txn({compares_}, {success}, {failure})"
        expected, events = self.m.txn(compares_, success, failure)
        if raw:
            got, err = self.execute(via, {"t": "txn", "rid": new_request_id(), "cmp": [c.to_wire() for c in compares_],
                                          "ok": [o.to_wire() for o in success],
                                          "fail": [o.to_wire() for o in failure]})
        else:
            got, err = self.call(self.t.client(via).txn(compares_, success, failure))
        self.expect(what, got, err, expected)
        self.applied(via, events)

    @rule(cmps=st.lists(compares, max_size=3), ok=request_ops, fail=request_ops, raw=st.booleans(), via=vias)
    def txn_more(self, cmps: list[tuple[Any, ...]], ok: list[tuple[Any, ...]], fail: list[tuple[Any, ...]],
                 raw: bool, via: int) -> None:
        self.txn(cmps, ok, fail, raw, via)

    # -------------------------------------------------------------------- reads
    @rule(kind=st.sampled_from(["range", "range", "at", "get", "prefix", "all", "leases"]), spec=range_specs,
          limit=st.integers(0, 3), keys_only=st.booleans(), count_only=st.booleans(), serializable=st.booleans(),
          when=st.sampled_from(["past", "past", "current", "compacted", "future"]), offset=st.integers(0, 50),
          via=vias)
    def read(self, kind: str, spec: tuple[Any, ...], limit: int, keys_only: bool, count_only: bool,
             serializable: bool, when: str, offset: int, via: int) -> None:
        c = self.t.client(via)
        key, end = self.span(spec)
        if kind == "at":  # a read at a past revision
            m = self.m
            revision = {"past": self.past_revision(offset),
                        "current": m.revision, "compacted": 1 + offset % m.compact_revision,
                        "future": m.revision + 1 + offset % 2}[when]
            if when == "compacted" and m.compact_revision == 1:
                revision = m.revision
            got, err = self.call(c.range(key, end, limit, keys_only, count_only, revision=revision))
            self.expect(f"range [{key!r}, {end!r}) limit={limit} at revision {revision}", got, err,
                        m.range_at(revision, key, end, limit, keys_only, count_only))
            return
        if kind == "range":
            # a serializable read is current only on the replica that applied the last write
            serializable = serializable and self.t.serializable_reads and via % len(self.t.clients) == self.last_writer
            got: Any = self.run(c.range(key, end, limit, keys_only, count_only, serializable))
            expected: Any = self.m.range(key, end, limit, keys_only, count_only)
        elif kind == "get":
            got, expected = self.run(c.get(key)), self.m.get(key)
        elif kind == "prefix":
            got, expected = self.run(c.get_prefix(key, limit)), self.m.range(key, prefix_end(key), limit)
        elif kind == "all":
            got, expected = self.run(c.range(self.P, prefix_end(self.P))), self.m.range(self.P, prefix_end(self.P))
        else:
            got = sorted(self.run(c.leases()), key=lambda x: x.id)
            if not self.t.fresh:  # other examples' leases may still be there
                got = [x for x in got if x.id in self.m.known_leases]
            expected = self.m.lease_infos()
        assert got == expected, f"{kind} [{key!r}, {end!r}) limit={limit}:\n  store {got}\n  model {expected}"

    @invariant()
    def bare_state_matches(self) -> None:
        if not isinstance(self.t, MachineTarget):
            return
        sm = self.t.sm
        assert (sm.revision, sm.compact_revision) == (self.m.revision, self.m.compact_revision)
        got = [KeyValue(k, *v) for k, v in sm.kv.items()]
        expected = [self.m.kv[k].to_kv(k) for k in sorted(self.m.kv)]
        assert got == expected, f"state:\n  store {got}\n  model {expected}"
        assert sorted(sm.lease_list(), key=lambda x: x.id) == self.m.lease_infos()
