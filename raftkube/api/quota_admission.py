"""The ResourceQuota admission plugin (Kubernetes' resourcequota): a create is charged against every
quota of its namespace, or refused.

On CREATE of anything namespaced (but Events and the quotas themselves), for each ResourceQuota in
the namespace: the object's cost (machinery/quota.py) masked to the quota's status.hard; a quota
on cpu/memory whose containers do not all say how much they want is `failed quota: <q>: must
specify limits.cpu for: <containers>`; a quota whose status the quota controller has not filled
yet is `status unknown for quota: <q>, resources: <names>`; used + cost over hard is
`exceeded quota: <q>, requested: <r>, used: <u>, limited: <l>` (403). Otherwise the new
status.used is written, conditional on each quota's resourceVersion (the store's compare-and-swap),
before the object is: two creates racing for the last unit cannot both pass, the loser re-reads
and is checked again (up to RETRIES times). The quotas are first read from this replica (no Raft
read per create); a refusal, or a charge whose compare-and-swap fails, is decided again on a
linearizable read. A create that fails after its charge leaves used too high until the quota
controller recounts, as in Kubernetes. Dry runs are checked, never charged. A quota with scopes
(Terminating, NotTerminating, BestEffort, NotBestEffort, scopeSelector on PriorityClass) counts
only the pods in them. Updates of Services and PersistentVolumeClaims are charged what they add
(a Service turning NodePort, a claim asking for more storage). Left out: pod resizes.
"""

from __future__ import annotations

from typing import Any

from ..machinery import quota as q
from .admission_chain import AdmissionRequest
from .errors import APIError
from .resources import find
from .storage import ObjectStorage

Obj = dict[str, Any]
RETRIES = 10
SKIPPED = frozenset({"events", "resourcequotas"})
UPDATES = frozenset({"services", "persistentvolumeclaims"})  # Kubernetes' evaluators that also charge updates


class ResourceQuotaAdmission:
    name = "ResourceQuota"

    def __init__(self, storage: ObjectStorage) -> None:
        self.storage = storage
        quotas = find("", "v1", "resourcequotas")
        assert quotas is not None
        self.quotas = quotas

    async def admit(self, request: AdmissionRequest) -> None:
        return None

    async def validate(self, request: AdmissionRequest) -> None:
        resource = request.resource
        update = request.operation == "UPDATE" and not resource.group and resource.plural in UPDATES
        if ((request.operation != "CREATE" and not update) or request.subresource or not resource.namespaced
                or resource.plural in SKIPPED or request.obj is None or not request.namespace):
            return
        delta = q.remove_zeros(q.usage(resource.kind, resource.plural, resource.group, request.obj))
        if update:  # only what grows is charged (a Service turning NodePort, a claim asking for more)
            before = q.usage(resource.kind, resource.plural, resource.group, request.old or {})
            delta = {k: v for k, v in q.subtract(delta, before).items() if v[0] > 0}
        if not delta:
            return
        charged: set[str] = set()  # quotas this request has already paid (a retry must not charge them twice)
        for attempt in range(RETRIES):
            local = attempt == 0  # first from this replica (no Raft read); a stale copy fails its compare-and-swap
            quotas = [x for x in (await self.storage.list(self.quotas, request.namespace, serializable=local)).items
                      if x["metadata"].get("uid") not in charged]
            try:
                writes = self.check(request, delta, quotas)
            except APIError:
                if not local:
                    raise
                continue  # refuse only on what the leader holds: a local copy may lag a recount
            if request.dry_run or await self._charge(writes, charged):
                return
        raise APIError(409, "Conflict", f"Operation cannot be fulfilled on resourcequotas: the quotas of "
                                        f"{request.namespace} kept changing; please try again")

    def check(self, request: AdmissionRequest, delta: q.ResourceList, quotas: list[Obj]) -> list[Obj]:
        """The quotas with their new status.used, or the refusal (raised)."""
        writes = []
        for quota in sorted(quotas, key=lambda x: x["metadata"]["name"]):
            spec, status = quota.get("spec") or {}, quota.get("status") or {}
            if q.is_scoped(spec) and not (request.resource.kind == "Pod" and not request.resource.group
                                          and q.pod_in_scope(spec, request.obj or {})):
                continue  # a scoped quota counts only the pods in its scopes
            name = quota["metadata"]["name"]
            hard, used = q.parse_list(status.get("hard")), q.parse_list(status.get("used"))
            restricted = q.matching(request.resource.kind, request.resource.plural, request.resource.group, hard)
            if request.resource.kind == "Pod" and not request.resource.group:
                missing = q.missing_constraints(request.obj or {}, restricted)
                if missing:
                    raise request.forbidden(f"failed quota: {name}: {missing}")
            if not restricted <= set(used):
                raise request.forbidden(f"status unknown for quota: {name}, resources: {','.join(sorted(restricted))}")
            requested = q.mask(delta, hard)
            new_used = q.add(used, requested)
            over = q.exceeded(q.mask(new_used, requested), hard)
            if over:
                shown = [q.pretty(q.mask(x, over)) for x in (requested, used, hard)]
                raise request.forbidden(f"exceeded quota: {name}, requested: {shown[0]}, used: {shown[1]}, "
                                        f"limited: {shown[2]}")
            if requested:
                writes.append({**quota, "status": {**status, "used": q.to_json(new_used)}})
        return writes

    async def _charge(self, writes: list[Obj], charged: set[str]) -> bool:
        """Write each quota's new usage (compare-and-swap); False when one changed meanwhile."""
        for quota in writes:
            try:
                await self.storage.update(self.quotas, quota, int(quota["metadata"]["resourceVersion"]))
            except APIError as err:
                if err.code == 409:
                    return False
                raise
            charged.add(quota["metadata"].get("uid"))
        return True
