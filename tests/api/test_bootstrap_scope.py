"""A bootstrap token joins machines and does nothing else: every other request is 403."""

from __future__ import annotations

from starlette.testclient import TestClient

from raftkube.api.app import build_app
from raftkube.api.auth import TokenAuthenticator, User
from raftkube.api.cluster_tokens import BOOTSTRAPPERS


def test_bootstrap_users_reach_only_the_join_endpoint() -> None:
    auth = TokenAuthenticator({"abcdef.0123456789abcdef": User("system:bootstrap:abcdef", "", (BOOTSTRAPPERS,))})
    app = build_app(None, auth, lambda: True)  # type: ignore[arg-type]  # refused before any storage call
    client = TestClient(app)
    headers = {"authorization": "Bearer abcdef.0123456789abcdef"}
    for path in ("/api/v1/secrets", "/api/v1/namespaces/kube-system/secrets/x", "/apis", "/openapi/v3"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert response.json()["reason"] == "Forbidden" and "may only join" in response.json()["message"]
    assert client.post("/api/v1/namespaces/default/configmaps", json={}, headers=headers).status_code == 403
    assert client.get("/healthz").status_code == 200  # anonymous paths stay open
