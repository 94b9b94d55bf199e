"""Kubernetes' audit Policy (audit.k8s.io/v1, kind Policy), the subset this server honours.

A policy is a list of rules; the first rule that matches a request decides its level (None,
Metadata, Request, RequestResponse), and a request no rule matches is not logged. A rule matches
when every field it sets matches: `users`, `userGroups`, `verbs`, `resources` (each `{group,
resources, resourceNames}`; `pods/log` names a subresource, `*/scale` any resource's, `pods/*`
every subresource of pods), `namespaces` ("" is the cluster scope), `nonResourceURLs` (exact, or
a prefix ending in `*`). Rules with `resources` or `namespaces` match only resource requests,
rules with `nonResourceURLs` only the others, as in Kubernetes. `omitStages` (policy-wide and
per rule) drop stages; this server emits ResponseStarted (long-running requests) and ResponseComplete.

RequestResponse is accepted and logged as Request: responses are never logged. Whatever the policy
says, Secrets, ServiceAccount tokens and TokenReviews are logged at Metadata at most, as Kubernetes'
recommended policy does, so no secret data or token ever reaches the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from .authz import Attributes

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
_RULE_FIELDS = {"level", "users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs", "omitStages"}
# (group, resource, subresource) never logged above Metadata: their bodies are secret material
SENSITIVE = {("", "secrets", ""), ("", "serviceaccounts", "token"), ("authentication.k8s.io", "tokenreviews", ""),
             ("authentication.k8s.io", "tokenrequests", "")}


class PolicyError(ValueError):
    """The policy file is not a valid audit Policy; the message names the field."""


@dataclass(frozen=True)
class ResourceMatch:
    group: str = ""
    resources: tuple[str, ...] = ()  # empty: every resource of the group
    resource_names: tuple[str, ...] = ()

    def matches(self, attrs: Attributes) -> bool:
        if self.group != "*" and self.group != attrs.api_group:
            return False
        if self.resource_names and attrs.name not in self.resource_names:
            return False
        if not self.resources:
            return True
        full = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        for pattern in self.resources:
            if pattern in ("*", full) or (pattern == f"{attrs.resource}/*" and attrs.subresource):
                return True
            if pattern.startswith("*/") and attrs.subresource and pattern[2:] == attrs.subresource:
                return True
        return False


@dataclass(frozen=True)
class Rule:
    level: str
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[ResourceMatch, ...] = ()
    namespaces: tuple[str, ...] | None = None
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: tuple[str, ...] = ()

    def matches(self, attrs: Attributes) -> bool:
        if self.users and attrs.user.name not in self.users:
            return False
        if self.user_groups and not set(self.user_groups) & set(attrs.groups):
            return False
        if self.verbs and attrs.verb not in self.verbs and "*" not in self.verbs:
            return False
        if self.resources or self.namespaces is not None:
            if not attrs.resource_request:
                return False
            if self.namespaces is not None and attrs.namespace not in self.namespaces:
                return False
            return not self.resources or any(r.matches(attrs) for r in self.resources)
        if self.non_resource_urls:
            return not attrs.resource_request and any(_url_matches(p, attrs.path) for p in self.non_resource_urls)
        return True


def _url_matches(pattern: str, path: str) -> bool:
    return path.startswith(pattern[:-1]) if pattern.endswith("*") else path == pattern


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    omit_stages: tuple[str, ...] = field(default=("RequestReceived",))

    def decide(self, attrs: Attributes) -> tuple[str, tuple[str, ...]]:
        """(level, stages to omit) for one request; Metadata at most for secret-bearing resources."""
        for rule in self.rules:
            if rule.matches(attrs):
                level = rule.level
                if level in ("Request", "RequestResponse") and is_sensitive(attrs):
                    level = "Metadata"
                return level, (*self.omit_stages, *rule.omit_stages)
        return "None", self.omit_stages


def is_sensitive(attrs: Attributes) -> bool:
    return attrs.resource_request and (attrs.api_group, attrs.resource, attrs.subresource) in SENSITIVE


def default_policy() -> Policy:
    """Without --audit-policy-file: every request at Metadata except the health probes and /version."""
    return Policy((Rule("None", non_resource_urls=("/healthz*", "/livez*", "/readyz*", "/version")),
                   Rule("Metadata")))


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}: must be a list of strings")
    return tuple(value)


def _stages(value: Any, where: str) -> tuple[str, ...]:
    stages = _strings(value, where)
    for stage in stages:
        if stage not in STAGES:
            raise PolicyError(f"{where}: unknown stage {stage!r} (one of {', '.join(STAGES)})")
    return stages


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: must be a map")
    unknown = set(raw) - _RULE_FIELDS
    if unknown:
        raise PolicyError(f"{where}.{sorted(unknown)[0]}: unknown or unsupported field")
    level = raw.get("level")
    if level not in LEVELS:
        raise PolicyError(f"{where}.level: must be one of {', '.join(LEVELS)}, got {level!r}")
    resources = []
    for i, item in enumerate(raw.get("resources") or []):
        if not isinstance(item, dict):
            raise PolicyError(f"{where}.resources[{i}]: must be a map")
        group = item.get("group", "")
        if not isinstance(group, str):
            raise PolicyError(f"{where}.resources[{i}].group: must be a string")
        resources.append(ResourceMatch(group, _strings(item.get("resources"), f"{where}.resources[{i}].resources"),
                                       _strings(item.get("resourceNames"), f"{where}.resources[{i}].resourceNames")))
    namespaces = raw.get("namespaces")
    urls = _strings(raw.get("nonResourceURLs"), f"{where}.nonResourceURLs")
    if urls and (resources or namespaces is not None):
        raise PolicyError(f"{where}: nonResourceURLs cannot be combined with resources or namespaces")
    return Rule(level, _strings(raw.get("users"), f"{where}.users"),
                _strings(raw.get("userGroups"), f"{where}.userGroups"), _strings(raw.get("verbs"), f"{where}.verbs"),
                tuple(resources), None if namespaces is None else _strings(namespaces, f"{where}.namespaces"),
                urls, _stages(raw.get("omitStages"), f"{where}.omitStages"))


def parse_policy(text: str) -> Policy:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(doc, dict):
        raise PolicyError("must be a Policy object")
    if doc.get("kind") != "Policy" or doc.get("apiVersion") not in ("audit.k8s.io/v1",):
        raise PolicyError(f"kind/apiVersion: must be Policy in audit.k8s.io/v1, got {doc.get('kind')!r} in "
                          f"{doc.get('apiVersion')!r}")
    rules = doc.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyError("rules: must be a non-empty list")
    return Policy(tuple(_rule(r, f"rules[{i}]") for i, r in enumerate(rules)),
                  _stages(doc.get("omitStages"), "omitStages"))


def load_policy(path: str) -> Policy:
    with open(path, encoding="utf-8") as f:
        return parse_policy(f.read())
