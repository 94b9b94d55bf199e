"""TLS for the ingress controller: one SSLContext per kubernetes.io/tls Secret, chosen by SNI.

    tls = IngressTls(data_dir)                       # makes the default ("fake") certificate once
    context = tls.server_context(lambda name: ...)   # the listening socket's context
    tls.context_for(secret)                          # an SSLContext for a Secret (cached by resourceVersion)

The listening context's `sni_callback` asks for the Secret that serves the client's server name and
switches the connection to that Secret's context; a name no Ingress names a Secret for (or no SNI at
all) is served the controller's own self-signed certificate, as ingress-nginx serves its "Fake
Certificate". Key material is written only under the controller's private directory (0700, files
0600) since `ssl` loads certificates from files; a Secret whose data is not a valid pair is skipped
(logged) and its hosts get the default certificate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import ssl
from collections.abc import Callable
from typing import Any

from ..pki import CertificateAuthority
from ..secure_files import private_dir, write_private

log = logging.getLogger(__name__)
Obj = dict[str, Any]
DEFAULT_NAME = "ingress.local"
SecretLookup = Callable[[str], Obj | None]  # server name -> the kubernetes.io/tls Secret serving it


def _context(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(cert_file, key_file)
    return context


class IngressTls:
    def __init__(self, data_dir: str) -> None:
        self.dir = private_dir(os.path.join(data_dir, "ingress-tls"))
        default_dir = os.path.join(self.dir, "default")
        if not os.path.exists(os.path.join(default_dir, "default.crt")):
            ca = CertificateAuthority.create(os.path.join(self.dir, "default-ca"), "raftkube ingress default CA")
            ca.issue(default_dir, "default", DEFAULT_NAME, hosts=[DEFAULT_NAME], server=True)
        self.default_files = (os.path.join(default_dir, "default.crt"), os.path.join(default_dir, "default.key"))
        self._cache: dict[tuple[str, str], tuple[str, ssl.SSLContext | None]] = {}

    def context_for(self, secret: Obj) -> ssl.SSLContext | None:
        """The Secret's context (None when its tls.crt / tls.key do not load)."""
        meta = secret.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        version = str(meta.get("resourceVersion") or "")
        cached = self._cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        context = None
        data = secret.get("data") or {}
        try:
            cert, private_key = (base64.b64decode(data.get(k) or "", validate=True) for k in ("tls.crt", "tls.key"))
            stem = hashlib.sha256(f"{key[0]}/{key[1]}".encode()).hexdigest()[:24]
            cert_file = write_private(os.path.join(self.dir, stem + ".crt"), cert)
            key_file = write_private(os.path.join(self.dir, stem + ".key"), private_key)
            context = _context(cert_file, key_file)
        except (binascii.Error, ValueError, ssl.SSLError, OSError) as exc:
            log.warning("ingress: secret %s/%s is not a usable TLS pair: %s", key[0], key[1], exc)
        self._cache[key] = (version, context)
        return context

    def server_context(self, lookup: SecretLookup) -> ssl.SSLContext:
        context = _context(*self.default_files)

        def choose(connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext) -> None:
            secret = lookup(server_name) if server_name else None
            chosen = self.context_for(secret) if secret is not None else None
            if chosen is not None:
                connection.context = chosen

        context.sni_callback = choose
        return context
