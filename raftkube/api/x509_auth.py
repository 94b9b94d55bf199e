"""Client-certificate authentication (kube-apiserver's `--client-ca-file`).

TLS does the verifying: with a client CA the API port asks every client for a certificate
(optional: token clients send none) and the handshake fails for one that CA did not sign, is
expired, or is not for client authentication. What reaches the app is a verified chain, in the
ASGI TLS extension (`scope["extensions"]["tls"]["client_cert_chain"]`, PEM, put there by the
connection protocol, raftkube/api/connection_guard.py). As in Kubernetes the subject's common
name is the user and each organization a group (`O=system:masters` is an admin), so a
kubeconfig with `client-certificate`/`client-key` works as kubectl expects.
"""

from __future__ import annotations

import ssl
from collections.abc import MutableMapping
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from .auth import User

TLS_EXTENSION = "tls"


def peer_chain(transport: Any) -> list[str]:
    """The client's verified certificate as PEM (a one-element chain), or [] without one."""
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return []
    der = ssl_object.getpeercert(binary_form=True)
    return [ssl.DER_cert_to_PEM_cert(der)] if der else []


def add_to_scope(scope: MutableMapping[str, Any], chain: list[str]) -> None:
    if chain:
        scope.setdefault("extensions", {})[TLS_EXTENSION] = {"client_cert_chain": chain}


def client_certificate_user(scope: MutableMapping[str, Any]) -> User | None:
    chain = ((scope.get("extensions") or {}).get(TLS_EXTENSION) or {}).get("client_cert_chain") or []
    if not chain:
        return None
    cert = x509.load_pem_x509_certificate(chain[0].encode())
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names or not str(names[0].value):
        return None  # Kubernetes refuses a client certificate without a common name
    groups = tuple(str(o.value) for o in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return User(str(names[0].value), "", groups)
