"""A small PKI for a local or test cluster: a CA and a serving certificate for the API servers.

kubectl (client-go) never sends a bearer token over plain HTTP, so token authentication
needs TLS. `ensure_pki(dir)` writes `ca.crt`, `server.crt` and `server.key` once (reusing
them afterwards); the serving certificate names 127.0.0.1, ::1 and localhost plus any
extra hosts given, as it must for three replicas on one machine or on three VMs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 3650


@dataclass(frozen=True)
class Pki:
    ca_cert: str
    server_cert: str
    server_key: str

    def ca_pem(self) -> str:
        with open(self.ca_cert) as f:
            return f.read()


def _write(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _alt_names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in ["127.0.0.1", "::1", "localhost", *hosts]:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def ensure_pki(directory: str, hosts: list[str] | None = None) -> Pki:
    os.makedirs(directory, exist_ok=True)
    pki = Pki(os.path.join(directory, "ca.crt"), os.path.join(directory, "server.crt"),
              os.path.join(directory, "server.key"))
    if all(os.path.exists(p) for p in (pki.ca_cert, pki.server_cert, pki.server_key)):
        return pki
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    until = now + dt.timedelta(days=VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "raftkube-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "raftkube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(until)
            .add_extension(x509.SubjectAlternativeName(_alt_names(hosts or [])), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    _write(pki.ca_cert, ca.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(pki.server_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(pki.server_key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()), 0o600)
    return pki
