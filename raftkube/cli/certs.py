"""`raftkube certs check-expiration | rotate`: the machine's certificates, as `kubeadm certs`.

`check-expiration` lists every certificate under `<dir>/pki` with its subject, expiry and days
left (exit 1 when one has expired, so a cron job or a monitor can act on it). `rotate` issues
new leaf certificates from the CA, with the same subject, organisations and names as the old
ones and a new key, replacing them atomically; the CA itself is kept (its ten years are what
every machine trusts). Restart the machine's unit afterwards: servers read their certificates
at start. A worker has no CA key: it gets a new certificate by joining again.
"""

from __future__ import annotations

import datetime as dt
import glob
import os

import click
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..pki import LEAF_DAYS, CertificateAuthority, certificate_info
from .cluster_dir import DEFAULT_DIR, ClusterDir


@click.group()
def certs() -> None:
    """Certificates of this machine: when they expire, and their renewal."""


def _certificates(cluster: ClusterDir) -> list[str]:
    return sorted(glob.glob(os.path.join(cluster.pki, "*.crt")))


@certs.command("check-expiration")
@click.option("--dir", "directory", default=DEFAULT_DIR, show_default=True)
def check_expiration(directory: str) -> None:
    """Each certificate's subject, expiry and days left."""
    cluster = ClusterDir(directory)
    paths = _certificates(cluster)
    if not paths:
        raise click.ClickException(f"no certificates in {cluster.pki}")
    now = dt.datetime.now(dt.UTC)
    expired = []
    click.echo(f"{'CERTIFICATE':<32} {'SUBJECT':<36} {'EXPIRES':<22} RESIDUAL TIME")
    for path in paths:
        subject, expires, _ = certificate_info(path)
        left = expires - now
        if left <= dt.timedelta(0):
            expired.append(os.path.basename(path))
        residual = f"{left.days}d" if left > dt.timedelta(0) else "EXPIRED"
        click.echo(f"{os.path.basename(path):<32} {subject:<36} {expires:%Y-%m-%d %H:%M UTC}   {residual}")
    if expired:
        raise click.ClickException(f"expired: {', '.join(expired)}; renew with `raftkube certs rotate`")


@certs.command("rotate")
@click.option("--dir", "directory", default=DEFAULT_DIR, show_default=True)
@click.option("--days", default=LEAF_DAYS, show_default=True, type=click.IntRange(1, 3650))
def rotate(directory: str, days: int) -> None:
    """Issue new leaf certificates (new keys, same names) from this machine's CA."""
    cluster = ClusterDir(directory)
    if not CertificateAuthority.exists(cluster.pki):
        raise click.ClickException(f"{cluster.pki} has no CA key: a worker renews its certificate by joining again")
    ca = CertificateAuthority.load(cluster.pki)
    for path in _certificates(cluster):
        name = os.path.basename(path).removesuffix(".crt")
        if name == "ca":
            continue
        with open(path, "rb") as f:
            old = x509.load_pem_x509_certificate(f.read())
        common = old.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        orgs = [str(a.value) for a in old.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        try:
            usages = list(old.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
        except x509.ExtensionNotFound:
            usages = []
        _, _, hosts = certificate_info(path)
        ca.issue(cluster.pki, name, str(common[0].value) if common else name, orgs, hosts,
                 server=ExtendedKeyUsageOID.SERVER_AUTH in usages, client=ExtendedKeyUsageOID.CLIENT_AUTH in usages,
                 days=days)
        _, expires, _ = certificate_info(path)
        click.echo(f"{name}.crt renewed, expires {expires:%Y-%m-%d}")
    click.echo("restart this machine's unit to use them: systemctl restart raftkube-server")
