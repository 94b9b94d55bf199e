"""`raftkube agent`: one worker node's agent (registers the Node, renews its Lease, runs the pods
bound to it in Podman or, with `--runtime fake`, in the hollow runtime, serves their logs), the node's
pod network and cluster DNS (raftkube.node.networking) and, unless `--no-proxy`, the service proxy.
Stops cleanly on SIGTERM/SIGINT; the pods' containers keep running and a restarted agent adopts them."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

import click

from ..secure_files import private_dir

log = logging.getLogger("raftkube.agent")


def parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"labels are k=v[,k=v...], got {part!r}", param_hint="--labels")
        labels[key.strip()] = value.strip()
    return labels


def make_client(server: str | None, kubeconfig: str | None, token_file: str | None, ca_file: str | None) -> Any:
    from ..client import ApiClient
    from ..client.transport import PERIODIC_KEEPALIVE

    if kubeconfig:
        return ApiClient.from_kubeconfig(kubeconfig, keepalive_expiry=PERIODIC_KEEPALIVE)
    if not server:
        raise click.UsageError("give --server URL[,URL...] or --kubeconfig")
    token = None
    if token_file:
        with open(token_file) as f:
            token = f.read().strip().split(",")[0]  # a bare token, or the first field of a token-file line
    return ApiClient([u.strip() for u in server.split(",") if u.strip()], token, ca_file,
                     keepalive_expiry=PERIODIC_KEEPALIVE)  # Lease renewals every few s reuse their connections


def make_runtime(kind: str, node: str, data_dir: str, podman_socket: str | None, start_podman: bool) -> Any:
    if kind == "fake":
        from ..node.hollow_runtime import HollowRuntime

        return HollowRuntime(node)
    from ..node.podman_runtime import PodmanRuntime

    service_dir = os.path.join(data_dir, "podman") if start_podman else None
    return PodmanRuntime(node, socket_path=podman_socket, start_service_in=service_dir)


async def run_agent(config: Any, client: Any, runtime: Any, proxy: bool, pod_network: bool = False,
                    host_dns_port: int = 0) -> None:
    from ..node.agent import Agent
    from ..node.networking import NodeNetworking

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    agent = Agent(config, runtime, client)
    networking = NodeNetworking(config, client, runtime, pod_network=pod_network, host_dns_port=host_dns_port)
    service_proxy = None
    try:
        await networking.start()
        await agent.start()
        log.info("agent %s ready (pod CIDR %s, logs on %s:%s)", config.node, config.pod_cidr, config.address,
                 config.port)
        if proxy:
            from ..node.service_proxy import ServiceProxy

            service_proxy = ServiceProxy(client, config.address, alias=networking.alias,
                                         endpoint_alias=networking.endpoint_alias)
            await service_proxy.start()
        await stopping.wait()
    finally:
        if service_proxy is not None:
            await service_proxy.stop()
        await agent.stop()
        await networking.stop()
        await runtime.close()
        await client.close()


@click.command()
@click.option("--node", required=True, help="This node's name.")
@click.option("--server", default=None, help="API server URL(s), comma-separated.")
@click.option("--kubeconfig", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--token-file", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--ca-file", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--runtime", "runtime_kind", default="podman", show_default=True,
              type=click.Choice(["podman", "fake"]), help="fake: the hollow runtime (no processes).")
@click.option("--podman-socket", default=None, help="Path of an existing Podman API socket.")
@click.option("--start-podman", is_flag=True, help="Run a Podman service of the agent's own in the data dir.")
@click.option("--pod-cidr", default="", help="Loopback CIDR for pod IPs [default: 127.98.<hash>.0/24].")
@click.option("--address", default="127.0.0.1", show_default=True, help="Node InternalIP; log server address.")
@click.option("--port", default=10250, show_default=True, type=int, help="Log server port (0: none).")
@click.option("--tls-cert", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Log server's serving certificate, for --address (required with --port).")
@click.option("--tls-key", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--client-ca-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="CA of the API server's client certificate (CN system:apiserver); no other client is served.")
@click.option("--data-dir", default=None, help="Pod volumes etc. [default: ./data/agent-<node>].")
@click.option("--labels", default="", help="Extra node labels k=v[,k=v...].")
@click.option("--heartbeat", default=2.0, show_default=True, type=float, help="Lease renewal period (s).")
@click.option("--proxy/--no-proxy", default=True, show_default=True, help="Run the service proxy.")
@click.option("--pod-network/--no-pod-network", default=None,
              help="Bridge pods on a Podman network of the node's own, reaching Services and the cluster DNS "
                   "(10.96.0.10) by their aliases (docs/networking.md) [default: on with --runtime podman].")
@click.option("--cluster-domain", default="cluster.local", show_default=True, help="The cluster DNS domain.")
@click.option("--host-dns-port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Also answer cluster DNS on 127.0.0.1:<port> with the Services' cluster IPs (0: no).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
def agent(node: str, server: str | None, kubeconfig: str | None, token_file: str | None, ca_file: str | None,
          runtime_kind: str, podman_socket: str | None, start_podman: bool, pod_cidr: str, address: str, port: int,
          tls_cert: str | None, tls_key: str | None, client_ca_file: str | None, data_dir: str | None, labels: str,
          heartbeat: float, proxy: bool, pod_network: bool | None, cluster_domain: str, host_dns_port: int,
          log_level: str) -> None:
    """Run a worker node's agent."""
    from ..node.config import AgentConfig
    from ..store.server import run_loop

    if port:
        for flag, value in (("--tls-cert", tls_cert), ("--tls-key", tls_key), ("--client-ca-file", client_ca_file)):
            if not value:
                raise click.UsageError(f"{flag} is required: the log server (--port) is TLS-only and serves only the "
                                       "API server (use --port 0 for none)")
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    data_dir = data_dir or os.path.join("data", f"agent-{node}")
    private_dir(data_dir)
    fake = runtime_kind == "fake"
    config = AgentConfig(node=node, pod_cidr=pod_cidr, address=address, port=port or None, data_dir=data_dir,
                         tls_cert=tls_cert, tls_key=tls_key, client_ca_file=client_ca_file,
                         labels=parse_labels(labels), heartbeat=heartbeat, pressure_checks=not fake,
                         cluster_domain=cluster_domain)
    client = make_client(server, kubeconfig, token_file, ca_file)
    runtime = make_runtime(runtime_kind, node, data_dir, podman_socket, start_podman)
    if pod_network and fake:
        raise click.UsageError("--pod-network needs --runtime podman")
    run_loop(run_agent(config, client, runtime, proxy, not fake if pod_network is None else pod_network,
                       host_dns_port))
