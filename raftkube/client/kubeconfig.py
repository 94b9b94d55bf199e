"""Reading and writing kubeconfig files, with raftkube's extra API endpoints.

Format choice: the cluster entry's `server` is the first endpoint (what kubectl and the
Python kubernetes client use), and all endpoints are listed in a named cluster extension
that kubectl keeps and ignores:

    clusters:
    - name: raftkube
      cluster:
        server: https://10.0.0.1:6443
        certificate-authority-data: <base64 PEM>
        extensions:
        - name: raftkube.io/endpoints
          extension:
            endpoints: [https://10.0.0.1:6443, https://10.0.0.2:6443, https://10.0.0.3:6443]

When reading, `server` comes first, then the extension's endpoints (duplicates dropped).
Users authenticate with `token` (or `tokenFile`); CAs come from `certificate-authority`
(relative to the kubeconfig's folder) or `certificate-authority-data`;
`insecure-skip-tls-verify` is honoured. Client certificates and exec/auth plugins are not.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

ENDPOINTS_EXTENSION = "raftkube.io/endpoints"


class KubeconfigError(Exception):
    pass


@dataclass
class KubeConfig:
    endpoints: list[str]
    token: str | None = None
    ca_file: str | None = None
    ca_data: str | None = None  # PEM text
    insecure: bool = False
    namespace: str | None = None
    context: str = ""
    path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def default_kubeconfig_path() -> str:
    """$KUBECONFIG's first existing entry (it may be a list), else ~/.kube/config."""
    env = os.environ.get("KUBECONFIG", "")
    entries = [p for p in env.split(os.pathsep) if p]
    for entry in entries:
        if os.path.exists(entry):
            return entry
    return entries[0] if entries else os.path.join(os.path.expanduser("~"), ".kube", "config")


def _named(items: Any, name: str, what: str, path: str) -> dict[str, Any]:
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            return dict(item.get(what) or {})
    raise KubeconfigError(f"{path}: no {what} named {name!r}")


def parse_kubeconfig(doc: dict[str, Any], path: str = "<kubeconfig>", context: str | None = None) -> KubeConfig:
    if not isinstance(doc, dict):
        raise KubeconfigError(f"{path}: not a kubeconfig")
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise KubeconfigError(f"{path}: no current-context set and no context given")
    ctx = _named(doc.get("contexts"), ctx_name, "context", path)
    cluster = _named(doc.get("clusters"), str(ctx.get("cluster")), "cluster", path)
    user = _named(doc.get("users"), str(ctx["user"]), "user", path) if ctx.get("user") else {}
    base = os.path.dirname(os.path.abspath(path)) if os.path.exists(path) else os.getcwd()

    endpoints: list[str] = []
    for server in [cluster.get("server"), *_extension_endpoints(cluster)]:
        if isinstance(server, str) and server and server.rstrip("/") not in endpoints:
            endpoints.append(server.rstrip("/"))
    if not endpoints:
        raise KubeconfigError(f"{path}: cluster {ctx.get('cluster')!r} has no server")

    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(os.path.join(base, user["tokenFile"])) as f:
            token = f.read().strip()
    ca_file = cluster.get("certificate-authority")
    ca_data = cluster.get("certificate-authority-data")
    return KubeConfig(
        endpoints=endpoints, token=token or None,
        ca_file=os.path.join(base, ca_file) if ca_file else None,
        ca_data=base64.b64decode(ca_data).decode() if ca_data else None,
        insecure=bool(cluster.get("insecure-skip-tls-verify")), namespace=ctx.get("namespace") or None,
        context=str(ctx_name), path=path)


def _extension_endpoints(cluster: dict[str, Any]) -> list[str]:
    for ext in cluster.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == ENDPOINTS_EXTENSION:
            value = (ext.get("extension") or {}).get("endpoints") or []
            return [str(v) for v in value] if isinstance(value, list) else str(value).split(",")
    return []


def load_kubeconfig(path: str | None = None, context: str | None = None) -> KubeConfig:
    path = path or default_kubeconfig_path()
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc.strerror or exc}") from exc
    return parse_kubeconfig(doc, path, context)


def build_kubeconfig(servers: list[str], token: str | None, *, ca_data: str | None = None,
                     insecure: bool = False, cluster: str = "raftkube", user: str = "raftkube-admin",
                     context: str = "raftkube", namespace: str | None = None) -> dict[str, Any]:
    """A kubeconfig document (kubectl, the kubernetes Python client and `ApiClient.from_kubeconfig` read it)."""
    servers = [s.strip().rstrip("/") for s in servers if s.strip()]
    if not servers:
        raise KubeconfigError("at least one server is needed")
    entry: dict[str, Any] = {"server": servers[0]}
    if ca_data:
        entry["certificate-authority-data"] = base64.b64encode(ca_data.encode()).decode()
    if insecure:
        entry["insecure-skip-tls-verify"] = True
    entry["extensions"] = [{"name": ENDPOINTS_EXTENSION, "extension": {"endpoints": servers}}]
    ctx: dict[str, Any] = {"cluster": cluster, "user": user}
    if namespace:
        ctx["namespace"] = namespace
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": cluster, "cluster": entry}],
        "users": [{"name": user, "user": {"token": token} if token else {}}],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
    }
