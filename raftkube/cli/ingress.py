"""`raftkube ingress-controller`: the ingress controller (raftkube/node/ingress_controller.py) as a process of
its own, with its own identity (a kubeconfig whose user is bound to the `raftkube:ingress-controller`
ClusterRole, or the admin's), serving HTTP and HTTPS on 127.0.0.1 by default. Stops on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import click

from ..secure_files import private_dir
from .agent import make_client


async def run_ingress(client: object, settings: object) -> None:
    from ..node.ingress_controller import IngressController

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    controller = IngressController(client, settings)  # type: ignore[arg-type]
    try:
        await controller.start()
        await stopping.wait()
    finally:
        await controller.stop()
        await client.close()  # type: ignore[attr-defined]


@click.command("ingress-controller")
@click.option("--server", default=None, help="API server URL(s), comma-separated.")
@click.option("--kubeconfig", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--token-file", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--ca-file", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--address", default="127.0.0.1", show_default=True, help="Address the listeners bind.")
@click.option("--http-port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--https-port", default=8443, show_default=True, type=click.IntRange(0, 65535))
@click.option("--controller-name", default="raftkube.io/ingress-controller", show_default=True,
              help="The spec.controller of the IngressClasses served.")
@click.option("--status-address", default="", help="Address written to Ingress status [default: --address].")
@click.option("--data-dir", default=os.path.join("data", "ingress"), show_default=True,
              help="Private directory for TLS material.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
def ingress_controller(server: str | None, kubeconfig: str | None, token_file: str | None, ca_file: str | None,
                       address: str, http_port: int, https_port: int, controller_name: str, status_address: str,
                       data_dir: str, log_level: str) -> None:
    """Run the ingress controller: host and path routing, TLS from Secrets."""
    from ..node.ingress_controller import IngressSettings
    from ..store.server import run_loop

    if http_port and http_port == https_port:
        raise click.BadParameter("must differ from --https-port", param_hint="--http-port")
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    private_dir(data_dir)
    settings = IngressSettings(data_dir=data_dir, address=address, http_port=http_port, https_port=https_port,
                               controller=controller_name, status_address=status_address)
    run_loop(run_ingress(make_client(server, kubeconfig, token_file, ca_file), settings))
