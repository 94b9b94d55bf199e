"""The CronJob controller: carries out `plan_cronjob` (cronjob_plan.py) for each CronJob.

Time comes from an injectable clock (control/clock.py; the controller-manager's real clock unless
`raftkube server --cronjob-clock-speed` makes it faster), never from the store. Per CronJob it
confirms active Jobs missing from the cache with a GET (a Job not found is MissingJob); before
starting a Job it re-reads the CronJob from the API (the informer may not show its own last status
write yet, and a stale status.active would let Forbid start a second Job); it deletes
the active Jobs under Replace, creates the scheduled Job (one that already exists is adopted into
status.active, as when an earlier status write was lost), writes status conditionally on the
resourceVersion it read, prunes finished Jobs beyond the history limits (background propagation),
and requeues itself for 100 ms after the next schedule time.
"""

from __future__ import annotations

from typing import Any

from ..client import AlreadyExists, ApiClient, Conflict, NotFound
from ..client.events import EventRecorder
from .clock import Clock, RealClock
from .cronjob_plan import CronPlan, job_ref, plan_cronjob
from .runtime import Controller, SharedInformers, controller_of, on_change, split_key

Obj = dict[str, Any]
CRONJOB = ("batch/v1", "CronJob")
JOB = ("batch/v1", "Job")


class CronJobController:
    def __init__(self, client: ApiClient, informers: SharedInformers, recorder: EventRecorder,
                 clock: Clock | None = None) -> None:
        self.client, self.recorder = client, recorder
        self.clock: Clock = clock or RealClock()
        self.cronjobs = informers.get(*CRONJOB)
        self.jobs = informers.get(*JOB)
        self.controller = Controller("cronjob", self.reconcile, workers=2)
        self.cronjobs.add_handlers(**on_change(self.controller.enqueue))
        self.jobs.add_handlers(**on_change(self.controller.enqueue_owner("CronJob")))

    def owned_jobs(self, cronjob: Obj) -> list[Obj]:
        uid = cronjob["metadata"]["uid"]
        return [j for j in self.jobs.cache.by_index("owner", uid)
                if (controller_of(j) or {}).get("kind") == "CronJob"]

    async def _gone(self, cronjob: Obj, jobs: list[Obj]) -> set[str]:
        """Uids of active Jobs the cache lacks and the API confirms deleted."""
        known = {j["metadata"]["uid"] for j in jobs}
        gone: set[str] = set()
        for ref in (cronjob.get("status") or {}).get("active") or []:
            if ref.get("uid") in known:
                continue
            try:
                job = await self.client.get(JOB, ref.get("name", ""), ref.get("namespace"))
            except NotFound:
                gone.add(ref.get("uid"))
                continue
            if job["metadata"].get("uid") != ref.get("uid"):
                gone.add(ref.get("uid"))
        return gone

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        cronjob = self.cronjobs.cache.get_by_name(name, namespace)
        if cronjob is None:
            return None
        now = self.clock.now()
        plan = await self._plan(cronjob, now)
        if plan.create is not None:  # the cache may not show our last status write yet: decide on the stored one
            fresh = await self.client.get(CRONJOB, name, namespace)
            if fresh["metadata"].get("resourceVersion") != cronjob["metadata"].get("resourceVersion"):
                cronjob, plan = fresh, await self._plan(fresh, now)
        for event_type, reason, message in plan.events:
            self.recorder.record(cronjob, event_type, reason, message)
        if plan.create is not None and not await self._replace_and_create(cronjob, plan):
            return None  # failed: the error was raised (retried with backoff) or the plan dropped
        if not await self._write_status(cronjob, plan.status):
            return 0.05  # a newer CronJob comes through the informer; look again soon regardless
        for job in plan.prune:
            await self._delete(cronjob, job)
        return None if plan.requeue is None else self.clock.real_delay(plan.requeue)

    async def _plan(self, cronjob: Obj, now: float) -> CronPlan:
        jobs = self.owned_jobs(cronjob)
        return plan_cronjob(cronjob, jobs, now, await self._gone(cronjob, jobs))

    async def _replace_and_create(self, cronjob: Obj, plan: CronPlan) -> bool:
        for job in plan.replace:
            await self._delete(cronjob, job)
            plan.status["active"] = [r for r in plan.status.get("active") or []
                                     if r.get("uid") != job["metadata"]["uid"]]
        body = plan.create
        assert body is not None
        namespace = cronjob["metadata"]["namespace"]
        try:
            created = await self.client.create(JOB, body, namespace)
            self.recorder.record(cronjob, "Normal", "SuccessfulCreate", f"Created job {created['metadata']['name']}")
        except AlreadyExists:
            created = await self.client.get(JOB, body["metadata"]["name"], namespace)
            if (controller_of(created) or {}).get("uid") != cronjob["metadata"]["uid"]:
                self.recorder.record(cronjob, "Warning", "FailedCreate",
                                     f"Error creating job: job {created['metadata']['name']} already exists "
                                     f"and is not owned by cronjob {cronjob['metadata']['name']}")
                return False
        except Exception as err:
            self.recorder.record(cronjob, "Warning", "FailedCreate", f"Error creating job: {err}")
            raise
        plan.status["active"] = [*(plan.status.get("active") or []), job_ref(created)]
        return True

    async def _delete(self, cronjob: Obj, job: Obj) -> None:
        meta = job["metadata"]
        try:
            await self.client.delete(JOB, meta["name"], meta["namespace"], propagation_policy="Background",
                                     preconditions={"uid": meta["uid"]})
        except (NotFound, Conflict):
            return
        except Exception as err:
            self.recorder.record(cronjob, "Warning", "FailedDelete", f"Deleted job: {err}")
            raise
        self.recorder.record(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {meta['name']}")

    async def _write_status(self, cronjob: Obj, status: Obj) -> bool:
        """False when the write lost a race (the informer brings the newer CronJob)."""
        if status == (cronjob.get("status") or {}):
            return True
        try:
            await self.client.update_status(CRONJOB, {**cronjob, "status": status}, cronjob["metadata"]["namespace"])
        except (Conflict, NotFound):
            return False
        return True
