"""NodeRestriction: a node agent may change only its own objects (Kubernetes' admission plugin).

The Node authorizer (raftkube/api/authz/node.py) lets a node write Nodes, pod status, pod
deletions, Leases and token requests at all; this plugin, which sees the object that would be
stored and the stored one, narrows each to the node's own, with Kubernetes' messages:

- Node (and nodes/status): only its own; on create no labels under node-restriction.kubernetes.io/
  nor kubernetes.io / k8s.io labels a kubelet does not set; on update no change to its taints,
  nor to those labels;
- pods: no creation (Kubernetes lets a node create mirror pods; raftkube has none), deletion and
  status updates only of pods bound to the node (spec.nodeName), and no label change through status;
- Lease: only `kube-node-lease/<node>`;
- serviceaccounts/token: only bound to a pod (by name and uid) that runs on the node.

Other users' requests pass untouched.
"""

from __future__ import annotations

from typing import Any

from .admission_chain import AdmissionRequest
from .authz.node import NODE_LEASE_NAMESPACE, node_name
from .resources import find
from .storage import ObjectStorage

Obj = dict[str, Any]
PODS = find("", "v1", "pods")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
RESTRICTED_LABEL_NAMESPACE = "node-restriction.kubernetes.io"
KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone", "topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region", "node.kubernetes.io/windows-build"})
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _label_namespace(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def _within(namespace: str, domain: str) -> bool:
    return namespace == domain or namespace.endswith("." + domain)


def forbidden_labels(modified: set[str]) -> list[str]:
    """The labels a node may not set (Kubernetes' getForbiddenLabels), sorted."""
    out = set()
    for key in modified:
        namespace = _label_namespace(key)
        if _within(namespace, RESTRICTED_LABEL_NAMESPACE):
            out.add(key)
        kubernetes = _within(namespace, "kubernetes.io") or _within(namespace, "k8s.io")
        kubelet = key in KUBELET_LABELS or any(_within(namespace, ns) for ns in KUBELET_LABEL_NAMESPACES)
        if kubernetes and not kubelet:
            out.add(key)
    return sorted(out)


def modified_labels(new: dict[str, str], old: dict[str, str]) -> set[str]:
    changed = {k for k, v in new.items() if old.get(k) != v}
    return changed | {k for k in old if k not in new}


def _labels(obj: Obj | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


def _spec(obj: Obj | None) -> Obj:
    return (obj or {}).get("spec") or {}


class NodeRestriction:
    name = "NodeRestriction"

    def __init__(self, storage: ObjectStorage | None = None) -> None:
        self.storage = storage  # reads the pod a token request is bound to

    async def admit(self, request: AdmissionRequest) -> None:
        return None

    async def validate(self, request: AdmissionRequest) -> None:
        user = request.user
        node = node_name(user.name, user.groups) if user is not None else None
        if node is None:
            return
        resource = request.resource
        if resource.group == "" and resource.plural == "pods":
            self._pod(node, request)
        elif resource.group == "" and resource.plural == "nodes":
            self._node(node, request)
        elif resource.group == "coordination.k8s.io" and resource.plural == "leases":
            self._lease(node, request)
        elif resource.group == "" and resource.plural == "serviceaccounts" and request.subresource == "token":
            await self._token(node, request)

    @staticmethod
    def _pod(node: str, request: AdmissionRequest) -> None:
        op, sub = request.operation, request.subresource
        if sub == "status":
            if op != "UPDATE":
                raise request.forbidden(f'unexpected operation "{op}"')
            if _spec(request.old).get("nodeName") != node:
                raise request.forbidden(f'node "{node}" can only update pod status for pods with spec.nodeName set '
                                        "to itself")
            if _labels(request.obj) != _labels(request.old):
                raise request.forbidden(f'node "{node}" cannot update labels through pod status')
            return
        if sub:
            raise request.forbidden(f'unexpected operation "{op}" on subresource "{sub}" by node "{node}"')
        if op == "CREATE":
            annotations = ((request.obj or {}).get("metadata") or {}).get("annotations") or {}
            if MIRROR_ANNOTATION not in annotations:
                raise request.forbidden(f'pod does not have "{MIRROR_ANNOTATION}" annotation, node "{node}" can only '
                                        "create mirror pods")
            raise request.forbidden(f'node "{node}" may not create pods: raftkube has no mirror pods')
        if op == "DELETE":
            if _spec(request.old).get("nodeName") != node:
                raise request.forbidden(f'node "{node}" can only delete pods with spec.nodeName set to itself')
            return
        raise request.forbidden(f'unexpected operation "{op}", node "{node}" can only create and delete mirror pods')

    @staticmethod
    def _node(node: str, request: AdmissionRequest) -> None:
        if request.name != node:
            raise request.forbidden(f'node "{node}" is not allowed to modify node "{request.name}"')
        if request.operation == "CREATE":
            if _spec(request.obj).get("configSource") is not None:
                raise request.forbidden(f'node "{node}" is not allowed to create pods with a non-nil configSource')
            bad = forbidden_labels(modified_labels(_labels(request.obj), {}))
            if bad:
                raise request.forbidden(f'node "{node}" is not allowed to set the following labels: {", ".join(bad)}')
        elif request.operation == "UPDATE":
            new, old = _spec(request.obj), _spec(request.old)
            if new.get("configSource") is not None and new.get("configSource") != old.get("configSource"):
                raise request.forbidden(f'node "{node}" is not allowed to update configSource to a new non-nil '
                                        "configSource")
            if (new.get("taints") or []) != (old.get("taints") or []):
                raise request.forbidden(f'node "{node}" is not allowed to modify taints')
            bad = forbidden_labels(modified_labels(_labels(request.obj), _labels(request.old)))
            if bad:
                raise request.forbidden(f'is not allowed to modify labels: {", ".join(bad)}')

    @staticmethod
    def _lease(node: str, request: AdmissionRequest) -> None:
        if request.namespace != NODE_LEASE_NAMESPACE:
            raise request.forbidden(f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace')
        if request.name != node:
            raise request.forbidden("can only access node lease with the same name as the requesting node")

    async def _token(self, node: str, request: AdmissionRequest) -> None:
        if request.operation != "CREATE":
            return
        ref = _spec(request.obj).get("boundObjectRef") or {}
        if ref.get("apiVersion") != "v1" or ref.get("kind") != "Pod" or not ref.get("name"):
            raise request.forbidden("node requested token not bound to a pod")
        if not ref.get("uid"):
            raise request.forbidden("node requested token with a pod binding without a uid")
        if self.storage is None or PODS is None:
            raise request.forbidden("node requested token bound to a pod this server cannot look up")
        pod = await self.storage.get(PODS, request.namespace, ref["name"])  # a 404 if it is gone, as Kubernetes
        if ref["uid"] != pod["metadata"].get("uid"):
            raise request.forbidden(f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
                                    "record. The object might have been deleted and then recreated")
        if _spec(pod).get("nodeName") != node:
            raise request.forbidden("node requested token bound to a pod scheduled on a different node")

