"""Hypothesis stateful tests of the replicated store against an independent model (kv_model).

One rule-based state machine drives random puts, deletes (single key and range), txns with
compares, leases, compactions, watches, limited ranges, request retries and invalid requests,
and compares every answer (results, revisions, create/mod revisions, versions, leases,
errors, watch events) with `KVModel`. It runs against four targets:

  (a) the bare `KVStateMachine` (a fresh one per example, many examples),
  (b) one `StoreReplica` with a data dir, through `LocalClient`,
  (c) three in-process replicas in one event loop, each call to a random replica,
  (d) three replica processes (`LocalCluster`) through `HttpClient`.

(b)-(d) keep one store per test function. Each example works under a fresh key prefix and
starts its model from the store's current revision and compact revision (nothing else writes
meanwhile and leases get a TTL of an hour), so revisions are predicted and compared exactly.
The event loop is driven with `run_until_complete` between steps; Raft runs in its threads.
Only (a) shrinks a failure (each shrink step on a replica costs real commits): a bug in the
state machine shows up there shrunk, one of the replica layers shows as the failing sequence.
The store bugs the machine found are pinned in test_found_bugs.py; the machine is in machine*.py.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from raftkube.local.store_cluster import LocalCluster, free_port
from raftkube.store import (
    RaftTuning,
    ReplicaConfig,
    StoreReplica,
)
from tests.store.stateful.machine import StoreMachine
from tests.store.stateful.strategies import (
    Shared,
)
from tests.store.stateful.targets import (
    HttpTarget,
    MachineTarget,
    ReplicaTarget,
    Runner,
)


# ------------------------------------------------------------------------- entry points
def run_machine(label: str, shared: Shared, max_examples: int, steps: int, shrink: bool = True) -> None:
    machine = type(f"StoreMachine_{label}", (StoreMachine,), {"shared": shared})
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target] + ([Phase.shrink] if shrink else [])
    run_state_machine_as_test(machine, settings=settings(
        max_examples=max_examples, stateful_step_count=steps, deadline=None, database=None, phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))


def start_replicas(runner: Runner, base: Path, n: int) -> list[StoreReplica]:
    addrs = [f"127.0.0.1:{free_port()}" for _ in range(n)]
    secret = secrets.token_urlsafe(16)
    # One replica alone commits a command only on its next tick (50 ms by default): tick it often.
    # Three in one busy process: slower elections, so that a starved heartbeat does not change the
    # leader under a test that is not about failover.
    tuning = RaftTuning(tick_period=0.002) if n == 1 else RaftTuning(
        election_timeout_min=1.0, election_timeout_max=2.0, leader_fallback_timeout=0.8)
    replicas = [StoreReplica(ReplicaConfig(a, [p for p in addrs if p != a], data_dir=str(base / f"r{i}"),
                                           password=secret, progress_interval=0.02, tuning=tuning))
                for i, a in enumerate(addrs)]

    async def start() -> None:
        for r in replicas:
            await r.start()
        for r in replicas:
            await r.wait_ready(20)
    runner.run(start())
    return replicas


def stop_replicas(runner: Runner, replicas: list[StoreReplica]) -> None:
    async def stop() -> None:
        for r in replicas:
            await r.stop()
    runner.run(stop())


# PySyncObj's tick threads draw election timeouts from the global `random` while hypothesis draws
RAFT_THREADS_USE_RANDOM = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies:hypothesis.errors.HypothesisDeprecationWarning")


def test_state_machine_direct() -> None:
    """(a) A fresh KVStateMachine per example; every apply's events checked too; shrinks failures."""
    runner = Runner()
    try:
        run_machine("direct", Shared(runner, MachineTarget), max_examples=200, steps=60)
    finally:
        runner.close()


@RAFT_THREADS_USE_RANDOM
def test_single_replica(tmp_path: Path) -> None:
    """(b) One StoreReplica with a journal, through LocalClient, shared by all examples."""
    runner = Runner()
    replicas = start_replicas(runner, tmp_path, 1)
    target = ReplicaTarget(replicas)
    try:
        run_machine("one_replica", Shared(runner, lambda: target), max_examples=50, steps=50, shrink=False)
    finally:
        stop_replicas(runner, replicas)
        runner.close()


@RAFT_THREADS_USE_RANDOM
def test_three_replicas_in_process(tmp_path: Path) -> None:
    """(c) Three StoreReplicas in one loop; each call to a random one (linearizable reads)."""
    runner = Runner()
    replicas = start_replicas(runner, tmp_path, 3)
    target = ReplicaTarget(replicas)
    try:
        run_machine("three_replicas", Shared(runner, lambda: target), max_examples=50, steps=50, shrink=False)
    finally:
        stop_replicas(runner, replicas)
        runner.close()


@pytest.mark.cluster
def test_three_replica_processes_over_http(tmp_path: Path) -> None:
    """(d) Three `raftkube store` processes, through HttpClients that prefer different replicas."""
    runner = Runner()
    cluster = LocalCluster(str(tmp_path)).start()
    target = HttpTarget(cluster.endpoints, cluster.store_token)
    try:
        run_machine("http_cluster", Shared(runner, lambda: target), max_examples=15, steps=40, shrink=False)
    finally:
        with contextlib.suppress(Exception):
            runner.run(target.close())
        cluster.close()
        runner.close()
