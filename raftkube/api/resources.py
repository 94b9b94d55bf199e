"""The resource table: every kind the API serves, its group/version, names and subresources."""

from __future__ import annotations

from dataclasses import dataclass

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
RBAC = "rbac.authorization.k8s.io"
AUTHZ = "authorization.k8s.io"
AUTHN = "authentication.k8s.io"
APIEXTENSIONS = "apiextensions.k8s.io"


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale", "log", "binding", "token"
    virtual: bool = False  # create-only, nothing stored (the review APIs): see `REVIEWS`
    read_only: bool = False  # get/list only, computed on request, nothing stored (metrics.k8s.io): see `METRICS`

    @property
    def verbs(self) -> list[str]:
        """The verbs discovery lists: a review is create-only, a metrics resource get/list."""
        if self.read_only:
            return ["get", "list"]
        return ["create"] if self.virtual else list(ALL_VERBS)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, `pods`: how error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def storage_prefix(self, namespace: str | None = None) -> bytes:
        """/registry/<group>/<resource>/[<namespace>/]: namespace None = every namespace."""
        group = self.group or "core"
        base = f"/registry/{group}/{self.plural}/"
        if self.namespaced and namespace:
            base += f"{namespace}/"
        return base.encode()

    def storage_key(self, namespace: str | None, name: str) -> bytes:
        if self.namespaced:
            return self.storage_prefix(namespace) + name.encode()
        return self.storage_prefix() + name.encode()


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",), (), ("status",)),
    Resource("", "v1", "Pod", "pods", "pod", True, ("po",), ("all",),
             ("status", "log", "binding", "exec", "attach", "portforward", "eviction")),
    Resource("", "v1", "Service", "services", "service", True, ("svc",), ("all",), ("status",)),
    Resource("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",)),
    Resource("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",)),
    Resource("", "v1", "Secret", "secrets", "secret", True),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",), (), ("token",)),
    Resource("", "v1", "Node", "nodes", "node", False, ("no",), (), ("status",)),
    Resource("", "v1", "Event", "events", "event", True, ("ev",)),
    Resource("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", True, ("quota",), (), ("status",)),
    Resource("", "v1", "LimitRange", "limitranges", "limitrange", True, ("limits",)),
    Resource("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller", True, ("rc",),
             ("all",), ("status", "scale")),
    Resource("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", False, ("pv",), (), ("status",)),
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", True, ("pvc",), (),
             ("status",)),
    Resource("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("all",),
             ("status", "scale")),
    Resource("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",), ("all",), ("status", "scale")),
    Resource("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ("ds",), ("all",), ("status",)),
    Resource("apps", "v1", "StatefulSet", "statefulsets", "statefulset", True, ("sts",), ("all",), ("status", "scale")),
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", True),
    Resource("batch", "v1", "Job", "jobs", "job", True, (), ("all",), ("status",)),
    Resource("batch", "v1", "CronJob", "cronjobs", "cronjob", True, ("cj",), ("all",), ("status",)),
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", True, ("pdb",),
             (), ("status",)),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", "lease", True),
    Resource(RBAC, "v1", "Role", "roles", "role", True),
    Resource(RBAC, "v1", "ClusterRole", "clusterroles", "clusterrole", False),
    Resource(RBAC, "v1", "RoleBinding", "rolebindings", "rolebinding", True),
    Resource(RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", False),
    Resource("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", True, ("ing",), (), ("status",)),
    Resource("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", False),
    # stored as autoscaling/v2; autoscaling/v1 (what `kubectl autoscale` 1.32 creates) converts (api/conversion.py)
    Resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler",
             True, ("hpa",), ("all",), ("status",)),
    Resource("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler",
             True, ("hpa",), ("all",), ("status",)),
    Resource("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", False, ("sc",)),
    Resource(APIEXTENSIONS, "v1", "CustomResourceDefinition", "customresourcedefinitions", "customresourcedefinition",
             False, ("crd", "crds"), (), ("status",)),
)

REVIEWS: tuple[Resource, ...] = (
    Resource(AUTHZ, "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", "selfsubjectaccessreview", False,
             virtual=True),
    Resource(AUTHZ, "v1", "SubjectAccessReview", "subjectaccessreviews", "subjectaccessreview", False,
             virtual=True),
    Resource(AUTHZ, "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", "localsubjectaccessreview",
             True, virtual=True),
    Resource(AUTHZ, "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", "selfsubjectrulesreview", False,
             virtual=True),
    Resource(AUTHN, "v1", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview", False, virtual=True),
)
"""The review APIs: create-only, answered from the authorizer and never stored (api/reviews.py)."""

METRICS_GROUP = "metrics.k8s.io"
METRICS: tuple[Resource, ...] = (
    Resource(METRICS_GROUP, "v1beta1", "NodeMetrics", "nodes", "", False, read_only=True),
    Resource(METRICS_GROUP, "v1beta1", "PodMetrics", "pods", "", True, read_only=True),
)
"""The resource metrics API (metrics-server's): read from the agents on request (api/metrics_api.py)."""

SERVED: tuple[Resource, ...] = RESOURCES + REVIEWS + METRICS
"""Everything discovery, OpenAPI and the router know: the stored kinds, the reviews and the metrics."""

_BY_PATH = {(r.group, r.version, r.plural): r for r in SERVED}
_BY_KIND = {(r.group, r.version, r.kind): r for r in SERVED}


def find(group: str, version: str, plural: str) -> Resource | None:
    return _BY_PATH.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> Resource | None:
    group, _, version = api_version.rpartition("/")
    return _BY_KIND.get((group, version, kind))


def by_kind_name(kind: str) -> Resource | None:
    """The resource for a kind name alone (kinds are unique across the groups served)."""
    return next((r for r in SERVED if r.kind == kind), None)


def group_versions() -> dict[str, list[str]]:
    """group -> versions served (the core group is "")."""
    out: dict[str, list[str]] = {}
    for r in SERVED:
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return out
