"""A stand-in that keeps today's behaviour until the Node authorizer lands (to be deleted then).

`AnyNodeAuthorizer` lets `system:nodes` do anything (the Node authorizer will narrow it to a
node's own objects).
"""

from __future__ import annotations

from .attributes import Attributes
from .authorizer import ALLOW, NO_OPINION, Decision

NODES = "system:nodes"


class AnyNodeAuthorizer:
    def authorize(self, attrs: Attributes) -> Decision:
        return ALLOW if NODES in attrs.user.groups else NO_OPINION

