"""Bootstrap and node tokens from kube-system Secrets: who each authenticates as, and when it stops."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from raftkube.api.auth import TokenAuthenticator, User
from raftkube.api.cluster_tokens import (
    BOOTSTRAPPERS,
    NODES,
    ChainAuthenticator,
    ClusterTokenAuthenticator,
    bootstrap_token_secret,
    expiration_after,
    new_bootstrap_token,
    new_node_token,
    node_token_secret,
)


def indexed(*secrets: dict[str, Any]) -> ClusterTokenAuthenticator:
    auth = ClusterTokenAuthenticator(storage=None)  # type: ignore[arg-type]  # the index alone, no store
    for secret in secrets:
        auth._index(secret)
    return auth


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_bootstrap_token_authenticates_as_kubeadm_names_it_until_it_expires() -> None:
    token = new_bootstrap_token()
    auth = indexed(bootstrap_token_secret(token, expiration_after(dt.timedelta(hours=1))))
    user = auth.authenticate(bearer(token))
    assert user is not None and user.name == f"system:bootstrap:{token.split('.')[0]}"
    assert BOOTSTRAPPERS in user.groups
    expired = new_bootstrap_token()
    auth._index(bootstrap_token_secret(expired, expiration_after(dt.timedelta(seconds=-1))))
    assert auth.authenticate(bearer(expired)) is None


def test_wrong_secret_unknown_id_and_bad_shapes_are_refused() -> None:
    token = new_bootstrap_token()
    auth = indexed(bootstrap_token_secret(token, None))
    token_id = token.split(".")[0]
    assert auth.authenticate(bearer(f"{token_id}.{'0' * 16}")) is None
    assert auth.authenticate(bearer(new_bootstrap_token())) is None
    for header in (None, "", token, "Basic x", bearer(token.upper()), bearer(token + "x")):
        assert auth.authenticate(header) is None


def test_an_unreadable_expiration_fails_closed() -> None:
    token = new_bootstrap_token()
    secret = bootstrap_token_secret(token, "next tuesday")
    assert indexed(secret).authenticate(bearer(token)) is None


def test_a_secret_whose_name_does_not_carry_its_id_is_ignored() -> None:
    token = new_bootstrap_token()
    secret = bootstrap_token_secret(token, None)
    secret["metadata"]["name"] = "bootstrap-token-zzzzzz"
    assert indexed(secret).authenticate(bearer(token)) is None


def test_node_token_is_the_node_and_only_its_hash_is_stored() -> None:
    token = new_node_token()
    secret = node_token_secret("worker-1", token)
    assert token not in str(secret)
    user = indexed(secret).authenticate(bearer(token))
    assert user == User("system:node:worker-1", "", (NODES,))
    assert indexed(secret).authenticate(bearer(new_node_token())) is None


def test_deleting_or_replacing_the_secret_revokes_the_old_token() -> None:
    old, new = new_node_token(), new_node_token()
    auth = indexed(node_token_secret("n1", old))
    auth._index(node_token_secret("n1", new))  # a re-join replaces the token
    assert auth.authenticate(bearer(old)) is None
    assert auth.authenticate(bearer(new)) is not None
    auth._forget("node-token-n1")
    assert auth.authenticate(bearer(new)) is None


def test_chain_asks_each_authenticator_in_turn() -> None:
    node_token = new_node_token()
    static = TokenAuthenticator({"admin-token": User("admin", "a", ("system:masters",))})
    chain = ChainAuthenticator(static, indexed(node_token_secret("n2", node_token)))
    assert chain.authenticate(bearer("admin-token")).name == "admin"  # type: ignore[union-attr]
    assert chain.authenticate(bearer(node_token)).name == "system:node:n2"  # type: ignore[union-attr]
    assert chain.authenticate(bearer("nobody")) is None


def test_bootstrap_token_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="bootstrap token"):
        bootstrap_token_secret("not-a-token", None)
