"""Kubernetes' bootstrap RBAC policy: the default ClusterRoles and ClusterRoleBindings of every cluster.

As kube-apiserver's `bootstrappolicy`: cluster-admin (everything, bound to system:masters); the
user-facing admin, edit and view, aggregated from `system:aggregate-to-admin|edit|view` through
the `rbac.authorization.k8s.io/aggregate-to-*` labels (so a ClusterRole labelled for a custom
resource joins them); system:discovery, system:basic-user and system:public-info-viewer (what
any authenticated user may ask: discovery, reviews, health and version); system:node (present,
bound to nobody: the Node authorizer grants nodes their rights); and the controller-manager's
and scheduler's roles bound to their users; raftkube:machine-joiner lets bootstrap tokens
(system:bootstrappers) post to the join endpoint, as kubeadm binds system:node-bootstrapper.
Every object carries the autoupdate annotation and the `kubernetes.io/bootstrapping:
rbac-defaults` label.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
API_VERSION = "rbac.authorization.k8s.io/v1"
GROUP = "rbac.authorization.k8s.io"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
READ_WRITE = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def rule(verbs: list[str], groups: list[str], resources: list[str], names: list[str] | None = None) -> Obj:
    out: Obj = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if names:
        out["resourceNames"] = names
    return out


def url_rule(verbs: list[str], urls: list[str]) -> Obj:
    return {"verbs": verbs, "nonResourceURLs": urls}


def cluster_role(name: str, rules: list[Obj], labels: dict[str, str] | None = None,
                 aggregate_from: str | None = None) -> Obj:
    role: Obj = {"apiVersion": API_VERSION, "kind": "ClusterRole",
                 "metadata": {"name": name, "labels": {**BOOTSTRAPPING, **(labels or {})},
                              "annotations": {AUTOUPDATE: "true"}},
                 "rules": rules}
    if aggregate_from is not None:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {AGGREGATE + aggregate_from: "true"}}]}
    return role


def cluster_role_binding(name: str, role: str, subjects: list[tuple[str, str]]) -> Obj:
    return {"apiVersion": API_VERSION, "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": dict(BOOTSTRAPPING), "annotations": {AUTOUPDATE: "true"}},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": GROUP, "kind": kind, "name": subject} for kind, subject in subjects]}


def _labels(*levels: str) -> dict[str, str]:
    return {AGGREGATE + level: "true" for level in levels}


_POD_ACCESS = ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]
_WORKLOADS = ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
              "replicasets/scale", "statefulsets", "statefulsets/scale"]

AGGREGATE_TO_EDIT = [
    rule(READ, [""], [*_POD_ACCESS, "secrets", "services/proxy"]),
    rule(["impersonate"], [""], ["serviceaccounts"]),
    rule(WRITE, [""], ["pods", *_POD_ACCESS]),
    rule(["create"], [""], ["pods/eviction"]),
    rule(WRITE, [""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                       "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"]),
    rule(["create"], [""], ["serviceaccounts/token"]),
    rule(WRITE, ["apps"], _WORKLOADS),
    rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    rule(WRITE, ["batch"], ["cronjobs", "jobs"]),
    rule(WRITE, ["extensions"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                                 "ingresses", "networkpolicies", "replicasets", "replicasets/scale",
                                 "replicationcontrollers/scale"]),
    rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
    rule(WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    rule(WRITE, ["coordination.k8s.io"], ["leases"]),
]

AGGREGATE_TO_VIEW = [
    rule(READ, [""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
                      "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                      "services/status"]),
    rule(READ, [""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                      "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"]),
    rule(READ, [""], ["namespaces"]),
    rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    rule(READ, ["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
                          "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
                          "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"]),
    rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    rule(READ, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    rule(READ, ["extensions"], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                                "deployments/status", "ingresses", "ingresses/status", "networkpolicies",
                                "replicasets", "replicasets/scale", "replicasets/status",
                                "replicationcontrollers/scale"]),
    rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    rule(READ, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
    rule(READ, ["coordination.k8s.io"], ["leases"]),
]

AGGREGATE_TO_ADMIN = [
    rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    rule(READ_WRITE, [GROUP], ["rolebindings", "roles"]),
]

_REVIEWS = [rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
            rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"])]
_EVENTS = [rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"])]


def _leader_election(name: str) -> list[Obj]:
    return [rule(["create"], ["coordination.k8s.io"], ["leases"]),
            rule(["get", "update"], ["coordination.k8s.io"], ["leases"], [name]),
            rule(["create"], [""], ["endpoints"]),
            rule(["get", "update"], [""], ["endpoints"], [name])]


NODE = [
    *_REVIEWS,
    rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    rule(READ, [""], ["services"]),
    rule(["create", "get", "list", "watch"], [""], ["nodes"]),
    rule(["patch", "update"], [""], ["nodes/status"]),
    rule(["patch", "update"], [""], ["nodes"]),
    rule(["create", "patch", "update"], [""], ["events"]),
    rule(READ, [""], ["pods"]),
    rule(["create", "delete"], [""], ["pods"]),
    rule(["patch", "update"], [""], ["pods/status"]),
    rule(["create"], [""], ["pods/eviction"]),
    rule(READ, [""], ["configmaps", "secrets"]),
    rule(["get"], [""], ["persistentvolumeclaims", "persistentvolumes"]),
    rule(["get"], [""], ["endpoints"]),
    rule(["create", "get", "list", "watch"], ["certificates.k8s.io"], ["certificatesigningrequests"]),
    rule(["create", "delete", "get", "patch", "update"], ["coordination.k8s.io"], ["leases"]),
    rule(["get"], ["storage.k8s.io"], ["volumeattachments"]),
    rule(["create"], [""], ["serviceaccounts/token"]),
    rule(["get", "patch", "update"], [""], ["persistentvolumeclaims/status"]),
    rule(READ, ["node.k8s.io"], ["runtimeclasses"]),
    rule(READ, ["storage.k8s.io"], ["csidrivers"]),
    rule(["create", "delete", "get", "patch", "update"], ["storage.k8s.io"], ["csinodes"]),
]

CONTROLLER_MANAGER = [
    *_EVENTS, *_leader_election("kube-controller-manager"),
    rule(["create"], [""], ["secrets", "serviceaccounts"]),
    rule(["delete"], [""], ["secrets"]),
    rule(["get"], [""], ["configmaps", "namespaces", "secrets", "serviceaccounts"]),
    rule(["update"], [""], ["secrets", "serviceaccounts"]),
    rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
    rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
    rule(["list", "watch"], ["*"], ["*"]),
    rule(["create"], [""], ["serviceaccounts/token"]),
]

HPA_CONTROLLER = [  # Kubernetes' system:controller:horizontal-pod-autoscaler (raftkube patches /scale: + patch)
    *_EVENTS,
    rule(READ, ["autoscaling"], ["horizontalpodautoscalers"]),
    rule(["update"], ["autoscaling"], ["horizontalpodautoscalers/status"]),
    rule(["get", "patch", "update"], ["*"], ["*/scale"]),
    rule(["list"], [""], ["pods"]),
    rule(["list"], ["metrics.k8s.io"], ["pods"]),
]

SCHEDULER = [
    *_EVENTS, *_leader_election("kube-scheduler"),
    rule(READ, [""], ["nodes"]),
    rule(["delete", "get", "list", "watch"], [""], ["pods"]),
    rule(["create"], [""], ["bindings", "pods/binding"]),
    rule(["patch", "update"], [""], ["pods/status"]),
    rule(["list", "watch"], [""], ["replicationcontrollers", "services"]),
    rule(["list", "watch"], ["apps", "extensions"], ["replicasets"]),
    rule(["list", "watch"], ["apps"], ["statefulsets"]),
    rule(["list", "watch"], ["policy"], ["poddisruptionbudgets"]),
    rule(["list", "watch"], [""], ["persistentvolumeclaims", "persistentvolumes"]),
    *_REVIEWS,
    rule(READ, ["storage.k8s.io"], ["csinodes", "csidrivers", "csistoragecapacities", "storageclasses"]),
    rule(["list", "watch"], [""], ["namespaces"]),
]

# what raftkube's ingress controller reads and writes (`raftkube ingress-controller`, raftkube/node/ingress_*.py);
# bind it to the controller's identity, as an ingress-nginx installation binds its ServiceAccount
INGRESS_CONTROLLER = [
    *_EVENTS,
    rule(READ, [""], ["endpoints", "secrets", "services"]),
    rule(READ, ["networking.k8s.io"], ["ingressclasses", "ingresses"]),
    rule(["patch", "update"], ["networking.k8s.io"], ["ingresses/status"]),
]

DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
                  "/version", "/version/"]
PUBLIC_INFO_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]


def default_cluster_roles() -> list[Obj]:
    """Fresh copies (the aggregated roles' rules empty: `rbac_aggregation` fills them)."""
    return [
        cluster_role("cluster-admin", [rule(["*"], ["*"], ["*"]), url_rule(["*"], ["*"])]),
        cluster_role("admin", [], aggregate_from="admin"),
        cluster_role("edit", [], _labels("admin"), aggregate_from="edit"),
        cluster_role("view", [], _labels("edit"), aggregate_from="view"),
        cluster_role("system:aggregate-to-admin", AGGREGATE_TO_ADMIN, _labels("admin")),
        cluster_role("system:aggregate-to-edit", AGGREGATE_TO_EDIT, _labels("admin", "edit")),
        cluster_role("system:aggregate-to-view", AGGREGATE_TO_VIEW, _labels("admin", "edit", "view")),
        cluster_role("system:discovery", [url_rule(["get"], DISCOVERY_URLS)]),
        cluster_role("system:basic-user", [
            rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"])]),
        cluster_role("system:public-info-viewer", [url_rule(["get"], PUBLIC_INFO_URLS)]),
        cluster_role("system:node", NODE),
        cluster_role("system:kube-controller-manager", CONTROLLER_MANAGER),
        cluster_role("system:kube-scheduler", SCHEDULER),
        # kubeadm's system:node-bootstrapper, for raftkube's join endpoint (raftkube/api/join.py)
        cluster_role("raftkube:machine-joiner", [url_rule(["post"], ["/raftkube/v1/join"])]),
        cluster_role("raftkube:ingress-controller", INGRESS_CONTROLLER),
        # as metrics-server's manifest: whoever may view a namespace may read its resource metrics
        cluster_role("system:controller:horizontal-pod-autoscaler", HPA_CONTROLLER),
        cluster_role("system:aggregated-metrics-reader", [rule(READ, ["metrics.k8s.io"], ["pods", "nodes"])],
                     _labels("admin", "edit", "view")),
    ]


def default_cluster_role_bindings() -> list[Obj]:
    authenticated = ("Group", "system:authenticated")
    return [
        cluster_role_binding("cluster-admin", "cluster-admin", [("Group", "system:masters")]),
        cluster_role_binding("system:discovery", "system:discovery", [authenticated]),
        cluster_role_binding("system:basic-user", "system:basic-user", [authenticated]),
        cluster_role_binding("system:public-info-viewer", "system:public-info-viewer",
                             [authenticated, ("Group", "system:unauthenticated")]),
        cluster_role_binding("system:node", "system:node", []),
        cluster_role_binding("system:kube-controller-manager", "system:kube-controller-manager",
                             [("User", "system:kube-controller-manager")]),
        cluster_role_binding("system:kube-scheduler", "system:kube-scheduler", [("User", "system:kube-scheduler")]),
        cluster_role_binding("raftkube:machine-joiner", "raftkube:machine-joiner", [("Group", "system:bootstrappers")]),
        # (Kubernetes binds it to the controller's ServiceAccount; raftkube's controllers share one identity)
        cluster_role_binding("system:controller:horizontal-pod-autoscaler",
                             "system:controller:horizontal-pod-autoscaler",
                             [("User", "system:kube-controller-manager")]),
    ]
