"""Leader election through a coordination.k8s.io/v1 Lease, with fencing (client-go's design).

Every candidate polls the Lease every `retry_period`. The holder renews it with a conditional
update (its resourceVersion) of the version it wrote last, without reading it first (a
conflict falls back to a read), so that a renewal on a loaded API server waits for one
answer, not two; it acts only while `now < last successful renew start +
renew_deadline`. Another candidate takes the Lease only after it has seen the same record,
unchanged, for `lease_duration` on its own clock. Since renew_deadline < lease_duration, a
holder that cannot renew (partitioned, paused by SIGSTOP, slow) has stopped acting before
anyone else can start: the two never act at once. A clean shutdown releases the Lease so that
the next candidate takes over at once. All durations are on the monotonic clock; the Lease's
wall-clock times are for people.

`defer_while`: a candidate for which it returns True (in `raftkube server`: the replica that
is the store's Raft leader) takes a free, expired or missing Lease only `defer_for` seconds after the
others could have, so the control plane's work usually runs beside a Raft follower instead of
adding to the leader's (on one machine, or one core per replica, they would share a GIL and
a core). It never gives up a Lease it holds, and it still takes one no one else takes.

Defaults: lease 1.2 s, renew deadline 0.8 s, retry 0.2 s (Kubernetes: 15 s / 10 s / 2 s), so a
killed leader is replaced in about 1.5 s. The sub-second duration travels in the annotation
`raftkube.io/lease-duration-ms`; `spec.leaseDurationSeconds` holds it rounded up.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..client import ApiClient, ApiError, Conflict, NotFound
from ..machinery.times import rfc3339

log = logging.getLogger(__name__)
LEASE = ("coordination.k8s.io/v1", "Lease")
DURATION_ANNOTATION = "raftkube.io/lease-duration-ms"
FIELD_MANAGER = "raftkube-leader-election"
Obj = dict[str, Any]


def micro_now() -> str:
    return rfc3339(micro=True)


@dataclass(frozen=True)
class ElectionTiming:
    """kube-controller-manager's and kube-scheduler's --leader-elect-lease-duration, -renew-deadline and
    -retry-period, in seconds; raftkube's defaults fail over in about 1.5 s, Kubernetes' are 15 s / 10 s / 2 s
    (a slow renewal under load does not end leadership)."""

    lease_duration: float = 1.2
    renew_deadline: float = 0.8
    retry_period: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("need 0 < retry period < renew deadline < lease duration")

    def config(self, name: str, identity: str, defer_while: Callable[[], bool] | None = None) -> ElectionConfig:
        return ElectionConfig(name, identity, lease_duration=self.lease_duration, renew_deadline=self.renew_deadline,
                              retry_period=self.retry_period, defer_while=defer_while,
                              defer_for=2 * self.retry_period)  # the others poll every retry period


@dataclass
class ElectionConfig:
    name: str
    identity: str
    namespace: str = "kube-system"
    lease_duration: float = 1.2
    renew_deadline: float = 0.8
    retry_period: float = 0.2
    defer_while: Callable[[], bool] | None = None  # True: let other candidates take a free Lease first
    defer_for: float = 0.4

    def __post_init__(self) -> None:
        ElectionTiming(self.lease_duration, self.renew_deadline, self.retry_period)  # 0 < retry < renew < lease


class LeaderElector:
    def __init__(self, client: ApiClient, config: ElectionConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.config = config
        self._clock = clock
        self._renewed_at: float | None = None  # start of our last successful acquire/renew
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0
        self._mine: Obj | None = None  # the Lease as we last wrote it (renewals start from it)
        self._leading = asyncio.Event()
        self.transitions = 0

    # ----------------------------------------------------------------- state
    def is_leader(self, margin: float = 0.0) -> bool:
        """True only while this candidate may act: it renewed within the renew deadline (less `margin`,
        for an action that may take effect up to `margin` seconds later)."""
        return self._renewed_at is not None and \
            self._clock() + margin < self._renewed_at + self.config.renew_deadline

    async def wait_leading(self) -> None:
        await self._leading.wait()

    @property
    def holder(self) -> str | None:
        return self._observed[0] if self._observed else None

    # ----------------------------------------------------------------- loop
    async def run(self, on_started: Callable[[], Awaitable[None]], on_stopped: Callable[[], Awaitable[None]]) -> None:
        """Campaign forever; call on_started when leading begins and on_stopped when it ends."""
        leading = False
        try:
            while True:
                try:
                    await self.try_acquire_or_renew()
                except ApiError as err:
                    log.info("%s: lease %s not renewed: %s", self.config.identity, self.config.name, err)
                now_leading = self.is_leader()
                if now_leading and not leading:
                    leading = True
                    self._leading.set()
                    log.info("%s: started leading %s", self.config.identity, self.config.name)
                    await on_started()
                elif leading and not now_leading:
                    leading = False
                    self._leading.clear()
                    log.warning("%s: stopped leading %s", self.config.identity, self.config.name)
                    await on_stopped()
                await asyncio.sleep(self.config.retry_period)
        finally:
            if leading:
                self._leading.clear()
                await on_stopped()

    async def try_acquire_or_renew(self) -> bool:
        started = self._clock()
        if self._mine is not None and self.is_leader():
            renewed = await self._renew_written(started)
            if renewed is not None:
                return renewed
        ns, name = self.config.namespace, self.config.name
        try:
            lease = await self.client.get(LEASE, name, ns)
        except NotFound:
            lease = None
        if lease is None:
            missing = ("", "")  # no Lease yet: free since we first saw it missing
            if self._observed != missing:
                self._observed, self._observed_at = missing, self._clock()
            if self._deferring(None, "", started):
                return False
            body = {"apiVersion": LEASE[0], "kind": "Lease", "metadata": {"name": name, "namespace": ns},
                    "spec": self._spec(None)}
            body["metadata"]["annotations"] = {DURATION_ANNOTATION: str(int(self.config.lease_duration * 1000))}
            try:
                self._mine = await self.client.create(LEASE, body, ns, field_manager=FIELD_MANAGER)
            except ApiError:
                return False
            return self._won(started)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, str(spec.get("renewTime")))
        if record != self._observed:  # dated when we saw it, not when we asked: a slow GET must not shorten the wait
            self._observed, self._observed_at = record, self._clock()
        if holder and holder != self.config.identity and started < self._observed_at + self._duration(lease):
            self._renewed_at = None
            return False
        if holder != self.config.identity and self._deferring(lease, holder, started):
            self._renewed_at = None
            return False
        return await self._write(lease, started) is True

    def _deferring(self, lease: Obj | None, holder: str, started: float) -> bool:
        """Whether to leave a free, expired or missing Lease to the other candidates a while longer."""
        defer = self.config.defer_while
        if defer is None or not defer():
            return False
        free_since = self._observed_at + (self._duration(lease) if holder and lease is not None else 0.0)
        return started < free_since + self.config.defer_for

    async def _renew_written(self, started: float) -> bool | None:
        """Renew from the Lease we wrote last: one conditional update, no read first (under load a
        renewal then waits for one answer, not two). None: someone else wrote it meanwhile (or it
        is gone): read it and decide as usual."""
        lease, self._mine = self._mine, None
        assert lease is not None
        return await self._write(copy.deepcopy(lease), started)

    async def _write(self, lease: Obj, started: float) -> bool | None:
        """Write `lease` as held by us (conditional on its resourceVersion); None on a conflict."""
        lease["spec"] = self._spec(lease)
        lease.setdefault("metadata", {}).setdefault("annotations", {})[DURATION_ANNOTATION] = \
            str(int(self.config.lease_duration * 1000))
        try:
            updated = await self.client.update(LEASE, lease, self.config.namespace, field_manager=FIELD_MANAGER)
        except (Conflict, NotFound):
            return None
        new_spec = updated.get("spec") or {}
        self._observed = (new_spec.get("holderIdentity") or "", str(new_spec.get("renewTime")))
        self._observed_at = started
        self._mine = updated
        return self._won(started)

    def _won(self, started: float) -> bool:
        if self._renewed_at is None:
            self.transitions += 1
        self._renewed_at = started
        return True

    def _duration(self, lease: Obj) -> float:
        annotations = (lease.get("metadata") or {}).get("annotations") or {}
        try:
            return int(annotations[DURATION_ANNOTATION]) / 1000
        except (KeyError, ValueError):
            return float((lease.get("spec") or {}).get("leaseDurationSeconds") or self.config.lease_duration)

    def _spec(self, lease: Obj | None) -> Obj:
        old = (lease or {}).get("spec") or {}
        now = micro_now()
        mine = old.get("holderIdentity") == self.config.identity
        return {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": max(1, math.ceil(self.config.lease_duration)),
            "acquireTime": old.get("acquireTime") if mine and old.get("acquireTime") else now,
            "renewTime": now,
            "leaseTransitions": int(old.get("leaseTransitions") or 0) + (0 if mine or lease is None else 1),
        }

    async def release(self) -> None:
        """Give the Lease up (clean shutdown) so the next candidate need not wait for it to expire."""
        if not self.is_leader():
            return
        self._renewed_at, self._mine = None, None
        try:
            lease = await self.client.get(LEASE, self.config.name, self.config.namespace)
            if (lease.get("spec") or {}).get("holderIdentity") != self.config.identity:
                return
            lease["spec"]["holderIdentity"] = ""
            lease["spec"]["renewTime"] = micro_now()
            await self.client.update(LEASE, lease, self.config.namespace, field_manager=FIELD_MANAGER)
        except ApiError as err:
            log.info("%s: lease %s not released: %s", self.config.identity, self.config.name, err)
