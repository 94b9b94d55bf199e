"""Subresources: status, scale (autoscaling/v1 Scale), pods/binding, namespaces/finalize, pods/log,
pods/eviction (raftkube/api/eviction.py), serviceaccounts/token (raftkube/api/token_request.py)."""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import request_body as rb
from .crd.resource import CustomResource
from .crd.scale import custom_scale, set_spec_replicas
from .deletes import Deleter
from .errors import APIError, Cause, bad_request, conflict, invalid, method_not_allowed
from .eviction import Evictions
from .kinds.replication import label_selector
from .kinds.selectors import selector_string
from .objects import now_rfc3339
from .patch import apply_patch
from .pod_logs import KubeletClientTLS, PodLogs
from .pod_streams import STREAM_SUBRESOURCES, PodStreams
from .resources import Resource
from .router import Target
from .storage import ObjectStorage
from .token_request import TokenRequests
from .writes import MAX_ATTEMPTS, WriteOptions, Writer

Obj = dict[str, Any]
SCALE_TYPE = "io.k8s.api.autoscaling.v1.Scale"


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


def scale_of(resource: Resource, obj: Obj) -> Obj:
    """The Scale of an object: a custom resource's from its CRD's paths, a built-in's from spec/status."""
    return custom_scale(resource, obj) if isinstance(resource, CustomResource) else to_scale(obj)


def to_scale(obj: Obj) -> Obj:
    meta = obj["metadata"]
    selector = obj.get("spec", {}).get("selector")
    if obj.get("kind") == "ReplicationController":  # a plain label map, not a LabelSelector
        selector = label_selector(obj)
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
            "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                       "selector": selector_string(selector)}}


def _bind_refusal(pod: Obj | None, name: str, uid: Any) -> APIError | None:
    """Why `pod` cannot be bound (None: it can, or it is missing: a linearizable read answers 404)."""
    if pod is None:
        return None
    meta = pod["metadata"]
    if uid and uid != meta.get("uid"):
        return conflict("pods", name, "", f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                        f"{meta.get('uid')}")
    current = (pod.get("spec") or {}).get("nodeName")
    if current:
        return conflict("pods", name, "", f'pod {name} is already assigned to node "{current}"')
    if meta.get("deletionTimestamp"):
        return conflict("pods", name, "", "pod is being deleted, cannot be assigned to a host")
    return None


class Subresources:
    def __init__(self, storage: ObjectStorage, writer: Writer, kubelet: KubeletClientTLS | None = None,
                 tokens: TokenRequests | None = None) -> None:
        self.storage = storage
        self.writer = writer
        self.logs = PodLogs(storage, kubelet)
        self.streams = PodStreams(storage, kubelet)
        self.tokens = tokens

    @functools.cached_property
    def evictions(self) -> Evictions:
        """pods/eviction, deleting through the same admission chain as DELETE."""
        return Evictions(self.storage, Deleter(self.storage, self.writer.admission))

    async def handle(self, request: Request, target: Target) -> Response:
        sub, method = target.subresource, request.method
        opts = WriteOptions(rb.field_validation(request), rb.dry_run(request),
                            rb.field_manager(request), rb.bool_param(request, "force"), user=request.scope.get("user"))
        if sub == "status" or sub == "finalize":
            if method == "GET" and sub == "status":
                return _json(await self.storage.get(target.resource, target.namespace, target.name or ""))
            if method == "PUT":
                body = await rb.read_object(request)
                if sub == "finalize":
                    return _json(await self._finalize(target, body, opts))
                return _json(await self.writer.update(target, body, opts))
            if method == "PATCH" and sub == "status":
                obj, _ = await self.writer.patch(target, rb.media_type(request), await rb.read_raw(request), opts)
                return _json(obj)
        elif sub == "scale":
            if method == "GET":
                return _json(scale_of(target.resource, await self.storage.get(target.resource, target.namespace,
                                                                               target.name or "")))
            if method in ("PUT", "PATCH"):
                return _json(await self._scale(request, target, opts))
        elif sub == "binding" and method == "POST":
            await self._bind(target, await rb.read_object(request))
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                         201)
        elif sub == "token" and method == "POST":
            if self.tokens is None:  # no service-account signing key: kube-apiserver does not serve it either
                raise APIError(404, "NotFound", "the server could not find the requested resource (serviceaccounts/"
                               "token: this API server has no --service-account-signing-key-file)")
            answer = await self.tokens.create(target, await rb.read_object(request), self.writer.admission,
                                              opts.user, opts.dry_run)
            return _json(answer, 201)
        elif sub == "eviction" and method == "POST":
            return _json(await self.evictions.evict(target, await rb.read_object(request), opts.dry_run, opts.user),
                         201)
        elif sub == "log" and method == "GET":
            return await self.logs.handle(request, await self.storage.get(target.resource, target.namespace,
                                                                          target.name or ""))
        elif sub in STREAM_SUBRESOURCES and method in ("GET", "POST"):
            pod = await self.storage.get(target.resource, target.namespace, target.name or "")
            return await self.streams.handle_http(request, pod, sub)
        raise method_not_allowed(f"{method} is not supported on {target.resource.plural}/{sub}")

    async def _scale(self, request: Request, target: Target, opts: WriteOptions) -> Obj:
        resource, name = target.resource, target.name or ""
        raw = await rb.read_raw(request)
        for _ in range(MAX_ATTEMPTS):
            live = await self.storage.get(resource, target.namespace, name)
            scale = scale_of(resource, live)
            if request.method == "PUT":
                wanted = rb.decode_body(raw, rb.media_type(request))
            else:
                wanted = apply_patch(rb.media_type(request), copy.deepcopy(scale), raw, SCALE_TYPE,
                                     field_manager=opts.manager, force=opts.force, now=now_rfc3339())
            if not isinstance(wanted, dict) or not isinstance(wanted.get("spec", {}), dict) \
                    or not isinstance(wanted.get("metadata", {}), dict):
                raise bad_request("the body must be a Scale object (spec and metadata objects)")
            # Go drops a zero `replicas` from the JSON it PUTs (omitempty): absent means 0 there
            replicas = wanted.get("spec", {}).get("replicas", 0 if request.method == "PUT" else None)
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise invalid("Scale", name, [Cause("spec.replicas", f"Invalid value: {replicas!r}: must be greater "
                                                    "than or equal to 0")], "autoscaling")
            wanted_rv = wanted.get("metadata", {}).get("resourceVersion")
            if wanted_rv not in (None, "", live["metadata"]["resourceVersion"]):
                raise conflict(resource.plural, name, resource.group)
            # a PUT with a resourceVersion, or a patch that names one, is a precondition; any other is retried (a
            # patched Scale carries the live object's resourceVersion: it pins nothing)
            pinned = b"resourceVersion" in raw if request.method == "PATCH" else bool(wanted_rv)
            updated = copy.deepcopy(live)
            if isinstance(resource, CustomResource):
                set_spec_replicas(resource, updated, replicas)
            else:
                updated.setdefault("spec", {})["replicas"] = replicas
            try:
                written = await self.writer.update(Target(resource, target.namespace, name), updated, opts)
                return scale_of(resource, written)
            except APIError as err:
                if err.reason != "Conflict" or pinned:
                    raise
        raise conflict(resource.plural, name, resource.group, "too many concurrent writers")

    async def _bind(self, target: Target, binding: Any) -> None:
        """Assign a pod to a node: one store txn, conditional on the pod's mod_revision.

        No admission or defaulting runs again (only spec.nodeName and the PodScheduled
        condition change). The pod is first read from the local replica without a read
        barrier: the txn's compare on its mod_revision refuses a stale copy (then it is read
        again, linearizably), and a refusal (gone, already assigned, being deleted, another
        uid) is only answered after a linearizable read confirms it. The answer comes once
        the txn is committed.
        """
        meta = binding.get("metadata") if isinstance(binding, dict) else None
        node = binding.get("target", {}).get("name") if isinstance(binding, dict) else None
        if not node or not isinstance(node, str):
            raise invalid("Binding", target.name or "", [Cause("target.name", "Required value", "FieldValueRequired")])
        name, uid = target.name or "", meta.get("uid") if isinstance(meta, dict) else None
        serializable = True
        for _ in range(MAX_ATTEMPTS):
            if serializable:
                pod = await self.storage.get_or_none(target.resource, target.namespace, name, serializable=True)
            else:  # a missing pod: 404
                pod = await self.storage.get(target.resource, target.namespace, name)
            refusal = _bind_refusal(pod, name, uid)
            if refusal is not None or pod is None:
                if serializable:
                    serializable = False
                    continue
                raise refusal or conflict("pods", name)
            revision = int(pod["metadata"]["resourceVersion"])
            pod["spec"]["nodeName"] = node  # `pod` is a fresh decode: changed in place
            status = pod.get("status")
            if not isinstance(status, dict):
                status = pod["status"] = {}
            status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            status["conditions"].append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                         "lastTransitionTime": now_rfc3339()})
            try:
                await self.storage.update(target.resource, pod, revision)
                return
            except APIError as err:
                if err.reason != "Conflict":
                    raise
            serializable = False
        raise conflict("pods", name, "", "too many concurrent writers")

    async def _finalize(self, target: Target, body: Any, opts: WriteOptions) -> Obj:
        if not isinstance(body, dict):
            raise bad_request("the body must be a Namespace")
        finalizers = body.get("spec", {}).get("finalizers") or []
        for _ in range(MAX_ATTEMPTS):
            live = await self.storage.get(target.resource, None, target.name or "")
            updated = copy.deepcopy(live)
            updated.setdefault("spec", {})["finalizers"] = finalizers
            meta = updated["metadata"]
            rv = int(live["metadata"]["resourceVersion"])
            try:
                if meta.get("deletionTimestamp") and not finalizers and not meta.get("finalizers"):
                    return await self.storage.delete(target.resource, live, rv)
                return await self.storage.update(target.resource, updated, rv)
            except APIError as err:
                if err.reason != "Conflict":
                    raise
        raise conflict("namespaces", target.name or "", "", "too many concurrent writers")
