"""The naming check of CRDs (kube-apiserver's naming controller, run as an admission plugin).

A CRD's names must not collide with the names other CRDs of the same group already accepted:
its plural, singular and short names with any of their resource names, its kind and listKind
with any of their kinds. A colliding CRD is stored with `NamesAccepted` False (reason
`PluralConflict`, `SingularConflict`, `ShortNamesConflict`, `KindConflict` or `ListKindConflict`,
message `"<name>" is already in use`), keeps the names it had accepted before (none when new),
and is not Established (so not served) unless it was already: `NotAccepted`, "not all names are
accepted". The other CRDs come from the resource registry (what this replica's watch has seen).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..admission_chain import AdmissionRequest
from ..objects import now_rfc3339
from .resource import GROUP

Obj = dict[str, Any]


def _names(crd: Obj, accepted: bool) -> Obj:
    source = (crd.get("status") or {}).get("acceptedNames") if accepted else (crd.get("spec") or {}).get("names")
    return source if isinstance(source, dict) else {}


def name_conflict(crd: Obj, others: Iterable[Obj]) -> tuple[str, str] | None:
    """(reason, message) of the first name of `crd` already accepted by another CRD of its group, or None."""
    group = (crd.get("spec") or {}).get("group")
    resources: set[str] = set()
    kinds: set[str] = set()
    for other in others:
        if (other.get("spec") or {}).get("group") != group:
            continue
        names = _names(other, accepted=True)
        resources.update(n for n in (names.get("plural"), names.get("singular"), *(names.get("shortNames") or []))
                         if isinstance(n, str) and n)
        kinds.update(n for n in (names.get("kind"), names.get("listKind")) if isinstance(n, str) and n)
    wanted = _names(crd, accepted=False)
    checks = [("PluralConflict", wanted.get("plural"), resources),
              ("SingularConflict", wanted.get("singular"), resources),
              *[("ShortNamesConflict", short, resources) for short in wanted.get("shortNames") or []],
              ("KindConflict", wanted.get("kind"), kinds), ("ListKindConflict", wanted.get("listKind"), kinds)]
    for reason, name, taken in checks:
        if isinstance(name, str) and name in taken:
            return reason, f'"{name}" is already in use'
    return None


def _established(crd: Obj | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(isinstance(c, dict) and c.get("type") == "Established" and c.get("status") == "True"
               for c in conditions)


class CRDNaming:
    name = "CRDNaming"

    def __init__(self, others: Callable[[str], list[Obj]]) -> None:
        """`others(name)`: every CRD known but the one named."""
        self.others = others

    async def admit(self, request: AdmissionRequest) -> None:
        if request.resource.group != GROUP or request.resource.kind != "CustomResourceDefinition" \
                or request.obj is None:
            return
        crd = request.obj
        conflict = name_conflict(crd, self.others(request.name))
        if conflict is None:
            return
        status = crd.setdefault("status", {})
        old_status = (request.old or {}).get("status") or {}
        status["acceptedNames"] = old_status.get("acceptedNames") or {}
        now = now_rfc3339()
        kept = [c for c in status.get("conditions") or [] if c.get("type") not in ("NamesAccepted", "Established")]
        conditions = [{"type": "NamesAccepted", "status": "False", "lastTransitionTime": now, "reason": conflict[0],
                       "message": conflict[1]}]
        if _established(request.old):
            conditions.append(next(c for c in old_status["conditions"] if c.get("type") == "Established"))
        else:
            conditions.append({"type": "Established", "status": "False", "lastTransitionTime": now,
                               "reason": "NotAccepted", "message": "not all names are accepted"})
        status["conditions"] = conditions + kept

    async def validate(self, request: AdmissionRequest) -> None:
        return None
