"""The state machine's rules for leases, compaction, request retries and watches."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from raftkube.store import (
    LeaseInfo,
)
from raftkube.store.client import new_request_id
from tests.store.kv_model import same_error
from tests.store.stateful.machine_kv_rules import KVRules
from tests.store.stateful.strategies import OpenWatch, vias, watch_specs
from tests.store.stateful.targets import MAX_WATCHES, TTLS, HttpTarget, StreamWatch


class LeaseWatchRules(KVRules):
    """Leases, compaction, retries and watches."""

    # ------------------------------------------------------------------- leases
    @rule(ttl=st.sampled_from(TTLS), wanted=st.one_of(st.just(0), st.integers(1, 6)), raw=st.booleans(),
          via=vias)
    def grant(self, ttl: int, wanted: int, raw: bool, via: int) -> None:
        lease_id = self.lease_base + wanted if wanted else 0
        if raw:
            got, err = self.execute(via, {"t": "grant", "rid": new_request_id(), "ttl": ttl, "id": lease_id})
        else:
            got, err = self.call(self.t.client(via).lease_grant(ttl, lease_id))
        assert wanted or err is None, f"grant(ttl={ttl}) raised {err!r}"
        assigned = got.id if isinstance(got, LeaseInfo) else 0
        self.expect(f"grant(ttl={ttl}, id={lease_id})", got, err, self.m.grant(ttl, lease_id, assigned))
        self.applied(via, [])

    @rule(pick=st.integers(0, 7), raw=st.booleans(), via=vias)
    def keepalive(self, pick: int, raw: bool, via: int) -> None:
        lease_id = self.lease_for(pick)
        if raw:
            got, err = self.execute(via, {"t": "keepalive", "rid": new_request_id(), "id": lease_id})
        else:
            got, err = self.call(self.t.client(via).lease_keepalive(lease_id))
        self.expect(f"keepalive({lease_id})", got, err, self.m.keepalive(lease_id))
        self.applied(via, [])

    @rule(pick=st.integers(0, 7), raw=st.booleans(), via=vias)
    def revoke(self, pick: int, raw: bool, via: int) -> None:
        lease_id = self.lease_for(pick)
        expected, events = self.m.revoke(lease_id)
        if raw:
            got, err = self.execute(via, {"t": "revoke", "rid": new_request_id(), "id": lease_id})
        else:
            got, err = self.call(self.t.client(via).lease_revoke(lease_id))
            expected = expected["revision"] if isinstance(expected, dict) else expected
        self.expect(f"revoke({lease_id})", got, err, expected)
        self.applied(via, events)

    @precondition(lambda self: self.t.internal_commands)
    @rule(pairs=st.lists(st.tuples(st.integers(0, 7), st.integers(-1, 1)), max_size=4))
    def expire(self, pairs: list[tuple[int, int]]) -> None:
        """The leader's expiry command, with current or stale renewal counts (and repeats)."""
        leases: list[tuple[int, int]] = []
        for pick, delta in pairs:
            lease_id = self.lease_for(pick)
            lease = self.m.leases.get(lease_id)
            leases.append((lease_id, max(0, (0 if lease is None else lease.renewals) + delta)))
        expected, events = self.m.expire(leases)
        got, err = self.call(self.t.client(0).execute({"t": "expire", "leases": [list(p) for p in leases]}))
        self.expect(f"expire({leases})", got, err, expected)
        self.applied(0, events)

    # --------------------------------------------------------------- compaction
    @rule(mode=st.sampled_from(["past", "current", "compacted", "future"]), offset=st.integers(0, 50),
          raw=st.booleans(), via=vias)
    def compact(self, mode: str, offset: int, raw: bool, via: int) -> None:
        m = self.m
        if mode == "past":
            rev = max(self.past_revision(offset), m.compact_revision + 1)
        elif mode == "current":
            rev = m.revision
        elif mode == "compacted":
            rev = 1 + offset % m.compact_revision
        else:
            rev = m.revision + 1 + offset % 3
        if isinstance(self.t, HttpTarget):  # a watch request may still be on its way: let it arrive first
            for w in self.watches:
                if w.start < rev and not w.handle.established:
                    assert isinstance(w.handle, StreamWatch)
                    self.run(w.handle.wait_for(lambda h=w.handle: h.established, "a first response"))
        expected = m.compact(rev)
        if raw:
            got, err = self.execute(via, {"t": "compact", "rid": new_request_id(), "rev": rev})
            if isinstance(expected, int):
                expected = {"revision": m.revision, "compact_revision": rev}
        else:
            got, err = self.call(self.t.client(via).compact(rev))
        self.expect(f"compact({rev})", got, err, expected)
        self.applied(via, [])

    # ------------------------------------------------------------------- retries
    @precondition(lambda self: self.last_write is not None)
    @rule(via=vias)
    def retry_last_write(self, via: int) -> None:
        """The same request id again (a retry after an unknown outcome): same answer, applied once."""
        last = self.last_write
        assert last is not None
        got, err = self.call(self.t.client(via).execute(last.cmd))
        what = f"retry of {last.cmd.get('t')} {last.cmd}"
        if last.error is not None:
            self.expect(what, got, err, last.error)
        else:
            self.expect(what, got, err, last.result)
        self.applied(via, [])
        self.check_revision_unchanged(via, what)

    # ------------------------------------------------------------------- watches
    @precondition(lambda self: len(self.watches) < MAX_WATCHES)
    @rule(spec=watch_specs, mode=st.sampled_from(["now", "now0", "past", "past", "compacted", "future"]),
          offset=st.integers(0, 50), prev_kv=st.booleans(), via=vias)
    def open_watch(self, spec: tuple[Any, ...], mode: str, offset: int, prev_kv: bool, via: int) -> None:
        m = self.m
        key, end = self.span(spec)
        if mode == "now0" and (self.t.start_now or not self.t.streams):
            start = 0
        elif mode in ("now", "now0"):
            start = m.revision + 1
        elif mode == "past":
            start = self.past_revision(offset)
        elif mode == "compacted" and m.compact_revision > 1:
            start = 1 + offset % (m.compact_revision - 1)
        else:
            start = m.revision + 1 + offset % 3
        handle = self.run(self.t.open_watch(via, key, end, start, prev_kv))
        error = m.watch_error(start)
        if error is not None:
            if isinstance(handle, StreamWatch):
                self.run(handle.wait_for(lambda: handle.ended, "its error"))
            assert handle.error is not None, f"watch from compacted revision {start}: no error, {handle.events}"
            problem = same_error(handle.error, error)
            assert problem is None, f"watch from {start}: {problem}"
            self.run(handle.close())
            return
        self.watches.append(OpenWatch(handle, key, end, m.watch_start(start), prev_kv, via))

    def check(self, w: OpenWatch, complete: bool) -> None:
        expected = self.m.watch_events(w.start, w.key, w.end, w.prev_kv)
        self.run(w.handle.settle(self.m.revision, len(expected), complete))
        h = w.handle
        what = f"watch [{w.key!r}, {w.end!r}) from {w.start} prev_kv={w.prev_kv} via {w.via}"
        assert h.error is None, f"{what} ended with {h.error!r}"
        assert not h.problems, f"{what}: {h.problems}"
        assert h.events == expected, f"{what}:\n  store {h.events}\n  model {expected}"

    @precondition(lambda self: self.watches)
    @rule(i=st.integers(0, MAX_WATCHES - 1))
    def check_watch(self, i: int) -> None:
        self.check(self.watches[i % len(self.watches)], self.t.fast_progress)

    @precondition(lambda self: self.watches)
    @rule(i=st.integers(0, MAX_WATCHES - 1))
    def close_watch(self, i: int) -> None:
        w = self.watches.pop(i % len(self.watches))
        self.check(w, self.t.fast_progress)
        self.run(w.handle.close())
