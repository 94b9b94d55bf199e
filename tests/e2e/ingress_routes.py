"""What the Ingress e2e tests check of the controller (no tests here): the default IngressClass they apply,
the answer of their echo back ends (`<backend> <path> host=<Host> proto=<X-Forwarded-Proto>`, then
`pod=<hostname>` from a pod) and which back end a routed request reached, and kubectl's row for an Ingress."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.e2e.cluster import Kubectl, parse_table

INGRESS_CLASS = """apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: raftkube
  annotations: {ingressclass.kubernetes.io/is-default-class: "true"}
spec: {controller: raftkube.io/ingress-controller}
"""


@dataclass(frozen=True)
class Echoed:
    """What an echo back end saw of a request."""

    backend: str
    path: str
    host: str
    proto: str
    pod: str | None


def echoed(body: str) -> Echoed:
    backend, path, *fields = body.split()
    seen = dict(field.split("=", 1) for field in fields)
    return Echoed(backend, path, seen["host"], seen["proto"], seen.get("pod"))


def assert_routed(response: httpx.Response | None, backend: str, path: str, host: str,
                  proto: str = "http") -> Echoed:
    """Assert the request for `host` and `path` got a 200 from `backend`, which saw that path, the Host
    header and X-Forwarded-Proto `proto`."""
    assert response is not None and response.status_code == 200, (host, path, response)
    seen = echoed(response.text)
    assert (seen.backend, seen.path, seen.host, seen.proto) == (backend, path, host, proto), (host, path,
                                                                                             response.text)
    return seen


def assert_listed(k: Kubectl, name: str, hosts: list[str]) -> None:
    """`kubectl get ingress` shows Ingress `name` of the default class with its hosts, the controller's
    address and both ports."""
    rows = [row for row in parse_table(k("get", "ingress")) if row["NAME"] == name]
    assert len(rows) == 1 and list(rows[0]) == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], rows
    assert [rows[0][c] for c in ("CLASS", "HOSTS", "ADDRESS", "PORTS")] == [
        "raftkube", ",".join(hosts), "127.0.0.1", "80, 443"]
