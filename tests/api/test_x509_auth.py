"""A verified client certificate's subject becomes the user: CN the name, each O a group; no CN, no user."""

from __future__ import annotations

from pathlib import Path

from raftkube.api.x509_auth import add_to_scope, client_certificate_user
from raftkube.pki import CertificateAuthority


def scope_with(cert_path: str) -> dict[str, object]:
    scope: dict[str, object] = {}
    add_to_scope(scope, [Path(cert_path).read_text()])
    return scope


def test_subject_to_user(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(str(tmp_path / "ca"))
    pair = ca.issue(str(tmp_path), "jane", "jane", ("devs", "system:masters"), client=True)
    user = client_certificate_user(scope_with(pair.cert))
    assert user is not None and (user.name, user.groups) == ("jane", ("devs", "system:masters"))


def test_no_certificate_is_no_user() -> None:
    assert client_certificate_user({}) is None
    assert client_certificate_user({"extensions": {"tls": {"client_cert_chain": []}}}) is None
