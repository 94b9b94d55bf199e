"""The CronJob controller against the in-memory fake API, driven by a manual clock (no test sleeps a
minute): the first Job at the first minute, Forbid holding the next back, a completion releasing it,
status and events, the requeue in clock seconds; and the clocks themselves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from raftkube.client import ApiClient, RetryPolicy
from raftkube.control.clock import ManualClock, ScaledClock
from raftkube.control.cronjob import CronJobController
from raftkube.control.manager import default_factories, with_cronjob_clock
from raftkube.control.runtime import SharedInformers
from raftkube.machinery.times import rfc3339

from ..client.fake_api import FakeApi
from ..client.test_api_client import Sleeps

Obj = dict[str, Any]
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a minute boundary


class Recorder:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        self.reasons.append(reason)


def cronjob(policy: str = "Forbid") -> Obj:
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "tick", "namespace": "ns", "uid": "cj-uid", "creationTimestamp": rfc3339(START)},
            "spec": {"schedule": "* * * * *", "concurrencyPolicy": policy, "suspend": False,
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                         {"name": "c", "image": "i"}]}}}}},
            "status": {}}


def jobs(fake: FakeApi) -> dict[str, Obj]:
    return {key[2]: obj for key, obj in fake.objects.items() if key[0] == "jobs"}


async def until(check: Any, what: str) -> None:
    for _ in range(500):  # bounded: 5 s at most
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(what)


async def test_manual_clock_drives_schedule_forbid_and_completion() -> None:
    fake = FakeApi()
    fake.seed(cronjob())
    client = ApiClient(fake.urls(), "t0k", transport=fake.transport(), sleep=Sleeps(),
                       retry=RetryPolicy(max_attempts=3, jitter=0))
    informers = SharedInformers(client)
    clock, recorder = ManualClock(START + 30), Recorder()
    controller = CronJobController(client, informers, recorder, clock=clock)  # type: ignore[arg-type]
    await informers.start(5)
    try:
        assert await controller.reconcile("ns/tick") == pytest.approx(30.1)  # nothing before the first minute
        assert jobs(fake) == {}
        clock.advance(31)
        assert await controller.reconcile("ns/tick") == pytest.approx(59.1)
        first = f"tick-{int(START + 60) // 60}"
        assert list(jobs(fake)) == [first] and recorder.reasons == ["SuccessfulCreate"]
        status = fake.objects[("cronjobs", "ns", "tick")]["status"]
        assert status["lastScheduleTime"] == rfc3339(START + 60) and status["active"][0]["name"] == first
        await until(lambda: controller.cronjobs.cache.get_by_name("tick", "ns")["status"].get("active")
                    and first in {j["metadata"]["name"] for j in controller.jobs.cache.list()}, "caches caught up")
        clock.advance(60)
        await controller.reconcile("ns/tick")
        assert list(jobs(fake)) == [first] and recorder.reasons[-1] == "JobAlreadyActive"
        done = dict(jobs(fake)[first])
        done["status"] = {"conditions": [{"type": "Complete", "status": "True"}],
                          "completionTime": rfc3339(START + 90)}
        fake.put(done)
        await until(lambda: (controller.jobs.cache.get_by_name(first, "ns") or {}).get("status", {}).get(
            "conditions"), "the completion seen")
        await controller.reconcile("ns/tick")
        assert len(jobs(fake)) == 2 and "SawCompletedJob" in recorder.reasons
    finally:
        await informers.stop()
        await client.close()


def test_clocks() -> None:
    scaled = ScaledClock(60, origin=0.0)
    assert scaled.real_delay(60) == 1.0 and scaled.now() > 60 * 1_700_000_000
    with pytest.raises(ValueError, match="clock speed must be positive"):
        ScaledClock(0)
    assert CronJobController in default_factories() and with_cronjob_clock(1.0) == default_factories()
    assert CronJobController not in with_cronjob_clock(30.0)  # replaced by a partial with the fast clock
