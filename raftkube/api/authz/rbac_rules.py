"""Kubernetes' RBAC rule semantics as pure functions: does a rule allow a request, does a binding
apply to a user, and do some rules cover others (for escalation checks).

A resource rule allows a request when its verbs, apiGroups, resources and resourceNames all
match: `*` matches any verb, group or resource; a resource is `pods` or `pods/log` (resource and
subresource), and `*/scale` matches the scale subresource of any resource; resourceNames, when
given, list the only names allowed. A non-resource rule matches the URL path exactly, or by
prefix when it ends in `*` (`/healthz*`, `*`). Subjects: a User by name, a Group by membership,
a ServiceAccount as the user `system:serviceaccount:<namespace>:<name>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .attributes import Attributes

Obj = dict[str, Any]
ALL = "*"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def _strs(rule: Obj, key: str) -> list[str]:
    value = rule.get(key)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def verb_matches(rule: Obj, verb: str) -> bool:
    verbs = _strs(rule, "verbs")
    return ALL in verbs or verb in verbs


def group_matches(rule: Obj, group: str) -> bool:
    groups = _strs(rule, "apiGroups")
    return ALL in groups or group in groups


def resource_matches(rule: Obj, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for pattern in _strs(rule, "resources"):
        if pattern in (ALL, combined) or (subresource and pattern == f"*/{subresource}"):
            return True
    return False


def name_matches(rule: Obj, name: str) -> bool:
    names = _strs(rule, "resourceNames")
    return not names or name in names


def url_matches(pattern: str, path: str) -> bool:
    if pattern == ALL or pattern == path:
        return True
    return pattern.endswith("*") and path.startswith(pattern[:-1])


def rule_allows(rule: Obj, attrs: Attributes) -> bool:
    if not verb_matches(rule, attrs.verb):
        return False
    if not attrs.resource_request:
        return any(url_matches(url, attrs.path) for url in _strs(rule, "nonResourceURLs"))
    return (group_matches(rule, attrs.api_group) and resource_matches(rule, attrs.resource, attrs.subresource)
            and name_matches(rule, attrs.name))


def service_account_user(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def subject_applies(subject: Obj, user: str, groups: Sequence[str], binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return bool(namespace) and user == service_account_user(namespace, str(name))
    return False


def binding_applies(binding: Obj, user: str, groups: Sequence[str]) -> bool:
    namespace = (binding.get("metadata") or {}).get("namespace") or ""
    subjects = binding.get("subjects")
    return isinstance(subjects, list) and any(
        isinstance(s, dict) and subject_applies(s, user, groups, namespace) for s in subjects)


# -- covering (escalation prevention) ------------------------------------------------------------------------------

def breakdown(rule: Obj) -> list[Obj]:
    """One rule per (group, resource, verb[, name]) or (url, verb): what `covers` checks one by one."""
    out: list[Obj] = []
    verbs = _strs(rule, "verbs")
    names = _strs(rule, "resourceNames")
    for group in _strs(rule, "apiGroups"):
        for resource in _strs(rule, "resources"):
            for verb in verbs:
                base = {"verbs": [verb], "apiGroups": [group], "resources": [resource]}
                out += [{**base, "resourceNames": [n]} for n in names] if names else [base]
    for url in _strs(rule, "nonResourceURLs"):
        out += [{"verbs": [verb], "nonResourceURLs": [url]} for verb in verbs]
    return out


def _resource_covers(owner: list[str], wanted: list[str]) -> bool:
    if ALL in owner:
        return True
    for resource in wanted:
        if resource in owner:
            continue
        if "/" not in resource or "*/" + resource.split("/", 1)[1] not in owner:
            return False
    return True


def _rule_covers(owner: Obj, wanted: Obj) -> bool:
    def has_all(key: str) -> bool:
        mine = _strs(owner, key)
        return ALL in mine or all(v in mine for v in _strs(wanted, key))
    owner_names, wanted_names = _strs(owner, "resourceNames"), _strs(wanted, "resourceNames")
    names_ok = not owner_names or (bool(wanted_names) and all(n in owner_names for n in wanted_names))
    urls_ok = all(any(url_matches(p, u) for p in _strs(owner, "nonResourceURLs"))
                  for u in _strs(wanted, "nonResourceURLs"))
    return (has_all("verbs") and has_all("apiGroups") and names_ok and urls_ok
            and _resource_covers(_strs(owner, "resources"), _strs(wanted, "resources")))


def uncovered(owner_rules: Iterable[Obj], wanted_rules: Iterable[Obj]) -> list[Obj]:
    """The broken-down rules of `wanted_rules` that no rule of `owner_rules` covers (empty: all held)."""
    owners = list(owner_rules)
    return [piece for rule in wanted_rules for piece in breakdown(rule)
            if not any(_rule_covers(owner, piece) for owner in owners)]


def compact_rule(rule: Obj) -> str:
    """Kubernetes' `PolicyRule.CompactString`: {APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}."""
    parts = []
    for label, key in (("APIGroups", "apiGroups"), ("Resources", "resources"), ("ResourceNames", "resourceNames"),
                       ("NonResourceURLs", "nonResourceURLs"), ("Verbs", "verbs")):
        values = _strs(rule, key)
        if values:
            parts.append(f"{label}:[{', '.join(go_quote(v) for v in values)}]")
    return "{" + ", ".join(parts) + "}"


def go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
