"""The ReplicationController manager (Kubernetes' replication-controller): the ReplicaSet controller's
machinery (plan, expectations, adoption and release, status) on core/v1 ReplicationControllers,
whose selector is a plain label map rather than a LabelSelector."""

from __future__ import annotations

from typing import Any

from ..api.kinds.replication import label_selector
from .replicaset import ReplicaSetController

Obj = dict[str, Any]
RC = ("v1", "ReplicationController")


class ReplicationManager(ReplicaSetController):
    resource = RC
    name = "replicationmanager"

    def label_selector(self, owner: Obj) -> Obj | None:
        selector = (owner.get("spec") or {}).get("selector")
        return label_selector(owner) if selector else None  # an RC without a selector selects nothing
