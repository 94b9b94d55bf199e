"""The review APIs: create-only resources answered from the authorizer, never stored.

- authorization.k8s.io/v1 SelfSubjectAccessReview (may I?), SubjectAccessReview (may they?),
  LocalSubjectAccessReview (may they, in this namespace?) answer `status.allowed` (and `denied`,
  `reason`) for one resource or non-resource request; SelfSubjectRulesReview lists the rules the
  user holds in a namespace (`kubectl auth can-i --list`).
- authentication.k8s.io/v1 SelfSubjectReview tells users who they are (`kubectl auth whoami`).

The body is checked against the schema like any write; the answer is the review with its status,
201 Created, as Kubernetes answers.
"""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import request_body as rb
from .admission import check_fields
from .auth import User
from .authz import Attributes, Authorizer
from .authz.rbac import RBACAuthorizer, user_groups
from .errors import APIError, Cause, invalid, method_not_allowed
from .handlers import json_response
from .objects import check_identity
from .router import Target

Obj = dict[str, Any]


def _attributes(user: User, spec: Obj) -> Attributes:
    """The attributes a review's spec describes (exactly one of resourceAttributes, nonResourceAttributes)."""
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None):
        raise APIError(422, "Invalid", "spec.resourceAttributes: Invalid value: exactly one of "
                       "nonResourceAttributes or resourceAttributes must be specified")
    if resource is not None:
        return Attributes(user, resource.get("verb", ""), True, resource.get("group", ""),
                          resource.get("version", ""), resource.get("resource", ""), resource.get("subresource", ""),
                          resource.get("namespace", ""), resource.get("name", ""))
    return Attributes(user, non_resource.get("verb", ""), False, path=non_resource.get("path", ""))


def _access_status(authorizer: Authorizer, attrs: Attributes) -> Obj:
    decision = authorizer.authorize(attrs)
    status: Obj = {"allowed": decision.allowed}
    if decision.denied:
        status["denied"] = True
    if decision.reason:
        status["reason"] = decision.reason
    return status


def _resource_rule(rule: Obj) -> Obj:
    out: Obj = {"verbs": list(rule.get("verbs") or [])}
    for key in ("apiGroups", "resources", "resourceNames"):
        if rule.get(key):
            out[key] = list(rule[key])
    return out


class Reviews:
    def __init__(self, authorizer: Authorizer, rbac: RBACAuthorizer | None) -> None:
        self.authorizer = authorizer
        self.rbac = rbac

    async def handle(self, request: Request, target: Target) -> Response:
        resource = target.resource
        if request.method != "POST" or target.name is not None:
            raise method_not_allowed(f"{request.method} is not supported on {request.url.path}: "
                                     f"{resource.plural} can only be created")
        body = check_identity(await rb.read_object(request), resource, target.namespace)
        review, warnings = check_fields(resource, body, rb.field_validation(request))
        review = copy.deepcopy(review)
        review["metadata"] = {k: v for k, v in review["metadata"].items() if k in ("name", "namespace")}
        review["metadata"]["creationTimestamp"] = None
        user: User = request.scope["user"]
        spec = review.get("spec") or {}
        kind = resource.kind
        if kind == "SelfSubjectReview":
            info: Obj = {"username": user.name, "uid": user.uid, "groups": list(user_groups(user)),
                         "extra": user.extra_map()}
            review["status"] = {"userInfo": {k: v for k, v in info.items() if v}}
        elif kind == "SelfSubjectAccessReview":
            review["status"] = _access_status(self.authorizer, _attributes(user, spec))
        elif kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
            review["status"] = _access_status(self.authorizer, self._subject_attributes(review, target))
        elif kind == "SelfSubjectRulesReview":
            review["status"] = self._rules(user, str(spec.get("namespace") or ""))
        return json_response(review, 201, warnings)

    def _subject_attributes(self, review: Obj, target: Target) -> Attributes:
        kind = review["kind"]
        spec = review.get("spec") or {}
        if not spec.get("user") and not spec.get("groups"):
            raise invalid(kind, "", [Cause("spec.user", "Invalid value: \"\": at least one of user or group must be "
                                           "specified")], "authorization.k8s.io")
        extra = tuple((str(k), tuple(str(v) for v in values)) for k, values in (spec.get("extra") or {}).items())
        subject = User(str(spec.get("user") or ""), str(spec.get("uid") or ""), tuple(spec.get("groups") or ()), extra)
        if kind == "LocalSubjectAccessReview":
            resource = spec.get("resourceAttributes")
            if spec.get("nonResourceAttributes") is not None:
                raise invalid(kind, "", [Cause("spec.nonResourceAttributes", "Invalid value: disallowed on this "
                                               "kind of request")], "authorization.k8s.io")
            if isinstance(resource, dict):
                if resource.get("namespace", "") in ("", target.namespace):
                    resource["namespace"] = target.namespace
                else:
                    raise invalid(kind, "", [Cause("spec.resourceAttributes.namespace", "Invalid value: must match "
                                                   "metadata.namespace")], "authorization.k8s.io")
        return _attributes(subject, spec)

    def _rules(self, user: User, namespace: str) -> Obj:
        if not namespace:
            raise invalid("SelfSubjectRulesReview", "", [Cause("spec.namespace", "Required value",
                                                                "FieldValueRequired")], "authorization.k8s.io")
        rules, errors = self.rbac.rules_for(user, namespace) if self.rbac is not None else ([], [])
        resource_rules = [_resource_rule(r) for r in rules if not r.get("nonResourceURLs")]
        non_resource = [{"verbs": list(r.get("verbs") or []), "nonResourceURLs": list(r["nonResourceURLs"])}
                        for r in rules if r.get("nonResourceURLs")]
        # another authorizer than RBAC (the node authorizer) may allow more than these rules say
        status: Obj = {"resourceRules": resource_rules, "nonResourceRules": non_resource,
                       "incomplete": self.rbac is None or "system:nodes" in user.groups}
        if errors:
            status["evaluationError"] = "; ".join(errors)
        return status
