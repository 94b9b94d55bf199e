"""Every port authenticates and fails closed: the API without a token, the server and store without TLS or tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from raftkube.api.app import build_app
from raftkube.cli.server import server
from raftkube.cli.store import store
from raftkube.pki import ensure_pki
from raftkube.secure_files import write_private
from tests.api.inproc import InProcessAPI, running_api


@pytest.fixture(scope="module")
def api() -> Iterator[InProcessAPI]:
    with running_api() as api:
        yield api


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_secrets_need_a_known_token(api: InProcessAPI, token: str | None) -> None:
    with api.client(token=token) as http:
        response = http.get("/api/v1/secrets")
        assert response.status_code == 401 and response.json()["kind"] == "Status"
        assert http.get("/api/v1/namespaces/default/secrets/x").status_code == 401
        assert http.get("/api").status_code == 401
    with api.client() as http:
        assert http.get("/api/v1/secrets").status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/version"])
def test_public_info_is_anonymous(api: InProcessAPI, path: str) -> None:
    with api.client(token=None) as http:
        assert http.get(path).status_code == 200


def test_the_app_needs_an_authenticator() -> None:
    with pytest.raises(ValueError, match="--token-file"):
        build_app(None, None, lambda: True)  # type: ignore[arg-type]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    pki = ensure_pki(str(tmp_path / "pki"))
    tokens = write_private(str(tmp_path / "tokens.csv"), "t,admin,admin-uid,system:masters\n")
    store_token = write_private(str(tmp_path / "store-token"), "s3cret\n")
    secret = write_private(str(tmp_path / "cluster-secret"), "a-long-random-cluster-secret-for-raft-peers\n")
    return {"cert": pki.server_cert, "key": pki.server_key, "tokens": tokens, "store_token": store_token,
            "secret": secret, "data": str(tmp_path / "data")}


@pytest.mark.parametrize("drop, flag", [("--tls-cert", "--tls-cert"), ("--tls-key", "--tls-key"),
                                        ("--token-file", "--token-file"),
                                        ("--store-token-file", "--store-token-file")])
def test_the_server_refuses_to_start_without_tls_or_tokens(files: dict[str, str], drop: str, flag: str) -> None:
    args = {"--tls-cert": files["cert"], "--tls-key": files["key"], "--token-file": files["tokens"],
            "--store-token-file": files["store_token"]}
    del args[drop]
    argv = ["--data-dir", files["data"], "--store-addr", "127.0.0.1:1", "--cluster-secret-file", files["secret"],
            *[x for kv in args.items() for x in kv]]
    result = CliRunner().invoke(server, argv)
    assert result.exit_code != 0 and flag in result.output


def test_a_group_readable_store_token_is_refused(files: dict[str, str]) -> None:
    Path(files["store_token"]).chmod(0o644)
    result = CliRunner().invoke(server, ["--data-dir", files["data"], "--store-addr", "127.0.0.1:1",
                                         "--cluster-secret-file", files["secret"],
                                         "--tls-cert", files["cert"], "--tls-key", files["key"],
                                         "--token-file", files["tokens"], "--store-token-file", files["store_token"]])
    assert result.exit_code != 0 and "--store-token-file" in result.output and "chmod 600" in result.output


def test_the_store_replica_refuses_to_start_without_a_token_file(files: dict[str, str]) -> None:
    result = CliRunner().invoke(store, ["--data-dir", files["data"], "--cluster-secret-file", files["secret"]],
                                env={"RAFTKUBE_STORE_TOKEN_FILE": ""})
    assert result.exit_code != 0 and "--token-file" in result.output
