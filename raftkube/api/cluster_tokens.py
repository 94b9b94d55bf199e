"""Tokens kept in the cluster itself: kubeadm's bootstrap tokens and the nodes' own tokens.

Both live as Secrets in kube-system, so every API server knows them as soon as they are
written, and deleting the Secret revokes the token on every server:

- bootstrap tokens, exactly as Kubernetes/kubeadm store them: `bootstrap-token-<id>`, type
  `bootstrap.kubernetes.io/token`, data `token-id`, `token-secret`, `expiration` (RFC 3339),
  `usage-bootstrap-authentication`, `auth-extra-groups`. The token `<id>.<secret>` (6 + 16
  characters of [a-z0-9]) authenticates as `system:bootstrap:<id>` in `system:bootstrappers`
  until it expires; it is good for one thing, joining (raftkube/api/join.py).
- node tokens, issued when a worker joins: `node-token-<node>`, type `raftkube.io/node-token`,
  holding only the SHA-256 of the token; it authenticates as `system:node:<node>` in
  `system:nodes`, as a kubelet's client certificate does in Kubernetes.

`ClusterTokenAuthenticator` keeps an in-memory index of those Secrets, listed once and then
kept current by a watch from the list's revision (re-listed after a break), so a request is
authenticated without a store round trip.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import string
import time
from typing import Any

from ..machinery.times import rfc3339
from .auth import User, bearer_token
from .resources import find
from .storage import ObjectStorage

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NAMESPACE = "kube-system"
BOOTSTRAP_TYPE = "bootstrap.kubernetes.io/token"
NODE_TOKEN_TYPE = "raftkube.io/node-token"
BOOTSTRAPPERS = "system:bootstrappers"
NODES = "system:nodes"
BOOTSTRAP_TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
NODE_TOKEN_PREFIX = "rkn_"
SECRETS = find("", "v1", "secrets")
_ALPHABET = string.ascii_lowercase + string.digits


def new_bootstrap_token() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(6)) + "." + \
        "".join(secrets.choice(_ALPHABET) for _ in range(16))


def new_node_token() -> str:
    return NODE_TOKEN_PREFIX + secrets.token_urlsafe(32)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(data: Obj, key: str) -> str:
    try:
        return base64.b64decode(data.get(key) or "").decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def expiration_after(ttl: dt.timedelta) -> str:
    return rfc3339(time.time() + ttl.total_seconds())


def bootstrap_token_secret(token: str, expiration: str | None, description: str = "") -> Obj:
    """kubeadm's Secret for `token`; `expiration` RFC 3339 (None: never expires)."""
    match = BOOTSTRAP_TOKEN.match(token)
    if match is None:
        raise ValueError("a bootstrap token is [a-z0-9]{6}.[a-z0-9]{16}")
    token_id, token_secret = match.groups()
    data = {"token-id": token_id, "token-secret": token_secret, "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true", "auth-extra-groups": "system:bootstrappers:raftkube:default-node-token"}
    if expiration is not None:
        data["expiration"] = expiration
    if description:
        data["description"] = description
    return {"apiVersion": "v1", "kind": "Secret", "type": BOOTSTRAP_TYPE,
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": NAMESPACE},
            "data": {k: _b64(v) for k, v in data.items()}}


def node_token_secret(node: str, token: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "type": NODE_TOKEN_TYPE,
            "metadata": {"name": f"node-token-{node}", "namespace": NAMESPACE},
            "data": {"node-name": _b64(node), "token-sha256": _b64(token_hash(token))}}


def expired(expiration: str) -> bool:
    if not expiration:
        return False
    try:
        when = dt.datetime.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return True  # an expiration we cannot read: treat the token as expired (fail closed)
    return dt.datetime.now(dt.UTC) >= when


class ClusterTokenAuthenticator:
    """Bootstrap and node tokens from kube-system Secrets, kept current by a watch."""

    def __init__(self, storage: ObjectStorage) -> None:
        self.storage = storage
        self._bootstrap: dict[str, tuple[str, str, tuple[str, ...]]] = {}  # id -> (secret, expiration, groups)
        self._nodes: dict[str, str] = {}  # sha256(token) -> node name
        self._by_secret: dict[str, tuple[str, str]] = {}  # secret name -> ("bootstrap", id) | ("node", hash)
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def authenticate(self, authorization: str | None) -> User | None:
        given = bearer_token(authorization)
        if given is None:
            return None
        match = BOOTSTRAP_TOKEN.match(given)
        if match is not None:
            entry = self._bootstrap.get(match.group(1))
            if entry is None or not hmac.compare_digest(entry[0].encode(), match.group(2).encode()):
                return None
            if expired(entry[1]):
                return None
            return User(f"system:bootstrap:{match.group(1)}", "", (BOOTSTRAPPERS, *entry[2]))
        if given.startswith(NODE_TOKEN_PREFIX):
            node = self._nodes.get(token_hash(given))
            if node is not None:
                return User(f"system:node:{node}", "", (NODES,))
        return None

    # ----------------------------------------------------------------- index
    def _forget(self, name: str) -> None:
        kind_key = self._by_secret.pop(name, None)
        if kind_key is None:
            return
        kind, key = kind_key
        (self._bootstrap if kind == "bootstrap" else self._nodes).pop(key, None)

    def _index(self, secret: Obj) -> None:
        name = secret["metadata"]["name"]
        self._forget(name)
        data = secret.get("data") or {}
        if secret.get("type") == BOOTSTRAP_TYPE and _unb64(data, "usage-bootstrap-authentication") == "true":
            token_id = _unb64(data, "token-id")
            if name != f"bootstrap-token-{token_id}":
                return  # as Kubernetes: the name must carry the id
            extra = _unb64(data, "auth-extra-groups").split(",")
            groups = tuple(g for g in extra if g.startswith("system:bootstrappers:"))  # as Kubernetes allows
            self._bootstrap[token_id] = (_unb64(data, "token-secret"), _unb64(data, "expiration"), groups)
            self._by_secret[name] = ("bootstrap", token_id)
        elif secret.get("type") == NODE_TOKEN_TYPE:
            node, digest = _unb64(data, "node-name"), _unb64(data, "token-sha256")
            if node and digest and name == f"node-token-{node}":
                self._nodes[digest] = node
                self._by_secret[name] = ("node", digest)

    async def _run(self) -> None:
        assert SECRETS is not None
        while True:
            try:
                listing = await self.storage.list(SECRETS, NAMESPACE, serializable=True)
                fresh = ClusterTokenAuthenticator(self.storage)  # built aside, swapped in whole: no gap
                for secret in listing.items:
                    fresh._index(secret)
                self._bootstrap, self._nodes, self._by_secret = fresh._bootstrap, fresh._nodes, fresh._by_secret
                self.synced.set()
                async for event in self.storage.watch(SECRETS, NAMESPACE, listing.resource_version + 1):
                    if event.type in ("ADDED", "MODIFIED") and event.object is not None:
                        self._index(event.object)
                    elif event.type == "DELETED" and event.object is not None:
                        self._forget(event.object["metadata"]["name"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store may be electing, or the watch was compacted: list again
                log.info("cluster tokens: relisting after %s", exc)
            await asyncio.sleep(0.5)


class ChainAuthenticator:
    """The first authenticator that knows the token decides (static tokens first)."""

    def __init__(self, *authenticators: Any) -> None:
        self.authenticators = authenticators

    def authenticate(self, authorization: str | None) -> User | None:
        for authenticator in self.authenticators:
            user = authenticator.authenticate(authorization)
            if user is not None:
                return user
        return None
