"""Authorization decisions, the Authorizer protocol and the union of authorizers.

As in Kubernetes each authorizer answers Allow, Deny or no opinion; `UnionAuthorizer` asks
them in order and stops at the first Allow or Deny, and a request nobody allows is refused
(fail closed). `system:masters` is allowed everything before any other authorizer is asked,
as kube-apiserver's privileged-group short-circuit does, so an admin cannot lock itself out.
Authorizers are synchronous and answer from memory (each keeps its own index current by a
watch): a decision never waits on the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .attributes import Attributes

SYSTEM_MASTERS = "system:masters"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    denied: bool  # an explicit Deny: no later authorizer is asked
    reason: str = ""


ALLOW = Decision(True, False)
NO_OPINION = Decision(False, False)


def deny(reason: str) -> Decision:
    return Decision(False, True, reason)


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> Decision: ...


class SystemMastersAuthorizer:
    def authorize(self, attrs: Attributes) -> Decision:
        return ALLOW if SYSTEM_MASTERS in attrs.user.groups else NO_OPINION


class UnionAuthorizer:
    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self.authorizers = list(authorizers)

    def authorize(self, attrs: Attributes) -> Decision:
        reasons = []
        for authorizer in self.authorizers:
            decision = authorizer.authorize(attrs)
            if decision.allowed or decision.denied:
                return decision
            if decision.reason:
                reasons.append(decision.reason)
        return Decision(False, False, "; ".join(reasons))
