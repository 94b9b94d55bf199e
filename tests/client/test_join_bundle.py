"""The sealed control-plane bundle opens only with the certificate key it was sealed with."""

from __future__ import annotations

import pytest

from raftkube.join_bundle import key_proof, new_certificate_key, seal, unseal


def test_bundle_round_trips_and_hides_its_contents() -> None:
    key = new_certificate_key()
    files = {"pki/ca.key": b"-----BEGIN PRIVATE KEY-----secret", "cluster-secret": b"s3cr3t-value"}
    sealed = seal(key, files)
    assert b"s3cr3t" not in sealed.encode() and "s3cr3t" not in sealed
    assert unseal(key, sealed) == files


def test_another_key_or_a_changed_byte_does_not_open_it() -> None:
    key = new_certificate_key()
    sealed = seal(key, {"a": b"b"})
    with pytest.raises(ValueError, match="does not open"):
        unseal(new_certificate_key(), sealed)
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(ValueError, match="does not open"):
        unseal(key, tampered)


def test_malformed_keys_are_named_and_proofs_differ_per_key() -> None:
    with pytest.raises(ValueError, match="--certificate-key"):
        seal("abc", {})
    one, two = new_certificate_key(), new_certificate_key()
    assert key_proof(one) == key_proof(one) != key_proof(two)
    assert one not in key_proof(one)
