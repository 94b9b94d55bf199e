"""Client-side apply's three-way merge: (last applied, new config, live object) -> a JSON merge patch.

Like `kubectl apply` for types without strategic-merge keys: fields the new config sets
and the live object lacks or holds differently are patched; fields the last applied
configuration had and the new one dropped are deleted (null). Lists are replaced whole,
except that a list the user did not change since the last apply and that the live object
only extends with defaulted fields (e.g. `imagePullPolicy` inside containers) is left
alone, so a second apply of the same file answers "unchanged".
"""

from __future__ import annotations

import json
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_MISSING = object()


def last_applied_text(config: dict[str, Any]) -> str:
    """The annotation value: the config itself (without that annotation) as compact JSON."""
    clean = json.loads(json.dumps(config))
    annotations = (clean.get("metadata") or {}).get("annotations")
    if annotations is not None:
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            clean["metadata"].pop("annotations")
    return json.dumps(clean, sort_keys=True, separators=(",", ":"))


def with_last_applied(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(config))
    out.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = last_applied_text(config)
    return out


def original_of(live: dict[str, Any]) -> dict[str, Any] | None:
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def subset(small: Any, big: Any) -> bool:
    """`small` is `big` with some map fields left out (lists: same length, item by item)."""
    if isinstance(small, dict) and isinstance(big, dict):
        return all(k in big and subset(v, big[k]) for k, v in small.items())
    if isinstance(small, list) and isinstance(big, list):
        return len(small) == len(big) and all(subset(a, b) for a, b in zip(small, big, strict=True))
    return bool(small == big)


def three_way_patch(original: dict[str, Any] | None, modified: dict[str, Any],
                    current: dict[str, Any]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key in original or {}:
        if key not in modified and key in current:
            patch[key] = None
    for key, want in modified.items():
        have = current.get(key, _MISSING)
        before = (original or {}).get(key, _MISSING)
        if isinstance(want, dict) and isinstance(have, dict):
            sub = three_way_patch(before if isinstance(before, dict) else None, want, have)
            if sub:
                patch[key] = sub
        elif isinstance(want, list) and want == before and subset(want, have):
            continue
        elif have is _MISSING or want != have:
            patch[key] = want
    return patch
