"""Run one scenario end to end and keep everything it produced.

Start the cluster in its namespaces, start the workloads, inject and heal the scenario's faults on
schedule (measuring failovers: Raft leader, controller-manager Lease), stop the workloads, bring
every replica back and wait for the cluster to be healthy, do the final reads, run every checker
and save history.jsonl, result.json, summary.json, report.txt and plot.png into the output directory. The
namespaces and processes are removed on every exit path (normal, exception, SIGINT/SIGTERM).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import random
import signal
import tempfile
from dataclasses import dataclass

from chaos import report
from chaos.checkers import check_deployment, check_linearizable, check_nothing_lost, check_watches
from chaos.cluster import ChaosCluster
from chaos.faults import Fault, FaultContext, make_fault
from chaos.history import History, Recorder
from chaos.result import CheckResult, Failover, FaultRecord, RunResult
from chaos.scenarios import Scenario, Step
from chaos.workloads import ApiWorkload, Clients, RegisterWorkload, SetWorkload, StoreWatchers

OUTAGE_KINDS = frozenset({"kill-quorum", "restart-all"})  # no leader at all until healed
WRITE_FS = frozenset({"write", "cas", "add"})


@dataclass
class RunOptions:
    duration: float = 60.0
    out_dir: str | None = None
    seed: int = 0
    timeout: float = 1.5  # per operation
    clients: int = 5
    keys: int = 20
    settle_timeout: float = 60.0
    controllers: bool | None = None  # None: as the scenario says
    api: bool | None = None
    deployment: bool | None = None


def _pick(given: bool | None, default: bool) -> bool:
    return default if given is None else given


class Run:
    """The state of one run; `execute` does it all."""

    def __init__(self, scenario: Scenario, options: RunOptions) -> None:
        self.scenario, self.options = scenario, options
        self.out_dir = options.out_dir or tempfile.mkdtemp(prefix=f"chaos-{scenario.name}-")
        self.rng = random.Random(options.seed)
        self.controllers = _pick(options.controllers, scenario.controllers)
        self.use_api = _pick(options.api, scenario.api)
        self.use_deployment = _pick(options.deployment, scenario.deployment) and self.controllers
        self.cluster = ChaosCluster(os.path.join(self.out_dir, "cluster"), controllers=self.controllers)
        self.history = History()
        self.recorder = Recorder(self.history)
        self.faults: list[FaultRecord] = []
        self.failovers: list[Failover] = []
        self.notes: list[str] = []
        self.checks: list[CheckResult] = []

    # ------------------------------------------------------------------ faults
    async def _sleep_until(self, t: float) -> None:
        await asyncio.sleep(max(0.0, t - self.recorder.now()))

    async def _step(self, step: Step, ctx: FaultContext) -> None:
        await self._sleep_until(step.at)
        fault = make_fault(step.kind, step.target)
        leader = await self.cluster.leader()
        holder = await self.cluster.lease_holder() if self.controllers else None
        record = await fault.inject(ctx)
        self.faults.append(record)
        measures = []
        if fault.takes_out and leader in fault.targets:
            measures.append(asyncio.create_task(self._measure_leader(fault, record.start, step)))
        names = {self.cluster.replica(i).name for i in fault.targets}
        if fault.takes_out and holder and holder[0] in names:
            measures.append(asyncio.create_task(self._measure_controller(holder[0], record.start, step)))
        try:
            await self._sleep_until(step.at + step.length)
        finally:
            await fault.heal(ctx)
        await asyncio.gather(*measures)

    async def _measure_leader(self, fault: Fault, start: float, step: Step) -> None:
        exclude = set() if fault.kind in OUTAGE_KINDS else set(fault.targets)
        limit = max(step.at + step.length + 15.0 - self.recorder.now(), 1.0)
        found = await self.cluster.wait_leader(exclude=exclude, timeout=limit)
        if found is None:
            self.notes.append(f"no new Raft leader within {limit:.0f}s of the {fault.kind} at {start:.2f}s")
        else:
            self.failovers.append(Failover(f"raft leader ({fault.kind} -> {self.cluster.replica(found).name})",
                                           start, self.recorder.now()))

    async def _measure_controller(self, old: str, start: float, step: Step) -> None:
        limit = max(step.at + step.length + 15.0 - self.recorder.now(), 1.0)
        new = await self.cluster.wait_new_holder(old, timeout=limit)
        if new is None:
            self.notes.append(f"controller-manager Lease did not leave {old} within {limit:.0f}s")
        else:
            self.failovers.append(Failover(f"controller-manager ({old} -> {new})", start, self.recorder.now()))

    def _rebase(self) -> None:
        """Time zero is when the workloads start: set-up ops (recorded before) get negative times."""
        shift = self.recorder.now()
        for op in self.history.ops:
            op.time -= shift
        self.recorder.t0 += shift

    async def _settle(self) -> float | None:
        """Heal everything still broken and wait for all replicas to be healthy; the wait, or None."""
        cluster = self.cluster
        await asyncio.to_thread(cluster.net.heal)
        for r in cluster.replicas:
            await asyncio.to_thread(cluster.net.clear_rate_limit, r.index)
            if r.paused:
                cluster.resume(r.index)
            if not r.running:
                cluster.start_replica(r.index)
        try:
            return await cluster.wait_healthy(timeout=self.options.settle_timeout)
        except (TimeoutError, RuntimeError) as exc:
            self.notes.append(f"cluster did not recover: {exc}")
            return None

    # ------------------------------------------------------------------- run
    async def execute(self) -> RunResult:
        opts, cluster = self.options, self.cluster
        await cluster.start()
        ctx = Clients(self.recorder, self.rng, timeout=opts.timeout, store_token=cluster.store_token,
                      ca_file=cluster.ca_file)
        reg = RegisterWorkload(ctx, cluster.store_urls, opts.keys, opts.clients)
        sets = SetWorkload(ctx, cluster.store_urls)
        watchers = StoreWatchers({r.name: r.store_url for r in cluster.replicas}, cluster.store_token)
        watchers.start()
        api = ApiWorkload(ctx, cluster.api_urls, cluster.token) if self.use_api else None
        deployment = None
        if api is not None:
            await api.setup()
        if self.use_deployment:
            from chaos.fake_nodes import DeploymentWorkload

            deployment = DeploymentWorkload(cluster.api_client(timeout=2.0, deadline=5.0), self.recorder.now)
            await deployment.setup()
        self._rebase()
        work = [asyncio.create_task(w.run()) for w in (reg, sets, api) if w is not None]
        if deployment is not None:
            deployment.start()
        steps = self.scenario.build(opts.duration, self.rng)
        self.notes.extend(f"schedule: {s.describe()}" for s in steps)
        fault_ctx = FaultContext(cluster, self.rng, self.recorder.now)
        step_tasks = [asyncio.create_task(self._step(s, fault_ctx)) for s in steps]
        await self._sleep_until(opts.duration)
        await asyncio.gather(*step_tasks)
        ctx.stop.set()
        if deployment is not None:
            await deployment.stop_rollouts()
        await asyncio.wait_for(asyncio.gather(*work), opts.timeout + 5.0)
        recovered = await self._settle()
        if recovered is not None:
            self.notes.append(f"all replicas healthy {recovered:.2f}s after the workload stopped")
            await reg.final_reads()
            await sets.final_read()
            if api is not None:
                await api.final_reads()
            target = max([*sets.acknowledged.values(), *(watchers.last_revision(r.name) for r in cluster.replicas)])
            if not await watchers.wait_caught_up(target):
                self.notes.append(f"a watcher did not reach revision {target}")
        await watchers.stop()
        self.notes.extend(f"watch: {e}" for e in watchers.errors[:10])
        if deployment is not None:
            converged = recovered is not None and await deployment.wait_converged(30.0)
            await deployment.stop()
            self.notes.extend(deployment.notes[:10])
            self.checks.append(check_deployment(deployment.samples, deployment.replicas, deployment.max_surge,
                                                converged))
        self.checks[:0] = [check_linearizable(self.history), check_nothing_lost(self.history),
                           check_watches(watchers.streams, sets.acknowledged)]
        self.checks += [self._check_recovery(recovered), self._check_bounded(), self._check_no_quorum()]
        return RunResult(self.scenario.name, opts.duration, self.faults, self.history, self.failovers,
                         self.checks, self.notes)

    # --------------------------------------------------------- runner checks
    def _check_recovery(self, recovered: float | None) -> CheckResult:
        if recovered is None:
            return CheckResult("recovery", False, "cluster not healthy after the faults were healed", [])
        return CheckResult("recovery", True, f"all replicas healthy {recovered:.2f}s after healing", [])

    def _check_bounded(self) -> CheckResult:
        """Every operation completed, none past its timeout (with 1.5 s slack)."""
        limit = self.options.timeout + 1.5
        bad = [f"{inv.f} {inv.key} by p{inv.process} invoked at {inv.time:.2f}s: "
               + ("never completed" if done is None else f"took {done.time - inv.time:.2f}s")
               for inv, done in self.history.pairs() if done is None or done.time - inv.time > limit]
        verdict = f"{len(bad)} op(s) hung" if bad else f"all {len(self.history.pairs())} ops completed within {limit}s"
        return CheckResult("bounded-ops", not bad, verdict, bad[:20])

    def _check_no_quorum(self) -> CheckResult:
        """While two of three replicas are down no write may succeed (ops wholly inside the outage).

        An outage ends early when another fault's heal restarts a replica inside it."""
        restarts = [f.end for f in self.faults if f.kind in ("kill", "restart-all") and f.end is not None]
        windows = [(f.start, min([f.end, *(t for t in restarts if f.start < t < f.end)]))
                   for f in self.faults if f.kind == "kill-quorum" and f.end is not None]
        if not windows:
            return CheckResult("no-quorum-writes", True, "no quorum-loss window in this run", [])
        inside = [(inv, done) for inv, done in self.history.pairs() if inv.f in WRITE_FS and done is not None
                  and any(start <= inv.time and done.time <= end for start, end in windows)]
        bad = [f"{inv.f} {inv.key} {inv.value!r} ok at {done.time:.2f}s" for inv, done in inside if done.type == "ok"]
        counts = {t: sum(1 for _, d in inside if d.type == t) for t in ("ok", "fail", "info")}
        summary = (f"{len(inside)} writes wholly inside the outage: {counts['fail']} fail, {counts['info']} info, "
                   f"{counts['ok']} ok")
        return CheckResult("no-quorum-writes", not bad, summary, bad[:20])

    def save(self, result: RunResult) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        result.history.save(os.path.join(self.out_dir, "history.jsonl"))
        with open(os.path.join(self.out_dir, "result.json"), "w") as f:
            f.write(result.to_json())
        with open(os.path.join(self.out_dir, "summary.json"), "w") as f:  # (read by the API server's dashboard)
            json.dump(result.summary(), f)
        with open(os.path.join(self.out_dir, "report.txt"), "w") as f:
            f.write(report.render_text(result))
        report.plot(result, os.path.join(self.out_dir, "plot.png"))


async def run_scenario(scenario: Scenario, options: RunOptions) -> tuple[RunResult, str]:
    """Run and save; returns (result, output directory). The cluster is torn down whatever happens."""
    run = Run(scenario, options)
    os.makedirs(run.out_dir, exist_ok=True)
    log = logging.getLogger("raftkube")  # the in-process clients' and agents' chatter goes to runner.log
    handler = logging.FileHandler(os.path.join(run.out_dir, "runner.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.propagate = False
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    atexit.register(run.cluster.net.destroy)
    handled = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
            handled.append(sig)
    try:
        result = await run.execute()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        await asyncio.shield(run.cluster.close())
        atexit.unregister(run.cluster.net.destroy)
        log.removeHandler(handler)
        handler.close()
        log.propagate = True
    run.save(result)
    return result, run.out_dir


def run_sync(scenario: Scenario, options: RunOptions) -> tuple[RunResult, str]:
    return asyncio.run(run_scenario(scenario, options))
