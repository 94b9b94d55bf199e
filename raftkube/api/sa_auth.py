"""The service-account token authenticator: signed, unexpired, for this API, and still bound to live objects.

A bound token (raftkube/api/sa_jwt.py) authenticates as `system:serviceaccount:<ns>:<name>` in the
groups `system:serviceaccounts`, `system:serviceaccounts:<ns>` (and `system:authenticated`, which
`Attributes.groups` adds) only while its ServiceAccount and its bound Pod or Secret exist with the
uids it names: deleting either revokes it on every API server, as in Kubernetes.

`UidIndex` keeps (namespace, name) -> uid of one resource in memory: listed once, then kept current
by a watch from the list's revision (listed again after a break), like ClusterTokenAuthenticator.
Until every index has synced, no service-account token is accepted (fail closed).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .auth import User, bearer_token
from .resources import Resource, find
from .sa_jwt import Claims, TokenVerifier
from .storage import ObjectStorage

log = logging.getLogger(__name__)
SERVICEACCOUNTS_GROUP = "system:serviceaccounts"


def service_account_user(namespace: str, name: str, uid: str = "") -> User:
    return User(f"system:serviceaccount:{namespace}:{name}", uid,
                (SERVICEACCOUNTS_GROUP, f"{SERVICEACCOUNTS_GROUP}:{namespace}"))


class UidIndex:
    """(namespace, name) -> uid for every object of one resource, kept current by a watch."""

    def __init__(self, storage: ObjectStorage, resource: Resource) -> None:
        self.storage, self.resource = storage, resource
        self.uids: dict[tuple[str, str], str] = {}
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def uid(self, namespace: str, name: str) -> str | None:
        return self.uids.get((namespace, name))

    @staticmethod
    def _key(obj: dict[str, Any]) -> tuple[str, str]:
        meta = obj["metadata"]
        return meta.get("namespace") or "", meta["name"]

    async def _run(self) -> None:
        while True:
            try:
                listing = await self.storage.list(self.resource, None, serializable=True)
                self.uids = {self._key(o): o["metadata"].get("uid", "") for o in listing.items}
                self.synced.set()
                async for event in self.storage.watch(self.resource, None, listing.resource_version + 1):
                    if event.object is None:
                        continue
                    if event.type in ("ADDED", "MODIFIED"):
                        self.uids[self._key(event.object)] = event.object["metadata"].get("uid", "")
                    elif event.type == "DELETED":
                        self.uids.pop(self._key(event.object), None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store may be electing, or the watch was compacted: list again
                log.info("%s index: relisting after %s", self.resource.plural, exc)
            await asyncio.sleep(0.5)


class ServiceAccountTokenAuthenticator:
    def __init__(self, storage: ObjectStorage, verifier: TokenVerifier) -> None:
        self.verifier = verifier
        resources = {plural: find("", "v1", plural) for plural in ("serviceaccounts", "pods", "secrets")}
        self.indexes = {plural: UidIndex(storage, r) for plural, r in resources.items() if r is not None}

    def start(self) -> None:
        for index in self.indexes.values():
            index.start()

    async def stop(self) -> None:
        for index in self.indexes.values():
            await index.stop()

    async def wait_synced(self) -> None:
        await asyncio.gather(*(index.synced.wait() for index in self.indexes.values()))

    def authenticate(self, authorization: str | None) -> User | None:
        token = bearer_token(authorization)
        claims = self.verifier.verify(token) if token is not None else None
        if claims is None:
            return None
        return self.user_for(claims)

    def user_for(self, claims: Claims) -> User | None:
        """The user of verified claims, if the objects they name still exist (None: unknown or revoked)."""
        if not all(index.synced.is_set() for index in self.indexes.values()):
            return None
        private = claims["kubernetes.io"]
        namespace, account = private.get("namespace"), private.get("serviceaccount") or {}
        name, uid = account.get("name"), account.get("uid")
        if not (isinstance(namespace, str) and isinstance(name, str) and uid):
            return None
        if claims.get("sub") != f"system:serviceaccount:{namespace}:{name}":
            return None
        if self.indexes["serviceaccounts"].uid(namespace, name) != uid:
            return None
        for kind, plural in (("pod", "pods"), ("secret", "secrets")):
            bound = private.get(kind)
            if bound is None:
                continue
            if not isinstance(bound, dict) or not bound.get("uid") or \
                    self.indexes[plural].uid(namespace, str(bound.get("name"))) != bound["uid"]:
                return None
        return service_account_user(namespace, name, str(uid))
