"""The store state machine: every rule (machine_kv_rules, machine_lease_watch_rules) plus invalid
requests and the teardown that checks nothing is left over."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import rule

from raftkube.store import (
    InvalidRequest,
    PutOp,
    ValueTooLarge,
    prefix_end,
)
from raftkube.store.client import new_request_id
from tests.store.stateful.machine_lease_watch_rules import LeaseWatchRules
from tests.store.stateful.strategies import INVALID_EXEC, INVALID_READ, INVALID_WATCH, vias
from tests.store.stateful.targets import MAX_VALUE, StreamWatch


class StoreMachine(LeaseWatchRules):
    """Writes, reads, leases, compaction, retries, watches and invalid requests against `KVModel`."""

    # ------------------------------------------------------------- bad requests
    def invalid_exec(self, name: str, via: int) -> tuple[Coroutine[Any, Any, Any], str]:
        c = self.t.client(via)
        k = self.P + b"a"
        put = PutOp(k, b"v").to_wire()

        def txn(ok: list[Any] | None = None, fail: list[Any] | None = None, cmp: Any = None,
                **extra: Any) -> Coroutine[Any, Any, Any]:
            return c.execute({"t": "txn", "rid": new_request_id(), "cmp": [] if cmp is None else cmp,
                              "ok": ok or [], "fail": fail or [], **extra})

        def cmd(**fields: Any) -> Coroutine[Any, Any, Any]:
            return c.execute({"rid": new_request_id(), **fields})

        cases: dict[str, Callable[[], tuple[Coroutine[Any, Any, Any], str]]] = {
            "put-empty-key": lambda: (txn([["put", b"", b"v", 0, False]]), "ok[0].key"),
            "put-str-key": lambda: (txn([["put", "k", b"v", 0, False]]), "ok[0].key"),
            "put-oversize-value": lambda: (txn([["put", k, b"x" * (MAX_VALUE + 1), 0, False]]), "ok[0].value"),
            "put-str-value": lambda: (txn([["put", k, "v", 0, False]]), "ok[0].value"),
            "put-negative-lease": lambda: (txn([["put", k, b"v", -1, False]]), "ok[0].lease"),
            "put-bool-lease": lambda: (txn([["put", k, b"v", True, False]]), "ok[0].lease"),
            "put-int-prev-kv": lambda: (txn([["put", k, b"v", 0, 1]]), "ok[0].prev_kv"),
            "second-op-bad": lambda: (txn([put, ["del", b"", b"", False]]), "ok[1].key"),
            "fail-negative-limit": lambda: (txn(fail=[["range", k, b"", -1, False, False]]), "fail[0].limit"),
            "del-str-range-end": lambda: (txn([["del", k, "z", False]]), "ok[0].range_end"),
            "range-bool-keys-only": lambda: (txn([["range", k, b"", 0, 1, False]]), "ok[0].keys_only"),
            "cmp-bad-target": lambda: (txn(cmp=[["cmp", k, "size", "=", 0]]), "cmp[0].target"),
            "cmp-bad-op": lambda: (txn(cmp=[["cmp", k, "mod", "<=", 0]]), "cmp[0].op"),
            "cmp-value-int-operand": lambda: (txn(cmp=[["cmp", k, "value", "=", 1]]), "cmp[0].operand"),
            "cmp-mod-bytes-operand": lambda: (txn(cmp=[["cmp", k, "mod", "=", b"1"]]), "cmp[0].operand"),
            "cmp-negative-operand": lambda: (txn([put], cmp=[["cmp", k, "version", ">", -1]]), "cmp[0].operand"),
            "cmp-empty-key": lambda: (txn(cmp=[["cmp", b"", "mod", "=", 0]]), "cmp[0].key"),
            "unknown-op": lambda: (txn([["get", k]]), "ok[0][0]"),
            "op-wrong-arity": lambda: (txn([["put", k, b"v"]]), "ok[0]"),
            "too-many-ops": lambda: (txn([put] * 129), "txn"),
            "cmp-not-list": lambda: (txn(cmp="x"), "cmp"),
            "unknown-field": lambda: (txn([put], extra=1), "extra"),
            "command-list-t": lambda: (cmd(t=["txn"]), "t"),
            "cmp-list-target": lambda: (txn(cmp=[["cmp", k, ["mod"], "=", 0]]), "cmp[0].target"),
            "cmp-list-op": lambda: (txn(cmp=[["cmp", k, "mod", ["="], 0]]), "cmp[0].op"),
            "unknown-command": lambda: (cmd(t="get"), "t"),
            "rid-too-long": lambda: (c.execute({"t": "txn", "rid": b"r" * 65, "cmp": [], "ok": [put], "fail": []}),
                                     "rid"),
            "grant-zero-ttl": lambda: (cmd(t="grant", ttl=0, id=0), "ttl"),
            "grant-str-ttl": lambda: (cmd(t="grant", ttl="60", id=0), "ttl"),
            "grant-huge-ttl": lambda: (cmd(t="grant", ttl=10 * 365 * 24 * 3600 + 1, id=0), "ttl"),
            "grant-negative-id": lambda: (cmd(t="grant", ttl=60, id=-5), "id"),
            "keepalive-zero-id": lambda: (cmd(t="keepalive", id=0), "id"),
            "revoke-str-id": lambda: (cmd(t="revoke", id="1"), "id"),
            "compact-zero": lambda: (cmd(t="compact", rev=0), "rev"),
            "compact-str": lambda: (cmd(t="compact", rev="1"), "rev"),
            "api-put-empty-key": lambda: (c.put(b"", b"v"), "ok[0].key"),
            "api-put-str-value": lambda: (c.put(k, "v"), "ok[0].value"),  # type: ignore[arg-type]
            "api-delete-empty-key": lambda: (c.delete(b""), "ok[0].key"),
            "api-grant-zero-ttl": lambda: (c.lease_grant(0), "ttl"),
            "api-compact-zero": lambda: (c.compact(0), "rev"),
            "range-empty-key": lambda: (c.range(b""), "key"),
            "range-str-key": lambda: (c.range("k"), "key"),  # type: ignore[arg-type]
            "range-str-end": lambda: (c.range(k, "z"), "range_end"),  # type: ignore[arg-type]
            "range-negative-limit": lambda: (c.range(k, prefix_end(k), -1), "limit"),
            "range-bool-limit": lambda: (c.range(k, prefix_end(k), True), "limit"),
            "range-negative-revision": lambda: (c.range(k, revision=-1), "revision"),
            "range-str-revision": lambda: (c.range(k, revision="1"), "revision"),  # type: ignore[arg-type]
        }
        return cases[name]()

    @rule(name=st.sampled_from(INVALID_EXEC + INVALID_READ + INVALID_WATCH), via=vias)
    def invalid_request(self, name: str, via: int) -> None:
        """Malformed input: InvalidRequest naming the field, and nothing written."""
        if name in INVALID_WATCH:
            if self.t.streams:
                self.invalid_watch(name, via)
            return
        if name in INVALID_READ and not self.t.validates_reads:
            return
        aw, field = self.invalid_exec(name, via)
        got, err = self.call(aw)
        error = ValueTooLarge if name == "put-oversize-value" else InvalidRequest
        self.expect(f"invalid request {name}", got, err, error(field, "..."))
        self.check_revision_unchanged(via, f"invalid request {name}")

    def invalid_watch(self, name: str, via: int) -> None:
        k = self.P + b"a"
        args, field = {
            "watch-empty-key": ((b"", b"", 0), "key"),
            "watch-str-key": (("k", b"", 0), "key"),
            "watch-str-end": ((k, "z", 0), "range_end"),
            "watch-negative-start": ((k, b"", -1), "start_revision"),
        }[name]
        handle = self.run(self.t.open_watch(via, *args, False))  # type: ignore[arg-type]
        assert isinstance(handle, StreamWatch)
        self.run(handle.wait_for(lambda: handle.ended, "its error"))
        self.expect(f"invalid watch {name}", handle.events, handle.error, InvalidRequest(field, "..."))
        self.run(handle.close())

    # ------------------------------------------------------------------ teardown
    def teardown(self) -> None:
        failing = sys.exc_info()[0] is not None
        try:
            if not failing:
                for w in self.watches:
                    self.check(w, complete=True)
                self.run(self.t.check_replicas_agree(self.m.revision))
        finally:
            with contextlib.suppress(Exception):
                for w in self.watches:
                    self.run(w.handle.close())
            self.watches.clear()
            if not self.t.fresh:  # leave no live lease behind
                for lease_id in sorted(self.m.leases):
                    got, err = self.call(self.t.client(0).lease_revoke(lease_id))
                    expected, _ = self.m.revoke(lease_id)
                    if not failing:
                        assert isinstance(expected, dict)
                        self.expect(f"cleanup revoke({lease_id})", got, err, expected["revision"])
            self.shared.last_auto_lease = self.m.last_auto_lease
