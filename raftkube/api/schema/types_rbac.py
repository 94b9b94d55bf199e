"""rbac.authorization.k8s.io/v1: Role, ClusterRole (with aggregationRule), RoleBinding, ClusterRoleBinding."""

from __future__ import annotations

from .build import API_VERSION, KIND, META, OBJECT_META, RBAC, lst, ref, s, strs
from .model import TypeFields

_RULES = lst(RBAC + "PolicyRule", "All the policy rules of this role.")
_SUBJECTS = lst(RBAC + "Subject", "The users, groups and service accounts the role is granted to.")

TYPES: dict[str, TypeFields] = {
    RBAC + "Role": {"apiVersion": API_VERSION, "kind": KIND, "metadata": OBJECT_META, "rules": _RULES},
    RBAC + "ClusterRole": {
        "apiVersion": API_VERSION, "kind": KIND, "metadata": OBJECT_META, "rules": _RULES,
        "aggregationRule": ref(RBAC + "AggregationRule", "How to build the rules of this ClusterRole: the union of "
                               "the rules of the ClusterRoles it selects. If set, the rules are written by the "
                               "controller and any change to them is overwritten."),
    },
    RBAC + "AggregationRule": {
        "clusterRoleSelectors": lst(META + "LabelSelector", "The ClusterRoles whose rules are aggregated; "
                                    "a ClusterRole matching any selector is included."),
    },
    RBAC + "PolicyRule": {
        "verbs": strs("The verbs allowed, e.g. get, list, create; '*' means all.", req=True),
        "apiGroups": strs("The API groups of the resources; \"\" is the core group, '*' means all."),
        "resources": strs("The resources the rule applies to, e.g. pods or pods/log; '*' means all, "
                          "'*/scale' every scale subresource."),
        "resourceNames": strs("An optional allow list of object names; empty means every name."),
        "nonResourceURLs": strs("Partial URLs a user may reach, e.g. /healthz; a trailing '*' matches a prefix. "
                                "Only in ClusterRoles bound by ClusterRoleBindings, and only with resources "
                                "empty."),
    },
    RBAC + "RoleBinding": {
        "apiVersion": API_VERSION, "kind": KIND, "metadata": OBJECT_META, "subjects": _SUBJECTS,
        "roleRef": ref(RBAC + "RoleRef", "The Role or ClusterRole granted, in the binding's namespace. Cannot be "
                       "changed: delete and recreate the binding.", req=True),
    },
    RBAC + "ClusterRoleBinding": {
        "apiVersion": API_VERSION, "kind": KIND, "metadata": OBJECT_META, "subjects": _SUBJECTS,
        "roleRef": ref(RBAC + "RoleRef", "The ClusterRole granted in every namespace. Cannot be changed: delete "
                       "and recreate the binding.", req=True),
    },
    RBAC + "RoleRef": {
        "apiGroup": s("The group of the referenced role: rbac.authorization.k8s.io.", req=True),
        "kind": s("The kind of the referenced role: Role or ClusterRole.", req=True),
        "name": s("The name of the referenced role.", req=True),
    },
    RBAC + "Subject": {
        "kind": s("The kind of the subject: User, Group or ServiceAccount.", req=True),
        "apiGroup": s("The group of the subject: \"\" for ServiceAccount, rbac.authorization.k8s.io for User and "
                      "Group."),
        "name": s("The name of the subject.", req=True),
        "namespace": s("The namespace of a ServiceAccount subject; must be empty for User and Group."),
    },
}

DESCRIPTIONS: dict[str, str] = {
    RBAC + "Role": "A namespaced set of policy rules, granted by a RoleBinding.",
    RBAC + "ClusterRole": "A cluster-wide set of policy rules, granted by a RoleBinding (in one namespace) or a "
                          "ClusterRoleBinding (everywhere).",
    RBAC + "AggregationRule": "How a ClusterRole is aggregated from other ClusterRoles.",
    RBAC + "PolicyRule": "What a role allows: verbs on resources (or non-resource URLs).",
    RBAC + "RoleBinding": "Grants a Role or ClusterRole to subjects within the binding's namespace.",
    RBAC + "ClusterRoleBinding": "Grants a ClusterRole to subjects in every namespace and at the cluster scope.",
    RBAC + "RoleRef": "The role a binding grants.",
    RBAC + "Subject": "A user, group or service account a role is granted to.",
}
