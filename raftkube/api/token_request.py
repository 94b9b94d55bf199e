"""`POST .../serviceaccounts/<name>/token`: authentication.k8s.io/v1 TokenRequest, as kube-apiserver answers it.

spec.audiences defaults to the API's own audiences; spec.expirationSeconds must be at least 600
(10 minutes), defaults to 3600 and is shortened to `max_seconds` (48 h by default) when more is
asked; spec.boundObjectRef (Pod or Secret, apiVersion v1, in the same namespace) binds the token
to that object: it must exist (and match the uid when one is given), and the token stops being
accepted once the object is gone (raftkube/api/sa_auth.py). The answer (201) is the request with
the chosen values filled in and status.token, status.expirationTimestamp. The request goes through
the admission chain (resource serviceaccounts, subresource token) before anything is signed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .admission_chain import AdmissionChain, AdmissionRequest
from .auth import User
from .errors import APIError, Cause, bad_request, conflict, invalid
from .resources import find
from .router import Target
from .sa_jwt import BoundObject, TokenSigner
from .storage import ObjectStorage

Obj = dict[str, Any]
MIN_SECONDS = 600
DEFAULT_SECONDS = 3600
MAX_SECONDS = 48 * 3600
_BOUND_KINDS = {"Pod": "pods", "Secret": "secrets"}


def _invalid(name: str, path: str, message: str) -> APIError:
    return invalid("TokenRequest", name, [Cause(path, message)], "authentication.k8s.io")


def _rfc3339(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenRequests:
    def __init__(self, storage: ObjectStorage, signer: TokenSigner, audiences: list[str],
                 max_seconds: int = MAX_SECONDS) -> None:
        self.storage, self.signer, self.audiences, self.max_seconds = storage, signer, audiences, max_seconds

    async def create(self, target: Target, body: Any, admission: AdmissionChain | None = None,
                     user: User | None = None, dry_run: bool = False) -> Obj:
        """The admission chain sees the request (e.g. NodeRestriction: a node asks only for its pods' tokens)."""
        name, namespace = target.name or "", target.namespace or ""
        if not isinstance(body, dict) or body.get("kind") not in (None, "TokenRequest"):
            raise bad_request("the body must be an authentication.k8s.io/v1 TokenRequest")
        spec = body.get("spec") if body.get("spec") is not None else {}
        if not isinstance(spec, dict):
            raise _invalid(name, "spec", "Invalid value: must be an object")
        audiences = spec.get("audiences") or list(self.audiences)
        if not isinstance(audiences, list) or not all(isinstance(a, str) and a for a in audiences):
            raise _invalid(name, "spec.audiences", "Invalid value: must be a list of non-empty strings")
        seconds = spec.get("expirationSeconds", DEFAULT_SECONDS)
        if seconds is None:
            seconds = DEFAULT_SECONDS
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise _invalid(name, "spec.expirationSeconds", f"Invalid value: {seconds!r}: must be an integer")
        if seconds < MIN_SECONDS:
            raise _invalid(name, "spec.expirationSeconds", "Invalid value: may not specify a duration less than "
                           "10 minutes")
        if seconds > 1 << 32:
            raise _invalid(name, "spec.expirationSeconds", "Invalid value: may not specify a duration larger than "
                           "2^32 seconds")
        seconds = min(seconds, self.max_seconds)
        accounts = find("", "v1", "serviceaccounts")
        assert accounts is not None
        if admission is not None:
            await admission.run(AdmissionRequest("CREATE", accounts, "token", namespace, name, body, None, user,
                                                 dry_run))
        account = await self.storage.get(accounts, namespace, name)  # 404 when it does not exist
        bound, ref = await self._bound(name, namespace, spec.get("boundObjectRef"))
        token, expires = self.signer.sign(namespace, name, account["metadata"]["uid"], audiences, seconds, bound)
        out_spec: Obj = {"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": ref}
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
                "spec": out_spec, "status": {"token": token, "expirationTimestamp": _rfc3339(expires)}}

    async def _bound(self, name: str, namespace: str, ref: Any) -> tuple[BoundObject | None, Obj | None]:
        if ref is None:
            return None, None
        if not isinstance(ref, dict):
            raise _invalid(name, "spec.boundObjectRef", "Invalid value: must be an object")
        kind, api_version = ref.get("kind"), ref.get("apiVersion") or "v1"
        if kind not in _BOUND_KINDS or api_version != "v1":
            raise bad_request(f'cannot bind token for serviceaccount "{name}" to object of kind '
                              f'"{api_version}, Kind={kind}"')
        target_name = ref.get("name")
        if not isinstance(target_name, str) or not target_name:
            raise _invalid(name, "spec.boundObjectRef.name", "Required value")
        resource = find("", "v1", _BOUND_KINDS[kind])
        assert resource is not None
        obj = await self.storage.get(resource, namespace, target_name)  # 404 when it does not exist
        uid = obj["metadata"]["uid"]
        if ref.get("uid") and ref["uid"] != uid:
            raise conflict(kind, target_name, "", f"the UID in the bound object reference ({ref['uid']}) does not "
                           "match the UID in record. The object might have been deleted and then recreated")
        return BoundObject(kind, target_name, uid), {"kind": kind, "apiVersion": "v1", "name": target_name,
                                                      "uid": uid}
