"""The Kubernetes REST API as an ASGI app: auth, discovery, OpenAPI and the resource verbs.

Resource requests (`/api/...`, `/apis/...`: nearly all the traffic) go straight to their
handler; the rest (version, health, discovery roots, OpenAPI, unknown paths and methods) go
through a starlette app. Skipping starlette's middleware and router for the former saves about
a third of what starlette costs per request; the handler catches every error itself.

Every request is authenticated (`auth` is required: there is no anonymous admin) except
/healthz, /livez, /readyz and /version, which anyone may read, as Kubernetes' default
`system:public-info-viewer` binding allows: load balancers and `raftkube join` probe them
before they hold a credential, and they tell nothing about the cluster's objects. Everything
else without a known bearer token is a 401 Status. An authenticated request may run as someone
else (`Impersonate-*` headers, api/impersonation.py) and is then authorized (system:masters, the
nodes, RBAC) before its handler runs; the review APIs (api/reviews.py) are answered here. The
web dashboard's page and assets (/dashboard, api/dashboard/) are served to anyone: they hold no
data, and the page sends the user's token with each of its API requests. The control plane's
status (/raftkube/v1/status, /raftkube/v1/chaos/last: api/control_status.py) is authorized as
non-resource URLs. Websocket upgrades (pods/exec, attach, portforward) are authenticated and
authorized here too (`websocket_entry`) and relayed to the agent by api/pod_streams.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from . import discovery, openapi
from .admission_chain import AdmissionChain
from .audit import ANONYMOUS, AuditLog
from .auth import TokenAuthenticator, is_anonymous_path
from .authz import Authorizer, SystemMastersAuthorizer, UnionAuthorizer, forbidden_message, request_attributes
from .authz.escalation import EscalationCheck
from .authz.node import NodeAuthorizer
from .authz.node_graph import NodeGraph
from .authz.rbac import RBACAuthorizer
from .cluster_tokens import BOOTSTRAPPERS
from .control_status import CHAOS_LAST_PATH, STATUS_PATH, ControlPlaneStatus
from .crd.naming import CRDNaming
from .dashboard import dashboard_routes
from .errors import APIError, bad_request, forbidden, internal, not_found, unauthorized
from .fairness import Fairness, FairnessConfig
from .front_door import AUTHENTICATED, front_door
from .handlers import ResourceAPI, json_response
from .impersonation import impersonate, wants_impersonation
from .ingress_admission import DefaultIngressClass
from .join import CA_PATH, JOIN_PATH, JoinService
from .limit_ranger import LimitRanger
from .metrics_api import MetricsAPI
from .node_restriction import NodeRestriction
from .pod_logs import KubeletClientTLS
from .pod_security import BASELINE, PodSecurity
from .pod_streams import STREAM_SUBRESOURCES
from .quota_admission import ResourceQuotaAdmission
from .resource_registry import BUILTIN_GROUPS, CRDS, ResourceRegistry
from .reviews import Reviews
from .router import Target, parse_path
from .storage import ObjectStorage
from .storage_admission import ClaimResize, StorageProtection
from .token_request import TokenRequests
from .watch_cache import ListReads, WatchCache
from .x509_auth import client_certificate_user

log = logging.getLogger(__name__)


def error_response(err: APIError) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else {}
    if err.code == 413:  # the rest of an oversized body is not read: the connection ends with this answer
        headers["Connection"] = "close"
    return Response(json.dumps(err.status()), status_code=err.code, media_type="application/json", headers=headers)


def _discovery_response(body: Any) -> Response:
    if body is None:
        raise APIError(404, "NotFound", "the server could not find the requested resource")
    return json_response(body)


def default_authorizer(node_graph: NodeGraph, rbac: RBACAuthorizer | None) -> Authorizer:
    """system:masters, then the Node authorizer (from `node_graph`, the pods -> nodes index, started by the
    caller or on the first node request), then RBAC (without an RBAC index: only the first two, fail closed)."""
    chain: list[Authorizer] = [SystemMastersAuthorizer(), NodeAuthorizer(node_graph)]
    return UnionAuthorizer(chain + ([rbac] if rbac is not None else []))


def default_admission(storage: ObjectStorage, pod_security_default: str = BASELINE) -> AdmissionChain:
    """The admission plugins every server runs: NodeRestriction, PodSecurity, DefaultIngressClass, LimitRanger,
    StorageObjectInUseProtection, PersistentVolumeClaimResize, then ResourceQuota (last, as in Kubernetes: it
    charges what the others let through)."""
    return AdmissionChain([NodeRestriction(storage), PodSecurity(storage, pod_security_default),
                           DefaultIngressClass(storage), LimitRanger(storage), StorageProtection(),
                           ClaimResize(storage), ResourceQuotaAdmission(storage)])


def build_app(storage: ObjectStorage, auth: TokenAuthenticator, ready: Callable[[], bool],
              join: JoinService | None = None, kubelet: KubeletClientTLS | None = None,
              authorizer: Authorizer | None = None, admission: AdmissionChain | None = None,
              rbac: RBACAuthorizer | None = None, fairness: FairnessConfig | Fairness | None = None,
              audit: AuditLog | None = None, control: ControlPlaneStatus | None = None,
              tokens: TokenRequests | None = None, registry: ResourceRegistry | None = None,
              watch_cache: bool = True) -> ASGIApp:
    """`rbac`: the RBAC authorizer over a started RBACIndex; it joins the default authorizer chain, answers
    the rules reviews, and the escalation check runs first in the admission chain. `fairness`: in-flight and
    watch limits (fairness.py; the defaults when None, zeros for none); `audit`: the audit log, if any (audit.py).
    `control`: serves the store replica's status and the last chaos run (without it those paths are 404).
    `tokens`: the serviceaccounts/token subresource (raftkube/api/service_accounts.py); None: not served.
    `registry`: what is served, built-ins and CRDs (one is made over `storage` when None; its CRD watch starts
    with the first request). `watch_cache`: serve lists and watches from memory (raftkube/api/watch_cache/;
    kube-apiserver's --watch-cache); False: every list and watch reads the store."""
    limiter = fairness if isinstance(fairness, Fairness) else Fairness(fairness or FairnessConfig())
    if auth is None:
        raise ValueError("the API server needs an authenticator (--token-file): there is no anonymous access")
    authorizer = authorizer or default_authorizer(NodeGraph(storage), rbac)
    admission = admission if admission is not None else default_admission(storage)
    if rbac is not None:
        admission = AdmissionChain([EscalationCheck(authorizer, rbac, storage), *admission.plugins])
    registry = registry if registry is not None else ResourceRegistry(storage)
    admission = AdmissionChain([*admission.plugins, CRDNaming(registry.other_crds)])
    reads = ListReads(storage, WatchCache(storage) if watch_cache else None)
    api = ResourceAPI(storage, kubelet, admission, tokens, reads)
    reviews = Reviews(authorizer, rbac)
    metrics = MetricsAPI(storage, kubelet)

    async def version(request: Request) -> Response:
        return json_response(discovery.version_info())

    async def health(request: Request) -> Response:
        ok = request.url.path.startswith("/livez") or ready()
        return PlainTextResponse("ok" if ok else "store replica not ready", status_code=200 if ok else 503)

    async def core_root(request: Request) -> Response:
        if discovery.wants_aggregated(request.headers.get("accept", "")):
            return Response(json.dumps(discovery.aggregated_discovery(True, registry)),
                            media_type=discovery.AGGREGATED_CONTENT_TYPE)
        return json_response(discovery.api_versions())

    async def groups_root(request: Request) -> Response:
        await registry.ready()
        if discovery.wants_aggregated(request.headers.get("accept", "")):
            return Response(json.dumps(discovery.aggregated_discovery(False, registry)),
                            media_type=discovery.AGGREGATED_CONTENT_TYPE)
        return json_response(discovery.api_group_list(registry))

    async def openapi_v2(request: Request) -> Response:
        return Response(openapi.openapi_v2_protobuf(), media_type=openapi.OPENAPI_V2_CONTENT_TYPE)

    async def openapi_v3(request: Request) -> Response:
        path = request.path_params.get("path", "")
        await registry.ready()
        if not path:
            return json_response(openapi.openapi_v3_index(registry))
        document = openapi.openapi_v3_document_json(path, registry)
        if document is None:
            raise APIError(404, "NotFound", f"no OpenAPI document for {path}")
        return Response(document, media_type="application/json")

    async def target_of(path: str) -> Target | None:
        """The path's target; a miss in a custom group re-reads the CRDs once before it is a 404."""
        await registry.ready()
        parts = [p for p in path.split("/") if p]
        try:
            return parse_path(path, registry.find)
        except APIError as err:
            if err.code != 404 or parts[:1] != ["apis"] or len(parts) < 2 or parts[1] in BUILTIN_GROUPS:
                raise
        await registry.refresh()
        return parse_path(path, registry.find)

    async def resources(request: Request) -> Response:
        target = await target_of(request.url.path)
        if target is None:
            parts = [p for p in request.url.path.split("/") if p]
            if parts[0] == "apis" and len(parts) >= 2 and parts[1] not in BUILTIN_GROUPS \
                    and parts[1] not in registry.custom_group_versions():
                await registry.refresh()
            if parts[0] == "api" and len(parts) == 2:
                return _discovery_response(discovery.resource_list("", parts[1], registry))
            if parts[0] == "apis" and len(parts) == 3:
                return _discovery_response(discovery.resource_list(parts[1], parts[2], registry))
            if parts[0] == "apis" and len(parts) == 2:
                group = next((g for g in discovery.api_group_list(registry)["groups"] if g["name"] == parts[1]),
                             None)
                return _discovery_response(group)
            raise not_found("", request.url.path)
        if target.resource.virtual:  # the review APIs: answered here, nothing stored
            return await reviews.handle(request, target)
        if target.resource.read_only:  # metrics.k8s.io: read from the agents (api/metrics_api.py)
            return await metrics.handle(request, target)
        response = await api.handle(request, target)
        if target.resource is CRDS and request.method != "GET":
            await registry.refresh()  # this replica serves what it just accepted (the others: by their watch)
        return response

    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            if not is_anonymous_path(request.url.path):
                user = (request.scope[AUTHENTICATED] if AUTHENTICATED in request.scope  # the front door's
                        else auth.authenticate(request.headers.get("authorization")))
                if user is None:
                    return error_response(unauthorized())
                if BOOTSTRAPPERS in user.groups and request.url.path != JOIN_PATH:
                    # a bootstrap token is good for joining a machine, nothing else (as kubeadm's RBAC allows)
                    return error_response(forbidden(f"user {user.name!r} may only join machines ({JOIN_PATH})"))
                if wants_impersonation(request.scope["headers"]):
                    try:
                        user = impersonate(user, request.scope["headers"], authorizer)
                    except APIError as err:
                        return error_response(err)
                watch = request.query_params.get("watch", "").lower() in ("true", "1")
                attrs = request_attributes(user, request.method, request.url.path, watch,
                                           request.query_params.get("fieldSelector", ""))
                decision = authorizer.authorize(attrs)
                if not decision.allowed:
                    message = forbidden_message(attrs) + (f": {decision.reason}" if decision.reason else "")
                    return error_response(forbidden(message))
                request.scope["user"] = user
            try:
                return await handler(request)
            except APIError as err:
                return error_response(err)
            except RecursionError:
                return error_response(bad_request("the request is nested too deeply"))
            except Exception as exc:  # a bug: answer 500 with a Status, keep serving
                log.exception("internal error on %s %s", request.method, request.url.path)
                return error_response(internal(f"{exc.__class__.__name__}: {exc}"))
        return run

    verbs = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    resource_handler = guarded(resources)
    routes = [
        Route("/version", guarded(version)), Route("/healthz", guarded(health)), Route("/livez", guarded(health)),
        Route("/readyz", guarded(health)), Route("/api", guarded(core_root)), Route("/apis", guarded(groups_root)),
        Route("/api/", guarded(core_root)), Route("/apis/", guarded(groups_root)),
        Route("/openapi/v2", guarded(openapi_v2)),
        Route("/openapi/v3", guarded(openapi_v3)), Route("/openapi/v3/{path:path}", guarded(openapi_v3)),
        Route("/api/{rest:path}", guarded(resources), methods=verbs),
        Route("/apis/{rest:path}", guarded(resources), methods=verbs),
    ]
    if join is not None:  # kubeadm-style discovery and join (raftkube/api/join.py)
        routes += [Route(CA_PATH, guarded(join.cluster_ca)), Route(JOIN_PATH, guarded(join.join), methods=["POST"])]
    if control is not None:
        routes += [Route(STATUS_PATH, guarded(control.status)), Route(CHAOS_LAST_PATH, guarded(control.chaos_last))]
    routes += dashboard_routes()  # (not guarded: no data, see the module docstring)

    async def not_routed(request: Request, exc: Exception) -> Response:
        """Starlette's own 404/405 (no route, wrong method) as Status objects too."""
        code = getattr(exc, "status_code", 404)
        if code == 405:
            return error_response(APIError(405, "MethodNotAllowed",
                                           f"{request.method} is not supported on {request.url.path}"))
        return error_response(APIError(404, "NotFound", f"the server could not find the requested resource "
                                       f"({request.url.path})"))

    routed = Starlette(routes=routes, exception_handlers={404: not_routed, 405: not_routed})

    async def websocket_entry(scope: Scope, receive: Receive, send: Send) -> None:
        """pods/exec, /attach, /portforward upgrades: authenticated and authorized (verb create, as
        Kubernetes authorizes websocket upgrades of these), audited (ResponseStarted when relayed, then
        ResponseComplete), then relayed to the agent (pod_streams.py)."""
        ws = WebSocket(scope, receive, send)
        attrs = request_attributes(ANONYMOUS, "POST", scope.get("path", ""))
        try:
            target = parse_path(scope.get("path", ""))
            if target is None or target.resource.kind != "Pod" or target.subresource not in STREAM_SUBRESOURCES:
                raise not_found("", scope.get("path", ""))
            authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
            user = auth.authenticate(authorization) if authorization else client_certificate_user(scope)
            if user is None:
                raise unauthorized()
            if BOOTSTRAPPERS in user.groups:
                raise forbidden(f"user {user.name!r} may only join machines ({JOIN_PATH})")
            if wants_impersonation(scope["headers"]):
                user = impersonate(user, scope["headers"], authorizer)
            attrs = request_attributes(user, "POST", scope["path"])
            decision = authorizer.authorize(attrs)
            if not decision.allowed:
                raise forbidden(forbidden_message(attrs) + (f": {decision.reason}" if decision.reason else ""))
        except APIError as err:
            record = audit.begin(attrs, scope) if audit is not None else None
            if record is not None:  # (before the answer: whoever saw it finds its event queued)
                audit.record(record, "ResponseComplete", err.code)  # type: ignore[union-attr]
            await ws.send_denial_response(error_response(err))
            return
        record = audit.begin(attrs, scope) if audit is not None else None

        def stage(name: str, code: int) -> None:
            if record is not None:
                audit.record(record, name, code)  # type: ignore[union-attr]
        await api.subresources.streams.handle_websocket(ws, target.namespace or "", target.name or "",
                                                        target.subresource, stage)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await websocket_entry(scope, receive, send)
            return
        path = scope.get("path", "")
        if (scope["type"] == "http" and scope["method"] in verbs and path.startswith(("/api/", "/apis/"))
                and path not in ("/api/", "/apis/")):
            response = await resource_handler(Request(scope, receive, send))
            await response(scope, receive, send)
        else:
            await routed(scope, receive, send)
    return front_door(app, auth, limiter, audit, error_response)
