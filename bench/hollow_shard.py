"""Hollow agents in their own process, for bench/kubemark_bench.py: one Python process could not drive
1,000 hollow nodes (its loop at 100 % of a core: its own clients timed out, not the control plane).

    RAFTKUBE_BENCH_TOKEN=... python -m bench.hollow_shard --index I --of K --nodes N --urls U1,U2,U3 \
        --ca CA --base DIR [--heartbeat 5]

runs nodes hollow-I, hollow-(I+K), ... of N, prints one "started" line once they are, and stops them
on SIGTERM. The token comes from the environment, never from the command line (`ps` shows that).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from bench.measure import exit_on_sigterm
from raftkube.client import ApiClient
from raftkube.client.transport import PERIODIC_KEEPALIVE
from raftkube.node.agent import Agent
from raftkube.node.config import AgentConfig
from raftkube.node.hollow_runtime import HollowMachine, HollowRuntime
from raftkube.store.gc_policy import server_thresholds

AGENTS_PER_CLIENT = 50
TOKEN_ENV = "RAFTKUBE_BENCH_TOKEN"


async def start_agents(names: list[str], urls: list[str], token: str, ca_file: str, base: str,
                       heartbeat: float) -> tuple[list[Agent], list[ApiClient]]:
    """Agents share a client per AGENTS_PER_CLIENT (its own connections, as kubelets have theirs),
    spread over the API servers; each agent holds about three watches (its pods, and each object
    its pods use: node/object_watches.py), hence 6 connections per agent at most."""
    machine, agents, clients = HollowMachine(), [], []
    for i, name in enumerate(names):
        if i % AGENTS_PER_CLIENT == 0:
            k = (len(clients) + int(name.rsplit("-", 1)[-1])) % len(urls)
            clients.append(ApiClient(urls[k:] + urls[:k], token, ca_file, timeout=60,
                                     max_connections=6 * AGENTS_PER_CLIENT, keepalive_expiry=PERIODIC_KEEPALIVE))
        agents.append(Agent(AgentConfig(node=name, port=None, data_dir=os.path.join(base, "hollow"), cpu="8",
                                        memory="32Gi", pods=110, pressure_checks=False, events=False,
                                        heartbeat=heartbeat, lease_duration=40, status_period=60.0,
                                        relist_period=10.0, resync_period=60.0),
                            HollowRuntime(name, machine), clients[-1]))
    for chunk in range(0, len(agents), 50):
        await asyncio.gather(*(agent.start() for agent in agents[chunk:chunk + 50]))
    return agents, clients


async def stop_agents(agents: list[Agent], clients: list[ApiClient]) -> None:
    for chunk in range(0, len(agents), 100):
        await asyncio.gather(*(a.stop() for a in agents[chunk:chunk + 100]), return_exceptions=True)
    for client in clients:
        await client.close()


def shard_names(index: int, of: int, nodes: int) -> list[str]:
    return [f"hollow-{i:04d}" for i in range(index, nodes, of)]


async def serve(args: argparse.Namespace) -> None:
    agents: list[Agent] = []
    clients: list[ApiClient] = []
    try:
        agents, clients = await start_agents(shard_names(args.index, args.of, args.nodes), args.urls.split(","),
                                             os.environ[TOKEN_ENV], args.ca, args.base, args.heartbeat)
        print(f"started {len(agents)}", flush=True)
        await asyncio.Event().wait()  # until SIGTERM
    finally:
        await stop_agents(agents, clients)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--of", type=int, required=True)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--urls", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--base", required=True)
    parser.add_argument("--heartbeat", type=float, default=5.0)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    server_thresholds()  # 500 agents' objects: full collections as rare as a replica's
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s shard{parser.parse_args(argv).index} %(message)s")
    asyncio.run(serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
