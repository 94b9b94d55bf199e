"""Bad input is refused with InvalidRequest naming the field, before it reaches the log."""

from __future__ import annotations

from typing import Any

import pytest

from raftkube.store.errors import InvalidRequest
from raftkube.store.validation import MAX_KEY_BYTES, MAX_TXN_OPS, MAX_VALUE_BYTES, check_command


@pytest.mark.parametrize(("cmd", "field"), [
    ("not a map", "command"),
    ({"t": "drop-database"}, "t"),
    ({"t": "txn", "surprise": 1}, "surprise"),
    ({"t": "txn", "ok": [["put", "text-key", b"v", 0, False]]}, "ok[0].key"),
    ({"t": "txn", "ok": [["put", b"", b"v", 0, False]]}, "ok[0].key"),
    ({"t": "txn", "ok": [["put", b"k" * (MAX_KEY_BYTES + 1), b"v", 0, False]]}, "ok[0].key"),
    ({"t": "txn", "ok": [["put", b"k", b"v" * (MAX_VALUE_BYTES + 1), 0, False]]}, "ok[0].value"),
    ({"t": "txn", "ok": [["put", b"k", b"v", "7", False]]}, "ok[0].lease"),
    ({"t": "txn", "ok": [["put", b"k", b"v", 0, "yes"]]}, "ok[0].prev_kv"),
    ({"t": "txn", "ok": [["put", b"k", b"v"]]}, "ok[0]"),
    ({"t": "txn", "fail": [["truncate", b"k"]]}, "fail[0][0]"),
    ({"t": "txn", "ok": [["range", b"k", b"", -1, False, False]]}, "ok[0].limit"),
    ({"t": "txn", "cmp": [["cmp", b"k", "colour", "=", 1]]}, "cmp[0].target"),
    ({"t": "txn", "cmp": [["cmp", b"k", "mod", "~", 1]]}, "cmp[0].op"),
    ({"t": "txn", "cmp": [["cmp", b"k", "value", "=", 1]]}, "cmp[0].operand"),
    ({"t": "txn", "ok": [["del", b"k", b"", False]] * (MAX_TXN_OPS + 1)}, "txn"),
    ({"t": "grant", "ttl": 0}, "ttl"),
    ({"t": "grant", "ttl": True}, "ttl"),
    ({"t": "keepalive", "id": "1"}, "id"),
    ({"t": "compact", "rev": 0}, "rev"),
    ({"t": "txn", "rid": "not-bytes"}, "rid"),
])
def test_bad_commands_name_the_field(cmd: Any, field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_command(cmd)
    assert info.value.field == field
    assert field in str(info.value)


def test_good_commands_pass() -> None:
    for cmd in ({"t": "txn", "cmp": [["cmp", b"k", "mod", "=", 0]], "ok": [["put", b"k", b"v", 0, False]]},
                {"t": "txn", "ok": [["put", b"k", b"v" * MAX_VALUE_BYTES, 0, True]]},
                {"t": "grant", "ttl": 5, "id": 0}, {"t": "expire", "leases": [[1, 0]]}, {"t": "noop"}):
        assert check_command(cmd) is cmd
