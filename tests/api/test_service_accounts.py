"""ServiceAccounts against the in-process API with the ServiceAccount controller: TokenRequest's answer and
claims, what the token authenticator accepts and refuses (expiry, audience, a deleted pod or account), the
`default` account and kube-root-ca.crt of every namespace, and the admission plugin's defaults, refusal and
projected token volume."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import jwt
import pytest

from raftkube.api.sa_admission import TOKEN_MOUNT_PATH, VOLUME_PREFIX
from raftkube.api.sa_auth import ServiceAccountTokenAuthenticator
from raftkube.api.sa_jwt import DEFAULT_ISSUER, TokenSigner, load_signing_key
from raftkube.pki import CertificateAuthority
from tests.api.inproc import InProcessAPI, expect_status, pod, running_api

T = TypeVar("T")
Obj = dict[str, Any]
WAIT = 20.0


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    return CertificateAuthority.create(str(tmp_path_factory.mktemp("ca"))).ca_pem()


@pytest.fixture(scope="module")
def api(ca_pem: str) -> Iterator[InProcessAPI]:
    with running_api(service_accounts=True, controllers=True, controller_ca=ca_pem) as server:
        yield server


def eventually(check: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def ns(admin: httpx.Client) -> str:
    name = f"sa-{uuid.uuid4().hex[:6]}"
    assert admin.post("/api/v1/namespaces", json={"metadata": {"name": name}}).status_code == 201
    return name


def create(admin: httpx.Client, path: str, body: Obj) -> Obj:
    response = admin.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def account(admin: httpx.Client, ns: str, name: str, **fields: Any) -> Obj:
    return create(admin, f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": name}, **fields})


def token_request(admin: httpx.Client, ns: str, name: str, **spec: Any) -> httpx.Response:
    return admin.post(f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
                      json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})


def accepted(api: InProcessAPI, token: str) -> bool:
    """The API authenticates the token (any authenticated user may read discovery)."""
    with api.client(token) as client:
        code = client.get("/api/v1").status_code
    assert code in (200, 401), code
    return code == 200


def test_token_request_answer_and_claims(api: InProcessAPI, admin: httpx.Client, ns: str) -> None:
    robot = account(admin, ns, "robot")
    bound = create(admin, f"/api/v1/namespaces/{ns}/pods", pod("p1", serviceAccountName="robot"))
    response = token_request(admin, ns, "robot",
                             boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "p1"})
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["kind"] == "TokenRequest" and answer["apiVersion"] == "authentication.k8s.io/v1"
    assert answer["spec"]["audiences"] == [DEFAULT_ISSUER] and answer["spec"]["expirationSeconds"] == 3600
    assert answer["spec"]["boundObjectRef"] == {"kind": "Pod", "apiVersion": "v1", "name": "p1",
                                                "uid": bound["metadata"]["uid"]}
    token = answer["status"]["token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == DEFAULT_ISSUER and claims["aud"] == [DEFAULT_ISSUER]
    assert claims["sub"] == f"system:serviceaccount:{ns}:robot"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["kubernetes.io"] == {"namespace": ns,
                                       "serviceaccount": {"name": "robot", "uid": robot["metadata"]["uid"]},
                                       "pod": {"name": "p1", "uid": bound["metadata"]["uid"]}}
    expires = dt.datetime.strptime(answer["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert int(expires.replace(tzinfo=dt.UTC).timestamp()) == claims["exp"]
    user = api.accounts.authenticator.authenticate(f"Bearer {token}")
    assert user.name == f"system:serviceaccount:{ns}:robot"
    assert set(user.groups) == {"system:serviceaccounts", f"system:serviceaccounts:{ns}"}
    assert accepted(api, token)
    with httpx.Client(base_url=api.url, headers={"authorization": f"bearer {token}"}) as lower:
        assert lower.get("/api/v1").status_code == 200  # the scheme is case-insensitive (the Python client's)


def test_expiration_bounds_and_bad_requests(admin: httpx.Client, ns: str) -> None:
    account(admin, ns, "robot")
    short = expect_status(token_request(admin, ns, "robot", expirationSeconds=599), 422, "Invalid")
    assert "spec.expirationSeconds" in short["message"] and "10 minutes" in short["message"]
    capped = token_request(admin, ns, "robot", expirationSeconds=7 * 24 * 3600)
    assert capped.status_code == 201 and capped.json()["spec"]["expirationSeconds"] == 48 * 3600
    missing = expect_status(token_request(admin, ns, "nobody"), 404, "NotFound")
    assert 'serviceaccounts "nobody" not found' in missing["message"]
    no_pod = token_request(admin, ns, "robot", boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "gone"})
    assert 'pods "gone" not found' in expect_status(no_pod, 404, "NotFound")["message"]
    node = token_request(admin, ns, "robot", boundObjectRef={"kind": "ConfigMap", "apiVersion": "v1", "name": "x"})
    expect_status(node, 400, "BadRequest")


def test_expired_and_foreign_audience_tokens_are_refused(api: InProcessAPI, admin: httpx.Client, ns: str) -> None:
    robot = account(admin, ns, "robot")
    other = token_request(admin, ns, "robot", audiences=["https://vault.example"])
    assert other.status_code == 201 and other.json()["spec"]["audiences"] == ["https://vault.example"]
    assert not accepted(api, other.json()["status"]["token"])
    signer = TokenSigner(load_signing_key(f"{api.sa_dir}/sa.key"))
    fresh, _ = signer.sign(ns, "robot", robot["metadata"]["uid"], [DEFAULT_ISSUER], 600)
    old, _ = signer.sign(ns, "robot", robot["metadata"]["uid"], [DEFAULT_ISSUER], 600, now=time.time() - 3600)
    assert accepted(api, fresh) and not accepted(api, old)
    wrong_uid, _ = signer.sign(ns, "robot", "another-uid", [DEFAULT_ISSUER], 600)
    assert not accepted(api, wrong_uid)
    forged = TokenSigner(_other_key())  # the right claims, signed by a key the cluster does not have
    assert not accepted(api, forged.sign(ns, "robot", robot["metadata"]["uid"], [DEFAULT_ISSUER], 600)[0])


def _other_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def test_deleting_the_bound_pod_or_the_account_revokes(api: InProcessAPI, admin: httpx.Client, ns: str) -> None:
    account(admin, ns, "robot")
    create(admin, f"/api/v1/namespaces/{ns}/pods", pod("p1", serviceAccountName="robot"))
    bound = token_request(admin, ns, "robot", boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "p1"})
    unbound = token_request(admin, ns, "robot")
    pod_token, account_token = bound.json()["status"]["token"], unbound.json()["status"]["token"]
    assert accepted(api, pod_token) and accepted(api, account_token)
    assert admin.delete(f"/api/v1/namespaces/{ns}/pods/p1", params={"gracePeriodSeconds": "0"}).status_code == 200
    eventually(lambda: not accepted(api, pod_token), "the token of a deleted pod refused")
    assert accepted(api, account_token)
    # a pod of the same name made again has another uid: the old token stays refused
    create(admin, f"/api/v1/namespaces/{ns}/pods", pod("p1", serviceAccountName="robot"))
    assert not accepted(api, pod_token)
    assert admin.delete(f"/api/v1/namespaces/{ns}/serviceaccounts/robot").status_code == 200
    eventually(lambda: not accepted(api, account_token), "the token of a deleted account refused")
    account(admin, ns, "robot")  # the same name again: another uid
    assert not accepted(api, account_token)


def test_a_token_bound_to_a_secret_ends_with_it(api: InProcessAPI, admin: httpx.Client, ns: str) -> None:
    account(admin, ns, "robot")
    create(admin, f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": "holder"}, "stringData": {"k": "v"}})
    answer = token_request(admin, ns, "robot", boundObjectRef={"kind": "Secret", "apiVersion": "v1", "name": "holder"})
    token = answer.json()["status"]["token"]
    assert claims_secret(token)["name"] == "holder" and accepted(api, token)
    assert admin.delete(f"/api/v1/namespaces/{ns}/secrets/holder").status_code == 200
    eventually(lambda: not accepted(api, token), "the token of a deleted Secret refused")


def claims_secret(token: str) -> Obj:
    return jwt.decode(token, options={"verify_signature": False})["kubernetes.io"]["secret"]


def test_nothing_is_accepted_before_the_indexes_have_synced(api: InProcessAPI, admin: httpx.Client, ns: str) -> None:
    account(admin, ns, "robot")
    token = token_request(admin, ns, "robot").json()["status"]["token"]
    assert api.accounts.authenticator.authenticate(f"Bearer {token}") is not None
    cold = ServiceAccountTokenAuthenticator(api.storage, api.accounts.authenticator.verifier)  # never started
    assert cold.authenticate(f"Bearer {token}") is None


def test_every_namespace_gets_default_and_the_root_ca(admin: httpx.Client, ns: str, ca_pem: str) -> None:
    def get(path: str) -> Obj | None:
        response = admin.get(path)
        return response.json() if response.status_code == 200 else None

    eventually(lambda: get(f"/api/v1/namespaces/{ns}/serviceaccounts/default"), "default ServiceAccount")
    configmap = eventually(lambda: get(f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt"), "kube-root-ca.crt")
    assert configmap["data"] == {"ca.crt": ca_pem}
    assert admin.delete(f"/api/v1/namespaces/{ns}/serviceaccounts/default").status_code == 200
    eventually(lambda: get(f"/api/v1/namespaces/{ns}/serviceaccounts/default"), "default made again")
    changed = dict(configmap, data={"ca.crt": "tampered"})
    assert admin.put(f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt", json=changed).status_code == 200
    eventually(lambda: (get(f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt") or {}).get("data")
               == {"ca.crt": ca_pem}, "kube-root-ca.crt rewritten")
    for system in ("default", "kube-system"):
        eventually(lambda s=system: get(f"/api/v1/namespaces/{s}/serviceaccounts/default"), f"{system}/default")


def _token_volume(created: Obj) -> Obj:
    volumes = [v for v in created["spec"].get("volumes") or [] if v["name"].startswith(VOLUME_PREFIX)]
    assert len(volumes) == 1, created["spec"].get("volumes")
    return volumes[0]


def test_a_new_pod_runs_as_default_with_the_projected_token(admin: httpx.Client, ns: str) -> None:
    body = pod("p1", initContainers=[{"name": "init", "image": "busybox:1"}])
    body["spec"]["containers"].append({"name": "own", "image": "busybox:1", "volumeMounts": [
        {"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]})
    body["spec"]["volumes"] = [{"name": "mine", "emptyDir": {}}]
    created = create(admin, f"/api/v1/namespaces/{ns}/pods", body)  # right after its namespace: admission waits
    spec = created["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    volume = _token_volume(created)
    assert len(volume["name"]) == len(VOLUME_PREFIX) + 5
    assert volume["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    mount = {"name": volume["name"], "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}
    assert mount in spec["initContainers"][0]["volumeMounts"] and mount in spec["containers"][0]["volumeMounts"]
    assert spec["containers"][1]["volumeMounts"] == [{"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]


def test_automount_false_and_the_deprecated_field(admin: httpx.Client, ns: str) -> None:
    account(admin, ns, "quiet", automountServiceAccountToken=False)
    account(admin, ns, "legacy")
    by_pod = create(admin, f"/api/v1/namespaces/{ns}/pods", pod("p1", automountServiceAccountToken=False))
    by_account = create(admin, f"/api/v1/namespaces/{ns}/pods", pod("p2", serviceAccountName="quiet"))
    for created in (by_pod, by_account):
        assert not [v for v in created["spec"].get("volumes") or [] if v["name"].startswith(VOLUME_PREFIX)]
    overridden = create(admin, f"/api/v1/namespaces/{ns}/pods",
                        pod("p3", serviceAccountName="quiet", automountServiceAccountToken=True))
    _token_volume(overridden)
    legacy = create(admin, f"/api/v1/namespaces/{ns}/pods", pod("p4", serviceAccount="legacy"))
    assert legacy["spec"]["serviceAccountName"] == "legacy"


def test_a_pod_of_a_missing_account_is_refused(admin: httpx.Client, ns: str) -> None:
    refused = admin.post(f"/api/v1/namespaces/{ns}/pods", json=pod("p1", serviceAccountName="ghost"))
    assert expect_status(refused, 403, "Forbidden")["message"] == (
        f'pods "p1" is forbidden: error looking up service account {ns}/ghost: serviceaccount "ghost" not found')
    assert admin.get(f"/api/v1/namespaces/{ns}/pods/p1").status_code == 404
    missing_ns = admin.post("/api/v1/namespaces/no-such-ns/pods", json=pod("p1"))
    expect_status(missing_ns, 404, "NotFound")


def test_serviceaccounts_print_name_secrets_age(admin: httpx.Client, ns: str) -> None:
    account(admin, ns, "robot", secrets=[{"name": "a"}, {"name": "b"}])
    table = admin.get(f"/api/v1/namespaces/{ns}/serviceaccounts/robot",
                      headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Secrets", "Age"]
    assert table["rows"][0]["cells"][:2] == ["robot", 2]


def test_the_kubernetes_service_lists_the_api_server(api: InProcessAPI, admin: httpx.Client) -> None:
    service = eventually(lambda: admin.get("/api/v1/namespaces/default/services/kubernetes").json()
                         if admin.get("/api/v1/namespaces/default/services/kubernetes").status_code == 200 else None,
                         "the kubernetes Service")
    assert service["spec"]["clusterIP"] == "127.96.0.1"
    assert service["spec"]["ports"][0]["port"] == 443 and service["spec"]["ports"][0]["name"] == "https"
    port = int(api.url.rsplit(":", 1)[1])
    endpoints = eventually(lambda: admin.get("/api/v1/namespaces/default/endpoints/kubernetes").json()
                           if admin.get("/api/v1/namespaces/default/endpoints/kubernetes").status_code == 200
                           else None, "the kubernetes Endpoints")
    assert endpoints["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]


def test_a_node_may_ask_tokens_only_for_its_own_pods(api: InProcessAPI, admin: httpx.Client, ns: str) -> None:
    node = api.node_token("sa-node-1")
    mine = create(admin, f"/api/v1/namespaces/{ns}/pods", pod("mine", nodeName="sa-node-1"))
    create(admin, f"/api/v1/namespaces/{ns}/pods", pod("theirs", nodeName="sa-node-2"))
    eventually(lambda: admin.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default").status_code == 200, "default")

    def ref(name: str, uid: str | None = None) -> Obj:
        return {"kind": "Pod", "apiVersion": "v1", "name": name, **({"uid": uid} if uid else {})}
    with api.client(node) as agent:
        def ask(bound: Obj | None) -> int:
            return token_request(agent, ns, "default", **({"boundObjectRef": bound} if bound else {})).status_code
        assert eventually(lambda: ask(ref("mine", mine["metadata"]["uid"])) == 201 or None,
                          "the node's own pod (once the node graph has it)")
        assert ask(ref("theirs")) == 403 and ask(None) == 403
