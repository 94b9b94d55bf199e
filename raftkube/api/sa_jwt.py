"""Service-account tokens as Kubernetes makes them: ES256 JWTs signed with the cluster's `sa.key`.

Claims (as kube-apiserver's bound tokens): `iss` (the issuer, by default
https://kubernetes.default.svc.cluster.local), `sub` system:serviceaccount:<ns>:<name>, `aud`
(a list), `exp`, `iat`, `nbf`, `jti`, and `kubernetes.io` {namespace, serviceaccount {name, uid},
and the bound object: pod {name, uid} or secret {name, uid}}. The header's `kid` is the
base64url SHA-256 of the public key's DER form, as Kubernetes computes it.

`TokenSigner` signs; `TokenVerifier` checks signature, issuer, audience and time (exp, nbf with
a little leeway for clocks) and returns the claims, or None for anything else.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
ALGORITHM = "ES256"
LEEWAY = 60  # seconds of clock difference accepted on nbf/exp
Claims = dict[str, Any]


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def load_signing_key(path: str) -> ec.EllipticCurvePrivateKey:
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: the service-account signing key must be an EC (P-256) private key")
    return key


@dataclass(frozen=True)
class BoundObject:
    kind: str  # "Pod" or "Secret"
    name: str
    uid: str


class TokenSigner:
    def __init__(self, key: ec.EllipticCurvePrivateKey, issuer: str = DEFAULT_ISSUER) -> None:
        self.key, self.issuer = key, issuer
        self.kid = key_id(key.public_key())

    def sign(self, namespace: str, name: str, uid: str, audiences: list[str], expiration_seconds: int,
             bound: BoundObject | None = None, now: float | None = None) -> tuple[str, int]:
        """(token, exp in seconds since the epoch)."""
        issued = int(now if now is not None else time.time())
        expires = issued + expiration_seconds
        private: Claims = {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}
        if bound is not None:
            private[bound.kind.lower()] = {"name": bound.name, "uid": bound.uid}
        claims = {"aud": list(audiences), "exp": expires, "iat": issued, "nbf": issued, "iss": self.issuer,
                  "jti": str(uuid.uuid4()), "sub": f"system:serviceaccount:{namespace}:{name}",
                  "kubernetes.io": private}
        return jwt.encode(claims, self.key, algorithm=ALGORITHM, headers={"kid": self.kid}), expires


class TokenVerifier:
    def __init__(self, public_key: ec.EllipticCurvePublicKey, issuer: str = DEFAULT_ISSUER,
                 audiences: list[str] | None = None) -> None:
        self.public_key, self.issuer = public_key, issuer
        self.audiences = list(audiences or [issuer])

    def verify(self, token: str) -> Claims | None:
        if token.count(".") != 2:
            return None
        try:
            claims: Claims = jwt.decode(token, self.public_key, algorithms=[ALGORITHM], audience=self.audiences,
                                        issuer=self.issuer, leeway=LEEWAY,
                                        options={"require": ["exp", "iat", "nbf", "iss", "sub", "aud"]})
        except jwt.PyJWTError:
            return None
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict) or not isinstance(private.get("serviceaccount"), dict):
            return None
        return claims
