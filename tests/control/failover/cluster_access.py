"""Reaching the failover tests' control plane: a client per replica, the replica a client talks to,
the stable holder of a Lease, bounded polling and retries across failovers."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from raftkube.client import (
    ApiClient,
    ApiError,
    ApiUnavailable,
    OutcomeUnknown,
    ServerError,
)
from raftkube.control.leader_election import ElectionConfig
from raftkube.local.control_plane import LocalControlPlane

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
