"""`metadata` validation shared by every kind (apimachinery's ValidateObjectMeta and its update rule).

`validate_metadata(obj, namespaced, old)` checks the name (syntax per kind: a DNS-1123
label for namespaces, a DNS-1035 label for services, a DNS-1123 subdomain otherwise), the
namespace, labels, annotations, ownerReferences and finalizers, and on update that the
name, namespace, uid and creationTimestamp did not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import Cause
from . import fielderr as fe
from .names import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    mask_trailing_dash,
)
from .selectors import validate_labels

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion",
                       "customresourcecleanup.apiextensions.k8s.io")  # (the CRD cleanup: no slash either)

NameRule = Callable[[str], list[str]]



def is_path_segment_name(value: str) -> list[str]:
    """apimachinery's IsValidPathSegmentName: what RBAC names must be (`system:node` is fine)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in value]


# Kubernetes: namespaces are DNS-1123 labels, services DNS-1035 labels (1.32), RBAC objects path segments,
# the rest subdomains.
NAME_RULES: dict[str, NameRule] = {"Namespace": is_dns1123_label, "Service": is_dns1035_label,
                                   "Role": is_path_segment_name, "ClusterRole": is_path_segment_name,
                                   "RoleBinding": is_path_segment_name, "ClusterRoleBinding": is_path_segment_name}


def name_rule(kind: str | None) -> NameRule:
    return NAME_RULES.get(kind or "", is_dns1123_subdomain)


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if annotations is None:
        return out
    if not isinstance(annotations, dict):
        return [fe.type_invalid(path, annotations, "must be a map of string keys to string values")]
    total = 0
    for key, value in annotations.items():
        out.extend(fe.invalid(path, key, msg) for msg in is_qualified_name(str(key).lower()))
        if not isinstance(value, str):
            out.append(fe.type_invalid(path, value, "must be a string"))
            continue
        total += len(str(key).encode(errors="surrogatepass")) + len(value.encode(errors="surrogatepass"))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(fe.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return out


def validate_owner_references(refs: Any, path: str) -> list[Cause]:
    """Like Kubernetes, errors name `metadata.ownerReferences.<field>` without an index."""
    out: list[Cause] = []
    if refs is None:
        return out
    if not isinstance(refs, list):
        return [fe.type_invalid(path, refs, "must be a list")]
    controllers: list[str] = []
    for ref in refs:
        if not isinstance(ref, dict):
            out.append(fe.type_invalid(path, ref, "must be an object"))
            continue
        api_version = ref.get("apiVersion")
        if not isinstance(api_version, str) or not api_version.rpartition("/")[2]:
            out.append(fe.invalid(f"{path}.apiVersion", api_version or "", "version must not be empty"))
        for key in ("kind", "name", "uid"):
            value = ref.get(key)
            if not isinstance(value, str) or not value:
                out.append(fe.invalid(f"{path}.{key}", value or "", f"{key} must not be empty"))
        if ref.get("controller") is True:
            controllers.append(f"{ref.get('kind')}/{ref.get('name')}")
    if len(controllers) > 1:
        out.append(fe.invalid(path, refs, "Only one reference can have Controller set to true. Found \"true\" in "
                              f"references for {' and '.join(controllers)}"))
    return out


def validate_finalizer_name(name: Any, path: str) -> list[Cause]:
    if not isinstance(name, str):
        return [fe.type_invalid(path, name, "must be a string")]
    out = [fe.invalid(path, name, msg) for msg in is_qualified_name(name)]
    if not out and "/" not in name and name not in STANDARD_FINALIZERS:
        out.append(fe.invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return out


def validate_finalizers(finalizers: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if finalizers is None:
        return out
    if not isinstance(finalizers, list):
        return [fe.type_invalid(path, finalizers, "must be a list of strings")]
    for name in finalizers:
        out.extend(validate_finalizer_name(name, path))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        out.append(fe.invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"))
    return out


def validate_metadata(obj: dict[str, Any], namespaced: bool | None, old: dict[str, Any] | None = None, *,
                      rule: NameRule | None = None) -> list[Cause]:
    """Causes for `obj["metadata"]` (`namespaced` None: do not check the namespace at all).

    The name syntax follows `obj["kind"]` unless `rule` is given. On update (`old` given),
    name, namespace, uid and creationTimestamp may not change, and no finalizer may be
    added once deletionTimestamp is set.
    """
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [fe.required("metadata", "")]
    out: list[Cause] = []
    check = rule or name_rule(obj.get("kind"))
    name, generate = meta.get("name"), meta.get("generateName")
    if not name:
        if not generate:
            out.append(fe.required("metadata.name", "name or generateName is required"))
    elif not isinstance(name, str):
        out.append(fe.type_invalid("metadata.name", name, "must be a string"))
    else:
        out.extend(fe.invalid("metadata.name", name, msg) for msg in check(name))
    if generate and isinstance(generate, str):
        out.extend(fe.invalid("metadata.generateName", generate, msg) for msg in check(mask_trailing_dash(generate)))
    namespace = meta.get("namespace")
    if namespaced is True:
        if not namespace:
            out.append(fe.required("metadata.namespace", ""))
        elif isinstance(namespace, str):
            out.extend(fe.invalid("metadata.namespace", namespace, msg) for msg in is_dns1123_label(namespace))
        else:
            out.append(fe.type_invalid("metadata.namespace", namespace, "must be a string"))
    elif namespaced is False and namespace:
        out.append(fe.forbidden("metadata.namespace", "not allowed on this type"))
    generation = meta.get("generation")
    fe.check_int(out, "metadata.generation", generation, minimum=0)
    out.extend(validate_labels(meta.get("labels"), "metadata.labels"))
    out.extend(validate_annotations(meta.get("annotations"), "metadata.annotations"))
    out.extend(validate_owner_references(meta.get("ownerReferences"), "metadata.ownerReferences"))
    out.extend(validate_finalizers(meta.get("finalizers"), "metadata.finalizers"))
    if old is not None:
        out.extend(_validate_update(meta, fe.as_dict(old.get("metadata"))))
    return out


def _validate_update(meta: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        new_value, old_value = meta.get(key), old.get(key)
        # an update that leaves uid/creationTimestamp out keeps the stored ones (the server copies them)
        if new_value and old_value and new_value != old_value:
            out.append(fe.immutable(f"metadata.{key}", new_value))
        elif key in ("name", "namespace") and new_value != old_value and (new_value or old_value):
            out.append(fe.immutable(f"metadata.{key}", new_value or ""))
    if old.get("deletionTimestamp"):
        added = [f for f in fe.as_list(meta.get("finalizers")) if f not in fe.as_list(old.get("finalizers"))]
        if added:
            out.append(fe.forbidden("metadata.finalizers", "no new finalizers can be added if the object is being "
                                    f"deleted, found new finalizers {fe.show(added)}"))
    return out
