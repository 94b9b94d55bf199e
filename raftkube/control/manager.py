"""The controller-manager: every controller, acting only while this replica holds the Lease.

Runs on every control-plane replica. Each campaigns for the `raftkube-controller-manager`
Lease; the winner starts shared informers and the controllers' workers, and stops them the
moment it stops leading (workers also check the lease before every key: fencing).
Controllers are listed statically in `default_factories()` (a broken controller fails the
import loudly instead of silently never running): each factory takes (client, informers,
recorder) and returns an object with a `controller` attribute (or `controllers`, a list).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from collections.abc import Callable
from typing import Any

from ..client import ApiClient
from ..client.events import EventRecorder
from .clock import ScaledClock
from .clusterrole_aggregation import ClusterRoleAggregationController
from .crd_cleanup import CRDCleanupController
from .cronjob import CronJobController
from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .disruption import DisruptionController
from .endpoints import EndpointsController
from .garbage_collector import GarbageCollector
from .hpa import HorizontalPodAutoscalerController
from .job import JobController
from .leader_election import ElectionConfig, LeaderElector
from .local_path import LocalPathProvisioner
from .namespace import NamespaceController
from .node_lifecycle import NodeLifecycleController
from .persistent_volumes import PersistentVolumeController
from .replicaset import ReplicaSetController
from .replication import ReplicationManager
from .resourcequota import ResourceQuotaController
from .runtime import Controller, SharedInformers
from .serviceaccounts import ServiceAccountsController
from .statefulset import StatefulSetController
from .storage_protection import StorageProtectionController

log = logging.getLogger(__name__)
LEASE_NAME = "raftkube-controller-manager"
Factory = Callable[[ApiClient, SharedInformers, EventRecorder], Any]


def default_factories() -> list[Factory]:
    """Every controller the controller-manager runs (one line per controller)."""
    return [
        ReplicaSetController,
        ReplicationManager,
        DeploymentController,
        DaemonSetController,
        JobController,
        EndpointsController,
        GarbageCollector,
        NamespaceController,
        NodeLifecycleController,
        ClusterRoleAggregationController,
        ServiceAccountsController,
        HorizontalPodAutoscalerController,
        StatefulSetController,
        PersistentVolumeController,
        LocalPathProvisioner,
        StorageProtectionController,
        CRDCleanupController,
        CronJobController,
        ResourceQuotaController,
        DisruptionController,
    ]


def with_cronjob_clock(speed: float) -> list[Factory]:
    """`default_factories()` with the CronJob controller's clock `speed` times faster (1: the real clock)."""
    if speed == 1.0:
        return default_factories()
    clock = ScaledClock(speed)
    return [functools.partial(CronJobController, clock=clock) if factory is CronJobController else factory
            for factory in default_factories()]


def controllers_of(instance: Any) -> list[Controller]:
    if hasattr(instance, "controllers"):
        return list(instance.controllers)
    return [instance.controller]


class ControllerManager:
    def __init__(self, client: ApiClient, identity: str | None = None, election: ElectionConfig | None = None,
                 factories: list[Factory] | None = None, defer_while: Callable[[], bool] | None = None) -> None:
        self.client = client
        identity = identity or f"{socket.gethostname()}-{id(self):x}"
        self.elector = LeaderElector(client, election or ElectionConfig(LEASE_NAME, identity, defer_while=defer_while))
        self.factories = factories if factories is not None else default_factories()
        self._tasks: list[asyncio.Task[Any]] = []
        self._informers: SharedInformers | None = None
        self._recorder: EventRecorder | None = None
        self.instances: list[Any] = []
        self.leading_since: float | None = None

    async def run(self) -> None:
        try:
            await self.elector.run(self._start, self._stop)
        finally:
            await self.elector.release()

    async def _start(self) -> None:
        """Start in the background: the elector's loop must keep renewing while informers list."""
        self._tasks = [asyncio.create_task(self._start_controllers())]

    async def _start_controllers(self) -> None:
        informers = SharedInformers(self.client)
        recorder = EventRecorder(self.client, "raftkube-controller-manager")
        self._recorder = recorder
        self.instances = [factory(self.client, informers, recorder) for factory in self.factories]
        self._informers = informers
        await informers.start()
        self._tasks.append(asyncio.create_task(recorder.run()))
        for instance in self.instances:
            for controller in controllers_of(instance):  # the informers' initial lists enqueued every object
                self._tasks.append(asyncio.create_task(controller.run(self.elector.is_leader)))
            if hasattr(instance, "run"):
                self._tasks.append(asyncio.create_task(instance.run(self.elector.is_leader)))
        self.leading_since = asyncio.get_running_loop().time()

    async def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._recorder is not None:
            await self._recorder.flush()
            self._recorder = None
        if self._informers is not None:
            await self._informers.stop()
            self._informers = None
        self.leading_since = None
