"""The node's side of ServiceAccounts without a runtime: token requests bound to the pod and refreshed at 80 %
of their lifetime, the projected token volume's files, and the `kubernetes` Service's environment variables."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from raftkube.api.sa_admission import inject_token_volume
from raftkube.client import Forbidden
from raftkube.node.env import MASTER_SERVICE, ConfigError, resolve_env, service_env
from raftkube.node.sa_tokens import ServiceAccountTokens, token_sources
from raftkube.node.volumes import prepare_volumes

Obj = dict[str, Any]
NOW = 1_800_000_000.0


class FakeClient:
    def __init__(self) -> None:
        self.requests: list[tuple[str, Obj]] = []
        self.refuse = False

    async def request(self, method: str, path: str, body: Obj | None = None, **_: Any) -> Obj:
        assert method == "POST" and body is not None
        if self.refuse:
            raise Forbidden(message="no")
        self.requests.append((path, body))
        seconds = body["spec"]["expirationSeconds"]
        expires = dt.datetime.fromtimestamp(NOW + seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"status": {"token": f"token-{len(self.requests)}", "expirationTimestamp": expires}}


def a_pod(**spec: Any) -> Obj:
    body: Obj = {"metadata": {"name": "web", "namespace": "team", "uid": "u-1"},
                 "spec": {"serviceAccountName": "robot", "containers": [{"name": "app", "image": "x"}], **spec}}
    inject_token_volume(body["spec"])
    return body


async def test_tokens_are_bound_to_the_pod_and_refreshed_at_80_percent() -> None:
    client, clock = FakeClient(), [NOW]
    tokens = ServiceAccountTokens(client, clock=lambda: clock[0])  # type: ignore[arg-type]
    pod = a_pod()
    assert token_sources(pod) == {("", 3607)}
    assert await tokens.for_pod(pod) == {("", 3607): b"token-1"}
    path, body = client.requests[0]
    assert path == "/api/v1/namespaces/team/serviceaccounts/robot/token"
    assert body["spec"] == {"audiences": [], "expirationSeconds": 3607,
                            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "u-1"}}
    clock[0] = NOW + 0.79 * 3607
    assert await tokens.for_pod(pod) == {("", 3607): b"token-1"} and len(client.requests) == 1
    clock[0] = NOW + 0.81 * 3607
    assert await tokens.for_pod(pod) == {("", 3607): b"token-2"}
    tokens.forget("u-1")
    assert await tokens.for_pod(pod) == {("", 3607): b"token-3"}
    client.refuse = True
    tokens.forget("u-1")
    with pytest.raises(ConfigError, match='service account "robot"'):
        await tokens.for_pod(pod)


def test_the_projected_volume_holds_token_ca_and_namespace(tmp_path: Path) -> None:
    pod = a_pod()
    objects = {("ConfigMap", "kube-root-ca.crt"): {"kind": "ConfigMap", "data": {"ca.crt": "PEM"}}}
    volumes = prepare_volumes(pod, str(tmp_path), objects, tokens={("", 3607): b"jwt"})
    (path, read_only), = volumes.values()
    assert read_only
    files = {name: (Path(path, name).read_text(), stat.S_IMODE(os.stat(Path(path, name)).st_mode))
             for name in ("token", "ca.crt", "namespace")}
    assert files == {"token": ("jwt", 0o644), "ca.crt": ("PEM", 0o644), "namespace": ("team", 0o644)}
    prepare_volumes(pod, str(tmp_path), objects, tokens={("", 3607): b"refreshed"})
    assert Path(path, "token").read_text() == "refreshed"
    with pytest.raises(ConfigError):
        prepare_volumes(pod, str(tmp_path), objects, tokens={})
    with pytest.raises(ConfigError, match="kube-root-ca.crt"):
        prepare_volumes(pod, str(tmp_path), {}, tokens={("", 3607): b"jwt"})


def test_every_container_gets_the_kubernetes_service_variables() -> None:
    service = {"metadata": {"name": "kubernetes"},
               "spec": {"clusterIP": "127.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}}
    assert service_env(service) == {
        "KUBERNETES_SERVICE_HOST": "127.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://127.96.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://127.96.0.1:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "127.96.0.1"}
    pod = a_pod()
    container = {"name": "app", "env": [{"name": "KUBERNETES_SERVICE_PORT", "value": "mine"},
                                        {"name": "URL", "value": "https://$(KUBERNETES_SERVICE_HOST)"}]}
    env = dict(resolve_env(pod, container, {MASTER_SERVICE: service}, "", ""))
    assert env["KUBERNETES_SERVICE_HOST"] == "127.96.0.1" and env["KUBERNETES_SERVICE_PORT"] == "mine"
    assert env["URL"] == "https://127.96.0.1"
    assert "KUBERNETES_SERVICE_HOST" not in dict(resolve_env(pod, container, {}, "", ""))
