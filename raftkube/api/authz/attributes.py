"""A request as Kubernetes' authorizers see it (k8s.io/apiserver's RequestInfo and Attributes).

Resource requests (`/api/v1/...`, `/apis/<group>/<version>/...`) get a verb from the method
(GET on a name: get; GET on a collection: list, or watch with `?watch=true`; POST: create;
PUT: update; PATCH: patch; DELETE on a name: delete, on a collection: deletecollection), and
the group, resource (plural), subresource, namespace and name of the path. Everything else
(`/version`, `/healthz`, `/api`, `/apis/apps`, `/openapi/v3`, ...) is a non-resource request
whose verb is the lower-cased HTTP method. A list or watch whose field selector pins
`metadata.name` gets that name, as Kubernetes' RequestInfo does: RBAC's resourceNames and the Node
authorizer then judge it as a read of that one object (the kubelet watches each ConfigMap and
Secret its pods use that way).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..auth import User

AUTHENTICATED = "system:authenticated"
_COLLECTION_VERBS = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}
_NAME_REQUIREMENT = re.compile(r"^\s*metadata\.name\s*(==|=)\s*(.*?)\s*$")
_OBJECT_VERBS = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete", "POST": "create"}


@dataclass(frozen=True)
class Attributes:
    user: User
    verb: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    resource: str = ""  # the plural: "pods", "deployments"
    subresource: str = ""  # "status", "log", "scale", "binding", "token", ...
    namespace: str = ""  # "" for cluster-scoped objects and for lists across every namespace
    name: str = ""
    path: str = ""  # the URL path (what non-resource rules match)

    @property
    def groups(self) -> tuple[str, ...]:
        """The user's groups, with `system:authenticated` as every authenticated user has it."""
        groups = self.user.groups
        return groups if AUTHENTICATED in groups else (*groups, AUTHENTICATED)


def selected_name(field_selector: str) -> str:
    """The name a field selector pins (`metadata.name=x` or `==`), "" when it pins none."""
    for part in field_selector.split(","):
        m = _NAME_REQUIREMENT.match(part)
        if m and m.group(2) and "/" not in m.group(2) and m.group(2) not in (".", ".."):
            return m.group(2)
    return ""


def request_attributes(user: User, method: str, path: str, watch: bool = False, field_selector: str = "") -> Attributes:
    """The attributes of one request; `watch` is the `?watch=` query parameter, parsed as true/false,
    `field_selector` the `?fieldSelector=` one."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Attributes(user, method.lower(), False, path=path)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:  # the namespace object itself
        namespace = rest[1]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if name:
        verb = _OBJECT_VERBS.get(method, method.lower())
    else:
        verb = _COLLECTION_VERBS.get(method, method.lower())
        if verb == "list" and watch:
            verb = "watch"
        if verb in ("list", "watch"):
            name = selected_name(field_selector)
    if method == "GET" and watch and name:
        verb = "watch"  # a watch of one object (?fieldSelector=metadata.name= is the usual form)
    return Attributes(user, verb, True, group, version, resource, subresource, namespace, name, path)


def forbidden_message(attrs: Attributes) -> str:
    """Kubernetes' wording, which kubectl prints as is:
    `pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"`."""
    user = attrs.user.name
    if not attrs.resource_request:
        return f'forbidden: User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    subject = f'{attrs.resource}.{attrs.api_group}' if attrs.api_group else attrs.resource
    if attrs.name:
        subject += f' "{attrs.name}"'
    where = f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
    return (f'{subject} is forbidden: User "{user}" cannot {attrs.verb} resource "{resource}" '
            f'in API group "{attrs.api_group}"{where}')
