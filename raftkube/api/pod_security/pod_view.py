"""What the Pod Security checks read from a pod (or a workload's pod template), and how their
messages quote and pluralize (the wording kubectl shows users, as Kubernetes writes it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Violation = tuple[str, str]  # (reason, detail): `privileged (container "c" must not set ...)`
CheckFn = Callable[[Obj, Obj, int], Violation | None]  # (pod metadata, pod spec, minor version)


@dataclass(frozen=True)
class Check:
    id: str
    level: str  # the level that first has it: baseline or restricted
    since: int  # the first minor version (v1.<since>) it applies to
    fn: CheckFn
    overrides: tuple[str, ...] = ()  # baseline checks this restricted one replaces


def containers(spec: Obj) -> Iterator[Obj]:
    """Init containers, containers, then ephemeral containers (Kubernetes' visit order)."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                yield container


def security_context(obj: Obj) -> Obj:
    context = obj.get("securityContext")
    return context if isinstance(context, dict) else {}


def join_quote(items: list[str]) -> str:
    return ", ".join(f'"{item}"' for item in items)


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def named(what: str, names: list[str]) -> str:
    """`container "a"` / `containers "a", "b"`."""
    return f"{pluralize(what, what + 's', len(names))} {join_quote(names)}"


def windows(spec: Obj) -> bool:
    return ((spec.get("os") or {}).get("name")) == "windows"
