"""Bearer-token authentication from a static token file (Kubernetes' format).

Each line: `token,user,uid[,"group1,group2"]`. Requests without a known token are refused
with 401, except the health endpoints and /version. TLS is the server's (uvicorn's) job;
this layer only maps a token to a user.
"""

from __future__ import annotations

import csv
import hmac
from dataclasses import dataclass

# (and the public CA, which a joining machine checks against the hash it was given: raftkube/api/join.py)
ANONYMOUS_PATHS = ("/healthz", "/livez", "/readyz", "/version", "/raftkube/v1/cluster-ca")


@dataclass(frozen=True)
class User:
    name: str
    uid: str
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (key, values): what impersonation's Extra headers give

    def extra_map(self) -> dict[str, list[str]]:
        return {key: list(values) for key, values in self.extra}


class TokenAuthenticator:
    def __init__(self, tokens: dict[str, User]) -> None:
        self._tokens = tokens

    @classmethod
    def from_file(cls, path: str) -> TokenAuthenticator:
        tokens: dict[str, User] = {}
        with open(path, newline="") as f:
            for row in csv.reader(f):
                if not row or row[0].startswith("#"):
                    continue
                if len(row) < 3:
                    raise ValueError(f"{path}: each line needs token,user,uid")
                groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                tokens[row[0].strip()] = User(row[1].strip(), row[2].strip(), groups)
        return cls(tokens)

    def authenticate(self, authorization: str | None) -> User | None:
        given = bearer_token(authorization)
        if given is None:
            return None
        for token, user in self._tokens.items():
            if hmac.compare_digest(token.encode(), given.encode()):
                return user
        return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive, as RFC 7235
    says and Kubernetes accepts: the official Python client's in-cluster config sends `bearer`)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def is_anonymous_path(path: str) -> bool:
    return path in ANONYMOUS_PATHS or path.startswith(tuple(p + "/" for p in ANONYMOUS_PATHS))
