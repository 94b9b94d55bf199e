"""Evaluate a pod (its metadata and spec) against a Pod Security level and version.

The checks of a level at a version are those that exist at that version (baseline's for
baseline; restricted's plus the baseline ones they do not replace for restricted), in
Kubernetes' order: baseline check ids sorted, then restricted ones, so messages read the
same for the same pod. privileged allows everything.
"""

from __future__ import annotations

from .checks_baseline import BASELINE_CHECKS
from .checks_restricted import RESTRICTED_CHECKS
from .levels import BASELINE, PRIVILEGED, LevelVersion
from .pod_view import Check, Obj, Violation

_ORDERED = tuple(sorted(BASELINE_CHECKS, key=lambda c: c.id)) + tuple(sorted(RESTRICTED_CHECKS, key=lambda c: c.id))
_cache: dict[tuple[str, int], tuple[Check, ...]] = {}


def checks_for(level: str, minor: int) -> tuple[Check, ...]:
    key = (level, minor)
    if key not in _cache:
        if level == PRIVILEGED:
            chosen: tuple[Check, ...] = ()
        else:
            present = [c for c in _ORDERED if c.since <= minor and (level != BASELINE or c.level == BASELINE)]
            replaced = {o for c in present for o in c.overrides}
            chosen = tuple(c for c in present if c.id not in replaced)
        _cache[key] = chosen
    return _cache[key]


def evaluate(lv: LevelVersion, meta: Obj, spec: Obj) -> list[Violation]:
    """The violations of `lv` (empty: allowed)."""
    out = []
    for check in checks_for(lv.level, lv.minor):
        violation = check.fn(meta, spec, lv.minor)
        if violation is not None:
            out.append(violation)
    return out


def forbidden_detail(violations: list[Violation]) -> str:
    """`host namespaces (hostNetwork=true), privileged (container "c" must not set ...)`."""
    return ", ".join(f"{reason} ({detail})" if detail else reason for reason, detail in violations)


def forbidden_reasons(violations: list[Violation]) -> str:
    return ", ".join(reason for reason, _ in violations)
