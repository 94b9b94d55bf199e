"""Stand-ins that keep today's behaviour until the real authorizers land (to be deleted then).

`AnyNodeAuthorizer` lets `system:nodes` do anything (the Node authorizer will narrow it to a
node's own objects); `AnyAuthenticatedAuthorizer` lets every authenticated user do anything
(RBAC will replace it).
"""

from __future__ import annotations

from .attributes import Attributes
from .authorizer import ALLOW, NO_OPINION, Decision

NODES = "system:nodes"


class AnyNodeAuthorizer:
    def authorize(self, attrs: Attributes) -> Decision:
        return ALLOW if NODES in attrs.user.groups else NO_OPINION


class AnyAuthenticatedAuthorizer:
    def authorize(self, attrs: Attributes) -> Decision:
        return ALLOW
