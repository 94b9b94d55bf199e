"""`raftkube init`: make the first control-plane machine of a new cluster (kubeadm init's job).

Writes the machine's directory (raftkube/cli/cluster_dir.py): a new CA, this API server's
certificate for its addresses, random cluster secret, store token, admin and control-plane
tokens, encryption-at-rest key, certificate key and a first bootstrap token (24 h), the admin
kubeconfig and `server.env` for the systemd unit. Nothing is started: the unit (or
`raftkube server $RAFTKUBE_SERVER_ARGS`) starts the server, which uploads the bootstrap token
into the cluster. It prints the commands that join the other machines, with the CA's hash.

`raftkube token create` makes another bootstrap token through the API (an admin's kubeconfig),
as `kubeadm token create --print-join-command` does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import time

import click

from ..api.encryption import write_encryption_config
from ..machinery.times import rfc3339
from ..pki import CertificateAuthority, ca_cert_hash, ensure_pki
from ..secure_files import restrict_umask
from .cluster_dir import (
    ADMIN_USER,
    API_PORT,
    CONTROL_PLANE_USER,
    DEFAULT_DIR,
    RAFT_PORT,
    STORE_PORT,
    ClusterDir,
    advertise_ip,
    server_args,
    url_host,
)
from .common import parse_duration

TOKEN_TTL = dt.timedelta(hours=24)


def write_tokens(cluster: ClusterDir) -> None:
    import secrets

    cluster.write("tokens.csv", f'{secrets.token_urlsafe(32)},{ADMIN_USER},admin-uid,"system:masters"\n'
                                f'{secrets.token_urlsafe(32)},{CONTROL_PLANE_USER},control-plane-uid,'
                                '"system:masters"\n')


def join_commands(url: str, token: str, ca_pem: str, certificate_key: str) -> tuple[str, str]:
    worker = f"raftkube join {url} --token {token} --discovery-token-ca-cert-hash {ca_cert_hash(ca_pem)}"
    return worker, f"{worker} --control-plane --certificate-key {certificate_key}"


@click.command()
@click.option("--dir", "directory", default=DEFAULT_DIR, show_default=True, help="This machine's raftkube files.")
@click.option("--name", default=socket.gethostname(), show_default=True, help="This control-plane replica's name.")
@click.option("--advertise-address", required=True, help="This machine's IP address the other machines reach.")
@click.option("--cert-sans", default="", help="More names or IPs for the API certificate, comma-separated.")
@click.option("--api-port", default=API_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--raft-port", default=RAFT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--store-port", default=STORE_PORT, show_default=True, type=click.IntRange(1, 65535),
              help="The store's own port, on 127.0.0.1 only.")
def init(directory: str, name: str, advertise_address: str, cert_sans: str, api_port: int, raft_port: int,
         store_port: int) -> None:
    """Make this machine the first control-plane replica of a new cluster (files only; start the unit next)."""
    import secrets

    from ..api.cluster_tokens import new_bootstrap_token
    from ..join_bundle import new_certificate_key

    restrict_umask()
    address = advertise_ip(advertise_address)
    cluster = ClusterDir(directory)
    if cluster.initialised():
        raise click.ClickException(f"{directory} already holds a cluster's files; use another --dir or remove it")
    cluster.create()
    CertificateAuthority.create(cluster.pki)
    ensure_pki(cluster.pki, [address, name, *[s for s in cert_sans.split(",") if s]])
    cluster.write("cluster-secret", secrets.token_urlsafe(32))
    cluster.write("store-token", secrets.token_urlsafe(32))
    write_tokens(cluster)
    write_encryption_config(cluster.path("encryption-config.yaml"))
    certificate_key = new_certificate_key()
    cluster.write("certificate-key", certificate_key)
    token = new_bootstrap_token()
    expires = rfc3339(time.time() + TOKEN_TTL.total_seconds())
    cluster.write("bootstrap-token", json.dumps({"token": token, "expiration": expires}))
    host = url_host(address)
    url = f"https://{host}:{api_port}"
    ca_pem = CertificateAuthority.load(cluster.pki).ca_pem()
    cluster.write_kubeconfig("admin.kubeconfig", [url], cluster.static_token(ADMIN_USER), ca_pem, ADMIN_USER)
    cluster.write_kubeconfig("control-plane.kubeconfig", [url], cluster.static_token(CONTROL_PLANE_USER), ca_pem,
                             CONTROL_PLANE_USER)
    cluster.write_env("server.env", "RAFTKUBE_SERVER_ARGS",
                      server_args(cluster, name, address, [], api_port, raft_port, store_port))
    worker, control_plane = join_commands(url, token, ca_pem, certificate_key)
    click.echo(f"Cluster files written to {directory} (0700; secrets 0600).\n\n"
               "Start this control-plane replica:\n  systemctl enable --now raftkube-server\n"
               f"  (or: raftkube server $(grep -oP '(?<=RAFTKUBE_SERVER_ARGS=).*' {cluster.path('server.env')}))\n\n"
               f"Admin kubeconfig: export KUBECONFIG={cluster.path('admin.kubeconfig')}\n\n"
               f"Join more control-plane machines (run on each, as root; token valid until {expires}):\n"
               f"  {control_plane} --advertise-address <ITS-IP>\n\n"
               f"Join worker machines:\n  {worker} --advertise-address <ITS-IP>\n\n"
               "The certificate key opens the cluster's secrets: share it only with control-plane machines.")


@click.group()
def token() -> None:
    """Bootstrap tokens for joining machines (kube-system Secrets, as kubeadm's)."""


@token.command("create")
@click.option("--kubeconfig", default=None, help="An admin's kubeconfig [default: $KUBECONFIG, ~/.kube/config].")
@click.option("--ttl", default="24h", show_default=True, help="How long the token authenticates (0: for ever).")
@click.option("--print-join-command", is_flag=True, help="Print the worker's whole join command.")
def token_create(kubeconfig: str | None, ttl: str, print_join_command: bool) -> None:
    """Create a bootstrap token and print it (or the join command)."""
    from ..api.cluster_tokens import bootstrap_token_secret, expiration_after, new_bootstrap_token
    from ..client import ApiClient, ApiError
    from ..client.kubeconfig import load_kubeconfig

    seconds = parse_duration(ttl, "--ttl")
    value = new_bootstrap_token()
    body = bootstrap_token_secret(value, expiration_after(dt.timedelta(seconds=seconds)) if seconds else None,
                                  description="made by raftkube token create")

    async def create() -> None:
        async with ApiClient.from_kubeconfig(kubeconfig) as api:
            await api.create(("v1", "Secret"), body, namespace="kube-system")

    try:
        asyncio.run(create())
    except ApiError as err:
        raise click.ClickException(f"could not create the token: {err}") from None
    if not print_join_command:
        click.echo(value)
        return
    config = load_kubeconfig(kubeconfig)
    if not config.ca_data:
        raise click.ClickException("the kubeconfig carries no CA (certificate-authority-data): cannot print its hash")
    click.echo(f"raftkube join {config.endpoints[0]} --token {value} "
               f"--discovery-token-ca-cert-hash {ca_cert_hash(config.ca_data)}")
