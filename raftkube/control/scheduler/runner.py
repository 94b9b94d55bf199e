"""SchedulerRunner: the scheduler of one control-plane replica, acting only while it holds its Lease.

Every replica campaigns for the `raftkube-scheduler` Lease (like the controller-manager).
On winning it starts informers on Pods, Nodes and Namespaces (in the background, so the
Lease keeps being renewed while thousands of pods are listed) and, once they have synced,
the scheduling loop. Losing the Lease stops the loop at once; every bind and status write
checks the Lease right before it is sent (fencing; a bind needs the renew deadline at least
the bind window's latency target away). The informers stay up for `warm_for`
seconds after a loss, so that a leader that lost its Lease to one slow renewal and wins it
back does not relist everything.

The loop pops a pod, decides on the cache (which counts the pods assumed by earlier
decisions), assumes the pod on the chosen node and hands the bind to a task: up to
`max_in_flight` binds (fewer while the API server answers slowly, see `window`) run
concurrently while decisions go on; so a Lease renewal (one request) never waits behind more
than that many binds at the API server. A bind answered 409 (already bound, being deleted) or
404 is dropped; other failures forget the assumption and retry with backoff. A pod no node
fits gets PodScheduled=False/Unschedulable (a conditional status update) and a
FailedScheduling event, and waits in the queue for a cluster change. Scheduled Events are
rate-limited (`event_budget`): under a backlog they would double the writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from ...client import ApiClient, ApiError, Conflict, Informer, NotFound
from ...client.events import EventRecorder
from ..leader_election import ElectionConfig, LeaderElector, micro_now
from .algorithm import Algorithm, Decision
from .cache import SchedulerCache
from .event_budget import EventBudget
from .info import DEFAULT_SCHEDULER, PodInfo, is_assigned, needs_scheduling
from .queue import QueueClosed, QueuedPod, SchedulingQueue, key_of
from .volumes import VolumeCheck, VolumeView
from .window import BindWindow

log = logging.getLogger(__name__)
Obj = dict[str, Any]
POD, NODE, NAMESPACE = ("v1", "Pod"), ("v1", "Node"), ("v1", "Namespace")
LEASE_NAME = "raftkube-scheduler"
YIELD_EVERY = 16  # decisions between two yields to the event loop


def _placement_view(pod: Obj) -> tuple[Any, ...]:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return (pod.get("spec", {}).get("nodeName"), meta.get("labels"), status.get("phase"))


def _has_pod_affinity(queued: QueuedPod) -> bool:
    return bool(((queued.pod.get("spec") or {}).get("affinity") or {}).get("podAffinity"))


def default_election(identity: str, defer_while: Callable[[], bool] | None = None) -> ElectionConfig:
    """The controller-manager's timings (lease 1.2 s, renew deadline 0.8 s, retry 0.2 s): a killed
    scheduler is replaced in about 1.5 s. Renewals keep up under a backlog of thousands of pods
    because at most `max_in_flight` binds are ahead of a renewal (one request) at the API server,
    and the bind window narrows when answers get slower than `window_target`."""
    return ElectionConfig(LEASE_NAME, identity, defer_while=defer_while)


def window_target(election: ElectionConfig) -> float:
    """The bind latency above which the bind window narrows: a renewal (one request, about as slow
    as a bind) started one retry period after the last must be answered well within the renew deadline."""
    return (election.renew_deadline - election.retry_period) / 3


class SchedulerRunner:
    def __init__(self, client: ApiClient, identity: str | None = None, election: ElectionConfig | None = None,
                 scheduler_name: str = DEFAULT_SCHEDULER, max_in_flight: int = 32,
                 percentage_of_nodes: int = 0, warm_for: float = 60.0,
                 defer_while: Callable[[], bool] | None = None) -> None:
        self.client = client
        identity = identity or f"{socket.gethostname()}-{id(self):x}"
        election = election or default_election(identity, defer_while)
        self.elector = LeaderElector(client, election)
        self.scheduler_name = scheduler_name
        # 32: more binds per Raft entry (the store batches concurrent writes) and per loop wake-up; a Lease
        # renewal queued behind them still returns in time, as the window narrows when answers slow down
        self.max_in_flight = max_in_flight
        self.window = BindWindow(max_in_flight, minimum=min(4, max_in_flight), target=window_target(election))
        self.percentage_of_nodes = percentage_of_nodes
        self.warm_for = warm_for  # informers outlive a lost lease this long (a quick re-election needs no relist)
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue()
        self.algorithm = Algorithm(self.cache, percentage_of_nodes)
        self.recorder = EventRecorder(client, DEFAULT_SCHEDULER)
        self.events = EventBudget()  # Scheduled Events per second (a backlog must not double its writes)
        self._informers: list[Informer] = []
        self.volumes: VolumeView | None = None
        self._synced = asyncio.Event()
        self._session: asyncio.Task[None] | None = None  # informers and the event recorder
        self._loop_task: asyncio.Task[None] | None = None
        self._cooling: asyncio.Task[None] | None = None  # stops the informers once warm_for has passed
        self._tearing_down = False
        self._tasks: set[asyncio.Task[Any]] = set()  # binds and status reports in flight
        self.bound = self.conflicts = self.failures = self.unschedulable = 0

    async def run(self) -> None:
        try:
            await self.elector.run(self._start, self._stop)
        finally:
            await self.elector.release()
            if self._cooling is not None:
                self._cooling.cancel()
            for task in list(self._tasks):
                task.cancel()
            await self._stop_informers()

    # ------------------------------------------------------------------ leading
    async def _start(self) -> None:
        """Start (or keep) the informers and start deciding once they have synced, in the background,
        so that the elector keeps renewing meanwhile."""
        cooling, self._cooling = self._cooling, None
        if cooling is not None:
            if self._tearing_down:
                await cooling  # too late to keep them: let the teardown finish, then start afresh
            else:
                cooling.cancel()
        if self._session is not None and self._session.done():  # it never ends by itself; if it did, renew it
            await self._stop_informers()
        if self._session is None:
            self.cache = SchedulerCache()
            self.queue = SchedulingQueue()
            self.algorithm = Algorithm(self.cache, self.percentage_of_nodes)
            self.recorder = EventRecorder(self.client, DEFAULT_SCHEDULER)
            self._synced = asyncio.Event()
            self._session = asyncio.create_task(self._session_main(), name="scheduler-informers")
        self._loop_task = asyncio.create_task(self._loop_when_synced(), name="scheduler-loop")

    async def _stop(self) -> None:
        """Stop deciding at once. Binds already sent may finish (each was sent while leading, and
        its answer keeps the cache right); those not yet sent see the lost lease and requeue."""
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None and self._cooling is None:
            self._cooling = asyncio.create_task(self._stop_informers_after(self.warm_for))

    async def _stop_informers_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._tearing_down = True
        try:
            await self._stop_informers()
        finally:
            self._tearing_down = False

    async def _stop_informers(self) -> None:
        session, self._session = self._session, None
        informers, self._informers = self._informers, []
        if session is not None:
            session.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await session
        for informer in informers:
            await informer.stop()

    async def _session_main(self) -> None:
        pods = Informer(self.client, POD, name="scheduler-pods")
        pods.add_handlers(self._pod_added, self._pod_updated, self._pod_deleted)
        nodes = Informer(self.client, NODE, name="scheduler-nodes")
        nodes.add_handlers(self._node_added, self._node_updated, self._node_deleted)
        namespaces = Informer(self.client, NAMESPACE, name="scheduler-namespaces")
        namespaces.add_handlers(self.cache.set_namespace, self._namespace_updated,
                                lambda ns: self.cache.remove_namespace(ns["metadata"]["name"]))
        self.volumes = VolumeView(self.client, self._volumes_changed)
        self._informers = [namespaces, nodes, *self.volumes.informers, pods]
        for informer in self._informers:
            informer.start()
        for informer in self._informers:
            await informer.wait_synced()
        self._synced.set()
        await self.recorder.run()

    async def _loop_when_synced(self) -> None:
        await self._synced.wait()
        log.info("scheduler %s: leading; %d nodes, %d pods waiting", self.elector.config.identity,
                 len(self.cache.nodes), len(self.queue))
        await self._loop()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------ informer handlers
    def _pod_added(self, pod: Obj) -> None:
        if is_assigned(pod):
            self.queue.delete(key_of(pod))
            self.cache.add_pod(PodInfo.of(pod))
            if self.queue.unschedulable:
                self.queue.move_all(_has_pod_affinity)  # it may be what a pod's affinity waits for
        elif needs_scheduling(pod, self.scheduler_name):
            self.queue.add(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        key = key_of(new)
        if is_assigned(new):
            self.queue.delete(key)
            if not is_assigned(old) or _placement_view(old) != _placement_view(new) or key not in self.cache.pods:
                current = self.cache.pods.get(key)
                if (current is not None and self.cache.is_assumed(key) and current.node_name == new["spec"]["nodeName"]
                        and current.labels == (new["metadata"].get("labels") or {})):
                    self.cache.assumed.discard(key)  # our bind, confirmed: nothing else changed
                else:
                    info = PodInfo.of(new)
                    self.cache.add_pod(info)
                    if info.terminal and self.queue.unschedulable:
                        self.queue.move_all()  # a finished pod frees its node's resources
        elif needs_scheduling(new, self.scheduler_name):
            self.queue.add(new)
        else:
            self.queue.delete(key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = key_of(pod)
        self.queue.delete(key)
        if self.cache.remove_pod(key) is not None and self.queue.unschedulable:
            self.queue.move_all()  # its node has room again

    def _node_added(self, node: Obj) -> None:
        self.cache.set_node(node)
        self.queue.move_all()

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if self.cache.set_node(new):
            self.queue.move_all()

    def _node_deleted(self, node: Obj) -> None:
        self.cache.remove_node(node["metadata"]["name"])

    def _volumes_changed(self) -> None:
        if self.queue.unschedulable:
            self.queue.move_all()  # a claim, volume or class a pod waits for may have come

    def _namespace_updated(self, old: Obj, new: Obj) -> None:
        self.cache.set_namespace(new)
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            self.queue.move_all()

    # ------------------------------------------------------------------ the loop
    async def _loop(self) -> None:
        slots = self.window
        decided = 0
        for _ in range(10**12):  # bounded in principle; ends when leadership ends (cancel / close)
            await slots.acquire()
            try:
                queued = await self.queue.pop()
            except BaseException as exc:  # cancelled (the lease is lost) or closed: give the slot back
                slots.release()
                if isinstance(exc, QueueClosed):
                    return
                raise
            try:
                taken = self._schedule_one(queued, slots)
            except Exception:  # a bug must not stop the scheduler: retry the pod later
                log.exception("scheduling %s failed", queued.key)
                self.cache.forget(queued.key)
                self.queue.retry(queued.key)
                taken = False
            if not taken:
                slots.release()
            decided += 1
            if decided % YIELD_EVERY == 0:
                await asyncio.sleep(0)

    def _schedule_one(self, queued: QueuedPod, slots: BindWindow) -> bool:
        """Decide for one pod; True if a task took over the slot (else the caller releases it)."""
        pod, key = queued.pod, queued.key
        if not needs_scheduling(pod, self.scheduler_name) or key in self.cache.pods:
            self.queue.done(key)
            return False
        info = PodInfo.of(pod)
        volumes = self.volumes.check(pod) if self.volumes is not None else VolumeCheck()
        if volumes.error:
            decision = Decision(None, f"0/{len(self.cache.nodes)} nodes are available: {volumes.error}.")
        else:
            decision = self.algorithm.schedule(info, volumes.filter if volumes.affinities else None)
        if decision.node is not None:
            self.cache.assume(info, decision.node)
            self._spawn(self._bind(queued, decision.node, slots, volumes.to_select))
        else:
            self.unschedulable += 1
            self.queue.mark_unschedulable(key)
            self._spawn(self._report_unschedulable(pod, decision.message, slots))
        return True

    async def _bind(self, queued: QueuedPod, node: str, slots: BindWindow, claims: list[Obj] | None = None) -> None:
        key, pod = queued.key, queued.pod
        meta = pod["metadata"]
        latency: float | None = None
        try:
            if not self.elector.is_leader(slots.target):  # fenced, with a bind's latency to spare
                self.cache.forget(key)
                self.queue.retry(key)
                return
            if claims and self.volumes is not None:  # WaitForFirstConsumer: the volume follows the pod
                await self.volumes.select_node(claims, node)
            body = {"apiVersion": "v1", "kind": "Binding",
                    "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta.get("uid")},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
            sent = time.monotonic()
            try:
                await self.client.request("POST", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
                                          "/binding", body=body)
            finally:
                latency = time.monotonic() - sent
        except (Conflict, NotFound) as err:  # already bound, being deleted, or gone: nothing to do
            self.conflicts += 1
            log.debug("bind %s -> %s dropped: %s", key, node, err)
            self.cache.forget(key)
            self.queue.done(key)
        except ApiError as err:
            self.failures += 1
            log.info("bind %s -> %s failed (%s); retrying", key, node, err)
            self.cache.forget(key)
            self.queue.retry(key)
        else:
            self.bound += 1
            self.queue.done(key)
            if self.events.take():
                self.recorder.record(pod, "Normal", "Scheduled",
                                     f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}")
        finally:
            slots.release(latency)

    async def _report_unschedulable(self, pod: Obj, message: str, slots: BindWindow) -> None:
        try:
            if not self.elector.is_leader():
                return
            self.recorder.record(pod, "Warning", "FailedScheduling", message)
            await self._set_unschedulable(pod, message)
        except ApiError as err:
            log.info("status of %s not written: %s", key_of(pod), err)
        finally:
            slots.release()

    async def _set_unschedulable(self, pod: Obj, message: str) -> None:
        """PodScheduled=False/Unschedulable with `message`, written only if it differs (conditional)."""
        meta = pod["metadata"]
        for _ in range(3):
            conditions = (pod.get("status") or {}).get("conditions") or []
            current = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
            if current is not None and (current.get("status"), current.get("reason"), current.get("message")) == \
                    ("False", "Unschedulable", message):
                return
            updated = copy.deepcopy(pod)
            condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                         "lastProbeTime": None,
                         "lastTransitionTime": current.get("lastTransitionTime") if current is not None
                         and current.get("status") == "False" else micro_now()[:19] + "Z"}
            status = updated.setdefault("status", {})
            status["conditions"] = [c for c in conditions if c.get("type") != "PodScheduled"] + [condition]
            try:
                await self.client.update_status(POD, updated, meta["namespace"])
                return
            except NotFound:
                return
            except Conflict:
                pod = await self.client.get(POD, meta["name"], meta["namespace"])
                if not needs_scheduling(pod, self.scheduler_name) or pod["metadata"].get("uid") != meta.get("uid"):
                    return
                if not self.elector.is_leader():
                    return
