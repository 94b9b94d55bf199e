"""Discovery and OpenAPI v3, proven with the real kubectl 1.32 against a tiny test-only server.

The test server serves only discovery and OpenAPI, plus a dry-run create that runs
`check_structure` the way the API server does, and a GET/PATCH pair for `apply`.

Note on client-side validation: kubectl 1.32 validates fields itself only with OpenAPI v2
(protobuf), and only when the server does *not* advertise the `fieldValidation` parameter on
PATCH. raftkube advertises it (in OpenAPI v3), so kubectl sends `fieldValidation=Strict` and the
server reports unknown fields: `--dry-run=server` exercises that without writing anything, while
`--dry-run=client` accepts any field.
"""

from __future__ import annotations

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

from raftkube.api import discovery, errors, openapi, resources
from raftkube.api.schema import KIND_TYPES
from raftkube.api.schema.structure import check_structure, prune_unknown, strict_decoding_error, unknown_field_warnings
from tests.api.test_schema_structure import DOCS, MANIFESTS

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
needs_kubectl = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl 1.32 not installed")


class StubServer:
    """Discovery + OpenAPI + dry-run create + GET/PATCH for apply; records every write request."""

    def __init__(self) -> None:
        self.aggregated = True
        self.requests: list[dict[str, Any]] = []
        self.gets: list[str] = []
        self.objects: dict[str, dict[str, Any]] = {}
        self.app = Starlette(routes=[
            Route("/version", lambda r: JSONResponse(discovery.version_info())),
            Route("/api", self.api),
            Route("/apis", self.apis),
            Route("/openapi/v2", lambda r: Response(openapi.openapi_v2_protobuf(),
                                                    media_type=openapi.OPENAPI_V2_CONTENT_TYPE)),
            Route("/openapi/v3", lambda r: JSONResponse(openapi.openapi_v3_index())),
            Route("/openapi/v3/{path:path}", self.openapi_document),
            Route("/api/{rest:path}", self.resource, methods=["GET", "POST", "PATCH"]),
            Route("/apis/{rest:path}", self.resource, methods=["GET", "POST", "PATCH"]),
        ])

    def api(self, request: Request) -> Response:
        if self.aggregated and discovery.wants_aggregated(request.headers.get("accept", "")):
            return JSONResponse(discovery.aggregated_discovery(True), media_type=discovery.AGGREGATED_CONTENT_TYPE)
        return JSONResponse(discovery.api_versions(request.url.netloc))

    def apis(self, request: Request) -> Response:
        if self.aggregated and discovery.wants_aggregated(request.headers.get("accept", "")):
            return JSONResponse(discovery.aggregated_discovery(False), media_type=discovery.AGGREGATED_CONTENT_TYPE)
        return JSONResponse(discovery.api_group_list())

    def openapi_document(self, request: Request) -> Response:
        body = openapi.openapi_v3_document_json(request.path_params["path"])
        return Response(body, media_type="application/json") if body else self.error(errors.not_found("", "x"))

    @staticmethod
    def error(err: errors.APIError, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse(err.status(), status_code=err.code, headers=headers)

    async def resource(self, request: Request) -> Response:
        parts = request.url.path.strip("/").split("/")
        if len(parts) == 1:  # "/api/", "/apis/": the Python client asks with a trailing slash
            return self.api(request) if parts[0] == "api" else self.apis(request)
        group, version, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else (parts[1], parts[2], parts[3:])
        if not rest:
            self.gets.append(request.url.path)
            listing = discovery.resource_list(group, version)
            return JSONResponse(listing) if listing else self.error(errors.not_found("", version))
        if rest[0] == "namespaces" and len(rest) > 2:
            rest = rest[2:]
        resource = resources.find(group, version, rest[0])
        if resource is None:
            return self.error(errors.not_found(rest[0], ""))
        key = f"{resource.plural}/{rest[1]}" if len(rest) > 1 else ""
        if request.method == "GET":
            self.gets.append(request.url.path)
            if key in self.objects:
                return JSONResponse(self.objects[key])
            return self.error(errors.not_found(resource.plural, rest[-1], resource.group))
        body = await request.body()
        record = {"method": request.method, "path": request.url.path, "query": dict(request.query_params),
                  "content_type": request.headers.get("content-type", ""), "body": json.loads(body)}
        self.requests.append(record)
        if request.method == "PATCH":
            return JSONResponse(self.objects[key])
        obj = record["body"]
        root = KIND_TYPES[(resource.api_version, resource.kind)]
        unknown, causes = check_structure(obj, root)
        headers: dict[str, str] = {}
        validation = request.query_params.get("fieldValidation", "Strict")
        if unknown and validation == "Strict":
            return self.error(strict_decoding_error(resource.kind, resource.version, unknown))
        if unknown:
            obj = prune_unknown(obj, root)
            if validation == "Warn":
                headers["Warning"] = ", ".join(warning(w) for w in unknown_field_warnings(unknown))
        if causes:
            return self.error(errors.invalid(resource.kind, obj["metadata"]["name"], causes, resource.group))
        if resource.namespaced:
            obj["metadata"].setdefault("namespace", "default")
        return JSONResponse(obj, status_code=201, headers=headers)


def warning(text: str) -> str:
    """One warning in a `Warning` header (RFC 7234: quotes and backslashes escaped)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[StubServer, str]]:
    test_server = StubServer()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    runner = uvicorn.Server(uvicorn.Config(test_server.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not runner.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runner.started
    yield test_server, f"http://127.0.0.1:{port}"
    runner.should_exit = True
    thread.join(timeout=5)
    sock.close()


@pytest.fixture()
def kubectl(server: tuple[StubServer, str], tmp_path: Path) -> Any:
    """Run kubectl 1.32 against the test server with a fresh cache; returns the CompletedProcess."""
    test_server, url = server
    test_server.requests.clear()
    test_server.gets.clear()
    test_server.aggregated = True
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": url}}],
        "users": [{"name": "test", "user": {"token": "test-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test", "namespace": "default"}}],
    }))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig),
           "KUBECACHEDIR": str(tmp_path / "cache")}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)

    return run


def table(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()[1:]]


@needs_kubectl
@pytest.mark.parametrize("aggregated", [True, False], ids=["aggregated", "legacy"])
def test_api_resources(server: tuple[StubServer, str], kubectl: Any, aggregated: bool) -> None:
    server[0].aggregated = aggregated
    result = kubectl("api-resources")
    assert result.returncode == 0, result.stderr
    rows = {(row[0], row[-3]): row for row in table(result.stdout)}  # (pods and nodes: also in metrics.k8s.io)
    preferred = {g: versions[0] for g, versions in resources.group_versions().items()}
    for r in resources.RESOURCES:
        if preferred[r.group] != r.version:
            continue  # (kubectl lists a group's preferred version only: autoscaling/v2, not v1)
        expected = [r.plural, *([",".join(r.short_names)] if r.short_names else []), r.api_version,
                    str(r.namespaced).lower(), r.kind]
        assert rows[(r.plural, r.api_version)] == expected
    per_group_version = {"/api/v1", "/apis/apps/v1", "/apis/batch/v1", "/apis/coordination.k8s.io/v1"}
    assert (per_group_version & set(server[0].gets)) == (set() if aggregated else per_group_version)
    wide = kubectl("api-resources", "-o", "wide", "--api-group=apps")
    assert {row[0]: row for row in table(wide.stdout)}["deployments"] == [
        "deployments", "deploy", "apps/v1", "true", "Deployment",
        "create,delete,deletecollection,get,list,patch,update,watch", "all"]


@needs_kubectl
def test_explain_reads_openapi_v3(kubectl: Any) -> None:
    result = kubectl("explain", "deployment.spec.strategy")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "GROUP:      apps" in out and "KIND:       Deployment" in out and "VERSION:    v1" in out
    assert "FIELD: strategy <DeploymentStrategy>" in out
    assert "rollingUpdate\t<RollingUpdateDeployment>" in out
    assert "type\t<string>" in out and "enum: Recreate, RollingUpdate" in out

    result = kubectl("explain", "pod.spec.containers.ports")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "KIND:       Pod" in out and "FIELD: ports <[]ContainerPort>" in out
    for line in ("containerPort\t<integer> -required-", "hostIP\t<string>", "hostPort\t<integer>", "name\t<string>",
                 "protocol\t<string>"):
        assert line in out
    assert "enum: SCTP, TCP, UDP" in out

    out = kubectl("explain", "svc.spec.ports.targetPort").stdout
    assert "FIELD: targetPort <IntOrString>" in out
    out = kubectl("explain", "deploy.spec.template.spec.containers.resources").stdout
    assert "limits\t<map[string]Quantity>" in out
    out = kubectl("explain", "pods").stdout
    assert "DESCRIPTION:" in out and "spec\t<PodSpec>" in out and "status\t<PodStatus>" in out
    out = kubectl("explain", "jobs.spec", "--recursive").stdout
    assert "podFailurePolicy\t<PodFailurePolicy>" in out and "      containerPort\t<integer>" in out
    missing = kubectl("explain", "deployment.spec.strategi")
    assert missing.returncode != 0 and 'field "strategi" does not exist' in missing.stderr


@needs_kubectl
def test_create_dry_run_client_accepts_typical_manifests(kubectl: Any) -> None:
    result = kubectl("create", "--dry-run=client", "--validate=strict", "-o", "yaml", "-f", "-", stdin=MANIFESTS)
    assert result.returncode == 0, result.stderr
    items = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert [(i["kind"], i["metadata"]["name"]) for i in items] == [(d["kind"], d["metadata"]["name"]) for d in DOCS]


@needs_kubectl
def test_create_dry_run_server_validates_strictly(server: tuple[StubServer, str], kubectl: Any) -> None:
    result = kubectl("create", "--dry-run=server", "--validate=strict", "-o", "name", "-f", "-", stdin=MANIFESTS)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == len(DOCS)
    posts = server[0].requests
    assert len(posts) == len(DOCS)
    # kubectl found fieldValidation on PATCH in our OpenAPI v3 and hands validation to the server
    assert all(p["query"] == {"dryRun": "All", "fieldManager": "kubectl-create", "fieldValidation": "Strict"}
               for p in posts), posts[0]["query"]
    assert posts[0]["path"] == "/apis/apps/v1/namespaces/default/deployments"


def bad_deployment() -> str:
    doc = json.loads(json.dumps(DOCS[0]))
    doc["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    doc["spec"]["strategy"]["rollingUpdate"]["maxSurj"] = 1
    return yaml.safe_dump(doc)


@needs_kubectl
def test_unknown_field_is_rejected_and_named(kubectl: Any) -> None:
    result = kubectl("create", "--dry-run=server", "-f", "-", stdin=bad_deployment())
    assert result.returncode != 0
    assert 'Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be ' \
           'handled as a Deployment: strict decoding error: unknown field "spec.strategy.rollingUpdate.maxSurj", ' \
           'unknown field "spec.template.spec.containers[0].imagePullPolcy"' in result.stderr
    # client-side dry run performs no schema validation once the server advertises fieldValidation
    assert kubectl("create", "--dry-run=client", "-o", "name", "-f", "-", stdin=bad_deployment()).returncode == 0


LIST = """
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {x: hello}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}, data: {x: hello}, extra: 1}
"""


@needs_kubectl
def test_list_files_need_openapi_v2_and_are_checked_by_the_server(server: tuple[StubServer, str],
                                                                  kubectl: Any) -> None:
    result = kubectl("create", "--dry-run=server", "-f", "-", stdin=LIST)
    assert result.returncode != 0
    assert "configmap/a created (server dry run)" in result.stdout
    assert 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field ' \
           '"extra"' in result.stderr
    assert [p["query"]["fieldValidation"] for p in server[0].requests] == ["Strict", "Strict"]


@needs_kubectl
def test_warn_and_ignore(kubectl: Any) -> None:
    warned = kubectl("create", "--dry-run=server", "--validate=warn", "-o", "json", "-f", "-", stdin=bad_deployment())
    assert warned.returncode == 0, warned.stderr
    assert 'Warning: unknown field "spec.template.spec.containers[0].imagePullPolcy"' in warned.stderr
    ignored = kubectl("create", "--dry-run=server", "--validate=false", "-o", "json", "-f", "-", stdin=bad_deployment())
    assert ignored.returncode == 0 and "Warning" not in ignored.stderr
    assert "imagePullPolcy" not in ignored.stdout and "maxSurj" not in ignored.stdout


@needs_kubectl
def test_wrong_type_is_invalid(kubectl: Any) -> None:
    doc = json.loads(json.dumps(DOCS[0]))
    doc["spec"]["replicas"] = "three"
    result = kubectl("create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(doc))
    assert result.returncode != 0
    assert 'The Deployment "web" is invalid: spec.replicas: Invalid value: "string": spec.replicas in body must be ' \
           'of type integer' in result.stderr


@needs_kubectl
def test_apply_uses_strategic_merge_patch_from_openapi_v3(server: tuple[StubServer, str], kubectl: Any) -> None:
    applied = json.loads(json.dumps(DOCS[0]))
    live = json.loads(json.dumps(applied))
    live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(applied)
    live["metadata"].update({"uid": "u1", "resourceVersion": "7", "generation": 1})
    server[0].objects["deployments/web"] = live
    changed = json.loads(json.dumps(applied))
    pod = changed["spec"]["template"]["spec"]
    pod["containers"][0]["image"] = "nginx:1.28"
    pod["containers"][0]["env"] = [e for e in pod["containers"][0]["env"] if e["name"] != "MODE"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "host"]
    result = kubectl("apply", "-f", "-", stdin=yaml.safe_dump(changed))
    assert result.returncode == 0, result.stderr
    assert "deployment.apps/web configured" in result.stdout
    assert "warning" not in result.stderr.lower(), result.stderr
    (patch,) = server[0].requests
    assert patch["content_type"] == "application/strategic-merge-patch+json"
    assert patch["query"]["fieldValidation"] == "Strict"
    spec = patch["body"]["spec"]["template"]["spec"]
    assert spec["$setElementOrder/containers"] == [{"name": "app"}]
    container = spec["containers"][0]
    assert container["name"] == "app" and container["image"] == "nginx:1.28"
    assert container["env"] == [{"$patch": "delete", "name": "MODE"}]
    assert {"$patch": "delete", "name": "host"} in spec["volumes"]



def test_python_client_reads_discovery(server: tuple[StubServer, str]) -> None:
    import kubernetes

    config = kubernetes.client.Configuration(host=server[1], api_key={"authorization": "test-token"},
                                             api_key_prefix={"authorization": "Bearer"})
    with kubernetes.client.ApiClient(config) as client:
        assert kubernetes.client.VersionApi(client).get_code().minor == "32"
        assert kubernetes.client.CoreApi(client).get_api_versions().versions == ["v1"]
        groups = kubernetes.client.ApisApi(client).get_api_versions().groups
        assert {g.name for g in groups} == {"apps", "batch", "coordination.k8s.io", "rbac.authorization.k8s.io",
                                               "authorization.k8s.io", "authentication.k8s.io", "networking.k8s.io",
                                               "autoscaling", "metrics.k8s.io",
                                               "storage.k8s.io", "apiextensions.k8s.io", "policy"}
        names = {r.name for r in kubernetes.client.AppsV1Api(client).get_api_resources().resources}
        assert {"deployments", "deployments/scale", "replicasets", "daemonsets/status"} <= names
        assert "pods/log" in {r.name for r in kubernetes.client.CoreV1Api(client).get_api_resources().resources}
