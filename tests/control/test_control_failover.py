"""Controller-manager failover on a real 3-replica control plane (`LocalControlPlane`, controllers on).

The Lease holder is SIGKILLed mid-rollout, then the next one is SIGSTOPped for longer than its
Lease; then a node stops renewing its Lease. The test plays the node agents (`FakeNodes`, and
`Kubelet` below for pod status); the real scheduler binds. An informer samples the pods at
every event against the rollout's bounds; a watch on the Lease sees every change of holder.
The test's clients avoid the replica it will kill or pause (if the Lease moves on its own
first, the scenario runs again). Behaviour is asserted; timings are printed, never asserted.
The last test drives two `LeaderElector`s on a fake clock (no cluster): a slow GET.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import pytest

from raftkube.client import (
    ApiClient,
    ApiError,
    ApiUnavailable,
    Informer,
    OutcomeUnknown,
    ServerError,
)
from raftkube.control import deployment_util as du
from raftkube.control.deployment_status import rollout_message
from raftkube.control.leader_election import ElectionConfig, LeaderElector
from raftkube.control.podutil import is_active, is_ready, is_terminating
from raftkube.control.runtime import controller_of
from raftkube.local.control_plane import LocalControlPlane
from raftkube.machinery.times import parse_rfc3339
from tests.control.fake_leases import FakeLeaseApi
from tests.control.fake_nodes import FakeNodes, set_pod_status

pytestmark = pytest.mark.timeout(150)

Obj = dict[str, Any]
T = TypeVar("T")
POD, NODE, NAMESPACE, EVENT = ("v1", "Pod"), ("v1", "Node"), ("v1", "Namespace"), ("v1", "Event")
RS, DEPLOYMENT, LEASE = ("apps/v1", "ReplicaSet"), ("apps/v1", "Deployment"), ("coordination.k8s.io/v1", "Lease")
CM_LEASE, SYSTEM = "raftkube-controller-manager", "kube-system"
CM_CONFIG = ElectionConfig(CM_LEASE, "any")  # the durations every replica's controller-manager uses
TEST_LABEL = "raftkube.io/failover-test"
V1, V2 = "example.local/app:v1", "example.local/app:v2"
MAX_SURGE, MAX_UNAVAILABLE = 2, 1
PAUSE = 3.0  # how long the leader stays SIGSTOPped: well past its 1.2 s lease


async def eventually(check: Callable[[], Awaitable[T | None] | T | None], what: str, timeout: float = 30.0,
                     interval: float = 0.05) -> T:
    """Poll `check` (sync or async; API errors count as 'not yet') until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: object = None
    for _ in range(1_000_000):
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return cast(T, value)
            last = value
        except ApiError as err:
            last = err
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


async def idempotent(write: Callable[[], Awaitable[T]], what: str, timeout: float = 30.0) -> T:
    """Run a write whose repetition is harmless (a patch to absolute values) until it is answered:
    one that meets a store changing leaders answers 503 or loses its answer, and is not retried
    by the client."""
    deadline = time.monotonic() + timeout
    for _ in range(1_000):
        try:
            return await write()
        except (ServerError, OutcomeUnknown, ApiUnavailable):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not written")


# ---------------------------------------------------------------------------------------- the plane
@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane]:
    cluster = LocalControlPlane(str(tmp_path_factory.mktemp("failover")))
    try:
        cluster.start(timeout=90)
        yield cluster
    finally:
        cluster.close()


def client_for(plane: LocalControlPlane, avoid: int | None = None) -> ApiClient:
    """A client of every replica's API but `avoid`'s (the one the test will kill or pause)."""
    urls = [url for i, url in enumerate(plane.api_urls) if i != avoid]
    return ApiClient(urls, plane.token, plane.ca_file, timeout=10)


def replica_index(plane: LocalControlPlane, identity: str) -> int:
    return next(i for i, r in enumerate(plane.replicas) if r.name == identity)


async def stable_holder(plane: LocalControlPlane, steady: float = 2.0) -> str:
    """The controller-manager Lease's holder once it has kept renewing it for `steady` seconds."""
    async with client_for(plane) as api:
        since: dict[str, float] = {}

        async def steady_holder() -> str | None:
            lease = await api.get(LEASE, CM_LEASE, SYSTEM)
            holder = (lease.get("spec") or {}).get("holderIdentity") or ""
            if holder not in since:
                since.clear()
                since[holder] = time.monotonic()
            return holder if holder and time.monotonic() - since[holder] >= steady else None
        return await eventually(steady_holder, "a steady controller-manager Lease holder", timeout=60, interval=0.1)


class Flapped(Exception):
    """The Lease changed hands on its own before the fault was injected: the scenario runs again."""


async def with_retries(scenario: Callable[[str], Awaitable[None]], name: str, attempts: int = 3) -> None:
    for attempt in range(1, attempts + 1):
        try:
            await scenario(f"{name}-{attempt}")
            return
        except Flapped as why:
            print(f"\n{why}; running the scenario again")
    raise AssertionError(f"the Lease changed hands on its own in each of {attempts} attempts")


# ---------------------------------------------------------------------------------------- the Lease
@dataclass
class LeaseRecord:
    revision: int
    seen_at: float  # time.monotonic() when this process received it
    holder: str
    acquire_time: str | None
    renew_time: str | None
    transitions: int


class LeaseHistory:
    """Every version of the controller-manager Lease from `start()` on, in revision order."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.records: list[LeaseRecord] = []
        self.error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        lease = await eventually(lambda: self.client.get(LEASE, CM_LEASE, SYSTEM), "the Lease", timeout=60)
        self._add(lease)
        self._task = asyncio.create_task(self._watch(lease["metadata"]["resourceVersion"]))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self, rv: str) -> None:
        try:
            async for kind, obj in self.client.watch(LEASE, SYSTEM, resource_version=rv):
                if kind in ("ADDED", "MODIFIED") and obj["metadata"]["name"] == CM_LEASE:
                    self._add(obj)
        except ApiError as err:  # checked by `handovers`: a gap in the history would hide a holder
            self.error = err

    def _add(self, lease: Obj) -> None:
        spec = lease.get("spec") or {}
        self.records.append(LeaseRecord(int(lease["metadata"]["resourceVersion"]), time.monotonic(),
                                        spec.get("holderIdentity") or "", spec.get("acquireTime"),
                                        spec.get("renewTime"), int(spec.get("leaseTransitions") or 0)))

    @property
    def holder(self) -> str:
        return self.records[-1].holder

    async def wait(self, check: Callable[[LeaseRecord], bool], what: str, timeout: float = 30.0) -> LeaseRecord:
        return await eventually(lambda: next((r for r in self.records if check(r)), None), what, timeout, 0.01)

    def holder_at(self, revision: int) -> str | None:
        """Who held the Lease at store revision `revision` (None before the history starts)."""
        held = [r.holder for r in self.records if r.revision < revision]
        return held[-1] if held else None

    def handovers(self) -> list[tuple[LeaseRecord, LeaseRecord, float]]:
        """(last record of the old holder, first of the new, the wall-clock gap between the old holder's
        last renewal and the new one's acquisition) for every change of holder; asserts that each
        is a real handover: the transition count goes up by one, and the new holder acquired only
        after the old one's renew deadline had passed (so the two never acted at once)."""
        assert self.error is None, f"the Lease watch broke: {self.error}"
        result = []
        for before, after in zip(self.records, self.records[1:], strict=False):
            assert after.revision > before.revision
            if after.holder == before.holder or not after.holder:
                continue
            gap = (parse_rfc3339(after.acquire_time) or 0.0) - (parse_rfc3339(before.renew_time) or 0.0)
            result.append((before, after, gap))
            if not before.holder:
                continue  # released cleanly: no renew deadline to wait for
            assert after.transitions == before.transitions + 1, (before, after)
            assert gap >= CM_CONFIG.renew_deadline, (
                f"{after.holder} acquired the Lease {gap:.3f} s after {before.holder}'s last renewal, "
                f"within its renew deadline ({CM_CONFIG.renew_deadline} s): both could act at once; "
                f"old holder's last record {before}, new holder's first {after}")
        return result


# ---------------------------------------------------------------------------------------- the pods
@dataclass
class Action:
    revision: int
    seen_at: float
    verb: str  # "create" or "delete"
    name: str


class PodWatcher:
    """Samples (active, ready) pods of a namespace at every event, in revision order, and notes each
    pod created or deleted (what the controllers write) with its revision."""

    def __init__(self, client: ApiClient, namespace: str) -> None:
        self.informer = Informer(client, POD, namespace)
        self.informer.add_handlers(on_add=self._added, on_update=self._updated, on_delete=self._deleted)
        self.bounds: tuple[int, int] | None = None  # (most active, least ready) while checking
        self.samples: list[tuple[int, int]] = []
        self.violations: list[str] = []
        self.actions: list[Action] = []

    async def start(self) -> None:
        self.informer.start()
        assert await self.informer.wait_synced(30), "pod informer not synced"

    def _valid(self) -> bool:
        return self.informer.has_synced and self.informer.relists == 1  # a relist's deltas are not store states

    def _note(self, verb: str, pod: Obj) -> None:
        if self._valid():
            meta = pod["metadata"]
            self.actions.append(Action(int(meta["resourceVersion"]), time.monotonic(), verb, meta["name"]))

    def _added(self, pod: Obj) -> None:
        self._note("create", pod)
        self._sample()

    def _updated(self, old: Obj, new: Obj) -> None:
        if is_terminating(new) and not is_terminating(old):
            self._note("delete", new)
        self._sample()

    def _deleted(self, pod: Obj) -> None:
        if not is_terminating(pod):
            self._note("delete", pod)  # an unbound pod deleted at once
        self._sample()

    def _sample(self) -> None:
        if not self._valid():
            return
        active = [p for p in self.informer.cache.list() if is_active(p)]
        ready = sum(1 for p in active if is_ready(p))
        if self.bounds is None:
            return
        self.samples.append((len(active), ready))
        most, least = self.bounds
        if len(active) > most or ready < least:
            self.violations.append(f"{len(active)} active pods ({ready} ready) outside <= {most}, ready >= {least}")

    def active(self) -> list[Obj]:
        return [p for p in self.informer.cache.list() if is_active(p)]


def image_of(pod: Obj) -> str:
    return str(pod["spec"]["containers"][0]["image"])


class Kubelet:
    """The pod half of the fake node agents: a pod bound to a live node of `nodes` turns Running and
    Ready. `hold = (image, n)` starts at most n pods of that image until `release()`."""

    def __init__(self, client: ApiClient, namespace: str, nodes: FakeNodes) -> None:
        self.client, self.nodes = client, nodes
        self.informer = Informer(client, POD, namespace)
        self.informer.add_handlers(on_add=self._seen, on_update=lambda old, new: self._seen(new))
        self.hold: tuple[str, int] | None = None
        self.started: Counter[str] = Counter()
        self._busy: set[str] = set()
        self._done: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.informer.start()
        assert await self.informer.wait_synced(30), "kubelet informer not synced"

    def _seen(self, pod: Obj) -> None:
        uid, node = pod["metadata"]["uid"], pod["spec"].get("nodeName")
        if not node or node not in self.nodes.alive or not is_active(pod) or is_ready(pod) or uid in self._busy:
            return
        image = image_of(pod)
        if uid not in self._done:
            if self.hold is not None and image == self.hold[0] and self.started[image] >= self.hold[1]:
                return
            self.started[image] += 1
            self._done.add(uid)
        self._busy.add(uid)
        task = asyncio.get_running_loop().create_task(self._start(pod))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self, pod: Obj) -> None:
        try:
            await set_pod_status(self.client, pod, ip=f"10.{len(self._done) // 250}.{len(self._done) % 250}.1")
        except (ApiError, AssertionError):
            pass  # gone, or a replica failing over: the next event retries
        finally:
            self._busy.discard(pod["metadata"]["uid"])

    def release(self) -> None:
        self.hold = None
        for pod in self.informer.cache.list():
            self._seen(pod)

    async def stop(self) -> None:
        await self.informer.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def node_farm(api: ApiClient, name: str, count: int) -> AsyncIterator[tuple[FakeNodes, Kubelet]]:
    """A namespace `name`, `count` live fake nodes labelled for it and their kubelet; all removed after."""
    await api.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    nodes = FakeNodes(api, [f"{name}-n{i}" for i in range(count)], labels={TEST_LABEL: name})
    await nodes.register()
    nodes.start()
    kubelet = Kubelet(api, name, nodes)
    try:
        await kubelet.start()
        yield nodes, kubelet
    finally:
        await kubelet.stop()
        with contextlib.suppress(ApiError):
            await api.delete(NAMESPACE, name)
        await nodes.stop()
        for node in nodes.names:
            with contextlib.suppress(ApiError):
                await api.delete(NODE, node)


def pod_template(test: str, app: str, image: str) -> Obj:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"nodeSelector": {TEST_LABEL: test},
                     "containers": [{"name": "app", "image": image,
                                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}


def deployment(test: str, name: str, replicas: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": MAX_SURGE, "maxUnavailable": MAX_UNAVAILABLE}},
                     "template": pod_template(test, name, V1)}}


async def rolled_out(api: ApiClient, namespace: str, name: str, generation: int, timeout: float = 60.0) -> Obj:
    """The Deployment once its status says generation `generation` is fully rolled out and ready."""
    async def done() -> Obj | None:
        d = await api.get(DEPLOYMENT, name, namespace)
        status, want = d.get("status") or {}, du.spec_replicas(d)
        complete = (int(status.get("observedGeneration") or 0) >= generation and rollout_message(d)[1]
                    and status.get("replicas") == status.get("updatedReplicas") == status.get("readyReplicas")
                    == status.get("availableReplicas") == want and not status.get("unavailableReplicas"))
        return d if complete else None
    return await eventually(done, f"deployment {namespace}/{name} generation {generation} rolled out", timeout)


async def set_image(api: ApiClient, namespace: str, name: str, image: str) -> int:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    changed = await idempotent(lambda: api.patch(DEPLOYMENT, name, patch, namespace, patch_type="strategic"),
                               f"image {image}")
    return int(changed["metadata"]["generation"])


async def check_converged(api: ApiClient, watcher: PodWatcher, namespace: str, d: Obj, image: str) -> None:
    """Exactly spec.replicas active pods, all Ready, all of the newest ReplicaSet (which has `image`);
    the older sets scaled to 0; no two ReplicaSets for one template."""
    want = du.spec_replicas(d)
    sets = [rs for rs in (await api.list(RS, namespace)).get("items") or []
            if (controller_of(rs) or {}).get("uid") == d["metadata"]["uid"]]
    newest = [rs for rs in sets if rs["spec"]["template"]["spec"]["containers"][0]["image"] == image]
    assert len(newest) == 1, [rs["metadata"]["name"] for rs in sets]
    assert du.spec_replicas(newest[0]) == want
    assert all(du.spec_replicas(rs) == 0 for rs in sets if rs is not newest[0])
    pods = [p for p in (await api.list(POD, namespace)).get("items") or [] if is_active(p)]
    assert len(pods) == want, f"{len(pods)} active pods for {want} replicas"
    assert all(is_ready(p) and image_of(p) == image for p in pods)
    assert {(controller_of(p) or {}).get("uid") for p in pods} == {newest[0]["metadata"]["uid"]}
    assert len(watcher.active()) == want


async def pod_creators(api: ApiClient, namespace: str) -> dict[str, str]:
    """Pod name -> the replica that created it, from the ReplicaSet controller's SuccessfulCreate
    events, where the events name their instance (reportingInstance or source.host)."""
    creators = {}
    for event in (await api.list(EVENT, namespace)).get("items") or []:
        instance = event.get("reportingInstance") or (event.get("source") or {}).get("host")
        if event.get("reason") == "SuccessfulCreate" and instance:
            creators[str(event.get("message", "")).removeprefix("Created pod: ")] = instance
    return creators


def log_size(plane: LocalControlPlane, i: int) -> int:
    path = os.path.join(plane.base_dir, f"{plane.replicas[i].name}.log")
    return os.path.getsize(path) if os.path.exists(path) else 0


def log_since(plane: LocalControlPlane, i: int, offset: int) -> str:
    with open(os.path.join(plane.base_dir, f"{plane.replicas[i].name}.log"), "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


# ---------------------------------------------------------------------------------------- the tests
@pytest.mark.cluster
async def test_leader_killed_mid_rollout_the_next_one_finishes_it_within_bounds(plane: LocalControlPlane) -> None:
    await with_retries(lambda ns: kill_mid_rollout(plane, ns), "kill")


async def kill_mid_rollout(plane: LocalControlPlane, ns: str) -> None:
    replicas = 10
    leader = await stable_holder(plane)
    victim = replica_index(plane, leader)
    api = client_for(plane, avoid=victim)
    history = LeaseHistory(api)
    watcher = PodWatcher(api, ns)
    killed = False
    try:
        await history.start()
        async with node_farm(api, ns, 4) as (_, kubelet):
            await watcher.start()
            await api.create(DEPLOYMENT, deployment(ns, "web", replicas), ns)
            await rolled_out(api, ns, "web", 1)
            watcher.bounds = (replicas + MAX_SURGE, replicas - MAX_UNAVAILABLE)

            # mid-rollout: four v2 pods start, the others stay pending on their nodes until the kill
            kubelet.hold = (V2, 4)
            generation = await set_image(api, ns, "web", V2)

            async def middle() -> bool:
                pods = watcher.active()
                return (sum(1 for p in pods if image_of(p) == V2 and is_ready(p)) >= 4
                        and sum(1 for p in pods if image_of(p) == V1) >= 1)
            await eventually(middle, "four v2 pods ready while v1 pods remain")
            if history.holder != leader:
                history.handovers()  # the natural handovers must be sound too
                raise Flapped(f"the Lease moved from {leader} to {history.holder} before the kill")
            before = Counter(image_of(p) for p in watcher.active())
            killed_at = time.monotonic()
            killed = True
            await asyncio.to_thread(plane.kill, victim)
            kubelet.release()

            takeover = await history.wait(lambda r: r.holder not in ("", leader), "a new Lease holder")
            first = await eventually(lambda: next((a for a in watcher.actions if a.revision > takeover.revision),
                                                  None), "the new leader's first pod create/delete")
            d = await rolled_out(api, ns, "web", generation, timeout=90)
            done_at = time.monotonic()
            print(f"\nkill -9 of {leader} mid-rollout (pods {dict(before)}): new holder {takeover.holder} after "
                  f"{takeover.seen_at - killed_at:.2f}s, its first reconcile ({first.verb} {first.name}) after "
                  f"{first.seen_at - killed_at:.2f}s, rollout complete after {done_at - killed_at:.2f}s")

            watcher.bounds = None
            await check_converged(api, watcher, ns, d, V2)
            assert watcher.samples and not watcher.violations, watcher.violations[:5]
            most = max(total for total, _ in watcher.samples)
            least = min(ready for _, ready in watcher.samples)
            print(f"  {len(watcher.samples)} samples: at most {most} active pods (bound {replicas + MAX_SURGE}), "
                  f"at least {least} ready (bound {replicas - MAX_UNAVAILABLE}); informer lists "
                  f"{watcher.informer.relists}")
            assert watcher.informer.relists == 1, "the pod watch broke: some states were not sampled"
            handovers = history.handovers()
            print("  handovers: " + ", ".join(f"{a.holder}->{b.holder} (gap {gap:.2f}s)" for a, b, gap in handovers))
            assert any(b is takeover and a.holder == leader for a, b, _ in handovers)
    finally:
        await watcher.informer.stop()
        await history.stop()
        await api.close()
        if killed:
            await asyncio.to_thread(plane.start_replica, victim)
            await asyncio.to_thread(plane.wait_healthy, [victim], 60)


@pytest.mark.cluster
async def test_paused_leader_is_replaced_and_does_not_act_when_resumed(plane: LocalControlPlane) -> None:
    await with_retries(lambda ns: pause_leader(plane, ns), "pause")


async def pause_leader(plane: LocalControlPlane, ns: str) -> None:
    replicas = 6
    leader = await stable_holder(plane)
    victim = replica_index(plane, leader)
    api = client_for(plane, avoid=victim)
    history = LeaseHistory(api)
    watcher = PodWatcher(api, ns)
    paused = False
    try:
        await history.start()
        async with node_farm(api, ns, 3):
            await watcher.start()
            await api.create(DEPLOYMENT, deployment(ns, "app", replicas), ns)
            await rolled_out(api, ns, "app", 1)
            watcher.bounds = (replicas + MAX_SURGE, replicas - MAX_UNAVAILABLE)
            if history.holder != leader:
                history.handovers()
                raise Flapped(f"the Lease moved from {leader} to {history.holder} before the pause")
            offset = log_size(plane, victim)

            stopped_at = time.monotonic()
            plane.signal(victim, signal.SIGSTOP)
            paused = True
            generation = await set_image(api, ns, "app", V2)  # work that only a live leader can do
            takeover = await history.wait(lambda r: r.holder not in ("", leader), "a new Lease holder")
            await asyncio.sleep(max(0.0, stopped_at + PAUSE - time.monotonic()))  # the fault's length, not a wait
            plane.signal(victim, signal.SIGCONT)
            paused = False
            resumed_at = time.monotonic()
            d = await rolled_out(api, ns, "app", generation, timeout=90)
            first = next((a for a in watcher.actions if a.revision > takeover.revision), None)
            print(f"\nSIGSTOP of {leader} for {resumed_at - stopped_at:.2f}s: new holder {takeover.holder} after "
                  f"{takeover.seen_at - stopped_at:.2f}s, its first reconcile after "
                  f"{(first.seen_at - stopped_at) if first else float('nan'):.2f}s, rollout complete "
                  f"{time.monotonic() - resumed_at:.2f}s after SIGCONT")

            # the resumed process found out it had lost the Lease, and stepped down
            stepped_down = f"{leader}: stopped leading {CM_LEASE}"
            await eventually(lambda: stepped_down in log_since(plane, victim, offset),
                             f"'{stepped_down}' in {leader}'s log after SIGCONT")
            # one holder at a time: every change of holder waited out the old holder's renew deadline,
            # and the resumed process never renewed (a stale conditional renewal would show up here)
            handovers = history.handovers()
            print("  handovers: " + ", ".join(f"{a.holder}->{b.holder} (gap {gap:.2f}s)" for a, b, gap in handovers))
            assert any(b is takeover and a.holder == leader for a, b, _ in handovers)

            watcher.bounds = None
            await check_converged(api, watcher, ns, d, V2)
            assert watcher.samples and not watcher.violations, watcher.violations[:5]
            assert watcher.informer.relists == 1, "the pod watch broke: some states were not sampled"
            # every pod was created by the replica that held the Lease at the pod's revision, when the
            # controllers' Events say which replica wrote them
            creators = await pod_creators(api, ns)
            created = [a for a in watcher.actions if a.verb == "create"]
            if creators:
                wrong = {a.name: (creators.get(a.name), history.holder_at(a.revision)) for a in created
                         if creators.get(a.name) != history.holder_at(a.revision)}
                assert not wrong, f"pods created by a replica not holding the Lease (creator, holder): {wrong}"
            else:
                print(f"  note: Events do not name the replica (no reportingInstance/source.host), so the "
                      f"{len(created)} pods created cannot be attributed to a replica; checked instead: the Lease "
                      "history, the step-down, and no pod beyond the bounds")
    finally:
        if paused:
            plane.signal(victim, signal.SIGCONT)
        await watcher.informer.stop()
        await history.stop()
        await api.close()


@pytest.mark.cluster
async def test_dead_node_pods_are_replaced_on_other_nodes(plane: LocalControlPlane) -> None:
    ns, replicas = "deadnode", 6
    api = client_for(plane)
    watcher = PodWatcher(api, ns)
    try:
        async with node_farm(api, ns, 3) as (nodes, _):
            await watcher.start()
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "svc"},
                  "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "svc"}},
                           "template": pod_template(ns, "svc", V1)}}
            await api.create(RS, rs, ns)

            async def all_ready() -> list[Obj] | None:
                pods = watcher.active()
                return pods if len(pods) == replicas and all(is_ready(p) for p in pods) else None
            pods = await eventually(all_ready, f"{replicas} pods running and ready")
            watcher.bounds = (replicas, 0)  # the ReplicaSet never overshoots while it replaces pods
            per_node = Counter(p["spec"]["nodeName"] for p in pods)
            dead, _ = per_node.most_common(1)[0]
            lost = {p["metadata"]["uid"] for p in pods if p["spec"]["nodeName"] == dead}
            nodes.stop_renewing(dead)
            stopped_at = time.monotonic()

            async def unreachable() -> bool:
                node = await api.get(NODE, dead)
                ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
                return ready["status"] == "Unknown" and any(
                    t["key"] == "node.kubernetes.io/unreachable" for t in node["spec"].get("taints") or [])
            await eventually(unreachable, f"node {dead} Unknown and tainted", timeout=60)
            not_ready_at = time.monotonic()

            async def evicted() -> bool:
                return not any(p["metadata"]["uid"] in lost for p in watcher.informer.cache.list())
            await eventually(evicted, f"the pods of {dead} deleted", timeout=60)
            evicted_at = time.monotonic()

            async def replaced() -> list[Obj] | None:
                pods = await all_ready()
                return pods if pods and not any(p["metadata"]["uid"] in lost for p in pods) else None
            fresh = await eventually(replaced, "the lost pods replaced and ready", timeout=60)
            replaced_at = time.monotonic()
            print(f"\nnode {dead} ({len(lost)} of {replicas} pods) stopped renewing: NotReady after "
                  f"{not_ready_at - stopped_at:.2f}s, pods deleted after {evicted_at - stopped_at:.2f}s, "
                  f"replaced and ready after {replaced_at - stopped_at:.2f}s "
                  f"({replaced_at - evicted_at:.2f}s after the eviction)")
            assert len(fresh) == replicas and all(p["spec"]["nodeName"] != dead for p in fresh)
            assert {p["spec"]["nodeName"] for p in fresh} <= set(nodes.alive)
            assert watcher.samples and not watcher.violations, watcher.violations[:5]

            async def counted() -> bool:
                status = (await api.get(RS, "svc", ns)).get("status") or {}
                return status.get("replicas") == status.get("readyReplicas") == replicas
            await eventually(counted, "the ReplicaSet's status counting the replacements")
    finally:
        await watcher.informer.stop()
        await api.close()


# ---------------------------------------------------------------------------------------- the election, alone
async def test_a_candidate_counts_the_lease_from_when_it_saw_the_renewal_not_from_when_it_asked() -> None:
    """A candidate whose GET is slow must not date the record it gets back to the start of that GET.

    The holder renews at t=0.75 (its renew started then, so it may act until 1.55) while the
    candidate's GET, started at t=0.2, is in flight; the GET returns the new record at t=0.9.
    The candidate may take over only 1.2 s after it saw that record (t >= 2.1, as client-go's
    observedTime); dating it from t=0.2 lets it lead from t=1.4, while the holder still acts.
    """
    now = [0.0]
    api = FakeLeaseApi()
    holder = LeaderElector(api, ElectionConfig(CM_LEASE, "h"), clock=lambda: now[0])  # type: ignore[arg-type]
    candidate = LeaderElector(api, ElectionConfig(CM_LEASE, "c"), clock=lambda: now[0])  # type: ignore[arg-type]
    assert await holder.try_acquire_or_renew()
    now[0] = 0.1
    assert not await candidate.try_acquire_or_renew()
    now[0] = 0.2
    gate = api.gate = asyncio.Event()
    slow = asyncio.create_task(candidate.try_acquire_or_renew())
    for _ in range(100):
        if api.gate is None:
            break
        await asyncio.sleep(0)  # until the candidate's GET waits at the gate
    assert api.gate is None
    now[0] = 0.4
    assert await holder.try_acquire_or_renew()
    now[0] = 0.75
    assert await holder.try_acquire_or_renew()  # its last renewal: it may act until 0.75 + 0.8 = 1.55
    now[0] = 0.9
    gate.set()
    assert not await slow
    overlaps = []
    for step in range(1, 30):  # the candidate polls every 0.05 s (any poll period shows it) until 2.35
        now[0] = 0.9 + 0.05 * step
        await candidate.try_acquire_or_renew()
        if candidate.is_leader() and holder.is_leader():
            overlaps.append(round(now[0], 2))
    assert candidate.is_leader(), "the candidate never took over the abandoned Lease"
    assert not overlaps, f"holder and candidate both leading at t={overlaps}: the candidate dated the record " \
        "it saw at t=0.9 back to the start of its GET (t=0.2)"
