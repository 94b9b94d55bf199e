"""The RBAC authorizer: allows a request when a binding of the user grants a rule that matches it.

Answers from `RBACIndex` (memory): the ClusterRoleBindings apply everywhere, the RoleBindings
of the request's namespace apply within it (a RoleBinding to a ClusterRole grants the
ClusterRole's rules in that namespace only). Nothing matching is no opinion (the union then
refuses), with Kubernetes' `RBAC: ...` reason when a binding names a role that does not exist.
`rules_for` lists the rules a user holds in a namespace (SelfSubjectRulesReview, escalation checks).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..auth import User
from .attributes import AUTHENTICATED, Attributes
from .authorizer import ALLOW, NO_OPINION, Decision
from .rbac_index import RBACIndex
from .rbac_rules import binding_applies, rule_allows

Obj = dict[str, Any]


def user_groups(user: User) -> tuple[str, ...]:
    return user.groups if AUTHENTICATED in user.groups else (*user.groups, AUTHENTICATED)


class RBACAuthorizer:
    def __init__(self, index: RBACIndex) -> None:
        self.index = index

    def _role_rules(self, binding: Obj, namespace: str, errors: list[str]) -> list[Obj]:
        ref = binding.get("roleRef") or {}
        name = str(ref.get("name", ""))
        if ref.get("kind") == "ClusterRole":
            role = self.index.cluster_role(name)
            missing = f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
        elif ref.get("kind") == "Role" and namespace:
            role = self.index.role(namespace, name)
            missing = f'role.rbac.authorization.k8s.io "{name}" not found'
        else:
            return []
        if role is None:
            errors.append(missing)
            return []
        rules = role.get("rules")
        return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []

    def _granted(self, user: str, groups: Sequence[str], namespace: str, errors: list[str]) -> Iterator[Obj]:
        """The rules the user holds at `namespace` ("" : the cluster scope), ClusterRoleBindings first."""
        for binding in self.index.cluster_role_bindings():
            if binding_applies(binding, user, groups):
                yield from self._role_rules(binding, "", errors)
        if namespace:
            for binding in self.index.role_bindings(namespace):
                if binding_applies(binding, user, groups):
                    yield from self._role_rules(binding, namespace, errors)

    def authorize(self, attrs: Attributes) -> Decision:
        errors: list[str] = []
        namespace = attrs.namespace if attrs.resource_request else ""
        for rule in self._granted(attrs.user.name, attrs.groups, namespace, errors):
            if rule_allows(rule, attrs):
                return ALLOW
        if errors:
            reason = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
            return Decision(False, False, f"RBAC: {reason}")
        return NO_OPINION

    def rules_for(self, user: User, namespace: str) -> tuple[list[Obj], list[str]]:
        """(rules the user holds in `namespace`, errors such as bindings to missing roles)."""
        errors: list[str] = []
        rules = list(self._granted(user.name, user_groups(user), namespace, errors))
        return rules, errors
