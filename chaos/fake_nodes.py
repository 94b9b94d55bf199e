"""Nodes for the Deployment workload, and the workload itself.

Nodes are hollow node agents (`raftkube.node.agent.Agent` on `HollowRuntime`) running in the
runner's process: they register their Node, renew its Lease and run the pods bound to them
(hollow containers start at once, so pods turn Ready). When the agent is not importable, a
stand-in (`MiniNodes`, the tests' fake nodes of tests/control/fake_nodes.py) registers the Nodes, renews
their Leases, marks bound pods Running/Ready and finishes graceful deletions.

`DeploymentWorkload` creates a Deployment (replicas 3, maxSurge 1, maxUnavailable 0), restarts its
rollout every few seconds while the faults run, and samples (time, pods existing and not
terminating, ready pods) at every pod event for `check_deployment`.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable
from typing import Any

from raftkube.client import AlreadyExists, ApiClient, ApiError, Informer
from raftkube.control.podutil import is_active, is_ready
from raftkube.machinery.times import rfc3339

Obj = dict[str, Any]
POD, NODE, NAMESPACE = ("v1", "Pod"), ("v1", "Node"), ("v1", "Namespace")
DEPLOYMENT, LEASE = ("apps/v1", "Deployment"), ("coordination.k8s.io/v1", "Lease")


def _now() -> str:
    return rfc3339(micro=True)


class HollowNodes:
    """`count` hollow node agents sharing the runner's event loop."""

    def __init__(self, client: ApiClient, count: int = 2) -> None:
        self.client, self.names = client, [f"chaos-n{i}" for i in range(1, count + 1)]
        self.agents: list[Any] = []
        self._dir = tempfile.TemporaryDirectory(prefix="chaos-nodes-")

    async def start(self) -> None:
        from raftkube.node.agent import Agent
        from raftkube.node.config import AgentConfig
        from raftkube.node.hollow_runtime import HollowMachine, HollowRuntime

        machine = HollowMachine()
        for name in self.names:
            config = AgentConfig(node=name, port=None, data_dir=f"{self._dir.name}/{name}", heartbeat=1.0,
                                 relist_period=0.5, status_period=5.0, pressure_checks=False, events=False,
                                 cpu="4", memory="8Gi")
            agent = Agent(config, HollowRuntime(name, machine), self.client)
            await agent.start()
            self.agents.append(agent)

    async def stop(self) -> None:
        await asyncio.gather(*(a.stop() for a in self.agents), return_exceptions=True)
        self._dir.cleanup()


class MiniNodes:
    """Stand-in for node agents: the tests' fake nodes (tests/control/fake_nodes.py: Nodes, Lease heartbeats,
    graceful deletions finished) and their kubelet (bound pods marked Running/Ready)."""

    def __init__(self, client: ApiClient, count: int = 2, period: float = 1.0) -> None:
        from tests.control.fake_nodes import FakeNodes, Kubelet

        self.names = [f"chaos-n{i}" for i in range(1, count + 1)]
        self.nodes = FakeNodes(client, self.names, renew_every=period)
        self.kubelet = Kubelet(client, None, self.nodes)

    async def start(self) -> None:
        await self.nodes.register()
        self.nodes.start()
        await self.kubelet.start()

    async def stop(self) -> None:
        await self.kubelet.stop()
        await self.nodes.stop()


class DeploymentWorkload:
    """A Deployment rolled over and over during the faults; samples for `check_deployment`."""

    def __init__(self, client: ApiClient, now: Callable[[], float], namespace: str = "chaos", name: str = "web",
                 replicas: int = 3, max_surge: int = 1, rollout_every: float = 4.0) -> None:
        self.client, self.now, self.namespace, self.name = client, now, namespace, name
        self.replicas, self.max_surge, self.rollout_every = replicas, max_surge, rollout_every
        self.samples: list[tuple[float, int, int]] = []
        self.notes: list[str] = []
        self.nodes: HollowNodes | MiniNodes
        self.informer = Informer(client, POD, namespace, label_selector=f"app={name}", name="chaos-sampler")
        self._task: asyncio.Task[None] | None = None
        self._rollouts = 0

    def body(self) -> Obj:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": self.name},
                "spec": {"replicas": self.replicas, "selector": {"matchLabels": {"app": self.name}},
                         "strategy": {"type": "RollingUpdate",
                                      "rollingUpdate": {"maxSurge": self.max_surge, "maxUnavailable": 0}},
                         "template": {"metadata": {"labels": {"app": self.name}, "annotations": {"rollout": "0"}},
                                      "spec": {"containers": [{"name": "app", "image": "example.local/web:1"}]}}}}

    async def setup(self, timeout: float = 60.0) -> None:
        try:
            import raftkube.node.agent  # noqa: F401

            self.nodes = HollowNodes(self.client)
        except ImportError:
            self.nodes = MiniNodes(self.client)
            self.notes.append("raftkube.node.agent not importable: pods run on MiniNodes")
        await self.nodes.start()
        with contextlib.suppress(AlreadyExists):
            await self.client.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": self.namespace}})
        await self.client.create(DEPLOYMENT, self.body(), self.namespace)
        self.informer.add_handlers(on_add=self._sample, on_update=lambda old, new: self._sample(new),
                                   on_delete=self._sample)
        self.informer.start()
        await self.informer.wait_synced(timeout)
        if not await self.wait_converged(timeout):
            raise TimeoutError(f"deployment {self.name} not ready within {timeout} s before the faults")

    def _sample(self, _pod: Obj) -> None:
        pods = self.informer.cache.list()
        self.samples.append((self.now(), sum(1 for p in pods if is_active(p)),
                             sum(1 for p in pods if is_active(p) and is_ready(p))))

    def start(self) -> None:
        """Start the rollouts; samples from the set-up (another time base) are replaced by one taken now."""
        self.samples.clear()
        self._sample({})
        self._task = asyncio.create_task(self._rollouts_loop())

    async def _rollouts_loop(self) -> None:
        for _ in range(1_000_000):  # ends when cancelled
            await asyncio.sleep(self.rollout_every)
            self._rollouts += 1
            patch = {"spec": {"template": {"metadata": {"annotations": {"rollout": str(self._rollouts)}}}}}
            try:
                await self.client.patch(DEPLOYMENT, self.name, patch, self.namespace, patch_type="merge")
            except ApiError as err:
                self.notes.append(f"rollout {self._rollouts} not started: {err}")

    async def stop_rollouts(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def wait_converged(self, timeout: float) -> bool:
        """Deployment observed, every replica updated and ready, no extra pods; bounded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            with contextlib.suppress(ApiError):
                d = await self.client.get(DEPLOYMENT, self.name, self.namespace)
                status, gen = d.get("status") or {}, (d.get("metadata") or {}).get("generation")
                pods = [p for p in self.informer.cache.list() if is_active(p)]
                if status.get("observedGeneration") == gen and status.get("updatedReplicas") == self.replicas \
                        and status.get("readyReplicas") == self.replicas and len(pods) == self.replicas:
                    return True
            await asyncio.sleep(0.2)
        return False

    async def stop(self) -> None:
        await self.stop_rollouts()
        await self.informer.stop()
        await self.nodes.stop()
        await self.client.close()
