"""The base of the store state machine: a fresh model and key prefix per example, and the helpers its
rules share (calls on a random client, expected answers, checks that nothing changed)."""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from typing import Any, ClassVar

from hypothesis.stateful import RuleBasedStateMachine

from raftkube.store import (
    Compare,
    DeleteOp,
    Event,
    PutOp,
    RangeOp,
    StoreError,
    prefix_end,
)
from raftkube.store.types import RequestOp
from tests.store.kv_model import KVModel, same_error
from tests.store.stateful.strategies import LastWrite, OpenWatch, Shared
from tests.store.stateful.targets import NO_SUCH_LEASE, T


class StoreMachineBase(RuleBasedStateMachine):
    """A model and a target store per example; the rules are in the subclasses."""

    shared: ClassVar[Shared]

    def __init__(self) -> None:
        super().__init__()
        sh = self.shared
        sh.examples += 1
        self.example = sh.examples
        self.t = sh.make_target()
        self.P = b"/t%06d/" % self.example
        self.lease_base = 0 if self.t.fresh else 1_000_000 + 10 * self.example
        revision, compact = self.run(self._current())
        self.m = KVModel(revision, compact, 0 if self.t.fresh else sh.last_auto_lease, exact_lease_ids=self.t.fresh)
        self.base_revision = revision
        self.watches: list[OpenWatch] = []
        self.last_write: LastWrite | None = None
        self.last_writer = 0

    async def _current(self) -> tuple[int, int]:
        client = self.t.client(0)
        revision = (await client.range(b"/")).revision
        status = await client.status()
        assert status["revision"] == revision, f"status {status} after a read at revision {revision}"
        return revision, status["compact_revision"]

    # ------------------------------------------------------------------ helpers
    def run(self, aw: Awaitable[T]) -> T:
        return self.shared.runner.run(aw)

    def call(self, aw: Coroutine[Any, Any, T]) -> tuple[T | None, StoreError | None]:
        try:
            return self.run(aw), None
        except StoreError as err:
            return None, err

    def span(self, spec: tuple[Any, ...]) -> tuple[bytes, bytes]:
        kind = spec[0]
        if kind == "key":
            return self.P + spec[1], b""
        if kind == "prefix":
            return self.P + spec[1], prefix_end(self.P + spec[1])
        if kind == "interval":
            return self.P + spec[1], self.P + spec[2]
        return self.P + spec[1], b"\0"

    def past_revision(self, offset: int) -> int:
        """A revision still held, preferably one of this example's (earlier ones saw none of its keys)."""
        m = self.m
        low = max(m.compact_revision, self.base_revision)
        return low + offset % (m.revision - low + 1)

    def lease_for(self, pick: int | None) -> int:
        if pick is None:
            return 0
        choices = sorted(self.m.known_leases) + [NO_SUCH_LEASE]
        return choices[pick % len(choices)]

    def compare_of(self, c: tuple[Any, ...]) -> Compare:
        suffix, target, op, mode, delta, value = c
        key = self.P + suffix
        entry = self.m.kv.get(key)
        if target == "value":
            return Compare(key, "value", op, entry.value if mode == "actual" and entry is not None else value)
        actual = 0 if entry is None else getattr(entry, target)
        operand = {"actual": actual + delta, "zero": 0, "revision": self.m.revision + delta}[mode]
        return Compare(key, target, op, max(0, operand))

    def op_of(self, o: tuple[Any, ...]) -> RequestOp:
        if o[0] == "put":
            return PutOp(self.P + o[1], o[2], self.lease_for(o[3]), o[4])
        if o[0] == "del":
            key, end = self.span(o[1])
            return DeleteOp(key, end, o[2])
        key, end = self.span(o[1])
        return RangeOp(key, end, o[2], o[3], o[4])

    def expect(self, what: str, got: Any, err: StoreError | None, expected: Any) -> None:
        if isinstance(expected, StoreError):
            assert err is not None, f"{what}: answered {got!r}, expected {type(expected).__name__}({expected})"
            problem = same_error(err, expected)
            assert problem is None, f"{what}: {problem}"
        else:
            assert err is None, f"{what}: raised {type(err).__name__}({err}), expected {expected!r}"
            assert got == expected, f"{what}:\n  store {got!r}\n  model {expected!r}"

    def applied(self, via: int, events: list[Event]) -> None:
        """A command went through the log via `via` and produced `events`."""
        self.last_writer = via % len(self.t.clients)
        store_events = self.t.take_events()
        if store_events is not None:
            assert store_events == events, f"events of the apply:\n  store {store_events}\n  model {events}"

    def execute(self, via: int, cmd: dict[str, Any]) -> tuple[Any, StoreError | None]:
        got, err = self.call(self.t.client(via).execute(cmd))
        if "rid" in cmd:
            self.last_write = LastWrite(cmd, got, err)
        return got, err

    def check_revision_unchanged(self, via: int, what: str) -> None:
        store_events = self.t.take_events()
        assert not store_events, f"{what} produced events {store_events}"
        got = self.run(self.t.client(via).range(self.P, prefix_end(self.P)))
        assert got == self.m.range(self.P, prefix_end(self.P)), f"{what} changed the store: {got}"
