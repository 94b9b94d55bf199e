"""Driving a `LocalCluster` in the failover tests: start and wait for a leader, restart a replica, read
the current revision."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from raftkube.local.store_cluster import LocalCluster
from raftkube.store.http_client import HttpClient

MakeCluster = Callable[..., LocalCluster]


async def started(make_cluster: MakeCluster, **kwargs: Any) -> LocalCluster:
    cluster = make_cluster(**kwargs)
    await asyncio.to_thread(cluster.start)
    return cluster


async def leader_of(cluster: LocalCluster, exclude: set[int] | None = None, timeout: float = 15.0) -> int:
    return await asyncio.to_thread(cluster.leader_index, timeout, frozenset(exclude or ()))


async def restart(cluster: LocalCluster, i: int) -> None:
    cluster.start_replica(i)
    await asyncio.to_thread(cluster.wait_healthy, [i], 30.0)


async def current_revision(client: HttpClient) -> int:
    return (await client.range(b"/", b"\0", count_only=True)).revision
