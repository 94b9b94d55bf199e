"""The ClusterRole aggregation controller: an aggregated ClusterRole holds the rules of the roles it selects.

A ClusterRole with `aggregationRule.clusterRoleSelectors` gets as rules the union of the rules
of every other ClusterRole whose labels a selector matches (raftkube/api/rbac_aggregation.py),
rewritten whenever any ClusterRole changes: label a custom resource's role
`rbac.authorization.k8s.io/aggregate-to-edit: "true"` and `edit` (and `admin`, which takes
`edit`) grant it within seconds. Writes are conditional on the version read (a Conflict is
retried from the informer's next view).
"""

from __future__ import annotations

from typing import Any

from ..client import ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from ..machinery.rbac_aggregation import aggregated_rules, selectors_of
from .runtime import Controller, SharedInformers

Obj = dict[str, Any]
CLUSTER_ROLE = ("rbac.authorization.k8s.io/v1", "ClusterRole")


class ClusterRoleAggregationController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client = client
        self.roles = informers.get(*CLUSTER_ROLE)
        self.controller = Controller("clusterrole-aggregation", self.reconcile, workers=1)
        self.roles.add_handlers(on_add=self._changed, on_update=lambda old, new: self._changed(new),
                                on_delete=self._changed)

    def _changed(self, role: Obj | None) -> None:
        """Any ClusterRole may feed any aggregated one: look at every aggregated role again."""
        for candidate in self.roles.cache.list():
            if selectors_of(candidate) is not None:
                self.controller.enqueue(candidate)

    async def reconcile(self, key: str) -> float | None:
        role = self.roles.cache.get_by_name(key)
        if role is None:
            return None
        rules = aggregated_rules(role, self.roles.cache.list())
        if rules is None or rules == (role.get("rules") or []):
            return None
        try:
            await self.client.update(CLUSTER_ROLE, {**role, "rules": rules})  # carries the resourceVersion: CAS
        except (Conflict, NotFound):
            return 0.2  # changed meanwhile: look again once the informer shows it
        return None
