"""Joining machines to the cluster: kubeadm's discovery and TLS bootstrap, in two requests.

- `GET /raftkube/v1/cluster-ca` (anonymous, like kubeadm's cluster-info): the CA certificate.
  The joiner trusts it only if its hash equals the `--discovery-token-ca-cert-hash` it was
  given, so a machine in the middle cannot substitute its own CA.
- `POST /raftkube/v1/join` (over TLS verified with that CA, authenticated by a bootstrap
  token or an admin): `{"role": "worker", "name", "address", "csr"}` returns the node's own
  token (raftkube/api/cluster_tokens.py: user `system:node:<name>`), its log server's serving
  certificate signed from its CSR (its key never leaves the machine) and the API servers;
  `{"role": "control-plane", "name", "address", "raftAddress", "certificateKeyProof"}`, from a
  caller that proves it holds the certificate key, adds the machine to the Raft membership
  and returns the sealed bundle of shared secrets (raftkube/join_bundle.py) and the members.

The API servers of the cluster are listed in the ConfigMap kube-system/raftkube-control-plane
(`name: https://address:port`), which each server updates when it starts.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..join_bundle import key_proof, seal
from ..pki import CertificateAuthority
from .cluster_tokens import BOOTSTRAPPERS, SECRETS, new_node_token, node_token_secret
from .errors import APIError, bad_request, forbidden
from .resources import find
from .router import Target
from .storage import ObjectStorage
from .writes import WriteOptions, Writer

Obj = dict[str, Any]
CA_PATH = "/raftkube/v1/cluster-ca"
JOIN_PATH = "/raftkube/v1/join"
REGISTRY_NAMESPACE, REGISTRY_NAME = "kube-system", "raftkube-control-plane"
CONFIGMAPS = find("", "v1", "configmaps")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MANAGER = WriteOptions(manager="raftkube-join")
MAX_BODY = 64 * 1024


@dataclass
class JoinService:
    storage: ObjectStorage
    ca: CertificateAuthority
    certificate_key: str | None  # None: this server does not let control-plane machines join
    bundle_files: Callable[[], dict[str, bytes]]
    members: Callable[[], list[str]]
    add_member: Callable[[str], Awaitable[None]]
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    async def cluster_ca(self, request: Request) -> Response:
        return JSONResponse({"ca": self.ca.ca_pem()})

    async def join(self, request: Request) -> Response:
        user = request.scope.get("user")
        groups = set(getattr(user, "groups", ()))
        if not groups & {BOOTSTRAPPERS, "system:masters"}:
            raise forbidden(f"user {getattr(user, 'name', 'anonymous')!r} may not join machines: a bootstrap token "
                            "(raftkube token create) or an admin is needed")
        body = await _json_body(request)
        role = _field(body, "role", str)
        name = _field(body, "name", str)
        if len(name) > 253 or not _NAME.match(name):
            raise bad_request(f"name: {name!r} is not a valid node name (lower-case DNS subdomain)")
        address = _ip(_field(body, "address", str), "address")
        if role == "worker":
            return JSONResponse(await self._join_worker(name, address, _field(body, "csr", str)))
        if role == "control-plane":
            return JSONResponse(await self._join_control_plane(body))
        raise bad_request(f"role: must be worker or control-plane, not {role!r}")

    async def _join_worker(self, name: str, address: str, csr_pem: str) -> Obj:
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError:
            raise bad_request("csr: not a PEM certificate signing request") from None
        if not csr.is_signature_valid:
            raise bad_request("csr: its signature does not verify")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise bad_request("csr: the key must be ECDSA or RSA")
        cert = self.ca.sign(public_key, f"system:node:{name}", ["system:nodes"],  # type: ignore[arg-type]
                            hosts=[address, name], server=True)
        token = new_node_token()
        await _put(self.storage, node_token_secret(name, token))
        return {"token": token, "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
                "ca": self.ca.ca_pem(), "apiServers": await api_servers(self.storage)}

    async def _join_control_plane(self, body: Obj) -> Obj:
        if self.certificate_key is None:
            raise forbidden("this server does not let control-plane machines join (no certificate key)")
        proof = _field(body, "certificateKeyProof", str)
        if not hmac.compare_digest(proof.encode(), key_proof(self.certificate_key).encode()):
            raise forbidden("certificateKeyProof: does not match this cluster's certificate key")
        raft_address = _field(body, "raftAddress", str)
        host, _, port = raft_address.rpartition(":")
        _ip(host, "raftAddress")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise bad_request(f"raftAddress: {raft_address!r} is not IP:port")
        members = self.members()
        # everything read from the store is read before the change: a one-member cluster has no quorum after it
        answer = {"bundle": seal(self.certificate_key, self.bundle_files()),
                  "raftMembers": [m for m in members if m != raft_address],
                  "apiServers": await api_servers(self.storage)}
        if raft_address not in members:
            if len(members) > 1:
                await self.add_member(raft_address)  # the current members have a quorum for it
            else:
                # a second member of a one-member cluster: the change needs the newcomer's vote to commit
                # (as `etcdctl member add` on one member), so it is proposed, not awaited; the joiner starts now
                task = asyncio.get_running_loop().create_task(self.add_member(raft_address))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
                await asyncio.sleep(0)  # the proposal is made before the answer goes out
        return answer


async def _json_body(request: Request) -> Obj:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise APIError(413, "RequestEntityTooLarge", f"the join request is over {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_request("the join request is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the join request must be a JSON object")
    return body


def _field(body: Obj, name: str, kind: type) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or value == "":
        raise bad_request(f"{name}: required ({kind.__name__})")
    return value


def _ip(text: str, field: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise bad_request(f"{field}: {text!r} is not an IP address") from None


async def _put(storage: ObjectStorage, obj: Obj) -> Obj:
    """Create `obj`, or replace the data of the existing object of that name."""
    resource = SECRETS if obj["kind"] == "Secret" else CONFIGMAPS
    assert resource is not None
    meta = obj["metadata"]
    writer = Writer(storage)
    target = Target(resource, meta["namespace"], meta["name"])
    existing = await storage.get_or_none(resource, meta["namespace"], meta["name"])
    if existing is None:
        try:
            return await writer.create(Target(resource, meta["namespace"], None), obj, _MANAGER)
        except APIError as err:
            if err.reason != "AlreadyExists":
                raise
    return await writer.update(target, obj, _MANAGER)


async def api_servers(storage: ObjectStorage) -> list[str]:
    assert CONFIGMAPS is not None
    registry = await storage.get_or_none(CONFIGMAPS, REGISTRY_NAMESPACE, REGISTRY_NAME)
    data = (registry or {}).get("data") or {}
    return [data[k] for k in sorted(data)]


async def register_api_server(storage: ObjectStorage, name: str, url: str) -> None:
    """Add (or correct) this server's entry in kube-system/raftkube-control-plane."""
    assert CONFIGMAPS is not None
    for _ in range(10):
        registry = await storage.get_or_none(CONFIGMAPS, REGISTRY_NAMESPACE, REGISTRY_NAME)
        data = dict((registry or {}).get("data") or {})
        if data.get(name) == url:
            return
        data[name] = url
        body = {"apiVersion": "v1", "kind": "ConfigMap", "data": data,
                "metadata": {"name": REGISTRY_NAME, "namespace": REGISTRY_NAMESPACE}}
        writer = Writer(storage)
        try:
            if registry is None:
                await writer.create(Target(CONFIGMAPS, REGISTRY_NAMESPACE, None), body, _MANAGER)
            else:
                body["metadata"]["resourceVersion"] = registry["metadata"]["resourceVersion"]
                await writer.update(Target(CONFIGMAPS, REGISTRY_NAMESPACE, REGISTRY_NAME), body, _MANAGER)
            return
        except APIError as err:
            if err.reason not in ("AlreadyExists", "Conflict"):
                raise
    raise RuntimeError("could not register this API server: the registry kept changing")
