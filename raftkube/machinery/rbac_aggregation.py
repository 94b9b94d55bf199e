"""ClusterRole aggregation: an aggregated ClusterRole's rules are the union of the rules of the
ClusterRoles its `aggregationRule.clusterRoleSelectors` select (any selector, by labels).

As Kubernetes' clusterrole-aggregation controller: roles are visited by name, each rule is added
once, a role never aggregates itself. Used by the controller (raftkube/control) and by the
bootstrap, so the default admin/edit/view hold their rules before any controller runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .labels import selector_from_spec

Obj = dict[str, Any]


def selectors_of(role: Obj) -> list[Obj] | None:
    """The role's selectors, or None when it is not aggregated."""
    rule = role.get("aggregationRule")
    if not isinstance(rule, dict):
        return None
    selectors = rule.get("clusterRoleSelectors")
    return [s for s in selectors if isinstance(s, dict)] if isinstance(selectors, list) else []


def aggregated_rules(role: Obj, cluster_roles: Iterable[Obj]) -> list[Obj] | None:
    """The rules `role` should hold, or None when it has no aggregationRule."""
    selectors = selectors_of(role)
    if selectors is None:
        return None
    name = role["metadata"]["name"]
    rules: list[Obj] = []
    for other in sorted(cluster_roles, key=lambda r: r["metadata"]["name"]):
        if other["metadata"]["name"] == name:
            continue
        labels = other["metadata"].get("labels") or {}
        if not any(selector_from_spec(selector).matches(labels) for selector in selectors):
            continue
        for rule in other.get("rules") or []:
            if rule not in rules:
                rules.append(rule)
    return rules


def aggregate_all(cluster_roles: list[Obj]) -> list[Obj]:
    """Fill every aggregated role of `cluster_roles` in place, to a fixed point (admin takes edit, which takes
    view); returns the roles whose rules changed."""
    by_name = {r["metadata"]["name"]: r for r in cluster_roles}
    changed: dict[str, Obj] = {}
    for _ in range(len(cluster_roles) + 1):
        moved = False
        for role in cluster_roles:
            rules = aggregated_rules(role, by_name.values())
            if rules is not None and rules != (role.get("rules") or []):
                role["rules"] = rules
                changed[role["metadata"]["name"]] = role
                moved = True
        if not moved:
            break
    return list(changed.values())
