"""pods/eviction (policy/v1 Eviction): a pod deletion that respects its PodDisruptionBudget, as
Kubernetes' EvictionREST.

POST /api/v1/namespaces/<ns>/pods/<name>/eviction with an Eviction (its deleteOptions honoured:
gracePeriodSeconds, preconditions, propagationPolicy, dryRun):
- a pod Succeeded, Failed or Pending, or already being deleted, is deleted without asking a budget;
- no budget selects the pod: deleted; more than one: 500 `This pod has more than one
  PodDisruptionBudget, which the eviction subresource does not support.`;
- a budget the disruption controller has not seen at its generation, or with no disruption
  allowed: 429 `Cannot evict pod as it would violate the pod's disruption budget.` (cause
  DisruptionBudget: `The disruption budget <pdb> needs <n> healthy pods and has <m> currently`),
  which `kubectl drain` retries; a pod not Ready is let go when the budget is met anyway
  (unhealthyPodEvictionPolicy IfHealthyBudget; AlwaysAllow: always);
- otherwise the budget's status.disruptionsAllowed is decremented and the pod noted in
  status.disruptedPods, written conditionally on the budget's resourceVersion (a concurrent
  eviction re-reads: two evictions never spend one allowed disruption), then the pod is deleted.
The answer is a Status Success, 201.
"""

from __future__ import annotations

from typing import Any

from ..machinery.times import rfc3339
from .auth import User
from .deletes import Deleter
from .errors import APIError, Cause, bad_request, conflict, internal
from .kinds.selectors import matches
from .resources import find
from .router import Target
from .storage import ObjectStorage

Obj = dict[str, Any]
RETRIES = 5
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
SUCCESS: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _too_many(message: str) -> APIError:
    return APIError(429, "TooManyRequests", VIOLATION, causes=[Cause("", message, reason="DisruptionBudget")])


def budget_refusal(pdb: Obj) -> APIError | None:
    """Why this budget allows no eviction now (None: it allows one)."""
    name, status = pdb["metadata"]["name"], pdb.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 1):
        return _too_many(f"The disruption budget {name} is still being processed by the server.")
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        return APIError(403, "Forbidden", "pdb disruptions allowed is negative")
    if allowed == 0:
        return _too_many(f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy pods and has "
                         f"{status.get('currentHealthy', 0)} currently")
    return None


class Evictions:
    def __init__(self, storage: ObjectStorage, deleter: Deleter) -> None:
        self.storage, self.deleter = storage, deleter
        pods, pdbs = find("", "v1", "pods"), find("policy", "v1", "poddisruptionbudgets")
        assert pods is not None and pdbs is not None
        self.pods, self.pdbs = pods, pdbs

    async def evict(self, target: Target, body: Any, dry_run: bool, user: User | None) -> Obj:
        if not isinstance(body, dict) or body.get("kind") not in (None, "Eviction"):
            raise bad_request("the body of pods/eviction must be a policy/v1 Eviction")
        name = target.name or ""
        given = (body.get("metadata") or {}).get("name")
        if given and given != name:
            raise bad_request("name in URL does not match name in Eviction object")
        options = body.get("deleteOptions") or {}
        if not isinstance(options, dict):
            raise bad_request("deleteOptions must be a DeleteOptions object")
        dry_run = dry_run or bool(options.get("dryRun"))
        pod_target = Target(self.pods, target.namespace, name)
        for _ in range(RETRIES):
            pod = await self.storage.get(self.pods, target.namespace, name)
            meta = pod["metadata"]
            phase = (pod.get("status") or {}).get("phase")
            if meta.get("deletionTimestamp"):
                return SUCCESS
            if phase in ("Succeeded", "Failed", "Pending"):
                return await self._delete(pod_target, options, dry_run, user)
            budgets = [p for p in (await self.storage.list(self.pdbs, target.namespace)).items
                       if (p.get("spec") or {}).get("selector") is not None
                       and matches(p["spec"]["selector"], meta.get("labels"))]
            if not budgets:
                return await self._delete(pod_target, options, dry_run, user)
            if len(budgets) > 1:
                raise internal("This pod has more than one PodDisruptionBudget, which the eviction subresource "
                               "does not support.")
            pdb = budgets[0]
            status = pdb.get("status") or {}
            policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
            if not _ready(pod) and (policy == "AlwaysAllow" or (
                    int(status.get("currentHealthy") or 0) >= int(status.get("desiredHealthy") or 0) > 0)):
                return await self._delete(pod_target, options, dry_run, user)
            refusal = budget_refusal(pdb)
            if refusal is not None:
                raise refusal
            if dry_run:
                return SUCCESS
            spent = {**status, "disruptionsAllowed": int(status["disruptionsAllowed"]) - 1,
                     "disruptedPods": {**(status.get("disruptedPods") or {}), name: rfc3339()}}
            try:
                await self.storage.update(self.pdbs, {**pdb, "status": spent}, int(pdb["metadata"]["resourceVersion"]))
            except APIError as err:
                if err.code == 409:
                    continue  # another eviction spent it first: look again
                raise
            return await self._delete(pod_target, options, dry_run, user)
        raise conflict("poddisruptionbudgets", "", "policy", "the disruption budget kept changing; please try again")

    async def _delete(self, target: Target, options: Obj, dry_run: bool, user: User | None) -> Obj:
        await self.deleter.delete(target, options, dry_run, user)
        return SUCCESS
