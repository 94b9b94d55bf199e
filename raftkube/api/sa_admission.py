"""The ServiceAccount admission plugin: every new pod runs as an existing ServiceAccount, with its token mounted.

On pod CREATE, as Kubernetes' plugin does:
- spec.serviceAccountName defaults to spec.serviceAccount, else `default`; both end up equal.
- The ServiceAccount must exist, else 403 `error looking up service account <ns>/<name>:
  serviceaccount "<name>" not found`. `default` is made by the ServiceAccount controller right
  after its namespace, so for `default` only the lookup is retried for up to `default_wait`
  seconds (Kubernetes retries about 2 s; here 5 s by default, since the controller-manager
  shares its machine with the API): a pod created right after its namespace is admitted.
- Unless automountServiceAccountToken is false (the pod's setting wins over the ServiceAccount's),
  the projected volume `kube-api-access-<5 random characters>` (a bound token, path `token`,
  expirationSeconds 3607; ca.crt from the ConfigMap kube-root-ca.crt; the namespace from the
  downward API) is added and mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount
  in every init container and container that does not already mount something there.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from .admission_chain import AdmissionRequest
from .errors import forbidden
from .resources import find
from .storage import ObjectStorage

Obj = dict[str, Any]
DEFAULT_NAME = "default"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
TOKEN_SECONDS = 3607  # Kubernetes' value: the node refreshes it long before, and old clients keep working
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' utilrand alphabet (no vowels, no look-alikes)
_POLL = 0.1


def token_volume(name: str) -> Obj:
    return {"name": name, "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


def _random_suffix() -> str:
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))


def inject_token_volume(spec: Obj) -> str | None:
    """Add the token volume and its mounts to a pod spec; returns the volume's name (None: nothing needed it)."""
    containers = [c for key in ("initContainers", "containers") for c in spec.get(key) or [] if isinstance(c, dict)]
    needing = [c for c in containers
               if not any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in c.get("volumeMounts") or [])]
    if not needing:
        return None
    taken = {v.get("name") for v in spec.get("volumes") or []}
    name = VOLUME_PREFIX + _random_suffix()
    while name in taken:
        name = VOLUME_PREFIX + _random_suffix()
    spec.setdefault("volumes", []).append(token_volume(name))
    for container in needing:
        container.setdefault("volumeMounts", []).append({"name": name, "readOnly": True,
                                                         "mountPath": TOKEN_MOUNT_PATH})
    return name


class ServiceAccountAdmission:
    name = "ServiceAccount"

    def __init__(self, storage: ObjectStorage, default_wait: float = 5.0) -> None:
        self.storage = storage
        self.default_wait = default_wait
        accounts, namespaces = find("", "v1", "serviceaccounts"), find("", "v1", "namespaces")
        assert accounts is not None and namespaces is not None
        self.accounts, self.namespaces = accounts, namespaces

    async def _account(self, namespace: str, name: str) -> Obj | None:
        """The ServiceAccount, read from the local replica first (a pod create costs no extra Raft read);
        a miss is confirmed linearizably, and for `default` retried for `default_wait` seconds."""
        account = await self.storage.get_or_none(self.accounts, namespace, name, serializable=True)
        if account is not None:
            return account
        account = await self.storage.get_or_none(self.accounts, namespace, name)
        if account is not None or name != DEFAULT_NAME:
            return account
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.default_wait
        while account is None and loop.time() < deadline:
            await asyncio.sleep(_POLL)
            account = await self.storage.get_or_none(self.accounts, namespace, name)
        return account

    async def admit(self, request: AdmissionRequest) -> None:
        if request.operation != "CREATE" or request.resource.kind != "Pod" or request.subresource \
                or not isinstance(request.obj, dict):
            return
        pod = request.obj
        spec = pod.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        if "kubernetes.io/config.mirror" in annotations:
            return  # mirror pods of static pods carry no service account (as Kubernetes)
        account_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_NAME
        spec["serviceAccountName"] = spec["serviceAccount"] = account_name
        namespace = request.namespace or ""
        ns = await self.storage.get_or_none(self.namespaces, None, namespace, serializable=True) or \
            await self.storage.get_or_none(self.namespaces, None, namespace)
        if ns is None or (ns.get("metadata") or {}).get("deletionTimestamp"):
            return  # the write's namespace guard answers (404 NotFound, 403 terminating), as NamespaceLifecycle
        account = await self._account(namespace, account_name)
        if account is None:
            pod_name = (pod.get("metadata") or {}).get("name") or request.name
            raise forbidden(f'pods "{pod_name}" is forbidden: error looking up service account '
                            f'{namespace}/{account_name}: serviceaccount "{account_name}" not found')
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = account.get("automountServiceAccountToken")
        if automount is False:
            return
        inject_token_volume(spec)

    async def validate(self, request: AdmissionRequest) -> None:
        return None
