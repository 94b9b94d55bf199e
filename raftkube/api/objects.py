"""Object metadata the server owns: names, uids, timestamps, generation, what an update may touch."""

from __future__ import annotations

import copy
import secrets
import uuid
from typing import Any

from ..machinery.times import rfc3339
from .errors import bad_request
from .resources import Resource

Obj = dict[str, Any]
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' alphabet: no vowels, no look-alikes
SERVER_OWNED = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                "resourceVersion", "selfLink")


def now_rfc3339(micro: bool = False) -> str:
    return rfc3339(micro=micro)


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(length))


def check_identity(obj: Any, resource: Resource, namespace: str | None, name: str | None = None) -> Obj:
    """The body must be an object of this kind, in this namespace, and (on update) this name."""
    if not isinstance(obj, dict):
        raise bad_request("the request body must be a JSON or YAML object")
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if kind is not None and kind != resource.kind:
        raise bad_request(f"the kind {kind!r} in the body does not match the resource {resource.plural!r} "
                          f"(expected {resource.kind!r})")
    if api_version is not None and api_version != resource.api_version:
        raise bad_request(f"the apiVersion {api_version!r} in the body does not match {resource.api_version!r}")
    meta = obj.get("metadata")
    if meta is None:
        obj["metadata"] = meta = {}
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    if resource.namespaced:
        body_ns = meta.get("namespace")
        if body_ns not in (None, "", namespace):
            raise bad_request(f"the namespace of the provided object ({body_ns}) does not match the namespace "
                              f"sent on the request ({namespace})")
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if name is not None and meta.get("name") not in (None, name):
        raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
    if name is not None:
        meta["name"] = name
    obj["kind"], obj["apiVersion"] = resource.kind, resource.api_version
    return obj


def prepare_create(obj: Obj) -> Obj:
    meta = obj["metadata"]
    for key in SERVER_OWNED:
        meta.pop(key, None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = f"{meta['generateName']}{random_suffix()}"
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now_rfc3339()
    meta["generation"] = 1
    return obj


def spec_changed(new: Obj, old: Obj) -> bool:
    """Whether anything but metadata and status changed (Kubernetes bumps generation then)."""
    def body(o: Obj) -> Obj:
        return {k: v for k, v in o.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    return body(new) != body(old)


def prepare_update(new: Obj, old: Obj, resource: Resource, subresource: str = "") -> Obj:
    """Carry over what the client may not change; bump generation when the spec changed."""
    old_meta = old["metadata"]
    if subresource == "status":
        merged = copy.deepcopy(old)
        merged["status"] = new.get("status", {})
        return merged
    meta = new["metadata"]
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if "status" in resource.subresources:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    generation = old_meta.get("generation", 1)
    meta["generation"] = generation + 1 if spec_changed(new, old) else generation
    return new


def strip_for_compare(obj: Obj) -> Obj:
    """The object without what changes on every write (to detect a no-op update)."""
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion", "managedFields")}
    return {**obj, "metadata": meta}
