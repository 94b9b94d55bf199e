"""Create, update and patch: one pipeline from request body to a compare-and-swap write.

Every write is admitted (schema, defaults, validation) before anything is stored, and is
conditional on what the server read: an update that raced another is retried from a fresh
read when the client gave no resourceVersion, and is a 409 Conflict when it did.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..store import Compare
from . import service_alloc
from .admission import admit, root_type
from .admission_chain import AdmissionChain, AdmissionRequest
from .auth import User
from .crd.resource import CustomResource
from .crd.strategy import patch_typing
from .errors import APIError, Cause, bad_request, conflict, forbidden, invalid, not_found
from .kinds import service as service_kind
from .objects import check_identity, now_rfc3339, prepare_create, prepare_update, strip_for_compare
from .patch import apply_patch
from .patch.apply import record_update
from .resources import Resource, find
from .router import Target
from .storage import Extras, ObjectStorage, parse_resource_version

Obj = dict[str, Any]
NAMESPACES = find("", "v1", "namespaces")
APPLY_PATCH = "application/apply-patch+yaml"
MAX_ATTEMPTS = 20


@dataclass
class WriteOptions:
    field_validation: str = "Strict"
    dry_run: bool = False
    manager: str = "unknown"
    force: bool = False
    warnings: list[str] = field(default_factory=list)
    user: User | None = None  # who asked (None: the server itself); admission plugins see it


def typing(resource: Resource) -> tuple[str | None, Any]:
    """(root type, type table or None for the built-in one) the patch and managedFields code works with."""
    if isinstance(resource, CustomResource):
        return patch_typing(resource)
    return root_type(resource), None


CR_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", APPLY_PATCH)


def _rv(obj: Obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


class Writer:
    def __init__(self, storage: ObjectStorage, admission: AdmissionChain | None = None) -> None:
        self.storage = storage
        self.admission = admission or AdmissionChain()

    # ------------------------------------------------------------------ create
    async def create(self, target: Target, body: Any, opts: WriteOptions, record: bool = True) -> Obj:
        """`record=False` when the object comes from server-side apply (it owns its managedFields)."""
        resource = target.resource
        if isinstance(resource, CustomResource) and resource.terminating:
            raise APIError(405, "MethodNotAllowed", "create not allowed while custom resource definition is "
                                                    "terminating")
        obj = prepare_create(check_identity(body, resource, target.namespace))
        if "status" in resource.subresources and resource.kind != "Node":
            obj.pop("status", None)  # status is written through /status (Nodes may bring theirs)
        meta = obj["metadata"]
        if not meta.get("name"):
            raise invalid(resource.kind, "", [Cause("metadata.name", "name or generateName is required",
                                                    "FieldValueRequired")], resource.group)
        obj, warnings = admit(resource, obj, None, opts.field_validation)
        opts.warnings += warnings
        request = AdmissionRequest("CREATE", resource, "", meta.get("namespace"), meta["name"], obj, None, opts.user,
                                   opts.dry_run)
        await self.admission.run(request)
        opts.warnings += [w for w in request.warnings if w not in opts.warnings]  # (once, across retries)
        meta = obj["metadata"]
        root, types = typing(resource)
        if record and root is not None:
            obj = record_update(None, obj, opts.manager, types, root_type=root, now=now_rfc3339())
        extras = await self._namespace_guard(resource, meta.get("namespace"))
        if opts.dry_run:
            return obj
        for _ in range(MAX_ATTEMPTS):
            attempt = copy.deepcopy(obj) if resource.kind == "Service" else obj  # allocation edits its copy
            allocation = service_alloc.plan_create(attempt) if resource.kind == "Service" else None
            all_extras = Extras(extras.compares + (allocation.extras.compares if allocation else []),
                                extras.ops + (allocation.extras.ops if allocation else []))
            try:
                return await self.storage.create(resource, attempt, all_extras)
            except APIError as err:
                if err.reason != "Conflict":
                    raise
                await self._explain_create_conflict(resource, meta.get("namespace"), allocation)
        raise conflict(resource.plural, meta["name"], resource.group, "could not allocate what it needs")

    async def _namespace_guard(self, resource: Resource, namespace: str | None) -> Extras:
        """Creating in a namespace needs it to exist (checked in the write) and not be terminating."""
        if not resource.namespaced or NAMESPACES is None or namespace is None:
            return Extras()
        # a local read (the write itself compares that the namespace exists, atomically); only
        # when this replica does not have it yet, a linearizable one before answering 404
        ns = await self.storage.get_or_none(NAMESPACES, None, namespace, serializable=True)
        if ns is None:
            ns = await self.storage.get_or_none(NAMESPACES, None, namespace)
        if ns is None:
            raise not_found("namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise forbidden(f"{resource.plural} is forbidden: unable to create new content in namespace "
                            f"{namespace} because it is being terminated")
        return Extras([Compare(NAMESPACES.storage_key(None, namespace), "create", ">", 0)])

    async def _explain_create_conflict(self, resource: Resource, namespace: str | None,
                                       allocation: service_alloc.Allocation | None) -> None:
        if NAMESPACES is not None and resource.namespaced and namespace is not None:
            if await self.storage.get_or_none(NAMESPACES, None, namespace) is None:
                raise not_found("namespaces", namespace)
        for path, key in allocation.explicit if allocation else []:
            if await self.storage.store.get(key) is not None:
                raise invalid(resource.kind, "", [Cause(path, "provided value is already allocated",
                                                        "FieldValueDuplicate")], resource.group)

    # ------------------------------------------------------------------ update
    async def update(self, target: Target, body: Any, opts: WriteOptions) -> Obj:
        resource = target.resource
        new = check_identity(body, resource, target.namespace, target.name)
        wanted_rv = parse_resource_version(new["metadata"].get("resourceVersion"))
        for _ in range(MAX_ATTEMPTS):
            live = await self.storage.get(resource, target.namespace, target.name or "")
            if wanted_rv is not None and wanted_rv != _rv(live):
                raise conflict(resource.plural, target.name or "", resource.group)
            try:
                return await self._write_update(target, copy.deepcopy(new), live, opts)
            except APIError as err:
                if err.reason != "Conflict" or wanted_rv is not None or getattr(err, "final", False):
                    raise
        raise conflict(resource.plural, target.name or "", resource.group, "too many concurrent writers")

    async def _write_update(self, target: Target, new: Obj, live: Obj, opts: WriteOptions,
                            record: bool = True) -> Obj:
        resource = target.resource
        new = prepare_update(new, live, resource, target.subresource)
        if resource.kind == "Service" and not target.subresource:
            service_kind.preserve_allocations(new, live)
            service_kind.drop_type_dependent_fields(new, live)
        new, warnings = admit(resource, new, live, opts.field_validation)
        opts.warnings += warnings
        request = AdmissionRequest("UPDATE", resource, target.subresource, target.namespace, target.name or "", new,
                                   live, opts.user, opts.dry_run)
        await self.admission.run(request)
        opts.warnings += [w for w in request.warnings if w not in opts.warnings]  # (once, across retries)
        if strip_for_compare(new) == strip_for_compare(live) and not await self.storage.stale(resource, live):
            return live  # (a value under an old key or in plaintext is rewritten: re-encryption)
        root, types = typing(resource)
        if record and root is not None:
            new = record_update(live, new, opts.manager, types, root_type=root, now=now_rfc3339(),
                                subresource=target.subresource)
        if opts.dry_run:
            return new
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not spec_finalizers(new):
            return await self.storage.delete(resource, live, _rv(live), release(resource, live))
        extras = Extras()
        if resource.kind == "Service":
            extras = service_alloc.plan_update(new, live).extras
        return await self.storage.update(resource, new, _rv(live), extras)

    # ------------------------------------------------------------------- patch
    async def patch(self, target: Target, content_type: str, body: bytes, opts: WriteOptions) -> tuple[Obj, bool]:
        """Returns (object, created): server-side apply creates what does not exist."""
        resource = target.resource
        if isinstance(resource, CustomResource) and content_type not in CR_PATCH_TYPES:
            raise APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                           "accepted media types include: " + ", ".join(CR_PATCH_TYPES))
        root, types = typing(resource)
        if root is None:
            raise bad_request(f"{resource.kind} cannot be patched")
        for _ in range(MAX_ATTEMPTS):
            live = await self.storage.get_or_none(resource, target.namespace, target.name or "")
            if live is None:
                if content_type != APPLY_PATCH or target.subresource:
                    raise not_found(resource.plural, target.name or "", resource.group)
                created = apply_patch(content_type, None, body, root, field_manager=opts.manager, force=opts.force,
                                      now=now_rfc3339(), types=types)
                created.setdefault("metadata", {})["name"] = target.name
                try:
                    return await self.create(target, created, opts, record=False), True
                except APIError as err:
                    if err.reason != "AlreadyExists":
                        raise
                    continue
            is_apply = content_type == APPLY_PATCH
            patched = apply_patch(content_type, copy.deepcopy(live), body, root,
                                  field_manager=opts.manager if is_apply else None, force=opts.force,
                                  now=now_rfc3339(), subresource=target.subresource, types=types)
            if not isinstance(patched, dict) or not isinstance(patched.get("metadata", {}), dict):
                raise bad_request("the patch did not produce an object with an object as its metadata")
            patched_rv = patched.get("metadata", {}).get("resourceVersion")
            if patched_rv not in (None, live["metadata"]["resourceVersion"]):
                raise conflict(resource.plural, target.name or "", resource.group)
            # a patch that names a resourceVersion is a precondition; any other patch is retried
            pinned = b"resourceVersion" in body
            check_identity(patched, resource, target.namespace, target.name)
            try:
                return await self._write_update(target, patched, live, opts, record=not is_apply), False
            except APIError as err:
                if err.reason != "Conflict" or pinned:
                    raise
        raise conflict(resource.plural, target.name or "", resource.group, "too many concurrent writers")


def spec_finalizers(obj: Obj) -> list[str]:
    if obj.get("kind") == "Namespace":
        return list(obj.get("spec", {}).get("finalizers") or [])
    return []


def release(resource: Resource, obj: Obj) -> Extras:
    return service_alloc.plan_delete(obj) if resource.kind == "Service" else Extras()

