"""Kubernetes objects in the replicated store: keys, encoding, compare-and-swap, watch mapping.

An object lives at `/registry/<group>/<resource>/<namespace>/<name>` as compact JSON without
its resourceVersion; on the way out its resourceVersion is the key's `mod_revision`, and a
list's is the store revision it was read at. Creates compare `create_revision == 0`, updates
and deletes compare `mod_revision` with the version the caller read: every write is a
compare-and-swap (on revisions, never on values: an encrypted value changes on every write).
Custom resources are stored in their CRD's storage version and read in the version asked for.
Values of resources the EncryptionConfiguration covers are encrypted here (api/encryption.py),
on the way in, and decrypted on the way out (get, list, watch). `Extras` lets a write carry
more compares and ops in the same transaction (e.g. a Service and the ClusterIP it allocates
are written together or not at all).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..store import (
    Compare,
    DeleteOp,
    InvalidRequest,
    KeyValue,
    OutcomeUnknown,
    PutOp,
    RangeOp,
    StoreClient,
    StoreError,
    Unavailable,
    ValueTooLarge,
    prefix_end,
)
from ..store.errors import CompactedError, NoSpace, WatchCancelled
from . import conversion
from .crd.resource import CustomResource
from .encryption import PLAINTEXT, DecryptError, EncryptionConfig, Transformer
from .errors import (
    APIError,
    already_exists,
    bad_request,
    conflict,
    gone,
    insufficient_storage,
    internal,
    not_found,
    timeout,
    unavailable,
)
from .resources import Resource
from .selectors import FieldSelector, LabelSelector

Obj = dict[str, Any]
LIST_CHUNK = 500


@dataclass
class Extras:
    compares: list[Compare] = field(default_factory=list)
    ops: list[PutOp | DeleteOp] = field(default_factory=list)


@dataclass
class ListResult:
    items: list[Obj]
    resource_version: int
    continue_token: str = ""


@dataclass
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: Obj | None
    old: Obj | None
    revision: int


def encode(obj: Obj) -> bytes:
    meta = obj.get("metadata", {})
    if "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return json.dumps(obj, separators=(",", ":"), sort_keys=False).encode()


def decode(kv: KeyValue, revision: int | None = None, transformer: Transformer = PLAINTEXT) -> Obj:
    value = kv.value
    if not transformer.plaintext_only or value.startswith(b"k8s:enc:"):
        try:
            value, _stale = transformer.from_storage(value, kv.key)
        except DecryptError as err:
            raise internal(f"unable to transform key {kv.key.decode(errors='replace')!r}: {err}") from None
    obj = json.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision if revision is not None else kv.mod_revision)
    return obj


def parse_resource_version(value: str | None, what: str = "resourceVersion") -> int | None:
    if value in (None, ""):
        return None
    try:
        rv = int(value)  # type: ignore[arg-type]
    except ValueError:
        raise bad_request(f"invalid {what} {value!r}: must be a decimal integer") from None
    if rv < 0:
        raise bad_request(f"invalid {what} {value!r}: must not be negative")
    return rv


def _translate(err: StoreError) -> APIError:
    if isinstance(err, Unavailable):
        return unavailable(f"the store has no quorum: {err.message}")
    if isinstance(err, OutcomeUnknown):
        return timeout(f"the write may still complete: {err.message}")
    if isinstance(err, CompactedError):
        return gone(f"too old resource version: {err.details.get('requested')} ({err.compact_revision}); "
                    "for a list, the continue token is too old: list again")
    if isinstance(err, ValueTooLarge):  # as kube-apiserver answers etcd's ErrRequestTooLarge
        return APIError(413, "RequestEntityTooLarge", f"etcdserver: request is too large: the object {err.message}")
    if isinstance(err, InvalidRequest):
        return bad_request(err.message)
    if isinstance(err, NoSpace):  # etcd's NOSPACE alarm (errors.insufficient_storage says why 507)
        return insufficient_storage(f"etcdserver: {err.message}")
    return internal(err.message)


def encode_continue(start: bytes, revision: int) -> str:
    raw = json.dumps({"start": base64.b64encode(start).decode(), "rv": revision}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_continue(token: str) -> tuple[bytes, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return base64.b64decode(data["start"]), int(data["rv"])
    except (ValueError, KeyError, TypeError):
        raise bad_request("invalid continue token") from None


class ObjectStorage:
    def __init__(self, store: StoreClient, encryption: EncryptionConfig | None = None) -> None:
        self.store = store
        self.encryption = encryption or EncryptionConfig()

    def transformer(self, resource: Resource) -> Transformer:
        return self.encryption.for_resource(resource.group_resource)

    def _encode(self, resource: Resource, key: bytes, obj: Obj) -> bytes:
        transformer = self.transformer(resource)
        if isinstance(resource, CustomResource):  # kept in the CRD's storage version
            obj = resource.to_storage(obj)
        data = encode(conversion.to_storage(resource.group, resource.version, resource.kind, obj))
        return data if transformer.plaintext_only else transformer.to_storage(data, key)

    def _decode(self, resource: Resource, kv: KeyValue, as_stored: bool = False) -> Obj:
        obj = decode(kv, transformer=self.transformer(resource))
        return obj if as_stored else self.served(resource, obj, shared=False)

    @staticmethod
    def served(resource: Resource, obj: Obj, shared: bool = True) -> Obj:
        """A stored object as `resource`'s version serves it (HPA v1 converted, a custom resource in the
        asked version with its schema's defaults as of now). `shared`: `obj` is the watch cache's, so a
        conversion works on a copy; an unconverted built-in is returned as it is."""
        if isinstance(resource, CustomResource):
            return resource.from_storage(copy.deepcopy(obj) if shared else obj)
        return conversion.from_storage(resource.group, resource.version, resource.kind, obj)  # copies if it converts

    async def stale(self, resource: Resource, obj: Obj) -> bool:
        """Whether the stored value of `obj` (at its resourceVersion) was not written with the first
        provider's first key: an update then rewrites it even if nothing changed (re-encryption)."""
        transformer = self.transformer(resource)
        if transformer.plaintext_only:
            return False
        meta = obj["metadata"]
        key = resource.storage_key(meta.get("namespace"), meta["name"])
        try:
            kv = await self.store.get(key)
        except StoreError as err:
            raise _translate(err) from None
        if kv is None or str(kv.mod_revision) != str(meta.get("resourceVersion")):
            return False
        try:
            return transformer.from_storage(kv.value, key)[1]
        except DecryptError:
            return True

    async def get(self, resource: Resource, namespace: str | None, name: str, serializable: bool = False) -> Obj:
        try:
            kv = await self.store.get(resource.storage_key(namespace, name), serializable=serializable)
        except StoreError as err:
            raise _translate(err) from None
        if kv is None:
            raise not_found(resource.group_resource.split(".")[0], name, resource.group)
        return self._decode(resource, kv)

    async def get_or_none(self, resource: Resource, namespace: str | None, name: str,
                          serializable: bool = False) -> Obj | None:
        try:
            kv = await self.store.get(resource.storage_key(namespace, name), serializable=serializable)
        except StoreError as err:
            raise _translate(err) from None
        return None if kv is None else self._decode(resource, kv)

    async def list(self, resource: Resource, namespace: str | None, labels: LabelSelector | None = None,
                   fields: FieldSelector | None = None, limit: int = 0, continue_token: str = "",
                   serializable: bool = False, revision: int = 0, as_stored: bool = False) -> ListResult:
        """The objects at the current revision, or at a past `revision` (> 0; 410 once compacted).
        `as_stored`: as kept in the store, in the storage version (the watch cache's form)."""
        prefix = resource.storage_prefix(namespace)
        end = prefix_end(prefix)
        start, list_revision = (decode_continue(continue_token) if continue_token else (prefix, revision))
        if not start.startswith(prefix):
            raise bad_request("continue token does not belong to this list")
        items: list[Obj] = []
        try:
            while True:
                want = LIST_CHUNK if limit <= 0 else max(limit - len(items), 1)
                if labels is None and fields is None and limit <= 0:
                    want = 0  # everything in one read
                # later pages are read at the first page's revision: one consistent snapshot
                result = await self.store.range(start, end, want, serializable=serializable,
                                                revision=list_revision)
                list_revision = list_revision or result.revision
                for kv in result.kvs:
                    obj = self._decode(resource, kv, as_stored)
                    meta = obj["metadata"]
                    if (labels is None or labels.matches(meta.get("labels"))) and \
                            (fields is None or fields.matches(obj)):
                        items.append(obj)
                        if limit > 0 and len(items) >= limit:
                            more = kv is not result.kvs[-1] or result.more
                            token = encode_continue(kv.key + b"\0", list_revision) if more else ""
                            return ListResult(items, list_revision, token)
                if not result.more or not result.kvs:
                    return ListResult(items, list_revision)
                start = result.kvs[-1].key + b"\0"
        except StoreError as err:
            raise _translate(err) from None

    async def create(self, resource: Resource, obj: Obj, extras: Extras | None = None) -> Obj:
        meta = obj["metadata"]
        key = resource.storage_key(meta.get("namespace"), meta["name"])
        extras = extras or Extras()
        compares = [Compare(key, "create", "=", 0), *extras.compares]
        try:
            put = PutOp(key, self._encode(resource, key, obj))
            result = await self.store.txn(compares, [put, *extras.ops], [RangeOp(key)])
        except StoreError as err:
            raise _translate(err) from None
        if not result.succeeded:
            existing = result.responses[0]
            if getattr(existing, "count", 0):
                raise already_exists(resource.plural, meta["name"], resource.group)
            raise conflict(resource.plural, meta["name"], resource.group, "a resource it needs was taken meanwhile")
        return {**obj, "metadata": {**meta, "resourceVersion": str(result.revision)}}

    async def update(self, resource: Resource, obj: Obj, expected_revision: int, extras: Extras | None = None) -> Obj:
        """Write `obj` if the key's mod_revision is still `expected_revision`; else Conflict."""
        key = resource.storage_key(obj["metadata"].get("namespace"), obj["metadata"]["name"])
        put = PutOp(key, self._encode(resource, key, obj))
        return await self._if_unchanged(resource, obj, expected_revision, put, extras)

    async def delete(self, resource: Resource, obj: Obj, expected_revision: int,
                     extras: Extras | None = None) -> Obj:
        """Delete `obj` if the key's mod_revision is still `expected_revision`; else Conflict (NotFound if gone)."""
        key = resource.storage_key(obj["metadata"].get("namespace"), obj["metadata"]["name"])
        return await self._if_unchanged(resource, obj, expected_revision, DeleteOp(key), extras)

    async def _if_unchanged(self, resource: Resource, obj: Obj, expected_revision: int, op: PutOp | DeleteOp,
                            extras: Extras | None) -> Obj:
        """Apply `op` (and the extras) in one txn conditional on the object's key still at `expected_revision`."""
        meta = obj["metadata"]
        extras = extras or Extras()
        try:
            result = await self.store.txn([Compare(op.key, "mod", "=", expected_revision), *extras.compares],
                                          [op, *extras.ops], [RangeOp(op.key)])
        except StoreError as err:
            raise _translate(err) from None
        if not result.succeeded:
            if not getattr(result.responses[0], "count", 0):
                raise not_found(resource.plural, meta["name"], resource.group)
            raise conflict(resource.plural, meta["name"], resource.group)
        return {**obj, "metadata": {**meta, "resourceVersion": str(result.revision)}}

    async def watch(self, resource: Resource, namespace: str | None, start_revision: int) -> AsyncIterator[WatchEvent]:
        """Events after the store revision `start_revision - 1`; BOOKMARK on progress."""
        prefix = resource.storage_prefix(namespace)
        try:
            async for response in self.store.watch(prefix, prefix_end(prefix), start_revision, prev_kv=True):
                if response.progress:
                    yield WatchEvent("BOOKMARK", None, None, response.revision)
                    continue
                for event in response.events:
                    old = self._decode(resource, event.prev_kv) if event.prev_kv is not None else None
                    if event.type == "DELETE":
                        if old is not None:
                            old["metadata"]["resourceVersion"] = str(event.revision)
                            yield WatchEvent("DELETED", old, None, event.revision)
                        continue
                    yield WatchEvent("ADDED" if old is None else "MODIFIED", self._decode(resource, event.kv), old,
                                     event.revision)
        except WatchCancelled:
            return  # cut off for falling behind: the client resumes from its last resourceVersion
        except StoreError as err:
            raise _translate(err) from None
