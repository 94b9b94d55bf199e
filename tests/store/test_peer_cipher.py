"""The peer message cipher: round trips between processes, refuses tampering and strangers, never reuses a nonce."""

from __future__ import annotations

import pysyncobj.syncobj as syncobj_module
import pytest
from cryptography.exceptions import InvalidTag

import raftkube.store.raft_node  # noqa: F401 (installs the cipher)
from raftkube.store.peer_cipher import PeerCipher


def test_messages_round_trip_between_two_replicas_of_one_secret() -> None:
    a, b = PeerCipher("secret"), PeerCipher("secret")
    for ts, data in ((7, b""), (8, b"x" * 10_000), (8, bytes(range(256)))):
        token = a.encrypt_at_time(data, ts)
        assert data not in token or not data
        assert b.extract_timestamp(token) == ts
        assert b.decrypt(token) == data
        assert a.decrypt(token) == data  # a node also reads its own messages (the key id is its own)


def test_tampering_a_wrong_secret_and_short_tokens_are_refused() -> None:
    a, b, stranger = PeerCipher("secret"), PeerCipher("secret"), PeerCipher("other")
    token = a.encrypt_at_time(b"append entries", 5)
    for i in (0, 10, 30, len(token) - 1):  # timestamp, key id, nonce, tag
        bad = bytearray(token)
        bad[i] ^= 1
        with pytest.raises(InvalidTag):
            b.decrypt(bytes(bad))
    with pytest.raises(InvalidTag):
        stranger.decrypt(token)
    with pytest.raises(ValueError):
        b.extract_timestamp(token[:40])
    with pytest.raises(ValueError):
        b.decrypt(token[:40])


def test_nonces_never_repeat_within_a_process_and_key_ids_differ_between_processes() -> None:
    a, b = PeerCipher("secret"), PeerCipher("secret")
    tokens = [a.encrypt_at_time(b"same", 1) for _ in range(1000)]
    assert len({t[24:36] for t in tokens}) == 1000
    assert len({t for t in tokens}) == 1000
    assert a.encrypt_at_time(b"", 1)[8:24] != b.encrypt_at_time(b"", 1)[8:24]


def test_pysyncobj_builds_this_cipher_for_a_cluster_secret() -> None:
    """(tests/store/test_replica.py runs three replicas with a secret over it.)"""
    assert syncobj_module.getEncryptor is PeerCipher
