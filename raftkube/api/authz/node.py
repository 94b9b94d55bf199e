"""The Node authorizer: what a node agent (`system:node:<name>` in `system:nodes`) may do.

As Kubernetes' Node authorizer together with its `system:node` ClusterRole:

- read (get, list, watch) nodes, pods, services, endpoints and endpointslices;
- get a Secret, ConfigMap or PersistentVolumeClaim (or list/watch it with a field selector pinning
  its name, as the kubelet watches each one), and create a ServiceAccount's token, only
  when a pod bound to this node names it (raftkube/api/authz/node_graph.py); get a PersistentVolume
  bound to such a claim or pinned to this node, and delete a pinned one once it is Released with
  reclaim policy Delete (the agent removes local-path volumes: raftkube/api/authz/volume_graph.py);
- create, get, update and patch Nodes and nodes/status, delete pods, update and patch
  pods/status: the NodeRestriction admission plugin (raftkube/api/node_restriction.py) then
  checks the object is the node's own (a node's Node, pods bound to it), from the stored
  object, as Kubernetes splits it; where the name is in the path a node other than its own
  is refused here already;
- create, update and patch events; get, create, update, patch and delete its own Lease in
  kube-node-lease;
- create tokenreviews and subjectaccessreviews (as the role allows, for delegated checks).

Everything else a node asks for is an explicit Deny, not "no opinion": a node's powers are
exactly these, whatever a later authorizer (RBAC bindings, or today's allow-all stand-in)
would say. Kubernetes answers no opinion and leaves the rest to RBAC, which binds nothing to
`system:nodes` by default, so the outcome is the same unless an administrator binds roles to
nodes. Non-resource requests (discovery, /version, /healthz, OpenAPI) and the self-reviews
every user may make (selfsubjectaccessreviews, selfsubjectrulesreviews, selfsubjectreviews)
are left to the other authorizers. Users that are not nodes: no opinion.
"""

from __future__ import annotations

from .attributes import Attributes
from .authorizer import ALLOW, NO_OPINION, Decision, deny
from .node_graph import CONFIGMAPS, PVCS, SECRETS, SERVICEACCOUNTS, NodeGraph

NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
NODE_LEASE_NAMESPACE = "kube-node-lease"
READ = frozenset({"get", "list", "watch"})
# (group, resource, subresource) -> verbs, checked no further here (admission narrows them)
_STATIC_RULES: dict[tuple[str, str, str], frozenset[str]] = {
    ("", "nodes", ""): READ | {"create", "update", "patch"},
    ("", "nodes", "status"): frozenset({"get", "update", "patch"}),
    ("", "pods", ""): READ | {"delete"},
    ("", "pods", "status"): frozenset({"get", "update", "patch"}),
    ("", "services", ""): READ,
    ("", "endpoints", ""): READ,
    ("discovery.k8s.io", "endpointslices", ""): READ,
    ("", "events", ""): frozenset({"create", "update", "patch"}),
    ("events.k8s.io", "events", ""): frozenset({"create", "update", "patch"}),
    ("authentication.k8s.io", "tokenreviews", ""): frozenset({"create"}),
    ("authorization.k8s.io", "subjectaccessreviews", ""): frozenset({"create"}),
    ("authorization.k8s.io", "localsubjectaccessreviews", ""): frozenset({"create"}),
}
_EVERYONES = {("authorization.k8s.io", "selfsubjectaccessreviews"), ("authorization.k8s.io", "selfsubjectrulesreviews"),
              ("authentication.k8s.io", "selfsubjectreviews")}
_GRAPH_READS = {SECRETS, CONFIGMAPS, PVCS}
_LEASE_VERBS = frozenset({"get", "create", "update", "patch", "delete"})


def node_name(user_name: str, groups: tuple[str, ...]) -> str | None:
    """The node a user is (Kubernetes' NodeIdentifier), or None for every other user."""
    if NODES_GROUP not in groups or not user_name.startswith(NODE_USER_PREFIX):
        return None
    return user_name.removeprefix(NODE_USER_PREFIX) or None


class NodeAuthorizer:
    def __init__(self, graph: NodeGraph) -> None:
        self.graph = graph

    def authorize(self, attrs: Attributes) -> Decision:
        node = node_name(attrs.user.name, attrs.user.groups)
        if node is None:
            if NODES_GROUP in attrs.user.groups and attrs.resource_request:
                return deny("unknown node: a node's user name is system:node:<name>")
            return NO_OPINION
        if not attrs.resource_request or (attrs.api_group, attrs.resource) in _EVERYONES:
            return NO_OPINION
        self.graph.ensure_started()
        group, resource, sub = attrs.api_group, attrs.resource, attrs.subresource
        if group == "" and resource in _GRAPH_READS:
            return self._read_referenced(node, attrs)
        if group == "" and resource == "persistentvolumes":
            return self._volume(node, attrs)
        if group == "" and resource == SERVICEACCOUNTS:
            return self._create_token(node, attrs)
        if group == "coordination.k8s.io" and resource == "leases":
            return self._lease(node, attrs)
        verbs = _STATIC_RULES.get((group, resource, sub))
        if verbs is None or attrs.verb not in verbs:
            return deny("")
        if group == "" and resource == "nodes" and attrs.name and attrs.name != node and attrs.verb not in READ:
            return deny(f'node "{node}" is not allowed to modify node "{attrs.name}"')
        return ALLOW

    def _related(self, node: str, kind: str, attrs: Attributes) -> Decision:
        if not self.graph.synced.is_set():
            return deny("the node authorizer has not read the cluster's pods yet; retry")
        if self.graph.references(node, kind, attrs.namespace, attrs.name):
            return ALLOW
        return deny(f"no relationship found between node '{node}' and this object")

    def _read_referenced(self, node: str, attrs: Attributes) -> Decision:
        """get, or list/watch with a field selector pinning metadata.name (the kubelet's watch of one object)."""
        if attrs.verb not in READ or not attrs.name:
            return deny("can only get, list or watch individual resources of this type "
                        "(list and watch with fieldSelector=metadata.name=<name>)")
        if attrs.subresource:
            return deny("cannot get subresource")
        if not attrs.namespace:
            return deny("can only get namespaced objects of this type")
        return self._related(node, attrs.resource, attrs)

    def _volume(self, node: str, attrs: Attributes) -> Decision:
        """get a volume bound to a claim of its pods or pinned to it; delete a pinned one once Released
        with reclaim policy Delete (after removing its data: node/local_volumes.py)."""
        volumes = self.graph.volumes
        if attrs.subresource or attrs.verb not in ("get", "delete") or not attrs.name:
            return deny("can only get or delete individual persistentvolumes")
        if not (self.graph.synced.is_set() and volumes.synced.is_set()):
            return deny("the node authorizer has not read the cluster's volumes yet; retry")
        if attrs.verb == "get" and volumes.may_get(node, attrs.name, self.graph.claims_of(node)):
            return ALLOW
        if attrs.verb == "delete" and volumes.may_delete(node, attrs.name):
            return ALLOW
        return deny(f"no relationship found between node '{node}' and this object")

    def _create_token(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb != "create" or not attrs.name:
            return deny("can only create tokens for individual service accounts")
        if attrs.subresource != "token":
            return deny("can only create token subresource of serviceaccount")
        return self._related(node, SERVICEACCOUNTS, attrs)

    def _lease(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb not in _LEASE_VERBS:
            return deny("can only get, create, update, patch, or delete a node lease")
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            return deny(f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace')
        if attrs.verb != "create" and attrs.name != node:  # on create the name is in the body: admission checks it
            return deny("can only access node lease with the same name as the requesting node")
        if attrs.subresource:
            return deny("")
        return ALLOW
