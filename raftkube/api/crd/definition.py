"""The CustomResourceDefinition kind (apiextensions.k8s.io/v1): defaults, validation, status, columns.

Validation follows kube-apiserver's `ValidateCustomResourceDefinition` in its messages: the name
must be `<plural>.<group>`, exactly one version is the storage version, version names are DNS-1035
labels, every version's schema is structural (`structural.py`), printer columns name a JSONPath.
The status is written here, on every write, rather than by a separate controller: a valid CRD is
accepted and Established at once (`NamesAccepted`/`NoConflicts`, `Established`/`InitialNamesAccepted`,
`acceptedNames` = the spec's names, `storedVersions` gaining the storage version), unless its names
collide with another CRD's of the group: the admission plugin in `naming.py` then says so. The cleanup
finalizer is added on create; `control/crd_cleanup.py` deletes the instances of a deleted CRD and then
removes it.
"""

from __future__ import annotations

from typing import Any

from ..errors import Cause
from ..kinds import fielderr as fe
from ..kinds.base import Column
from ..kinds.common import ObjectStrategy, child
from ..kinds.names import is_dns1035_label, is_dns1123_subdomain
from ..objects import now_rfc3339
from .resource import CLEANUP_FINALIZER
from .structural import structural_causes

Obj = dict[str, Any]
SCOPES = ("Cluster", "Namespaced")
APPROVAL = "api-approved.kubernetes.io"
COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")


def _text(value: Any) -> str:
    """A string field's value ("" for anything else: the schema's structural check reports wrong types)."""
    return value if isinstance(value, str) else ""


def _condition(type_: str, status: str, reason: str, message: str, previous: list[Obj]) -> Obj:
    before = next((c for c in previous if c.get("type") == type_), None)
    since = before["lastTransitionTime"] if before and before.get("status") == status and \
        before.get("lastTransitionTime") else now_rfc3339()
    return {"type": type_, "status": status, "lastTransitionTime": since, "reason": reason, "message": message}


class CustomResourceDefinitionStrategy(ObjectStrategy):
    kind = "CustomResourceDefinition"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        names = child(spec, "names")
        kind = _text(names.get("kind"))
        if kind:
            names.setdefault("singular", kind.lower())
            names.setdefault("listKind", kind + "List")
        conversion = child(spec, "conversion")
        conversion.setdefault("strategy", "None")
        meta = child(obj, "metadata")
        finalizers = fe.as_list(meta.get("finalizers"))
        if not meta.get("deletionTimestamp") and CLEANUP_FINALIZER not in finalizers and \
                (meta.get("finalizers") is None or isinstance(meta.get("finalizers"), list)):
            meta["finalizers"] = [*finalizers, CLEANUP_FINALIZER]
        self._status(obj, spec, names, bool(meta.get("deletionTimestamp")))

    def _status(self, obj: Obj, spec: Obj, names: Obj, deleting: bool) -> None:
        status = child(obj, "status")
        previous = [c for c in fe.as_list(status.get("conditions")) if isinstance(c, dict)]
        status["acceptedNames"] = {k: v for k, v in names.items() if k != "categories" or v}
        conditions = [_condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", previous),
                      _condition("Established", "True", "InitialNamesAccepted",
                                 "the initial names have been accepted", previous)]
        if deleting:
            kept = next((c for c in previous if c.get("type") == "Terminating"), None)
            conditions.append(kept or _condition("Terminating", "True", "InstanceDeletionPending",
                                                 "CustomResourceDefinition marked for deletion; CustomResource "
                                                 "deletion will begin soon", previous))
        status["conditions"] = conditions
        stored = [v for v in fe.as_list(status.get("storedVersions")) if isinstance(v, str)]
        storage = [v.get("name") for v in fe.as_list(spec.get("versions")) if isinstance(v, dict) and v.get("storage")]
        if len(storage) == 1 and storage[0] not in stored:
            stored.append(storage[0])
        status["storedVersions"] = stored

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = fe.as_dict(obj.get("spec"))
        names = fe.as_dict(spec.get("names"))
        group, plural = _text(spec.get("group")), _text(names.get("plural"))
        out: list[Cause] = []
        name = fe.as_dict(obj.get("metadata")).get("name", "")
        if name and name != f"{plural}.{group}":
            out.append(fe.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
        if not group:
            out.append(fe.required("spec.group"))
        elif errs := is_dns1123_subdomain(group):
            out.append(fe.invalid("spec.group", group, ",".join(errs)))
        elif len(group.split(".")) < 2:
            out.append(fe.invalid("spec.group", group, "should be a domain with at least one dot"))
        annotations = fe.as_dict(fe.as_dict(obj.get("metadata")).get("annotations"))
        if _protected(group) and APPROVAL not in annotations:
            out.append(fe.required(f"metadata.annotations[{APPROVAL}]", f'protected groups must have approval '
                                   f'annotation "{APPROVAL}", see https://github.com/kubernetes/enhancements/pull/1111'))
        fe.check_enum(out, "spec.scope", spec.get("scope"), SCOPES, required_=True)
        out += self._versions(fe.as_list(spec.get("versions")))
        out += _names(names, "spec.names", spec_level=True)
        if old is not None:
            old_spec = fe.as_dict(old.get("spec"))
            old_names = fe.as_dict(old_spec.get("names"))
            for path, new_value, old_value in (("spec.group", group, old_spec.get("group")),
                                               ("spec.names.plural", plural, old_names.get("plural")),
                                               ("spec.scope", spec.get("scope"), old_spec.get("scope")),
                                               ("spec.names.kind", names.get("kind"), old_names.get("kind"))):
                if new_value != old_value:
                    out.append(fe.invalid(path, new_value, "field is immutable"))
        return out

    def _versions(self, versions: list[Any]) -> list[Cause]:
        out: list[Cause] = []
        if not versions:
            out.append(fe.invalid("spec.versions", [], "must have exactly one version marked as storage version"))
            return out
        seen: set[str] = set()
        for i, version in enumerate(versions):
            version = fe.as_dict(version)
            path = f"spec.versions[{i}]"
            vname = _text(version.get("name"))
            if errs := is_dns1035_label(vname):
                out.append(fe.invalid(f"{path}.name", vname, ",".join(errs)))
            seen_before = vname in seen
            seen.add(vname)
            if seen_before:
                out.append(fe.invalid("spec.versions", vname, "must contain unique version names"))
            out += structural_causes(fe.as_dict(version.get("schema")).get("openAPIV3Schema"),
                                     f"{path}.schema.openAPIV3Schema")
            out += _subresources(fe.as_dict(version.get("subresources")), f"{path}.subresources")
            for j, column in enumerate(fe.as_list(version.get("additionalPrinterColumns"))):
                out += _column(fe.as_dict(column), f"{path}.additionalPrinterColumns[{j}]")
        storage = [v for v in versions if fe.as_dict(v).get("storage")]
        if len(storage) != 1:
            out.append(fe.invalid("spec.versions", [fe.as_dict(v).get("name") for v in versions],
                                  "must have exactly one version marked as storage version"))
        if not any(fe.as_dict(v).get("served") for v in versions):
            out.append(fe.invalid("spec.versions", [fe.as_dict(v).get("name") for v in versions],
                                  "must have at least one version marked as served"))
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Created At", "date", description="CreationTimestamp is a timestamp representing the server "
                                                         "time when this object was created.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        meta = fe.as_dict(obj.get("metadata"))
        return [meta.get("name", ""), meta.get("creationTimestamp")]


def _protected(group: str) -> bool:
    """The Kubernetes community's groups (k8s.io, kubernetes.io and below): CRDs there need API approval."""
    return group in ("k8s.io", "kubernetes.io") or group.endswith((".k8s.io", ".kubernetes.io"))


def _names(names: Obj, path: str, spec_level: bool) -> list[Cause]:
    out: list[Cause] = []
    if spec_level:
        for key in ("plural", "singular", "kind", "listKind"):
            if not names.get(key):
                out.append(fe.required(f"{path}.{key}"))
    for key in ("plural", "singular"):
        value = names.get(key)
        if value and (errs := is_dns1035_label(str(value))):
            out.append(fe.invalid(f"{path}.{key}", value, ",".join(errs)))
    for key in ("kind", "listKind"):
        value = names.get(key)
        if value and (errs := is_dns1035_label(str(value).lower())):
            out.append(fe.invalid(f"{path}.{key}", value, "may have mixed case, but should otherwise match: "
                                  + ",".join(errs)))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        out.append(fe.invalid(f"{path}.listKind", names["listKind"], "kind and listKind may not be the same"))
    for i, short in enumerate(fe.as_list(names.get("shortNames"))):
        if errs := is_dns1035_label(str(short)):
            out.append(fe.invalid(f"{path}.shortNames[{i}]", short, ",".join(errs)))
    for i, category in enumerate(fe.as_list(names.get("categories"))):
        if errs := is_dns1035_label(str(category)):
            out.append(fe.invalid(f"{path}.categories[{i}]", category, ",".join(errs)))
    return out


def _subresources(subs: Obj, path: str) -> list[Cause]:
    scale = subs.get("scale")
    if not isinstance(scale, dict):
        return []
    out: list[Cause] = []
    spec_path, status_path = scale.get("specReplicasPath"), scale.get("statusReplicasPath")
    if not spec_path:
        out.append(fe.required(f"{path}.scale.specReplicasPath", ""))
    elif not str(spec_path).startswith(".spec."):
        out.append(fe.invalid(f"{path}.scale.specReplicasPath", spec_path, "should be a json path under .spec"))
    if not status_path:
        out.append(fe.required(f"{path}.scale.statusReplicasPath", ""))
    elif not str(status_path).startswith(".status."):
        out.append(fe.invalid(f"{path}.scale.statusReplicasPath", status_path,
                              "should be a json path under .status"))
    selector = scale.get("labelSelectorPath")
    if selector and not str(selector).startswith((".spec.", ".status.")):
        out.append(fe.invalid(f"{path}.scale.labelSelectorPath", selector,
                              "should be a json path under either .spec or .status"))
    return out


def _column(column: Obj, path: str) -> list[Cause]:
    out: list[Cause] = []
    if not column.get("name"):
        out.append(fe.required(f"{path}.name", ""))
    if not column.get("type"):
        out.append(fe.required(f"{path}.type", ""))
    elif column["type"] not in COLUMN_TYPES:
        out.append(fe.not_supported(f"{path}.type", column["type"], COLUMN_TYPES))
    if not column.get("jsonPath"):
        out.append(fe.required(f"{path}.JSONPath", ""))
    return out
