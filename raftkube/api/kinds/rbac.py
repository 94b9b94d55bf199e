"""RBAC kinds: validation of rules, aggregation rules, subjects and role references, and kubectl's columns.

As Kubernetes' rbac validation: every rule needs verbs; a Role's rules may not name
nonResourceURLs (only ClusterRoles may), and a rule with nonResourceURLs names no resources;
a binding's roleRef needs apiGroup rbac.authorization.k8s.io, kind Role or ClusterRole (a
ClusterRoleBinding: ClusterRole only) and a name, and may not change once created; subjects are
User or Group (apiGroup rbac.authorization.k8s.io) or ServiceAccount (apiGroup "", with a
namespace).
"""

from __future__ import annotations

from typing import Any

from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy
from .printing import age, name_of
from .selectors import validate_selector

Obj = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"
NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
CREATED_AT = Column("Created At", "date", description="CreationTimestamp is a timestamp representing the server "
                    "time when this object was created.")
AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time when this object "
                                "was created.")


def _strings(out: list[Cause], path: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        out.append(fe.type_invalid(path, value, "must be a list of strings"))
        return []
    return value


def validate_rules(rules: Any, path: str, namespaced: bool) -> list[Cause]:
    out: list[Cause] = []
    if rules is None:
        return out
    if not isinstance(rules, list):
        return [fe.type_invalid(path, rules, "must be a list")]
    for i, rule in enumerate(rules):
        where = f"{path}[{i}]"
        rule = fe.as_dict(rule)
        if not _strings(out, f"{where}.verbs", rule.get("verbs")):
            out.append(fe.required(f"{where}.verbs", "verbs must contain at least one value"))
        urls = _strings(out, f"{where}.nonResourceURLs", rule.get("nonResourceURLs"))
        groups = _strings(out, f"{where}.apiGroups", rule.get("apiGroups"))
        resources = _strings(out, f"{where}.resources", rule.get("resources"))
        _strings(out, f"{where}.resourceNames", rule.get("resourceNames"))
        if urls:
            if namespaced:
                out.append(fe.invalid(f"{where}.nonResourceURLs", urls, "namespaced rules cannot apply to "
                                      "non-resource URLs"))
            if groups or resources:
                out.append(fe.invalid(f"{where}.nonResourceURLs", urls, "rules cannot apply to both regular "
                                      "resources and non-resource URLs"))
        elif not groups:
            out.append(fe.required(f"{where}.apiGroups", "resource rules must supply at least one api group"))
        elif not resources:
            out.append(fe.required(f"{where}.resources", "resource rules must supply at least one resource"))
    return out


def validate_role_ref(ref: Any, old: Obj | None, cluster_binding: bool, new_binding: Obj) -> list[Cause]:
    out: list[Cause] = []
    if ref is None:
        return [fe.required("roleRef", "")]
    if not isinstance(ref, dict):
        return [fe.type_invalid("roleRef", ref, "must be an object")]
    kinds = ("ClusterRole",) if cluster_binding else ("Role", "ClusterRole")
    if ref.get("apiGroup") != GROUP:
        out.append(fe.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), (GROUP,)))
    if ref.get("kind") not in kinds:
        out.append(fe.not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    name = ref.get("name")
    if not name:
        out.append(fe.required("roleRef.name", ""))
    elif not isinstance(name, str):
        out.append(fe.type_invalid("roleRef.name", name, "must be a string"))
    if old is not None and old.get("roleRef") != ref:
        out.append(fe.invalid("roleRef", ref, "cannot change roleRef"))
    return out


def validate_subjects(subjects: Any, namespaced: bool) -> list[Cause]:
    out: list[Cause] = []
    if subjects is None:
        return out
    if not isinstance(subjects, list):
        return [fe.type_invalid("subjects", subjects, "must be a list")]
    for i, subject in enumerate(subjects):
        where = f"subjects[{i}]"
        subject = fe.as_dict(subject)
        name, kind, group = subject.get("name"), subject.get("kind"), subject.get("apiGroup", "")
        if not name:
            out.append(fe.required(f"{where}.name", ""))
        if kind == "ServiceAccount":
            if group not in ("", None):
                out.append(fe.not_supported(f"{where}.apiGroup", group, ("",)))
            if not subject.get("namespace") and not namespaced:
                out.append(fe.required(f"{where}.namespace", ""))
        elif kind in ("User", "Group"):
            if group != GROUP:
                out.append(fe.not_supported(f"{where}.apiGroup", group, (GROUP,)))
        else:
            out.append(fe.not_supported(f"{where}.kind", kind, ("ServiceAccount", "User", "Group")))
    return out


class RoleStrategy(ObjectStrategy):
    kind = "Role"

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        return validate_rules(obj.get("rules"), "rules", self.kind == "Role")

    def table_columns(self) -> list[Column]:
        return [NAME, CREATED_AT]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        return [name_of(obj), fe.as_dict(obj.get("metadata")).get("creationTimestamp")]


class ClusterRoleStrategy(RoleStrategy):
    kind = "ClusterRole"

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out = super().validate(obj, old)
        rule = obj.get("aggregationRule")
        if rule is not None:
            selectors = fe.as_dict(rule).get("clusterRoleSelectors")
            for i, selector in enumerate(fe.as_list(selectors)):
                out.extend(validate_selector(selector, f"aggregationRule.clusterRoleSelectors[{i}]"))
        return out


def _subject_names(obj: Obj, kind: str) -> str:
    names = []
    for subject in fe.as_list(obj.get("subjects")):
        subject = fe.as_dict(subject)
        if subject.get("kind") != kind:
            continue
        name = str(subject.get("name", ""))
        names.append(f"{subject.get('namespace', '')}/{name}" if kind == "ServiceAccount" else name)
    return ", ".join(names)


class RoleBindingStrategy(ObjectStrategy):
    kind = "RoleBinding"

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        cluster = self.kind == "ClusterRoleBinding"
        return validate_role_ref(obj.get("roleRef"), old, cluster, obj) + validate_subjects(obj.get("subjects"),
                                                                                            not cluster)

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Role", description="RoleRef is the name of the role being bound."), AGE,
                Column("Users", priority=1, description="Users in the binding"),
                Column("Groups", priority=1, description="Groups in the binding"),
                Column("ServiceAccounts", priority=1, description="ServiceAccounts in the binding")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        ref = fe.as_dict(obj.get("roleRef"))
        return [name_of(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj, now),
                _subject_names(obj, "User"), _subject_names(obj, "Group"), _subject_names(obj, "ServiceAccount")]


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    kind = "ClusterRoleBinding"
