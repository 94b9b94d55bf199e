"""Pod volumes: defaults (file modes) and validation (name, exactly one source, per-source fields)."""

from __future__ import annotations

from typing import Any

from ...machinery.quantity import QUANTITY_ERROR, canonical_quantity, is_quantity
from ..errors import Cause
from . import fielderr as fe
from .common import setdef
from .containers import validate_field_ref, validate_local_path
from .names import is_dns1123_label, is_dns1123_subdomain

Obj = dict[str, Any]

# every volume source Kubernetes knows, in its order; only the common ones get deep checks
SOURCES = ("hostPath", "emptyDir", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs", "iscsi",
           "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI",
           "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk",
           "projected", "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image")
HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket")
VOLUME_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                      "metadata.uid")
DEFAULT_MODE = 0o644


def default_volume(volume: Obj) -> None:
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        source = volume.get(key)
        if isinstance(source, dict):
            setdef(source, "defaultMode", DEFAULT_MODE)
            _default_field_refs(source)
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict):
        setdef(host_path, "type", "")
    empty_dir = volume.get("emptyDir")
    if isinstance(empty_dir, dict) and empty_dir.get("sizeLimit") is not None and is_quantity(empty_dir["sizeLimit"]):
        empty_dir["sizeLimit"] = canonical_quantity(empty_dir["sizeLimit"])


def _default_field_refs(source: Obj) -> None:
    items = list(fe.as_list(source.get("items")))
    for projection in fe.as_list(source.get("sources")):
        items.extend(fe.as_list(fe.as_dict(fe.as_dict(projection).get("downwardAPI")).get("items")))
    for item in items:
        ref = fe.as_dict(fe.as_dict(item).get("fieldRef"))
        if ref and not ref.get("apiVersion"):
            ref["apiVersion"] = "v1"


def _check_mode(out: list[Cause], path: str, mode: Any) -> None:
    if mode is None:
        return
    if not fe.is_int(mode) or not 0 <= mode <= 0o777:
        out.append(fe.invalid(path, mode, "must be a number between 0 and 0777 (octal), both inclusive"))


def _key_items(out: list[Cause], items: Any, path: str) -> None:
    for i, item in enumerate(fe.as_list(items)):
        ipath, item = f"{path}[{i}]", fe.as_dict(item)
        if not item.get("key"):
            out.append(fe.required(f"{ipath}.key", ""))
        if not item.get("path"):
            out.append(fe.required(f"{ipath}.path", ""))
        else:
            out.extend(validate_local_path(item["path"], f"{ipath}.path"))
        _check_mode(out, f"{ipath}.mode", item.get("mode"))


def _downward_items(out: list[Cause], items: Any, path: str) -> None:
    for i, item in enumerate(fe.as_list(items)):
        ipath, item = f"{path}[{i}]", fe.as_dict(item)
        if not item.get("path"):
            out.append(fe.required(f"{ipath}.path", ""))
        else:
            out.extend(validate_local_path(item["path"], f"{ipath}.path"))
        _check_mode(out, f"{ipath}.mode", item.get("mode"))
        field_ref, resource_ref = item.get("fieldRef"), item.get("resourceFieldRef")
        if field_ref is not None and resource_ref is not None:
            out.append(fe.invalid(ipath, "resource", "fieldRef and resourceFieldRef can not be specified "
                                                     "simultaneously"))
        elif field_ref is not None:
            out.extend(validate_field_ref(fe.as_dict(field_ref), f"{ipath}.fieldRef", VOLUME_FIELD_PATHS))
        elif resource_ref is None:
            out.append(fe.required(ipath, "one of fieldRef and resourceFieldRef is required"))


def _validate_source(kind: str, source: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    source = fe.as_dict(source)
    if kind == "hostPath":
        if not source.get("path"):
            out.append(fe.required(f"{path}.path", ""))
        elif ".." in str(source["path"]).split("/"):
            out.append(fe.invalid(f"{path}.path", source["path"], "must not contain '..'"))
        fe.check_enum(out, f"{path}.type", source.get("type"), HOST_PATH_TYPES)
    elif kind == "emptyDir":
        fe.check_enum(out, f"{path}.medium", source.get("medium"), ("", "Memory", "HugePages"))
        size = source.get("sizeLimit")
        if size is not None and not is_quantity(size):
            out.append(fe.invalid(f"{path}.sizeLimit", size, QUANTITY_ERROR))
    elif kind == "secret":
        name = source.get("secretName")
        if not name:
            out.append(fe.required(f"{path}.secretName", ""))
        else:
            out.extend(fe.invalid(f"{path}.secretName", name, m) for m in is_dns1123_subdomain(str(name)))
        _check_mode(out, f"{path}.defaultMode", source.get("defaultMode"))
        _key_items(out, source.get("items"), f"{path}.items")
    elif kind == "configMap":
        if not source.get("name"):
            out.append(fe.required(f"{path}.name", ""))
        _check_mode(out, f"{path}.defaultMode", source.get("defaultMode"))
        _key_items(out, source.get("items"), f"{path}.items")
    elif kind == "persistentVolumeClaim":
        if not source.get("claimName"):
            out.append(fe.required(f"{path}.claimName", ""))
    elif kind == "downwardAPI":
        _check_mode(out, f"{path}.defaultMode", source.get("defaultMode"))
        _downward_items(out, source.get("items"), f"{path}.items")
    elif kind == "projected":
        _check_mode(out, f"{path}.defaultMode", source.get("defaultMode"))
        out.extend(_validate_projections(source.get("sources"), f"{path}.sources"))
    elif kind == "nfs":
        if not source.get("server"):
            out.append(fe.required(f"{path}.server", ""))
        if not source.get("path"):
            out.append(fe.required(f"{path}.path", ""))
    return out


def _validate_projections(sources: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    kinds = ("secret", "downwardAPI", "configMap", "serviceAccountToken", "clusterTrustBundle")
    for i, projection in enumerate(fe.as_list(sources)):
        ppath, projection = f"{path}[{i}]", fe.as_dict(projection)
        present = [k for k in kinds if projection.get(k) is not None]
        for extra in present[1:]:
            out.append(fe.forbidden(f"{ppath}.{extra}", "may not specify more than 1 volume type per source"))
        if not present:
            out.append(fe.required(ppath, "must specify exactly one volume type"))
            continue
        kind, source = present[0], fe.as_dict(projection[present[0]])
        if kind in ("secret", "configMap"):
            if not source.get("name"):
                out.append(fe.required(f"{ppath}.{kind}.name", ""))
            _key_items(out, source.get("items"), f"{ppath}.{kind}.items")
        elif kind == "downwardAPI":
            _downward_items(out, source.get("items"), f"{ppath}.downwardAPI.items")
        elif kind == "serviceAccountToken":
            if not source.get("path"):
                out.append(fe.required(f"{ppath}.serviceAccountToken.path", ""))
            seconds = source.get("expirationSeconds")
            if seconds is not None and (not fe.is_int(seconds) or seconds < 600):
                out.append(fe.invalid(f"{ppath}.serviceAccountToken.expirationSeconds", seconds,
                                      "may not specify a duration less than 10 minutes"))
    return out


def validate_volumes(volumes: Any, path: str) -> tuple[list[Cause], set[str]]:
    """Causes and the set of volume names (for volumeMounts to refer to)."""
    out: list[Cause] = []
    names: set[str] = set()
    if volumes is not None and not isinstance(volumes, list):
        return [fe.type_invalid(path, volumes, "must be a list")], names
    for i, volume in enumerate(fe.as_list(volumes)):
        vpath, volume = f"{path}[{i}]", fe.as_dict(volume)
        present = [k for k in SOURCES if volume.get(k) is not None]
        for extra in present[1:]:
            out.append(fe.forbidden(f"{vpath}.{extra}", "may not specify more than 1 volume type"))
        if present:
            out.extend(_validate_source(present[0], volume[present[0]], f"{vpath}.{present[0]}"))
        else:
            out.append(fe.required(vpath, "must specify a volume type"))
        name = volume.get("name")
        if not name:
            out.append(fe.required(f"{vpath}.name", ""))
        elif fe.check_str(out, f"{vpath}.name", name):
            out.extend(fe.invalid(f"{vpath}.name", name, msg) for msg in is_dns1123_label(name))
            if name in names:
                out.append(fe.duplicate(f"{vpath}.name", name))
            names.add(name)
    return out, names
