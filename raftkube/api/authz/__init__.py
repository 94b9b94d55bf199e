"""Authorization: who may do what, decided per request before any handler runs.

`attributes` turns a request into Kubernetes' authorization attributes (user, verb, API group,
resource, subresource, namespace, name, or a non-resource path); `authorizer` holds the
decision type, the protocol every authorizer implements and the union that asks them in turn
(the first Allow or Deny wins; no opinion from all of them is a denial).
"""

from .attributes import Attributes, forbidden_message, request_attributes
from .authorizer import ALLOW, NO_OPINION, Authorizer, Decision, SystemMastersAuthorizer, UnionAuthorizer, deny

__all__ = ["ALLOW", "NO_OPINION", "Attributes", "Authorizer", "Decision", "SystemMastersAuthorizer",
           "UnionAuthorizer", "deny", "forbidden_message", "request_attributes"]
