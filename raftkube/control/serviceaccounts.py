"""The ServiceAccount controller and the root-CA publisher, keyed by namespace.

For every namespace that is not terminating, as kube-controller-manager's serviceaccount-controller
and root-ca-cert-publisher do:
- the ServiceAccount `default` exists (made again when deleted),
- the ConfigMap `kube-root-ca.crt` holds the cluster CA under `ca.crt` (rewritten when changed), so
  the projected token volume (raftkube/api/sa_admission.py) carries the CA pods verify the API with.
The CA is the one the controller-manager's own kubeconfig trusts (`ApiClient.ca_pem`); without one
(an insecure client) only the ServiceAccounts are made.
"""

from __future__ import annotations

import logging
from typing import Any

from ..client import AlreadyExists, ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from .runtime import Controller, SharedInformers, on_change

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NAMESPACE = ("v1", "Namespace")
SERVICE_ACCOUNT = ("v1", "ServiceAccount")
CONFIG_MAP = ("v1", "ConfigMap")
DEFAULT_ACCOUNT = "default"
ROOT_CA = "kube-root-ca.crt"
ROOT_CA_ANNOTATION = "kubernetes.io/description"
ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
                       "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
                       "guaranteed across distributions of Kubernetes clusters.")


def root_ca_configmap(namespace: str, ca_pem: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ROOT_CA, "namespace": namespace,
                         "annotations": {ROOT_CA_ANNOTATION: ROOT_CA_DESCRIPTION}},
            "data": {"ca.crt": ca_pem}}


class ServiceAccountsController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder
        self.ca_pem = getattr(client, "ca_pem", None)
        self.namespaces = informers.get(*NAMESPACE)
        self.accounts = informers.get(*SERVICE_ACCOUNT)
        self.configmaps = informers.get(*CONFIG_MAP)
        self.controller = Controller("serviceaccount", self.reconcile, workers=2)
        self.namespaces.add_handlers(**on_change(self._namespace_changed))
        self.accounts.add_handlers(on_delete=self._child_changed(DEFAULT_ACCOUNT))
        self.configmaps.add_handlers(**on_change(self._child_changed(ROOT_CA)))

    def _namespace_changed(self, ns: Obj | None) -> None:
        if ns is not None:
            self.controller.enqueue_key(ns["metadata"]["name"])

    def _child_changed(self, name: str) -> Any:
        def handler(obj: Obj | None) -> None:
            meta = (obj or {}).get("metadata") or {}
            if meta.get("name") == name and meta.get("namespace"):
                self.controller.enqueue_key(meta["namespace"])
        return handler

    async def reconcile(self, key: str) -> float | None:
        ns = self.namespaces.cache.get_by_name(key)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return None
        if self.accounts.cache.get_by_name(DEFAULT_ACCOUNT, key) is None:
            try:
                await self.client.create(SERVICE_ACCOUNT, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                           "metadata": {"name": DEFAULT_ACCOUNT}}, key)
            except AlreadyExists:
                pass
            except NotFound:  # the namespace went away meanwhile
                return None
        if self.ca_pem and not await self._publish_ca(key):
            return 1.0  # the cache was behind: look again soon
        return None

    async def _publish_ca(self, namespace: str) -> bool:
        assert self.ca_pem is not None
        live = self.configmaps.cache.get_by_name(ROOT_CA, namespace)
        wanted = root_ca_configmap(namespace, self.ca_pem)
        try:
            if live is None:
                await self.client.create(CONFIG_MAP, wanted, namespace)
            elif (live.get("data") or {}) != wanted["data"] or live.get("binaryData"):
                wanted["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                await self.client.update(CONFIG_MAP, wanted, namespace)
        except (AlreadyExists, Conflict):
            return False
        except NotFound:
            pass
        return True
