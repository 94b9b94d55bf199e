"""The Job controller (NonIndexed): run pods until `completions` succeed, within backoffLimit and the deadline.

`plan_job` is a pure function of (Job, pods in its namespace, now): how many pods to create,
which to delete, the new status and the events to record. Failures are failed pods (plus
container restarts under `restartPolicy: OnFailure`); more than `backoffLimit` of them, or a
run longer than `activeDeadlineSeconds`, fails the Job (condition Failed) and deletes its
active pods; enough successes complete it (condition Complete, completionTime).

Left out: the `batch.kubernetes.io/job-tracking` finalizer (counts come from the pods that
still exist and never decrease, as Kubernetes' legacy tracking did), Indexed completion,
podFailurePolicy, successPolicy, the exponential delay before re-creating failed pods,
ttlSecondsAfterFinished, and adopting orphaned pods.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ..client import ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from ..machinery.times import parse_rfc3339, rfc3339
from .expectations import Expectations
from .podutil import deletion_rank, is_active, is_ready, is_terminating, pod_from_template, restarts
from .runtime import Controller, OwnedPodEvents, SharedInformers, controller_of, on_change, split_key

Obj = dict[str, Any]
JOB = ("batch/v1", "Job")
POD = ("v1", "Pod")
MAX_BURST = 500


@dataclass
class JobPlan:
    create: int = 0
    delete: list[Obj] = field(default_factory=list)
    status: Obj = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    requeue: float | None = None


def finished(job: Obj) -> str | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def job_labels(job: Obj) -> dict[str, str]:
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    return {"controller-uid": uid, "job-name": name, "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name}


def _condition(kind: str, reason: str, message: str, now: float) -> Obj:
    stamp = rfc3339(now)
    return {"type": kind, "status": "True", "lastProbeTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def plan_job(job: Obj, pods: list[Obj], now: float) -> JobPlan:
    spec, status = job.get("spec") or {}, dict(job.get("status") or {})
    uid = job["metadata"]["uid"]
    owned = [p for p in pods if (controller_of(p) or {}).get("uid") == uid]
    active = [p for p in owned if is_active(p)]
    phases = [(p.get("status") or {}).get("phase") for p in owned]
    succeeded = max(int(status.get("succeeded") or 0), phases.count("Succeeded"))
    failed = max(int(status.get("failed") or 0), phases.count("Failed"))
    plan = JobPlan()
    terminal: Obj | None = None
    if finished(job) is not None or job["metadata"].get("deletionTimestamp"):
        plan.delete = active if finished(job) else []  # anything still running after the end
    elif spec.get("suspend"):
        plan.delete = active
    else:
        start = status.get("startTime") or rfc3339(now)
        status["startTime"] = start
        restart_policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
        failures = failed + (sum(restarts(p) for p in active) if restart_policy == "OnFailure" else 0)
        completions = spec.get("completions")
        deadline = spec.get("activeDeadlineSeconds")
        ends_at = (parse_rfc3339(start) or now) + int(deadline) if deadline is not None else None
        if failures > int(spec.get("backoffLimit", 6)):
            terminal = _condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now)
        elif ends_at is not None and ends_at <= now:
            terminal = _condition("Failed", "DeadlineExceeded", "Job was active longer than specified deadline", now)
        elif (completions is not None and succeeded >= int(completions)) or (
                completions is None and succeeded > 0 and not active):
            terminal = _condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods", now)
        if terminal is not None:
            plan.delete = active
            status["conditions"] = [*(status.get("conditions") or []), terminal]
            if terminal["type"] == "Complete":
                status["completionTime"] = rfc3339(now)
            plan.events.append(("Normal" if terminal["type"] == "Complete" else "Warning",
                                "Completed" if terminal["type"] == "Complete" else terminal["reason"],
                                terminal["message"] if terminal["type"] == "Failed" else "Job completed"))
        else:
            parallelism = int(spec.get("parallelism", 1))
            if completions is not None:
                wanted = min(parallelism, int(completions) - succeeded)
            else:
                wanted = 0 if succeeded > 0 else parallelism
            diff = len(active) - wanted
            if diff < 0:
                plan.create = min(-diff, MAX_BURST)
            elif diff > 0:
                plan.delete = sorted(active, key=deletion_rank)[:diff]
            if ends_at is not None:
                plan.requeue = max(ends_at - now, 0.0) + 0.1
    remaining = [p for p in active if p not in plan.delete]
    status.update(active=len(remaining) + plan.create, succeeded=succeeded, failed=failed,
                  ready=sum(1 for p in remaining if is_ready(p)),
                  terminating=sum(1 for p in owned if is_terminating(p)
                                  and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")))
    plan.status = status
    return plan


class JobController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder
        self.jobs = informers.get(*JOB)
        self.pods = informers.get(*POD)
        self.expectations = Expectations()
        self.controller = Controller("job", self.reconcile, workers=2)
        self.jobs.add_handlers(**on_change(self.controller.enqueue))
        self.pods.add_handlers(**OwnedPodEvents("Job", self.controller, self.expectations).handlers())

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        job = self.jobs.cache.get_by_name(name, namespace)
        if job is None:
            self.expectations.forget(key)
            return None
        if not self.expectations.satisfied(key):
            return 1.0
        plan = plan_job(job, self.pods.cache.by_index("namespace", namespace or ""), time.time())
        if plan.create:
            self.expectations.expect(key, creates=plan.create)
        if plan.delete:
            self.expectations.expect(key, deletes=len(plan.delete))
        await asyncio.gather(self._create(key, job, plan.create), self._delete(key, job, plan.delete))
        if await self._write_status(job, plan.status):
            for event_type, reason, message in plan.events:
                self.recorder.record(job, event_type, reason, message)
        return plan.requeue

    async def _create(self, key: str, job: Obj, count: int) -> None:
        template = (job.get("spec") or {}).get("template") or {}
        body = pod_from_template(job, template, extra_labels=job_labels(job))
        results = await asyncio.gather(*(self.client.create(POD, body, job["metadata"]["namespace"])
                                         for _ in range(count)), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        for result in results:
            if isinstance(result, dict):
                self.recorder.record(job, "Normal", "SuccessfulCreate", f"Created pod: {result['metadata']['name']}")
        for _ in failed:
            self.expectations.created(key)
        if failed:
            self.recorder.record(job, "Warning", "FailedCreate", f"Error creating: {failed[0]}")
            raise failed[0] if isinstance(failed[0], Exception) else RuntimeError(str(failed[0]))

    async def _delete(self, key: str, job: Obj, pods: list[Obj]) -> None:
        async def one(pod: Obj) -> None:
            meta = pod["metadata"]
            try:
                await self.client.delete(POD, meta["name"], meta["namespace"], preconditions={"uid": meta["uid"]})
                self.recorder.record(job, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}")
            except (NotFound, Conflict):
                self.expectations.deleted(key)
        await asyncio.gather(*(one(p) for p in pods))

    async def _write_status(self, job: Obj, status: Obj) -> bool:
        """True if this call changed the status (conditional on the Job's resourceVersion)."""
        if status == (job.get("status") or {}):
            return False
        try:
            await self.client.update_status(JOB, {**job, "status": status}, job["metadata"]["namespace"])
        except (Conflict, NotFound):
            return False  # a newer version comes through the informer and is reconciled
        return True
