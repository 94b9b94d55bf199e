"""RBAC escalation prevention, as an admission plugin: nobody grants what they do not hold.

As Kubernetes' RBAC storage does: writing a Role or ClusterRole needs the writer to hold every
rule in it (in the role's namespace; cluster-wide for a ClusterRole) or the `escalate` verb on
that role; an aggregationRule needs full authority (cluster-admin). Writing a binding needs the
`bind` verb on the role it references, or every rule of that role (in the binding's namespace).
Writes by the server itself (no user) and updates that change nothing but metadata are let
through. Refusals are 403 Forbidden with Kubernetes' wording.
"""

from __future__ import annotations

from typing import Any

from ..admission_chain import AdmissionRequest
from ..auth import User
from ..errors import forbidden
from ..resources import RBAC
from ..storage import ObjectStorage
from .attributes import Attributes
from .authorizer import Authorizer
from .rbac import RBACAuthorizer, user_groups
from .rbac_index import CLUSTER_ROLES, ROLES
from .rbac_rules import compact_rule, go_quote, uncovered

Obj = dict[str, Any]
ROLE_KINDS = {"roles": "Role", "clusterroles": "ClusterRole"}
BINDING_KINDS = ("rolebindings", "clusterrolebindings")
FULL_AUTHORITY = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}]
_CONTENT = ("rules", "aggregationRule", "subjects", "roleRef")


def _unchanged(req: AdmissionRequest) -> bool:
    return req.old is not None and req.obj is not None and all(
        req.obj.get(k) == req.old.get(k) for k in _CONTENT)


class EscalationCheck:
    name = "RBACEscalation"

    def __init__(self, authorizer: Authorizer, rbac: RBACAuthorizer, storage: ObjectStorage | None = None) -> None:
        self.authorizer = authorizer
        self.rbac = rbac
        self.storage = storage  # to find a role written an instant ago, before its watch event arrived

    async def admit(self, req: AdmissionRequest) -> None:
        return None

    async def validate(self, req: AdmissionRequest) -> None:
        resource = req.resource
        if (resource.group != RBAC or req.user is None or req.subresource or req.obj is None
                or req.operation not in ("CREATE", "UPDATE") or _unchanged(req)):
            return
        namespace = req.namespace or ""
        if resource.plural in ROLE_KINDS:
            await self._check_role(req, req.user, namespace)
        elif resource.plural in BINDING_KINDS:
            await self._check_binding(req, req.user, namespace)

    def _allowed(self, user: User, verb: str, plural: str, namespace: str, name: str) -> bool:
        attrs = Attributes(user, verb, True, RBAC, "*", plural, "", namespace, name)
        return self.authorizer.authorize(attrs).allowed

    def _refuse_unless_held(self, req: AdmissionRequest, user: User, namespace: str, rules: list[Obj],
                            detail: str | None = None) -> None:
        held, errors = self.rbac.rules_for(user, namespace)
        if "system:masters" in user.groups:
            return
        missing = uncovered(held, rules)
        if not missing:
            return
        subject = f'{req.resource.plural}.{RBAC} "{req.name}"'
        if detail is None:
            groups = "[" + " ".join(go_quote(g) for g in user_groups(user)) + "]"
            detail = (f"user {go_quote(user.name)} (groups={groups}) is attempting to grant RBAC permissions not "
                      "currently held:\n" + "\n".join(compact_rule(r) for r in missing))
            if errors:
                detail += "; resolution errors: [" + ", ".join(errors) + "]"
        raise forbidden(f"{subject} is forbidden: {detail}")

    async def _check_role(self, req: AdmissionRequest, user: User, namespace: str) -> None:
        assert req.obj is not None
        if self._allowed(user, "escalate", req.resource.plural, namespace, req.name):
            return
        rules = [r for r in req.obj.get("rules") or [] if isinstance(r, dict)]
        self._refuse_unless_held(req, user, namespace, rules)
        aggregation = req.obj.get("aggregationRule")
        if aggregation is not None and (req.old is None or req.old.get("aggregationRule") != aggregation):
            self._refuse_unless_held(req, user, namespace, FULL_AUTHORITY,
                                     "must have cluster-admin privileges to use the aggregationRule")

    async def _check_binding(self, req: AdmissionRequest, user: User, namespace: str) -> None:
        assert req.obj is not None
        ref = req.obj.get("roleRef") or {}
        kind, name = ref.get("kind"), str(ref.get("name", ""))
        plural = "clusterroles" if kind == "ClusterRole" else "roles"
        if self._allowed(user, "bind", plural, namespace, name):
            return
        index = self.rbac.index
        role = index.cluster_role(name) if kind == "ClusterRole" else index.role(namespace, name)
        if role is None and self.storage is not None and name:
            if kind == "ClusterRole":
                role = await self.storage.get_or_none(CLUSTER_ROLES, None, name)
            elif namespace:
                role = await self.storage.get_or_none(ROLES, namespace, name)
        if role is None:
            where = "clusterroles" if kind == "ClusterRole" else "roles"
            raise forbidden(f'{req.resource.plural}.{RBAC} "{req.name}" is forbidden: {where}.{RBAC} '
                            f'"{name}" not found')
        rules = [r for r in role.get("rules") or [] if isinstance(r, dict)]
        self._refuse_unless_held(req, user, namespace, rules)
