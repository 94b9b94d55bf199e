"""Checks every command before it reaches the log: types, sizes, known fields.

A command that fails here is refused with `InvalidRequest(field, ...)` and nothing is
written. The state machine runs the same checks again, so a bad entry in the log can only
ever produce the same error on every replica, never a crash or a divergence.
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidRequest, ValueTooLarge

MAX_KEY_BYTES = 8 * 1024
MAX_VALUE_BYTES = 1536 * 1024  # etcd's default request limit, 1.5 MiB
MAX_TXN_OPS = 128
MAX_LEASE_TTL = 10 * 365 * 24 * 3600
MAX_BATCH_COMMANDS = 1024

_COMPARE_TARGETS = {"version", "create", "mod", "value", "lease"}
_COMPARE_OPS = {"=", "!=", "<", ">"}
COMMAND_FIELDS: dict[str, set[str]] = {
    "txn": {"t", "rid", "cmp", "ok", "fail"},
    "grant": {"t", "rid", "ttl", "id"},
    "keepalive": {"t", "rid", "id"},
    "revoke": {"t", "rid", "id"},
    "expire": {"t", "leases"},
    "compact": {"t", "rid", "rev"},
    "noop": {"t"},
    "quota": {"t", "bytes"},  # internal: the backend byte quota (quota.py), set by the leader
    "batch": {"t", "cmds"},  # internal: commands sharing one log entry, each applied as its own
}


def _int(value: Any, field: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(field, f"must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise InvalidRequest(field, f"must be >= {minimum}")
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(field, f"must be a boolean, got {type(value).__name__}")
    return value


def check_key(key: Any, field: str = "key") -> bytes:
    if not isinstance(key, bytes):
        raise InvalidRequest(field, f"must be bytes, got {type(key).__name__}")
    if not key:
        raise InvalidRequest(field, "must not be empty")
    if len(key) > MAX_KEY_BYTES:
        raise InvalidRequest(field, f"is {len(key)} bytes, over the limit of {MAX_KEY_BYTES}")
    return key


def check_range_end(end: Any, field: str) -> bytes:
    if not isinstance(end, bytes):
        raise InvalidRequest(field, f"must be bytes, got {type(end).__name__}")
    if len(end) > MAX_KEY_BYTES:
        raise InvalidRequest(field, f"is over the limit of {MAX_KEY_BYTES} bytes")
    return end


def check_value(value: Any, field: str = "value") -> bytes:
    if not isinstance(value, bytes):
        raise InvalidRequest(field, f"must be bytes, got {type(value).__name__}")
    if len(value) > MAX_VALUE_BYTES:
        raise ValueTooLarge(field, f"is {len(value)} bytes, over the limit of {MAX_VALUE_BYTES}")
    return value


def _check_list(value: Any, field: str, length: int) -> list[Any]:
    if not isinstance(value, (list, tuple)) or len(value) != length:
        raise InvalidRequest(field, f"must be a list of {length} items")
    return list(value)


def check_compare(w: Any, field: str) -> None:
    _, key, target, op, operand = _check_list(w, field, 5)
    check_key(key, f"{field}.key")
    if not isinstance(target, str) or target not in _COMPARE_TARGETS:
        raise InvalidRequest(f"{field}.target", f"must be one of {sorted(_COMPARE_TARGETS)}")
    if not isinstance(op, str) or op not in _COMPARE_OPS:
        raise InvalidRequest(f"{field}.op", f"must be one of {sorted(_COMPARE_OPS)}")
    if target == "value":
        check_value(operand, f"{field}.operand")
    else:
        _int(operand, f"{field}.operand")


def check_op(w: Any, field: str) -> None:
    if not isinstance(w, (list, tuple)) or not w:
        raise InvalidRequest(field, "must be a non-empty list")
    kind = w[0] if isinstance(w[0], str) else None
    if kind == "range":
        _, key, end, limit, keys_only, count_only = _check_list(w, field, 6)
        check_key(key, f"{field}.key")
        check_range_end(end, f"{field}.range_end")
        _int(limit, f"{field}.limit")
        _bool(keys_only, f"{field}.keys_only")
        _bool(count_only, f"{field}.count_only")
    elif kind == "put":
        _, key, value, lease, prev_kv = _check_list(w, field, 5)
        check_key(key, f"{field}.key")
        check_value(value, f"{field}.value")
        _int(lease, f"{field}.lease")
        _bool(prev_kv, f"{field}.prev_kv")
    elif kind == "del":
        _, key, end, prev_kv = _check_list(w, field, 4)
        check_key(key, f"{field}.key")
        check_range_end(end, f"{field}.range_end")
        _bool(prev_kv, f"{field}.prev_kv")
    else:
        raise InvalidRequest(f"{field}[0]", f"unknown operation {kind!r} (range, put, del)")


def check_command(cmd: Any) -> dict[str, Any]:
    """Validate a decoded command; return it unchanged or raise InvalidRequest."""
    if not isinstance(cmd, dict):
        raise InvalidRequest("command", "must be a map")
    kind = cmd.get("t")
    if not isinstance(kind, str) or kind not in COMMAND_FIELDS:
        raise InvalidRequest("t", f"unknown command {kind!r}")
    unknown = set(cmd) - COMMAND_FIELDS[kind]
    if unknown:
        raise InvalidRequest(sorted(map(str, unknown))[0], f"unknown field for {kind}")
    rid = cmd.get("rid")
    if rid is not None and (not isinstance(rid, bytes) or len(rid) > 64):
        raise InvalidRequest("rid", "must be bytes of at most 64")
    if kind == "txn":
        total = 0
        for name in ("cmp", "ok", "fail"):
            items = cmd.get(name, [])
            if not isinstance(items, (list, tuple)):
                raise InvalidRequest(name, "must be a list")
            total += len(items)
            for i, item in enumerate(items):
                (check_compare if name == "cmp" else check_op)(item, f"{name}[{i}]")
        if total > MAX_TXN_OPS:
            raise InvalidRequest("txn", f"has {total} compares and ops, over the limit of {MAX_TXN_OPS}")
    elif kind == "grant":
        ttl = _int(cmd.get("ttl"), "ttl", 1)
        if ttl > MAX_LEASE_TTL:
            raise InvalidRequest("ttl", f"must be at most {MAX_LEASE_TTL} seconds")
        _int(cmd.get("id", 0), "id")
    elif kind in ("keepalive", "revoke"):
        _int(cmd.get("id"), "id", 1)
    elif kind == "expire":
        leases = cmd.get("leases")
        if not isinstance(leases, (list, tuple)):
            raise InvalidRequest("leases", "must be a list")
        for i, pair in enumerate(leases):
            lease_id, renewals = _check_list(pair, f"leases[{i}]", 2)
            _int(lease_id, f"leases[{i}].id", 1)
            _int(renewals, f"leases[{i}].renewals")
    elif kind == "compact":
        _int(cmd.get("rev"), "rev", 1)
    elif kind == "quota":
        _int(cmd.get("bytes"), "bytes", 1)
    elif kind == "batch":
        check_batch(cmd)
    return cmd


def check_batch(cmd: dict[str, Any]) -> None:
    """The batch's shape only: each command in it is checked (and fails alone) when it is applied."""
    cmds = cmd.get("cmds")
    if not isinstance(cmds, (list, tuple)) or not cmds:
        raise InvalidRequest("cmds", "must be a non-empty list")
    if len(cmds) > MAX_BATCH_COMMANDS:
        raise InvalidRequest("cmds", f"has {len(cmds)} commands, over the limit of {MAX_BATCH_COMMANDS}")
    for i, sub in enumerate(cmds):
        if isinstance(sub, dict) and sub.get("t") == "batch":
            raise InvalidRequest(f"cmds[{i}]", "a batch cannot hold a batch")
