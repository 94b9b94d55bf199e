"""Secrets encrypted at rest, as Kubernetes' EncryptionConfiguration (apiserver.config.k8s.io/v1).

`EncryptionConfig.load(path)` reads `--encryption-provider-config`: per list of resources
(`secrets`, `configmaps`, `deployments.apps`, `*.apps`, `*.*`; the first entry that names a
resource wins) a list of providers, `aesgcm` (keys: name + base64 of 16, 24 or 32 bytes) or
`identity`. The first provider encrypts new writes; every listed provider decrypts, so keys can
be rotated (put the new key first, keep the old one second) and values written before
encryption was turned on stay readable while `identity` is listed. A stored value carries
Kubernetes' prefix `k8s:enc:aesgcm:v1:<keyname>:` then a random 12-byte nonce and the AES-GCM
ciphertext; the object's storage key is the associated data, so a ciphertext moved to another key
fails to decrypt. Encryption happens in the API server (api/storage.py), never inside the Raft
state machine, so replicas apply identical bytes.

Re-encrypting after a rotation is Kubernetes' `kubectl get secrets -A -o json | kubectl replace -f -`:
a value read with anything but the first provider/key is *stale*, and an update of a stale
object is written even when nothing in it changed (api/writes.py), with the first key.
`write_encryption_config(path)` writes a new configuration with one random key (0600).
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from typing import Any

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..secure_files import write_private

ENCRYPTED_PREFIX = b"k8s:enc:"
AESGCM_PREFIX = "k8s:enc:aesgcm:v1:"
NONCE_BYTES = 12
API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"


class EncryptionConfigError(ValueError):
    """A malformed configuration; the message names the file and the field."""


class DecryptError(Exception):
    """A stored value that no listed provider can read (unknown key, tampered, not encrypted)."""


@dataclass(frozen=True)
class AesGcmKey:
    name: str
    aead: AESGCM

    @property
    def prefix(self) -> bytes:
        return f"{AESGCM_PREFIX}{self.name}:".encode()


@dataclass(frozen=True)
class Provider:
    """`identity` (keys empty) or `aesgcm` with its keys, the first of which encrypts."""

    kind: str
    keys: tuple[AesGcmKey, ...] = ()

    def encrypt(self, data: bytes, key: bytes) -> bytes:
        if self.kind == "identity":
            return data
        first = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        return first.prefix + nonce + first.aead.encrypt(nonce, data, key)

    def decrypt(self, value: bytes, key: bytes) -> tuple[bytes, bool] | None:
        """(plaintext, read with this provider's first key) or None if the value is not this provider's."""
        if self.kind == "identity":
            return None if value.startswith(ENCRYPTED_PREFIX) else (value, True)
        for index, candidate in enumerate(self.keys):
            if value.startswith(candidate.prefix):
                body = value[len(candidate.prefix):]
                try:
                    return candidate.aead.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], key), index == 0
                except (InvalidTag, ValueError):
                    raise DecryptError(f"aesgcm key {candidate.name!r}: message authentication failed") from None
        return None


IDENTITY = Provider("identity")


@dataclass(frozen=True)
class Transformer:
    """The providers of one resource: the first writes, all read."""

    providers: tuple[Provider, ...] = (IDENTITY,)

    @property
    def plaintext_only(self) -> bool:
        return self.providers == (IDENTITY,)

    def to_storage(self, data: bytes, key: bytes) -> bytes:
        return self.providers[0].encrypt(data, key)

    def from_storage(self, value: bytes, key: bytes) -> tuple[bytes, bool]:
        """(plaintext, stale): stale when not written by the first provider's first key."""
        for index, provider in enumerate(self.providers):
            found = provider.decrypt(value, key)
            if found is not None:
                data, primary_key = found
                return data, not (index == 0 and primary_key)
        if value.startswith(ENCRYPTED_PREFIX):
            stored = value[:64].split(b":")
            label = b":".join(stored[2:5]).decode(errors="replace")
            raise DecryptError(f"stored encrypted ({label}) but no configured provider has that key")
        raise DecryptError("stored in plaintext but the identity provider is not listed")


PLAINTEXT = Transformer()


@dataclass
class EncryptionConfig:
    """resource patterns -> transformer, in the file's order."""

    entries: list[tuple[tuple[str, ...], Transformer]] = field(default_factory=list)

    def for_resource(self, group_resource: str) -> Transformer:
        group = group_resource.partition(".")[2]
        for patterns, transformer in self.entries:
            for pattern in patterns:
                if pattern in (group_resource, "*.*") or pattern == f"*.{group}":
                    return transformer
        return PLAINTEXT

    @classmethod
    def load(cls, path: str) -> EncryptionConfig:
        try:
            with open(path) as f:
                doc = yaml.safe_load(f)
        except OSError as err:
            raise EncryptionConfigError(f"{path}: {err.strerror}") from None
        except yaml.YAMLError as err:
            raise EncryptionConfigError(f"{path}: not YAML: {err}") from None
        try:
            return cls.parse(doc)
        except EncryptionConfigError as err:
            raise EncryptionConfigError(f"{path}: {err}") from None

    @classmethod
    def parse(cls, doc: Any) -> EncryptionConfig:
        if not isinstance(doc, dict):
            raise EncryptionConfigError("the file must hold an EncryptionConfiguration object")
        if doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
            raise EncryptionConfigError(f"apiVersion/kind: must be {API_VERSION} {KIND}, "
                                        f"not {doc.get('apiVersion')} {doc.get('kind')}")
        resources = doc.get("resources")
        if not isinstance(resources, list) or not resources:
            raise EncryptionConfigError("resources: must be a non-empty list")
        return cls([_parse_entry(entry, f"resources[{i}]") for i, entry in enumerate(resources)])


def _parse_entry(entry: Any, path: str) -> tuple[tuple[str, ...], Transformer]:
    if not isinstance(entry, dict):
        raise EncryptionConfigError(f"{path}: must be an object with resources and providers")
    names = entry.get("resources")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise EncryptionConfigError(f"{path}.resources: must be a non-empty list of resource names")
    providers = entry.get("providers")
    if not isinstance(providers, list) or not providers:
        raise EncryptionConfigError(f"{path}.providers: must be a non-empty list")
    return tuple(names), Transformer(tuple(_parse_provider(p, f"{path}.providers[{i}]")
                                           for i, p in enumerate(providers)))


def _parse_provider(item: Any, path: str) -> Provider:
    if not isinstance(item, dict) or len(item) != 1:
        raise EncryptionConfigError(f"{path}: must name exactly one provider (aesgcm or identity)")
    [(kind, body)] = item.items()
    if kind == "identity":
        return IDENTITY
    if kind != "aesgcm":
        raise EncryptionConfigError(f"{path}: provider {kind!r} is not supported (use aesgcm or identity)")
    keys = (body or {}).get("keys") if isinstance(body, dict | None) else None
    if not isinstance(keys, list) or not keys:
        raise EncryptionConfigError(f"{path}.aesgcm.keys: must be a non-empty list")
    parsed: list[AesGcmKey] = []
    for i, key in enumerate(keys):
        kpath = f"{path}.aesgcm.keys[{i}]"
        name = key.get("name") if isinstance(key, dict) else None
        if not isinstance(name, str) or not name or ":" in name:
            raise EncryptionConfigError(f"{kpath}.name: required, without ':'")
        if name in {k.name for k in parsed}:
            raise EncryptionConfigError(f"{kpath}.name: duplicate key name {name!r}")
        secret = key.get("secret")
        try:
            raw = base64.b64decode(str(secret), validate=True) if isinstance(secret, str) else b""
        except (binascii.Error, ValueError):
            raise EncryptionConfigError(f"{kpath}.secret: must be base64") from None
        if len(raw) not in (16, 24, 32):
            raise EncryptionConfigError(f"{kpath}.secret: must be the base64 of 16, 24 or 32 bytes, "
                                        f"not {len(raw)}")
        parsed.append(AesGcmKey(name, AESGCM(raw)))
    return Provider("aesgcm", tuple(parsed))


def new_encryption_config(key_name: str = "key1") -> str:
    """YAML of a configuration encrypting Secrets with one new random AES-256-GCM key."""
    secret = base64.b64encode(os.urandom(32)).decode()
    doc = {"apiVersion": API_VERSION, "kind": KIND,
           "resources": [{"resources": ["secrets"],
                          "providers": [{"aesgcm": {"keys": [{"name": key_name, "secret": secret}]}},
                                        {"identity": {}}]}]}
    return yaml.safe_dump(doc, sort_keys=False)


def write_encryption_config(path: str) -> str:
    """Write a new configuration (one random key) to `path`, 0600 from creation."""
    return write_private(path, new_encryption_config())
