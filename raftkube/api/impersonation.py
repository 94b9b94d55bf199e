"""User impersonation (`kubectl --as=jane --as-group=devs`): a request runs as someone else.

As Kubernetes' impersonation filter: `Impersonate-User`, `Impersonate-Group` (repeated),
`Impersonate-Uid` and `Impersonate-Extra-<key>` headers. The real user needs the `impersonate`
verb on each: `users` (or `serviceaccounts` in their namespace, for
`system:serviceaccount:<ns>:<name>`) and `groups` in the core group, `uids` and
`userextras/<key>` in authentication.k8s.io; else 403 with Kubernetes' wording. The request then
runs as the impersonated user, with `system:authenticated` (and, for a service account without
groups asked, `system:serviceaccounts` and `system:serviceaccounts:<ns>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote

from .auth import User
from .authz import Attributes, Authorizer, forbidden_message
from .authz.attributes import AUTHENTICATED
from .authz.rbac_rules import SERVICE_ACCOUNT_PREFIX
from .errors import bad_request, forbidden

USER, GROUP, UID, EXTRA = "impersonate-user", "impersonate-group", "impersonate-uid", "impersonate-extra-"
AUTHN = "authentication.k8s.io"


def wants_impersonation(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    return any(name.lower().startswith(b"impersonate-") for name, _ in headers)


def _check(authorizer: Authorizer, attrs: Attributes) -> None:
    if not authorizer.authorize(attrs).allowed:
        raise forbidden(forbidden_message(attrs))


def impersonate(real: User, headers: Sequence[tuple[bytes, bytes]], authorizer: Authorizer) -> User:
    """The user the request runs as; raises a 403 (not allowed) or 400 (headers without a user)."""
    name, uid = "", ""
    groups: list[str] = []
    extra: list[tuple[str, str]] = []
    for raw_key, raw_value in headers:
        key, value = raw_key.decode("latin-1").lower(), raw_value.decode("latin-1").strip()
        if key == USER:
            name = value
        elif key == GROUP:
            groups.append(value)
        elif key == UID:
            uid = value
        elif key.startswith(EXTRA):
            extra.append((unquote(key[len(EXTRA):]), value))
    if not name:
        raise bad_request("requested impersonation of groups, uid or extra without impersonating a user")

    def attrs(resource: str, target: str, group: str = "", namespace: str = "", sub: str = "") -> Attributes:
        return Attributes(real, "impersonate", True, group, "", resource, sub, namespace, target)

    asked = list(groups)
    if name.startswith(SERVICE_ACCOUNT_PREFIX) and name.count(":") == 3:
        namespace, account = name[len(SERVICE_ACCOUNT_PREFIX):].split(":")
        _check(authorizer, attrs("serviceaccounts", account, namespace=namespace))
        if not asked:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    else:
        _check(authorizer, attrs("users", name))
    for group in asked:
        _check(authorizer, attrs("groups", group))
    if uid:
        _check(authorizer, attrs("uids", uid, AUTHN))
    for key, value in extra:
        _check(authorizer, attrs("userextras", value, AUTHN, sub=key))
    if name == "system:anonymous":
        groups.append("system:unauthenticated")
    elif AUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    values: dict[str, list[str]] = {}
    for key, value in extra:
        values.setdefault(key, []).append(value)
    return User(name, uid, tuple(groups), tuple((k, tuple(v)) for k, v in values.items()))

