"""`raftkube kubeconfig`: write a kubeconfig that kubectl, the kubernetes Python client and raftkube read.

`server` is the first URL; all of them go in the cluster's `raftkube.io/endpoints` extension
(see `raftkube.client.kubeconfig`). The CA is embedded as certificate-authority-data.
"""

from __future__ import annotations

import os
import sys

import click
import yaml

from ..client.kubeconfig import KubeconfigError, build_kubeconfig
from ..secure_files import write_private


@click.command("kubeconfig")
@click.option("--server", "servers", multiple=True, required=True, metavar="URL[,URL...]",
              help="API server URL(s), comma-separated or repeated; the first is kubectl's `server`.")
@click.option("--token", default=None, help="Bearer token.")
@click.option("--token-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Read the bearer token from this file.")
@click.option("--ca-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="CA certificate (PEM) of the API servers, embedded in the kubeconfig.")
@click.option("--insecure-skip-tls-verify", is_flag=True, help="Do not verify the servers' certificates.")
@click.option("--cluster-name", default="raftkube", show_default=True)
@click.option("--user-name", default="raftkube-admin", show_default=True)
@click.option("--context-name", default="raftkube", show_default=True)
@click.option("--namespace", default=None, help="Default namespace of the context.")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write to this file (mode 0600) instead of stdout.")
def kubeconfig(servers: tuple[str, ...], token: str | None, token_file: str | None, ca_file: str | None,
               insecure_skip_tls_verify: bool, cluster_name: str, user_name: str, context_name: str,
               namespace: str | None, output: str | None) -> None:
    """Write a kubeconfig for the API servers (several URLs for failover)."""
    urls = [u.strip() for s in servers for u in s.split(",") if u.strip()]
    if token_file:
        with open(token_file) as f:
            token = f.read().strip()
    ca_data = None
    if ca_file:
        with open(ca_file) as f:
            ca_data = f.read()
    try:
        doc = build_kubeconfig(urls, token, ca_data=ca_data, insecure=insecure_skip_tls_verify,
                               cluster=cluster_name, user=user_name, context=context_name, namespace=namespace)
    except KubeconfigError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    text = yaml.safe_dump(doc, sort_keys=False)
    if output is None:
        click.echo(text, nl=False)
        return
    folder = os.path.dirname(os.path.abspath(output))
    os.makedirs(folder, exist_ok=True)
    write_private(output, text)
    click.echo(f"wrote {output}", err=True)
