"""The fuzzed kinds, the Hypothesis settings and `exchange`, which sends one request and checks the
server's invariants (bounded time, 2xx or 4xx Status, no write on a 4xx, strict JSON that the official
client deserializes)."""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import os
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from kubernetes.client import ApiClient

from tests.api.inproc import REASONS, ChildProcessAPI, cause_fields, expect_status

Obj = dict[str, Any]
REQUEST_TIMEOUT = 15.0  # a bound on every request, so a wedged server fails the test instead of hanging it
BOMB_TIMEOUT = 10.0
NS = "fuzz"
EXAMPLES = int(os.environ.get("RAFTKUBE_FUZZ_EXAMPLES", "150"))
# no shrinking by default: a failing request (some take seconds on the server) is reported as found, which
# keeps a failing run as short as a passing one; RAFTKUBE_FUZZ_SHRINK=1 shrinks to a minimal example
PHASES = (Phase.explicit, Phase.generate, *((Phase.shrink,) if os.environ.get("RAFTKUBE_FUZZ_SHRINK") else ()))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
                phases=PHASES, report_multiple_bugs=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much, HealthCheck.large_base_example])
_names = itertools.count()

IMAGE = "nginx:1.27"
TEMPLATE: Obj = {"metadata": {"labels": {"app": "fz"}},
                 "spec": {"containers": [{"name": "app", "image": IMAGE, "ports": [{"containerPort": 80}],
                                          "env": [{"name": "A", "value": "b"}],
                                          "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}]}}


@dataclass(frozen=True)
class Kind:
    kind: str
    api_version: str
    plural: str
    namespaced: bool
    model: str
    body: Obj = field(default_factory=dict)  # everything but apiVersion, kind and metadata.name
    subresources: tuple[str, ...] = ()

    @property
    def collection(self) -> str:
        base = f"/apis/{self.api_version}" if "/" in self.api_version else f"/api/{self.api_version}"
        return f"{base}/namespaces/{NS}/{self.plural}" if self.namespaced else f"{base}/{self.plural}"

    @property
    def openapi_path(self) -> str:
        return f"apis/{self.api_version}" if "/" in self.api_version else f"api/{self.api_version}"

    def manifest(self, name: str) -> Obj:
        body = copy.deepcopy(self.body)
        meta = {"name": name, **body.pop("metadata", {})}
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": meta, **body}


KINDS = [
    Kind("Pod", "v1", "pods", True, "V1Pod", {"metadata": {"labels": {"app": "fz"}}, "spec": TEMPLATE["spec"]},
         ("status",)),
    Kind("Service", "v1", "services", True, "V1Service",
         {"spec": {"selector": {"app": "fz"}, "ports": [{"port": 80, "targetPort": 8080}]}}, ("status",)),
    Kind("Endpoints", "v1", "endpoints", True, "V1Endpoints",
         {"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
    Kind("ConfigMap", "v1", "configmaps", True, "V1ConfigMap", {"data": {"a": "b"}, "binaryData": {"c": "aGk="}}),
    Kind("Secret", "v1", "secrets", True, "V1Secret", {"type": "Opaque", "data": {"a": "aGk="},
                                                       "stringData": {"b": "c"}}),
    Kind("Node", "v1", "nodes", False, "V1Node", {"metadata": {"labels": {"zone": "a"}},
                                                  "spec": {"podCIDR": "10.1.0.0/24"}}, ("status",)),
    Kind("Event", "v1", "events", True, "CoreV1Event",
         {"involvedObject": {"kind": "Pod", "name": "p", "namespace": NS}, "reason": "Started",
          "message": "started", "type": "Normal", "count": 1}),
    Kind("Namespace", "v1", "namespaces", False, "V1Namespace", {"metadata": {"labels": {"team": "a"}}},
         ("status",)),
    Kind("Deployment", "apps/v1", "deployments", True, "V1Deployment",
         {"spec": {"replicas": 2, "selector": {"matchLabels": {"app": "fz"}}, "template": TEMPLATE}},
         ("status", "scale")),
    Kind("ReplicaSet", "apps/v1", "replicasets", True, "V1ReplicaSet",
         {"spec": {"replicas": 1, "selector": {"matchLabels": {"app": "fz"}}, "template": TEMPLATE}},
         ("status", "scale")),
    Kind("DaemonSet", "apps/v1", "daemonsets", True, "V1DaemonSet",
         {"spec": {"selector": {"matchLabels": {"app": "fz"}}, "template": TEMPLATE}}, ("status",)),
    Kind("Job", "batch/v1", "jobs", True, "V1Job",
         {"spec": {"backoffLimit": 2, "template": {"spec": {**TEMPLATE["spec"], "restartPolicy": "Never"}}}},
         ("status",)),
    Kind("Lease", "coordination.k8s.io/v1", "leases", True, "V1Lease",
         {"spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}),
]
BY_KIND = {k.kind: k for k in KINDS}
KIND_NAMES = st.sampled_from([k.kind for k in KINDS])


def fresh_name() -> str:
    return f"fz-{next(_names)}"


def target_name(kind: Kind) -> str:
    return f"target-{kind.kind.lower()}"


def ensure_target(client: httpx.Client, kind: Kind) -> Obj:
    """The long-lived object PUT and PATCH work on (created again if a write removed it)."""
    path = f"{kind.collection}/{target_name(kind)}"
    live = client.get(path)
    if live.status_code == 404:
        live = client.post(kind.collection, json=kind.manifest(target_name(kind)))
        assert live.status_code == 201, live.text
    assert live.status_code == 200 or live.status_code == 201, live.text
    obj: Obj = live.json()
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str) -> Any:
    """Parse as a strict JSON parser (Go's, kubectl's) would: NaN and Infinity are not JSON."""
    return json.loads(text, parse_constant=_reject_constant)


def deserialize(obj: Obj, model: str) -> Any:
    """`obj` through the official client's deserializer into `model` (it validates required fields)."""
    client, text = ApiClient(), json.dumps(obj)
    if "response_text" in inspect.signature(client.deserialize).parameters:
        return client.deserialize(text, model, "application/json")

    class Response:  # clients before the pydantic models take a response object
        data = text
    return client.deserialize(Response(), model)  # type: ignore[call-arg,arg-type,unused-ignore]


def describe(method: str, path: str, params: dict[str, str] | None, content_type: str, content: bytes) -> str:
    shown = content[:600] + (b"...(%d bytes)" % len(content) if len(content) > 600 else b"")
    return f"{method} {path} {params or ''} [{content_type}] {shown!r}"


def exchange(api: ChildProcessAPI, client: httpx.Client, method: str, path: str, content: bytes, content_type: str,
             params: dict[str, str] | None = None, model: str | None = None) -> httpx.Response:
    """Send one request and check every invariant; returns the response."""
    request = describe(method, path, params, content_type, content)
    before = api.revision()
    try:
        response = client.request(method, path, content=content, params=params,
                                  headers={"content-type": content_type})
    except httpx.TimeoutException:
        pytest.fail(f"no answer within {REQUEST_TIMEOUT} s to {request}")
    except httpx.TransportError as exc:
        pytest.fail(f"the server dropped the connection ({exc}) on {request}")
    code = response.status_code
    assert code < 500, f"{request}\n-> {code} {response.text[:1500]}"
    assert 200 <= code < 300 or 400 <= code < 500, f"{request}\n-> {code} {response.text[:500]}"
    if code >= 400:
        assert response.headers.get("content-type", "").startswith("application/json"), \
            f"{request}\n-> {code} is not a Status: {response.text[:500]}"
        reason = response.json().get("reason")
        assert reason in REASONS.get(code, ()), f"{request}\n-> {code} with reason {reason!r}: {response.text[:500]}"
        status = expect_status(response, code, reason)
        if code == 422 and " is invalid: " in status["message"]:  # Kubernetes' NewInvalid: always with causes
            cause_fields(status)
        assert api.revision() == before, f"a {code} write changed the store: {request}\n-> {response.text[:500]}"
        return response
    try:
        body = strict_json(response.text)
    except ValueError as exc:
        pytest.fail(f"the {code} answer is not strict JSON ({exc}): {request}\n-> {response.text[:1500]}")
    assert isinstance(body, dict), f"{request}\n-> {code} {response.text[:500]}"
    if model is not None and body.get("kind") not in ("Status", "Scale"):
        deserialize(body, model)
        name = body["metadata"]["name"]
        read = client.get(f"{path}/{name}" if method == "POST" else path.removesuffix("/status"))
        if read.status_code == 404:  # only a write that finished a deletion may leave nothing behind
            assert body["metadata"].get("deletionTimestamp"), f"{request}\n-> {code}, then GET: {read.text[:300]}"
        else:
            assert read.status_code == 200, read.text[:500]
            deserialize(strict_json(read.text), model)
    return response
