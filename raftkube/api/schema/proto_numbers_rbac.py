"""Protobuf field numbers of the RBAC kinds (rbac/v1) and the reviews (authorization/v1, authentication/v1).

From k8s.io/api `generated.proto` of each group; see `proto_numbers` for the format. kubectl's
typed clients send these as protobuf: `create role|rolebinding|clusterrole|clusterrolebinding`,
`auth can-i` (SelfSubjectAccessReview, SelfSubjectRulesReview) and `auth whoami`.
"""

from __future__ import annotations

from .build import AUTHN, AUTHZ, RBAC
from .proto_numbers_pod import Number

_REVIEW = {"metadata": 1, "spec": 2, "status": 3}
_ATTRS = {"resourceAttributes": 1, "nonResourceAttributes": 2}

NUMBERS: dict[str, dict[str, Number]] = {
    RBAC + "Role": {"metadata": 1, "rules": 2},
    RBAC + "ClusterRole": {"metadata": 1, "rules": 2, "aggregationRule": 3},
    RBAC + "AggregationRule": {"clusterRoleSelectors": 1},
    RBAC + "PolicyRule": {"verbs": 1, "apiGroups": 2, "resources": 3, "resourceNames": 4, "nonResourceURLs": 5},
    RBAC + "RoleBinding": {"metadata": 1, "subjects": 2, "roleRef": 3},
    RBAC + "ClusterRoleBinding": {"metadata": 1, "subjects": 2, "roleRef": 3},
    RBAC + "RoleRef": {"apiGroup": 1, "kind": 2, "name": 3},
    RBAC + "Subject": {"kind": 1, "apiGroup": 2, "name": 3, "namespace": 4},
    AUTHZ + "SelfSubjectAccessReview": _REVIEW,
    AUTHZ + "SubjectAccessReview": _REVIEW,
    AUTHZ + "LocalSubjectAccessReview": _REVIEW,
    AUTHZ + "SelfSubjectRulesReview": _REVIEW,
    AUTHZ + "SelfSubjectAccessReviewSpec": _ATTRS,
    AUTHZ + "SubjectAccessReviewSpec": {**_ATTRS, "user": 3, "groups": 4, "extra": 5, "uid": 6},
    AUTHZ + "ResourceAttributes": {"namespace": 1, "verb": 2, "group": 3, "version": 4, "resource": 5,
        "subresource": 6, "name": 7},
    AUTHZ + "NonResourceAttributes": {"path": 1, "verb": 2},
    AUTHZ + "SubjectAccessReviewStatus": {"allowed": 1, "denied": 4, "reason": 2, "evaluationError": 3},
    AUTHZ + "SelfSubjectRulesReviewSpec": {"namespace": 1},
    AUTHZ + "SubjectRulesReviewStatus": {"resourceRules": 1, "nonResourceRules": 2, "incomplete": 3,
        "evaluationError": 4},
    AUTHZ + "ResourceRule": {"verbs": 1, "apiGroups": 2, "resources": 3, "resourceNames": 4},
    AUTHZ + "NonResourceRule": {"verbs": 1, "nonResourceURLs": 2},
    AUTHN + "SelfSubjectReview": {"metadata": 1, "status": 2},
    AUTHN + "SelfSubjectReviewStatus": {"userInfo": 1},
    AUTHN + "UserInfo": {"username": 1, "uid": 2, "groups": 3, "extra": 4},
}

ZERO_KEPT: dict[str, str] = {
    RBAC + "RoleRef": "apiGroup kind name",
    RBAC + "Subject": "kind name",
    AUTHZ + "SubjectAccessReviewStatus": "allowed",
    AUTHZ + "SubjectRulesReviewStatus": "incomplete",
}
