"""What the store state machine draws: keys, values, range and watch specs, compares and ops, invalid
requests; and what its examples share (`Shared`) and remember (`OpenWatch`, `LastWrite`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from raftkube.store import (
    StoreError,
)
from tests.store.stateful.targets import (
    KEYS,
    PREFIXES,
    VALUES,
    Runner,
    Target,
    WatchHandle,
)


@dataclass
class Shared:
    """What carries over between the examples of one test function."""

    runner: Runner
    make_target: Callable[[], Target]
    examples: int = 0
    last_auto_lease: int = 0


# ---------------------------------------------------------------------------- strategies
keys = st.sampled_from(KEYS)
values = st.sampled_from(VALUES)
vias = st.integers(0, 2)
lease_picks = st.one_of(st.none(), st.integers(0, 7))  # None: no lease; else an index into known ids
range_specs = st.one_of(
    st.tuples(st.just("key"), keys),
    st.tuples(st.just("prefix"), st.sampled_from(PREFIXES)),
    st.tuples(st.just("interval"), keys, keys),
    st.tuples(st.just("from"), keys),
)
watch_specs = st.one_of(st.just(("prefix", b"")), range_specs)  # half of the watches see every key
compares = st.tuples(keys, st.sampled_from(["version", "create", "mod", "value", "lease"]),
                     st.sampled_from(["=", "!=", "<", ">"]), st.sampled_from(["actual", "zero", "revision"]),
                     st.integers(-1, 1), values)
put_ops = st.tuples(st.just("put"), keys, values, lease_picks, st.booleans())
del_ops = st.tuples(st.just("del"), range_specs, st.booleans())
range_ops = st.tuples(st.just("range"), range_specs, st.integers(0, 3), st.booleans(), st.booleans())
request_ops = st.lists(st.one_of(put_ops, del_ops, range_ops), max_size=4)

INVALID_EXEC = [
    "put-empty-key", "put-str-key", "put-oversize-value", "put-str-value", "put-negative-lease", "put-bool-lease",
    "put-int-prev-kv", "second-op-bad", "fail-negative-limit", "del-str-range-end", "range-bool-keys-only",
    "cmp-bad-target", "cmp-bad-op", "cmp-value-int-operand", "cmp-mod-bytes-operand", "cmp-negative-operand",
    "cmp-empty-key", "unknown-op", "op-wrong-arity", "too-many-ops", "cmp-not-list", "unknown-field",
    "unknown-command", "rid-too-long", "grant-zero-ttl", "grant-str-ttl", "grant-huge-ttl", "grant-negative-id",
    "keepalive-zero-id", "revoke-str-id", "compact-zero", "compact-str",
    "command-list-t", "cmp-list-target", "cmp-list-op",
    "api-put-empty-key", "api-put-str-value", "api-delete-empty-key", "api-grant-zero-ttl", "api-compact-zero",
]
INVALID_READ = ["range-empty-key", "range-str-key", "range-str-end", "range-negative-limit", "range-bool-limit",
                "range-negative-revision", "range-str-revision"]
INVALID_WATCH = ["watch-empty-key", "watch-str-key", "watch-str-end", "watch-negative-start"]


# ------------------------------------------------------------------------ state machine
@dataclass
class OpenWatch:
    handle: WatchHandle
    key: bytes
    end: bytes
    start: int  # first revision delivered
    prev_kv: bool
    via: int


@dataclass
class LastWrite:
    """A write sent with its own request id, and the answer it got: a retry must get the same."""

    cmd: dict[str, Any]
    result: Any
    error: StoreError | None
