"""Namespaces, ConfigMaps, Secrets and ServiceAccounts: defaults, validation and kubectl's columns."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef
from .metadata import validate_finalizer_name
from .names import is_config_map_key
from .printing import age, name_of

Obj = dict[str, Any]

MAX_SIZE = 1024 * 1024  # a ConfigMap's or Secret's data, in bytes
NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time when this object "
                                "was created.")


class NamespaceStrategy(ObjectStrategy):
    kind = "Namespace"

    def default(self, obj: Obj) -> None:
        meta = child(obj, "metadata")
        if isinstance(meta.get("name"), str) and meta["name"]:
            child(meta, "labels")["kubernetes.io/metadata.name"] = meta["name"]
        spec = child(obj, "spec")
        if "finalizers" not in spec:  # an explicit [] (the namespace controller's doing) is kept
            spec["finalizers"] = ["kubernetes"]
        setdef(child(obj, "status"), "phase", "Active")

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        spec = fe.as_dict(obj.get("spec"))
        finalizers = spec.get("finalizers")
        if finalizers is not None and not isinstance(finalizers, list):
            out.append(fe.type_invalid("spec.finalizers", finalizers, "must be a list of strings"))
        for name in fe.as_list(finalizers):
            out.extend(validate_finalizer_name(name, "spec.finalizers"))
        fe.check_enum(out, "status.phase", fe.as_dict(obj.get("status")).get("phase"), ("Active", "Terminating"))
        return out

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Status", description="The status of the namespace"), AGE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        return [name_of(obj), fe.as_dict(obj.get("status")).get("phase", ""), age(obj, now)]


def _validate_keys(out: list[Cause], data: Any, field: str) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        out.append(fe.type_invalid(field, data, "must be a map of string keys to string values"))
        return
    for key in data:
        out.extend(fe.invalid(f"{field}[{key}]", key, msg) for msg in is_config_map_key(str(key)))


def _immutable_update(out: list[Cause], obj: Obj, old: Obj | None, fields: tuple[str, ...]) -> None:
    if old is None or old.get("immutable") is not True:
        return
    if obj.get("immutable") is not True:
        out.append(fe.forbidden("immutable", "field is immutable when `immutable` is set"))
    for key in fields:
        if obj.get(key) != old.get(key):
            out.append(fe.forbidden(key, "field is immutable when `immutable` is set"))


class ConfigMapStrategy(ObjectStrategy):
    kind = "ConfigMap"

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        data, binary = obj.get("data"), obj.get("binaryData")
        _validate_keys(out, data, "data")
        _validate_keys(out, binary, "binaryData")
        total = 0
        for key, value in fe.as_dict(data).items():
            if not isinstance(value, str):
                out.append(fe.type_invalid(f"data[{key}]", value, "must be a string"))
                continue
            total += len(value.encode())
            if key in fe.as_dict(binary):
                out.append(fe.invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        for key, value in fe.as_dict(binary).items():
            decoded = _decode(out, f"binaryData[{key}]", value)
            total += len(decoded or b"")
        if total > MAX_SIZE:
            out.append(fe.too_long("data", MAX_SIZE))
        _immutable_update(out, obj, old, ("data", "binaryData"))
        return out

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Data", "integer", description="Data contains the configuration data."), AGE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        count = len(fe.as_dict(obj.get("data"))) + len(fe.as_dict(obj.get("binaryData")))
        return [name_of(obj), count, age(obj, now)]


def _decode(out: list[Cause], path: str, value: Any) -> bytes | None:
    if not isinstance(value, str):
        out.append(fe.type_invalid(path, "<secret contents redacted>", "must be a base64-encoded string"))
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        out.append(fe.invalid(path, "<secret contents redacted>", f"illegal base64 data: {exc}"))
        return None


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# type -> keys of which at least one must be present (all for tls)
_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


class SecretStrategy(ObjectStrategy):
    kind = "Secret"

    def default(self, obj: Obj) -> None:
        if not obj.get("type"):
            obj["type"] = "Opaque"
        string_data = obj.get("stringData")
        if isinstance(string_data, dict) and all(isinstance(v, str) for v in string_data.values()):
            data = child(obj, "data")
            for key, value in string_data.items():
                data[key] = b64(value)
            del obj["stringData"]

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        data = obj.get("data")
        _validate_keys(out, data, "data")
        for key, value in fe.as_dict(obj.get("stringData")).items():
            if not isinstance(value, str):
                out.append(fe.type_invalid(f"stringData[{key}]", "<secret contents redacted>", "must be a string"))
        total = 0
        for key, value in fe.as_dict(data).items():
            total += len(_decode(out, f"data[{key}]", value) or b"")
        if total > MAX_SIZE:
            out.append(fe.too_long("data", MAX_SIZE))
        data = fe.as_dict(data)
        kind = obj.get("type")
        if not isinstance(kind, str) or not kind:
            out.append(fe.required("type", ""))
        elif kind == "kubernetes.io/service-account-token":
            annotations = fe.as_dict(fe.as_dict(obj.get("metadata")).get("annotations"))
            if not annotations.get("kubernetes.io/service-account.name"):
                out.append(fe.required("metadata.annotations[kubernetes.io/service-account.name]", ""))
        elif kind == "kubernetes.io/tls":
            for key in ("tls.crt", "tls.key"):
                if key not in data:
                    out.append(fe.required(f"data[{key}]", ""))
        elif kind == "kubernetes.io/basic-auth":
            if "username" not in data and "password" not in data:
                out.extend([fe.required("data[username]", ""), fe.required("data[password]", "")])
        elif kind in _REQUIRED_KEYS:
            key = _REQUIRED_KEYS[kind][0]
            if not data.get(key):
                out.append(fe.required(f"data[{key}]", ""))
        if old is not None and old.get("type") and obj.get("type") != old.get("type"):
            out.append(fe.immutable("type", obj.get("type")))
        _immutable_update(out, obj, old, ("data",))
        return out

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Type", description="The type of the secret"),
                Column("Data", "integer", description="The number of entries in the secret"), AGE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        return [name_of(obj), obj.get("type", ""), len(fe.as_dict(obj.get("data"))), age(obj, now)]


class ServiceAccountStrategy(ObjectStrategy):
    kind = "ServiceAccount"

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Secrets", "integer", description="Secrets is a list of the secrets in the same "
                             "namespace that pods running using this ServiceAccount are allowed to use."), AGE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        return [name_of(obj), len(fe.as_list(obj.get("secrets"))), age(obj, now)]
