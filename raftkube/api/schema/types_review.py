"""authorization.k8s.io/v1 access and rules reviews, authentication.k8s.io/v1 SelfSubjectReview (never stored)."""

from __future__ import annotations

from .build import API_VERSION, AUTHN, AUTHZ, KIND, OBJECT_META, b, lst, ref, s, strs
from .model import Field, TypeFields

_EXTRA = Field("map[string][]string", False, "Extra attributes of the user, as an authenticator gives them.")
_STATUS = ref(AUTHZ + "SubjectAccessReviewStatus", "Filled in by the server: whether the request is allowed.")
_ATTRS: TypeFields = {
    "resourceAttributes": ref(AUTHZ + "ResourceAttributes", "The resource request to check."),
    "nonResourceAttributes": ref(AUTHZ + "NonResourceAttributes", "The non-resource request (a URL path) to check."),
}
_SPEC: TypeFields = {
    **_ATTRS,
    "user": s("The user to check (user or groups must be given)."),
    "groups": strs("The groups to check."),
    "extra": _EXTRA,
    "uid": s("The UID of the user to check."),
}


def _review(spec: str, status: str, status_desc: str) -> TypeFields:
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": OBJECT_META,
            "spec": ref(spec, "What to check.", req=True), "status": ref(status, status_desc)}


TYPES: dict[str, TypeFields] = {
    AUTHZ + "SelfSubjectAccessReview": _review(AUTHZ + "SelfSubjectAccessReviewSpec",
                                               AUTHZ + "SubjectAccessReviewStatus", _STATUS.description),
    AUTHZ + "SubjectAccessReview": _review(AUTHZ + "SubjectAccessReviewSpec", AUTHZ + "SubjectAccessReviewStatus",
                                           _STATUS.description),
    AUTHZ + "LocalSubjectAccessReview": _review(AUTHZ + "SubjectAccessReviewSpec",
                                                AUTHZ + "SubjectAccessReviewStatus", _STATUS.description),
    AUTHZ + "SelfSubjectRulesReview": _review(AUTHZ + "SelfSubjectRulesReviewSpec",
                                              AUTHZ + "SubjectRulesReviewStatus",
                                              "Filled in by the server: the rules the user holds."),
    AUTHZ + "SelfSubjectAccessReviewSpec": dict(_ATTRS),
    AUTHZ + "SubjectAccessReviewSpec": _SPEC,
    AUTHZ + "ResourceAttributes": {
        "namespace": s("The namespace of the request; \"\" for cluster-scoped resources or every namespace."),
        "verb": s("A Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection, or a "
                  "special one (bind, escalate, impersonate); '*' means all."),
        "group": s("The API group of the resource; '*' means all."),
        "version": s("The API version of the resource; '*' means all."),
        "resource": s("The resource (plural); '*' means all."),
        "subresource": s("The subresource, e.g. log or status; \"\" for none."),
        "name": s("The name of the object; \"\" for all of them (and for create)."),
    },
    AUTHZ + "NonResourceAttributes": {
        "path": s("The URL path of the request."),
        "verb": s("The HTTP verb, lower case."),
    },
    AUTHZ + "SubjectAccessReviewStatus": {
        "allowed": b("Whether the action is allowed.", req=True),
        "denied": b("Whether the action is explicitly denied (allowed false without denied: no opinion)."),
        "reason": s("Why the action is allowed or denied."),
        "evaluationError": s("An error met while checking (the answer may then be incomplete)."),
    },
    AUTHZ + "SelfSubjectRulesReviewSpec": {
        "namespace": s("The namespace whose rules are listed."),
    },
    AUTHZ + "SubjectRulesReviewStatus": {
        "resourceRules": lst(AUTHZ + "ResourceRule", "What the user may do with resources.", req=True),
        "nonResourceRules": lst(AUTHZ + "NonResourceRule", "What the user may do with non-resource URLs.",
                                req=True),
        "incomplete": b("True when the authorizer cannot list every rule (e.g. another authorizer allows more).",
                        req=True),
        "evaluationError": s("An error met while listing the rules."),
    },
    AUTHZ + "ResourceRule": {
        "verbs": strs("The verbs allowed; '*' means all.", req=True),
        "apiGroups": strs("The API groups; '*' means all."),
        "resources": strs("The resources; '*' means all."),
        "resourceNames": strs("The object names; empty means all."),
    },
    AUTHZ + "NonResourceRule": {
        "verbs": strs("The verbs allowed; '*' means all.", req=True),
        "nonResourceURLs": strs("The URL paths; a trailing '*' matches a prefix."),
    },
    AUTHN + "SelfSubjectReview": {
        "apiVersion": API_VERSION, "kind": KIND, "metadata": OBJECT_META,
        "status": ref(AUTHN + "SelfSubjectReviewStatus", "Filled in by the server: who the user is."),
    },
    AUTHN + "SelfSubjectReviewStatus": {
        "userInfo": ref(AUTHN + "UserInfo", "The user's attributes as the server authenticated them."),
    },
    AUTHN + "UserInfo": {
        "username": s("The name of the user."),
        "uid": s("The user's unique identifier."),
        "groups": strs("The groups the user is in."),
        "extra": _EXTRA,
    },
}

DESCRIPTIONS: dict[str, str] = {
    AUTHZ + "SelfSubjectAccessReview": "Checks whether the current user may perform an action.",
    AUTHZ + "SubjectAccessReview": "Checks whether a given user or group may perform an action.",
    AUTHZ + "LocalSubjectAccessReview": "A SubjectAccessReview limited to one namespace.",
    AUTHZ + "SelfSubjectRulesReview": "Lists the actions the current user may perform in a namespace.",
    AUTHZ + "SelfSubjectAccessReviewSpec": "The action to check; exactly one of the attributes is set.",
    AUTHZ + "SubjectAccessReviewSpec": "The user and the action to check.",
    AUTHZ + "ResourceAttributes": "A resource request, as the authorizer sees it.",
    AUTHZ + "NonResourceAttributes": "A non-resource request, as the authorizer sees it.",
    AUTHZ + "SubjectAccessReviewStatus": "The answer of an access review.",
    AUTHZ + "SelfSubjectRulesReviewSpec": "The namespace of a rules review.",
    AUTHZ + "SubjectRulesReviewStatus": "The rules a user holds in a namespace.",
    AUTHZ + "ResourceRule": "Verbs allowed on resources.",
    AUTHZ + "NonResourceRule": "Verbs allowed on non-resource URLs.",
    AUTHN + "SelfSubjectReview": "Tells the current user who the server thinks they are.",
    AUTHN + "SelfSubjectReviewStatus": "The user's attributes.",
    AUTHN + "UserInfo": "A user's name, UID, groups and extra attributes.",
}
