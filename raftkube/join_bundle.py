"""The control-plane bundle a joining replica receives: the cluster's shared secrets, sealed.

A control-plane machine needs what every replica shares: the CA (certificate and key, to
issue its own serving certificate), the Raft cluster secret, the store port's token, the
static tokens and the encryption-at-rest configuration. As kubeadm's `--certificate-key`,
`raftkube init` makes a random 32-byte certificate key, printed once in the control-plane
join command; the bundle travels sealed with AES-256-GCM under a key derived from it, so a
bootstrap token alone (what workers get) never reveals it. `key_proof` lets the joiner show
the server it holds the certificate key without sending it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"raftkube control-plane bundle v1"
_NONCE = 12


def new_certificate_key() -> str:
    return secrets.token_hex(32)


def _parse_key(certificate_key: str) -> bytes:
    try:
        raw = bytes.fromhex(certificate_key.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError("--certificate-key must be 64 hexadecimal characters (as `raftkube init` printed it)")
    return raw


def _aead(certificate_key: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return AESGCM(hkdf.derive(_parse_key(certificate_key)))


def key_proof(certificate_key: str) -> str:
    """A value the server can compare with its own, derived one way from the key."""
    return hashlib.sha256(b"raftkube certificate key proof\0" + _parse_key(certificate_key)).hexdigest()


def seal(certificate_key: str, files: dict[str, bytes]) -> str:
    payload = json.dumps({name: base64.b64encode(data).decode() for name, data in sorted(files.items())}).encode()
    nonce = os.urandom(_NONCE)
    return base64.b64encode(nonce + _aead(certificate_key).encrypt(nonce, payload, _INFO)).decode()


def unseal(certificate_key: str, sealed: str) -> dict[str, bytes]:
    from cryptography.exceptions import InvalidTag

    raw = base64.b64decode(sealed)
    try:
        payload = _aead(certificate_key).decrypt(raw[:_NONCE], raw[_NONCE:], _INFO)
    except InvalidTag:
        raise ValueError("the control-plane bundle does not open with this --certificate-key") from None
    return {name: base64.b64decode(data) for name, data in json.loads(payload).items()}
