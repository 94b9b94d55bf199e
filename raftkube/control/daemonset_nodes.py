"""Node predicates for daemon pods (and node lifecycle): readiness, selectors, node affinity, taints.

`should_run(node, template_spec)` and `should_continue(...)` are Kubernetes' pair: a daemon pod
is created only on a node it fits (Ready, schedulable, selected, every NoSchedule/NoExecute
taint tolerated); an existing one stays as long as the node still selects it and every
NoExecute taint is tolerated (a node turning NotReady does not remove its daemon pods).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"


def node_condition(node: Obj, kind: str = "Ready") -> Obj | None:
    conditions: list[Obj] = (node.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if isinstance(c, dict) and c.get("type") == kind), None)


def node_ready(node: Obj) -> bool:
    cond = node_condition(node)
    return cond is not None and cond.get("status") == "True"


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Kubernetes' ToleratesTaint: effect (empty = any), then key and value by operator."""
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"
    if key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return (toleration.get("value") or "") == (taint.get("value") or "")


def tolerated(tolerations: list[Obj], taint: Obj) -> Obj | None:
    """The first toleration that tolerates `taint`, or None."""
    return next((t for t in tolerations if tolerates(t, taint)), None)


def untolerated_taints(node: Obj, tolerations: list[Obj], effects: tuple[str, ...]) -> list[Obj]:
    return [t for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") in effects and tolerated(tolerations, t) is None]


def _requirement_matches(req: Obj, values: dict[str, str]) -> bool:
    key, op, wanted = req.get("key", ""), req.get("operator"), [str(v) for v in req.get("values") or []]
    present, value = key in values, values.get(key)
    if op == "In":
        return present and value in wanted
    if op == "NotIn":
        return not present or value not in wanted
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            have, limit = int(str(value)), int(wanted[0])
        except ValueError:
            return False
        return have > limit if op == "Gt" else have < limit
    return False


def term_matches(term: Obj, node: Obj) -> bool:
    """A NodeSelectorTerm: every matchExpression (labels) and matchField (metadata.name); an empty term
    matches nothing, as in Kubernetes."""
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    return (all(_requirement_matches(e, labels) for e in exprs)
            and all(_requirement_matches(f, {"metadata.name": meta.get("name", "")}) for f in fields))


def selected(node: Obj, pod_spec: Obj) -> bool:
    """nodeSelector and the required node affinity terms (ORed) both match the node."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(term_matches(term, node) for term in required.get("nodeSelectorTerms") or [])


def should_run(node: Obj, pod_spec: Obj) -> bool:
    """A new daemon pod belongs on this node."""
    return (node_ready(node) and not (node.get("spec") or {}).get("unschedulable") and selected(node, pod_spec)
            and not untolerated_taints(node, pod_spec.get("tolerations") or [], ("NoSchedule", "NoExecute")))


def should_continue(node: Obj, pod_spec: Obj) -> bool:
    """An existing daemon pod may stay on this node."""
    return selected(node, pod_spec) and not untolerated_taints(node, pod_spec.get("tolerations") or [],
                                                               ("NoExecute",))


def daemon_tolerations(pod_spec: Obj) -> list[Obj]:
    """The tolerations Kubernetes adds to every daemon pod, so that an unreachable or not-ready node
    keeps its daemons (appended when missing)."""
    tolerations = list(pod_spec.get("tolerations") or [])
    for key, effect in ((NOT_READY, "NoExecute"), (UNREACHABLE, "NoExecute")):
        wanted = {"key": key, "operator": "Exists", "effect": effect}
        if wanted not in tolerations:
            tolerations.append(wanted)
    return tolerations
