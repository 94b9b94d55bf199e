"""What `raftkube server` needs for ServiceAccounts and the `kubernetes` Service: the signing-key options
(`--service-account-signing-key-file`, `--service-account-issuer`, `--api-audiences`) and the address this
API server publishes in the `kubernetes` Endpoints."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..store.server import split_host_port

if TYPE_CHECKING:
    from ..api.service_accounts import ServiceAccounts
    from ..api.storage import ObjectStorage

log = logging.getLogger("raftkube.server")
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"  # = raftkube.api.sa_jwt.DEFAULT_ISSUER


@dataclass(frozen=True)
class ServiceAccountOptions:
    signing_key_file: str
    issuer: str = DEFAULT_ISSUER
    audiences: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Raises OSError/ValueError when the key cannot be used (before the server starts)."""
        from ..api.sa_jwt import load_signing_key

        load_signing_key(self.signing_key_file)

    def load(self, storage: ObjectStorage) -> ServiceAccounts:
        from ..api.service_accounts import ServiceAccounts

        return ServiceAccounts.load(storage, self.signing_key_file, self.issuer, self.audiences or None)


def endpoint_address(api_addr: str, advertise_url: str | None) -> tuple[str, int] | None:
    """The address other machines reach this API server at (listed in the `kubernetes` Endpoints)."""
    if advertise_url:
        parts = urlsplit(advertise_url)
        host, port = parts.hostname or "", parts.port or 443
    else:
        host, port = split_host_port(api_addr)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        log.warning("the kubernetes Endpoints need an IP address, not %r: not published", host)
        return None
    if ip.is_unspecified:
        log.warning("API address %s is unspecified: give --advertise-url to publish the kubernetes Endpoints", host)
        return None
    return str(ip), int(port)
