"""The patches real kubectl 1.32 computes, applied by `apply_patch` with the real schema.

A test-only server serves discovery and OpenAPI v3 (so kubectl finds the merge keys) and one
Deployment: GET returns it, POST creates it, PATCH runs `apply_patch` and stores the result.
Each test drives a kubectl command and checks both the request kubectl sent and the object.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from raftkube.api import discovery, errors, openapi
from raftkube.api.patch import apply_patch, record_update
from raftkube.api.schema import KIND_TYPES

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl 1.32 not installed")

ROOT = KIND_TYPES[("apps/v1", "Deployment")]
PATH = "/apis/apps/v1/namespaces/default/deployments/web"
LAST = "kubectl.kubernetes.io/last-applied-configuration"


class Server:
    def __init__(self) -> None:
        self.obj: dict[str, Any] | None = None
        self.requests: list[dict[str, Any]] = []
        self.clock = itertools.count(1)
        self.url = ""
        self.app = Starlette(routes=[
            Route("/version", lambda r: JSONResponse(discovery.version_info())),
            Route("/api", self.api), Route("/apis", self.apis),
            Route("/openapi/v2", lambda r: Response(b"", media_type="application/octet-stream")),
            Route("/openapi/v3", lambda r: JSONResponse(openapi.openapi_v3_index())),
            Route("/openapi/v3/{path:path}", self.openapi_document),
            Route("/api/{rest:path}", self.resource, methods=["GET", "POST", "PATCH", "PUT"]),
            Route("/apis/{rest:path}", self.resource, methods=["GET", "POST", "PATCH", "PUT"]),
        ])

    def api(self, request: Request) -> Response:
        return JSONResponse(discovery.api_versions(request.url.netloc))

    def apis(self, request: Request) -> Response:
        return JSONResponse(discovery.api_group_list())

    def openapi_document(self, request: Request) -> Response:
        body = openapi.openapi_v3_document_json(request.path_params["path"])
        return Response(body or b"{}", media_type="application/json", status_code=200 if body else 404)

    def now(self) -> str:
        return f"2025-01-01T00:00:{next(self.clock):02d}Z"

    def store(self, obj: dict[str, Any]) -> JSONResponse:
        obj["metadata"].update(uid="u1", namespace="default", resourceVersion=str(len(self.requests) + 1))
        self.obj = obj
        return JSONResponse(obj)

    async def resource(self, request: Request) -> Response:
        parts = request.url.path.strip("/").split("/")
        if len(parts) <= 3:
            listing = discovery.resource_list(*(("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])))
            return JSONResponse(listing) if listing else JSONResponse({}, status_code=404)
        if not request.url.path.startswith(PATH.rsplit("/", 1)[0]):
            return JSONResponse(errors.not_found("x", "x").status(), status_code=404)
        body = await request.body()
        query = dict(request.query_params)
        if request.method != "GET":
            self.requests.append({"method": request.method, "content_type": request.headers.get("content-type"),
                                  "query": query, "body": body.decode()})
        try:
            if request.method == "GET":
                if self.obj is None:
                    raise errors.not_found("deployments", "web", "apps")
                return JSONResponse(self.obj)
            manager = query.get("fieldManager") or "kubectl"
            if request.method == "POST":
                return self.store(record_update(None, json.loads(body), manager, root_type=ROOT, now=self.now()))
            content_type = request.headers.get("content-type", "")
            if self.obj is None and "apply-patch" not in content_type:
                raise errors.not_found("deployments", "web", "apps")
            result = apply_patch(content_type, self.obj, body, ROOT, field_manager=manager,
                                 force=query.get("force") == "true", now=self.now())
            return self.store(result)
        except errors.APIError as err:
            return JSONResponse(err.status(), status_code=err.code)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    test_server = Server()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    runner = uvicorn.Server(uvicorn.Config(test_server.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not runner.started and time.monotonic() < deadline:
        time.sleep(0.02)
    test_server.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield test_server
    runner.should_exit = True
    thread.join(timeout=5)
    sock.close()


@pytest.fixture()
def kubectl(server: Server, tmp_path: Path) -> Any:
    server.obj, server.requests[:] = None, []
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {"server": server.url}}],
        "users": [{"name": "t", "user": {"token": "x"}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t", "namespace": "default"}}]}))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig),
           "KUBECACHEDIR": str(tmp_path / "cache")}

    def run(*args: str, stdin: str | None = None, editor: str = "", fails: bool = False) -> str:
        result = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, timeout=60,
                                env={**env, "KUBE_EDITOR": editor} if editor else env)
        assert (result.returncode != 0) == fails, result.stderr
        return result.stderr if fails else result.stdout

    return run


def manifest(image: str = "nginx:1.25", env: tuple[str, ...] = ("A",), sidecar: bool = True,
             replicas: int = 2) -> str:
    containers: list[dict[str, Any]] = [{"name": "web", "image": image, "ports": [{"containerPort": 80}],
                                         "env": [{"name": n, "value": n.lower()} for n in env]}]
    if sidecar:
        containers.append({"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]})
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": "web", "labels": {"app": "web"}},
                           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                                    "template": {"metadata": {"labels": {"app": "web"}},
                                                 "spec": {"containers": containers}}}})


def containers(server: Server) -> list[dict[str, Any]]:
    assert server.obj is not None
    return server.obj["spec"]["template"]["spec"]["containers"]


def test_client_side_apply_three_way_patches(server: Server, kubectl: Any) -> None:
    assert "created" in kubectl("apply", "-f", "-", stdin=manifest())
    assert server.requests[-1]["method"] == "POST"
    out = kubectl("apply", "-f", "-", stdin=manifest(image="nginx:1.26", env=("A", "B"), sidecar=False))
    assert "configured" in out
    sent = server.requests[-1]
    assert sent["content_type"] == "application/strategic-merge-patch+json"
    assert sent["query"]["fieldManager"] == "kubectl-client-side-apply"
    assert '"$patch":"delete"' in sent["body"] and "$setElementOrder/env" in sent["body"]
    (web,) = containers(server)
    assert web["image"] == "nginx:1.26"
    assert web["env"] == [{"name": "A", "value": "a"}, {"name": "B", "value": "b"}]
    assert json.loads(server.obj["metadata"]["annotations"][LAST])["spec"]["replicas"] == 2  # type: ignore[index]
    assert "unchanged" in kubectl("apply", "-f", "-", stdin=manifest(image="nginx:1.26", env=("A", "B"),
                                                                     sidecar=False))


def test_set_image_restart_label_annotate_edit(server: Server, kubectl: Any) -> None:
    kubectl("apply", "-f", "-", stdin=manifest())
    kubectl("set", "image", "deployment/web", "web=nginx:1.27")
    assert [c["image"] for c in containers(server)] == ["nginx:1.27", "busybox"]
    kubectl("rollout", "restart", "deployment/web")
    assert server.requests[-1]["content_type"] == "application/strategic-merge-patch+json"
    template_meta = server.obj["spec"]["template"]["metadata"]  # type: ignore[index]
    assert "kubectl.kubernetes.io/restartedAt" in template_meta["annotations"]
    kubectl("label", "deployment", "web", "tier=front", "env=prod")
    kubectl("annotate", "deployment", "web", "note=hi")
    assert server.requests[-1]["content_type"] == "application/merge-patch+json"
    kubectl("label", "deployment", "web", "tier-")
    assert server.obj["metadata"]["labels"] == {"app": "web", "env": "prod"}  # type: ignore[index]
    assert server.obj["metadata"]["annotations"]["note"] == "hi"  # type: ignore[index]
    kubectl("edit", "deployment/web", editor="sed -i -e s/replicas:\\ 2/replicas:\\ 4/")
    assert server.requests[-1]["query"]["fieldManager"] == "kubectl-edit"
    assert server.obj["spec"]["replicas"] == 4  # type: ignore[index]
    managers = {e["manager"] for e in server.obj["metadata"]["managedFields"]}  # type: ignore[index]
    assert {"kubectl-client-side-apply", "kubectl-set", "kubectl-rollout", "kubectl-label", "kubectl-annotate",
            "kubectl-edit"} <= managers


def test_server_side_apply_conflicts_force_and_migration(server: Server, kubectl: Any) -> None:
    kubectl("apply", "-f", "-", stdin=manifest())
    kubectl("edit", "deployment/web", editor="sed -i -e s/replicas:\\ 2/replicas:\\ 5/")
    stderr = kubectl("apply", "--server-side", "-f", "-", stdin=manifest(replicas=2), fails=True)
    assert 'conflict with "kubectl-edit"' in stderr and ".spec.replicas" in stderr
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest(replicas=2))
    assert server.obj["spec"]["replicas"] == 2  # type: ignore[index]
    apply_requests = [r for r in server.requests if r["content_type"] == "application/apply-patch+yaml"]
    assert apply_requests[-1]["query"] | {"fieldValidation": "Strict"} == {
        "fieldManager": "kubectl", "force": "true", "fieldValidation": "Strict"}
    entries = {(e["manager"], e["operation"]) for e in server.obj["metadata"]["managedFields"]}  # type: ignore
    # kubectl migrated the client-side apply ownership to its own Apply entry with a JSON patch
    assert ("kubectl", "Apply") in entries and ("kubectl-client-side-apply", "Update") not in entries
    assert any(r["content_type"] == "application/json-patch+json" for r in server.requests)
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", "-", stdin=manifest(sidecar=False))
    assert [c["name"] for c in containers(server)] == ["web"]
