"""A StatefulSet's ControllerRevisions: one per distinct pod template, as Kubernetes keeps them.

A revision's `data` is the strategic merge patch that restores its template
(`{"spec": {"template": {..., "$patch": "replace"}}}`, what `kubectl rollout undo` applies), its
name `<set>-<hash of the template>`, its `revision` a number that grows with each change (a
template seen before gets its old revision renumbered as the newest, as on a rollback).
`to_truncate` picks the revisions beyond `revisionHistoryLimit` that no pod and neither the
current nor the update revision use, oldest first.
"""

from __future__ import annotations

import copy
from typing import Any

from .deployment_util import normalized, template_hash
from .podutil import owner_reference
from .statefulset_plan import REVISION_LABEL, revision_of, spec_of

Obj = dict[str, Any]
DIRECTIVE = "$patch"


def template_of_revision(revision: Obj) -> Obj:
    """The pod template a revision restores."""
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop(DIRECTIVE, None)
    return template


def same_template(revision: Obj, sts: Obj) -> bool:
    return bool(normalized(template_of_revision(revision)) == normalized(spec_of(sts).get("template") or {}))


def revision_number(revision: Obj) -> int:
    value = revision.get("revision")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def new_revision(sts: Obj, number: int) -> Obj:
    """The ControllerRevision of the set's current template."""
    template = copy.deepcopy(spec_of(sts).get("template") or {})
    collisions = (sts.get("status") or {}).get("collisionCount")
    digest = template_hash(template, collisions or None)
    labels = {**((template.get("metadata") or {}).get("labels") or {}), REVISION_LABEL: digest}
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": f"{sts['metadata']['name']}-{digest}", "namespace": sts["metadata"]["namespace"],
                         "labels": labels, "ownerReferences": [owner_reference(sts)]},
            "data": {"spec": {"template": {**template, DIRECTIVE: "replace"}}}, "revision": number}


def owned_revisions(sts: Obj, revisions: list[Obj]) -> list[Obj]:
    uid = sts["metadata"]["uid"]
    return sorted((r for r in revisions for ref in (r.get("metadata") or {}).get("ownerReferences") or []
                   if ref.get("controller") and ref.get("uid") == uid), key=revision_number)


def to_truncate(sts: Obj, revisions: list[Obj], pods: list[Obj], keep: set[str]) -> list[Obj]:
    limit = int(spec_of(sts).get("revisionHistoryLimit", 10))
    used = keep | {revision_of(p) for p in pods}
    unused = [r for r in revisions if r["metadata"]["name"] not in used]
    return unused[:max(len(unused) - limit, 0)]
