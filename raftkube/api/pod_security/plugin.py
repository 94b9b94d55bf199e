"""The PodSecurity admission plugin: namespace labels choose the level pods are held to.

- Pods (create, and updates that change an image or the seccomp annotations, as Kubernetes
  counts them; status, binding and the other read-only subresources are not evaluated): a
  violation of the namespace's enforce level is a 403 (`pods "x" is forbidden: violates
  PodSecurity "baseline:latest": host namespaces (hostNetwork=true), ...`) and nothing is
  stored; a violation of its warn level adds a warning (`would violate PodSecurity ...`),
  which kubectl prints.
- Workloads with a pod template (Deployment, ReplicaSet, DaemonSet, StatefulSet, Job,
  CronJob, ReplicationController, PodTemplate): warnings only, never refused, as Kubernetes
  does (their pods are refused when they are created).
- Namespaces: invalid pod-security labels are a 422; making enforce stricter warns about the
  existing pods that would violate it (the first `max_pods_checked`).

A namespace without an enforce label gets the server's default level (`--pod-security-default`,
baseline unless told otherwise), except kube-system, kube-public and kube-node-lease, which are
privileged. This is stricter than Kubernetes, whose default is privileged everywhere: here a user
namespace must opt in (label `pod-security.kubernetes.io/enforce=privileged`) to run pods that
can take over their node. Nobody is exempt (Kubernetes exempts no user by default either).
"""

from __future__ import annotations

from typing import Any

from ..admission_chain import AdmissionRequest
from ..errors import invalid
from ..resources import find
from ..storage import ObjectStorage
from .evaluate import evaluate, forbidden_detail, forbidden_reasons
from .levels import BASELINE, LEVELS, PRIVILEGED, Policy, policy_from_labels, strictness
from .pod_view import Obj

NAMESPACES, PODS = find("", "v1", "namespaces"), find("", "v1", "pods")
PRIVILEGED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
IGNORED_POD_SUBRESOURCES = frozenset({"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"})
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {  # kind -> where its pod template is
    "Deployment": ("spec", "template"), "ReplicaSet": ("spec", "template"), "DaemonSet": ("spec", "template"),
    "StatefulSet": ("spec", "template"), "Job": ("spec", "template"), "ReplicationController": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"), "PodTemplate": ("template",),
}
SECCOMP_ANNOTATIONS = ("seccomp.security.alpha.kubernetes.io/pod", "container.seccomp.security.alpha.kubernetes.io/")


def _template(obj: Obj, path: tuple[str, ...]) -> Obj | None:
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _significant_update(new: Obj, old: Obj) -> bool:
    """Whether a pod update changes what Pod Security looks at (images, containers, seccomp annotations)."""
    def view(pod: Obj) -> tuple[Any, ...]:
        spec = pod.get("spec") or {}
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        seccomp = sorted((k, v) for k, v in annotations.items() if str(k).startswith(SECCOMP_ANNOTATIONS))
        return (tuple((c.get("name"), c.get("image")) for c in spec.get("containers") or []),
                tuple((c.get("name"), c.get("image")) for c in spec.get("initContainers") or []),
                tuple((c.get("name"), c.get("image")) for c in spec.get("ephemeralContainers") or []), tuple(seccomp))
    return view(new) != view(old)


class PodSecurity:
    name = "PodSecurity"

    def __init__(self, storage: ObjectStorage, default_level: str = BASELINE, max_pods_checked: int = 3000) -> None:
        if default_level not in LEVELS:
            raise ValueError(f"pod security default must be one of {', '.join(LEVELS)}, not {default_level!r}")
        self.storage = storage
        self.default = Policy.uniform(default_level)
        self.max_pods_checked = max_pods_checked

    def default_for(self, namespace: str) -> Policy:
        return Policy.uniform(PRIVILEGED) if namespace in PRIVILEGED_NAMESPACES else self.default

    async def _policy(self, namespace: str) -> Policy | None:
        """The namespace's policy; None when it does not exist (the write then answers 404)."""
        assert NAMESPACES is not None
        ns = await self.storage.get_or_none(NAMESPACES, None, namespace, serializable=True)
        if ns is None:
            ns = await self.storage.get_or_none(NAMESPACES, None, namespace)
        if ns is None:
            return None
        policy, _ = policy_from_labels((ns.get("metadata") or {}).get("labels"), self.default_for(namespace))
        return policy

    async def admit(self, request: AdmissionRequest) -> None:
        return None

    async def validate(self, request: AdmissionRequest) -> None:
        if request.operation not in ("CREATE", "UPDATE") or request.obj is None:
            return
        kind = request.resource.kind
        if kind == "Namespace" and request.resource.group == "":
            await self._namespace(request)
        elif kind == "Pod" and request.resource.group == "":
            await self._pod(request)
        elif kind in TEMPLATE_PATHS and not request.subresource:
            await self._workload(request, TEMPLATE_PATHS[kind])

    async def _pod(self, request: AdmissionRequest) -> None:
        if request.subresource in IGNORED_POD_SUBRESOURCES or request.namespace is None:
            return
        if request.operation == "UPDATE" and request.old is not None and not _significant_update(request.obj or {},
                                                                                                   request.old):
            return
        policy = await self._policy(request.namespace)
        if policy is None:
            return
        pod = request.obj or {}
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        violations = evaluate(policy.enforce, meta, spec)
        if violations:
            raise request.forbidden(f'violates PodSecurity "{policy.enforce}": {forbidden_detail(violations)}')
        self._warn(request, policy, meta, spec)

    async def _workload(self, request: AdmissionRequest, path: tuple[str, ...]) -> None:
        template = _template(request.obj or {}, path)
        if template is None or request.namespace is None:
            return
        policy = await self._policy(request.namespace)
        if policy is not None:
            self._warn(request, policy, template.get("metadata") or {}, template.get("spec") or {})

    @staticmethod
    def _warn(request: AdmissionRequest, policy: Policy, meta: Obj, spec: Obj) -> None:
        violations = evaluate(policy.warn, meta, spec)
        if violations:
            request.warnings.append(f'would violate PodSecurity "{policy.warn}": {forbidden_detail(violations)}')

    async def _namespace(self, request: AdmissionRequest) -> None:
        if request.subresource:
            return
        name = request.name
        labels = ((request.obj or {}).get("metadata") or {}).get("labels")
        new, errors = policy_from_labels(labels, self.default_for(name))
        if request.operation == "CREATE" or request.old is None:
            if errors:
                raise invalid("Namespace", name, errors)
            return
        old, old_errors = policy_from_labels((request.old.get("metadata") or {}).get("labels"), self.default_for(name))
        if errors and (not old_errors or errors != old_errors):
            raise invalid("Namespace", name, errors)
        if new.enforce == old.enforce or new.enforce.level == PRIVILEGED:
            return
        relaxed = strictness(new.enforce.level) <= strictness(old.enforce.level)
        if new.enforce.version == old.enforce.version and relaxed:
            return
        request.warnings.extend(await self._existing_pods(name, new))

    async def _existing_pods(self, namespace: str, policy: Policy) -> list[str]:
        """Kubernetes' warnings about the pods a stricter enforce level would refuse."""
        assert PODS is not None
        pods = (await self.storage.list(PODS, namespace)).items
        checked = pods[:self.max_pods_checked]
        counts: dict[str, tuple[str, int]] = {}  # reasons -> (first pod name, pods)
        for pod in checked:
            violations = evaluate(policy.enforce, pod.get("metadata") or {}, pod.get("spec") or {})
            if violations:
                reason, pod_name = forbidden_reasons(violations), pod["metadata"]["name"]
                first, count = counts.get(reason, (pod_name, 0))
                counts[reason] = (min(first, pod_name), count + 1)
        warnings = []
        if len(checked) < len(pods):
            warnings.append(f"new PodSecurity enforce level only checked against the first {len(checked)} of "
                            f"{len(pods)} existing pods")
        if counts:
            warnings.append(f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce level '
                            f'"{policy.enforce}"')
        per_pod = []
        for reason, (first, count) in counts.items():
            others = "" if count == 1 else " (and 1 other pod)" if count == 2 else f" (and {count - 1} other pods)"
            per_pod.append(f"{first}{others}: {reason}")
        return warnings + sorted(per_pod)
