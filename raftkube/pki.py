"""The cluster's PKI: a CA, and the certificates it issues to API servers, agents and clients.

kubectl (client-go) never sends a bearer token over plain HTTP, so every API port is TLS.
`CertificateAuthority.create(dir)` writes `ca.crt` (0644) and `ca.key` (0600, from creation);
`issue()` signs a leaf (ECDSA P-256, SHA-256) for a server (its IPs and DNS names as SANs),
a client (CN = user, O = groups, as Kubernetes reads client certificates), or both.
Leaves last `LEAF_DAYS` (one year, as kubeadm's), the CA `CA_DAYS` (ten years).

`ensure_pki(dir, hosts)` is the set a control-plane replica needs, made once and reused:
the CA, the API server's serving certificate, and the API server's client certificate for
the agents' log servers (`apiserver-kubelet-client`, as kube-apiserver's), and the
service-account signing key pair (`sa.key`, `sa.pub`, both 0600; ECDSA P-256, so
tokens are ES256) that every control-plane replica shares. `ca_cert_hash`
is kubeadm's discovery hash (`sha256:` of the CA's DER SubjectPublicKeyInfo), which lets a
joining machine check the CA it was sent before trusting it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .secure_files import private_dir, write_private, write_public

CA_DAYS = 3650
LEAF_DAYS = 365
APISERVER_KUBELET_CLIENT = "system:apiserver"  # the user the agents' log servers accept
_BACKDATE = dt.timedelta(minutes=5)  # clocks of several machines differ a little


@dataclass(frozen=True)
class CertPair:
    cert: str
    key: str


@dataclass(frozen=True)
class Pki:
    """What one control-plane replica uses, as paths."""

    ca_cert: str
    ca_key: str
    server_cert: str
    server_key: str
    kubelet_client_cert: str
    kubelet_client_key: str
    sa_key: str = ""
    sa_pub: str = ""

    def ca_pem(self) -> str:
        with open(self.ca_cert) as f:
            return f.read()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def alt_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in hosts:
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _name(common_name: str, organizations: Iterable[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class CertificateAuthority:
    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, cert_path: str) -> None:
        self.cert = cert
        self.key = key
        self.cert_path = cert_path

    @classmethod
    def create(cls, directory: str, common_name: str = "raftkube-ca") -> CertificateAuthority:
        private_dir(directory)
        now = dt.datetime.now(dt.UTC) - _BACKDATE
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(common_name)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + dt.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        write_private(os.path.join(directory, "ca.key"), _key_pem(key))
        cert_path = write_public(os.path.join(directory, "ca.crt"), cert.public_bytes(serialization.Encoding.PEM))
        return cls(cert, key, cert_path)

    @classmethod
    def load(cls, directory: str) -> CertificateAuthority:
        cert_path = os.path.join(directory, "ca.crt")
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(os.path.join(directory, "ca.key"), "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{directory}/ca.key: not an EC private key")
        return cls(cert, key, cert_path)

    @staticmethod
    def exists(directory: str) -> bool:
        return all(os.path.exists(os.path.join(directory, f)) for f in ("ca.crt", "ca.key"))

    def ca_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, public_key: ec.EllipticCurvePublicKey, common_name: str, organizations: Iterable[str] = (),
             hosts: Iterable[str] = (), server: bool = False, client: bool = False,
             days: int = LEAF_DAYS) -> x509.Certificate:
        if not (server or client):
            raise ValueError("a certificate is for a server, a client, or both")
        now = dt.datetime.now(dt.UTC) - _BACKDATE
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + \
            ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        builder = (x509.CertificateBuilder().subject_name(_name(common_name, organizations))
                   .issuer_name(self.cert.subject).public_key(public_key)
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                                content_commitment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        names = alt_names(hosts)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def issue(self, directory: str, name: str, common_name: str, organizations: Iterable[str] = (),
              hosts: Iterable[str] = (), server: bool = False, client: bool = False,
              days: int = LEAF_DAYS) -> CertPair:
        """A new key and certificate, written as `<directory>/<name>.key` (0600) and `.crt`."""
        private_dir(directory)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self.sign(key.public_key(), common_name, organizations, hosts, server, client, days)
        key_path = write_private(os.path.join(directory, f"{name}.key"), _key_pem(key))
        cert_path = write_public(os.path.join(directory, f"{name}.crt"), cert.public_bytes(serialization.Encoding.PEM))
        return CertPair(cert_path, key_path)


def ca_cert_hash(ca_pem: str | bytes) -> str:
    """kubeadm's `--discovery-token-ca-cert-hash`: sha256 over the CA's DER SubjectPublicKeyInfo."""
    cert = x509.load_pem_x509_certificate(ca_pem.encode() if isinstance(ca_pem, str) else ca_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def certificate_info(path: str) -> tuple[str, dt.datetime, list[str]]:
    """(subject common name, expiry, SANs) of a PEM certificate file."""
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        sans = [str(n.value) for n in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value]
    except x509.ExtensionNotFound:
        sans = []
    return (str(common[0].value) if common else "", cert.not_valid_after_utc, sans)


# the `kubernetes` Service's ClusterIP: the first address of the service range (raftkube/api/service_alloc.py)
KUBERNETES_SERVICE_IP = "127.96.0.1"


def server_hosts(extra: Iterable[str] = ()) -> list[str]:
    """The names every API serving certificate carries (in-cluster clients reach it as the `kubernetes`
    Service, by name or ClusterIP), then the machine's own."""
    return ["127.0.0.1", "::1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local", KUBERNETES_SERVICE_IP, *extra]


def ensure_service_account_key(directory: str) -> tuple[str, str]:
    """The service-account signing key (`sa.key`) and its public half (`sa.pub`), both 0600, made once."""
    key_path, pub_path = os.path.join(directory, "sa.key"), os.path.join(directory, "sa.pub")
    if not os.path.exists(key_path):
        key = ec.generate_private_key(ec.SECP256R1())
        write_private(key_path, _key_pem(key))
        write_private(pub_path, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    elif not os.path.exists(pub_path):
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        write_private(pub_path, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return key_path, pub_path


def ensure_pki(directory: str, hosts: list[str] | None = None) -> Pki:
    """The CA (made once), this replica's serving and log-server client certificates, the service-account key
    (each made once)."""
    private_dir(directory)
    pki = Pki(os.path.join(directory, "ca.crt"), os.path.join(directory, "ca.key"),
              os.path.join(directory, "apiserver.crt"), os.path.join(directory, "apiserver.key"),
              os.path.join(directory, "apiserver-kubelet-client.crt"),
              os.path.join(directory, "apiserver-kubelet-client.key"),
              os.path.join(directory, "sa.key"), os.path.join(directory, "sa.pub"))
    ca = CertificateAuthority.load(directory) if CertificateAuthority.exists(directory) \
        else CertificateAuthority.create(directory)
    if not (os.path.exists(pki.server_cert) and os.path.exists(pki.server_key)):
        ca.issue(directory, "apiserver", "kube-apiserver", hosts=server_hosts(hosts or []), server=True)
    if not (os.path.exists(pki.kubelet_client_cert) and os.path.exists(pki.kubelet_client_key)):
        ca.issue(directory, "apiserver-kubelet-client", APISERVER_KUBELET_CLIENT, ["system:masters"], client=True)
    ensure_service_account_key(directory)
    return pki
