"""Decoding Kubernetes protobuf request bodies: the number table, hand-built bodies, and real kubectl.

kubectl's typed clients (`create configmap|secret|deployment|job|namespace|service`) only ever
send `application/vnd.kubernetes.protobuf`. The unit tests build bodies with a tiny encoder;
the end-to-end test runs kubectl 1.32 against one `raftkube server` over TLS.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml

from raftkube.api.errors import APIError
from raftkube.api.protobuf import MAGIC, MEDIA_TYPE, decode_k8s_protobuf
from raftkube.api.request_body import decode_body
from raftkube.api.schema import KIND_TYPES, PRIMITIVES, TYPES, element_type, referenced_types
from raftkube.api.schema.build import APPS, BATCH, CORE, META
from raftkube.api.schema.proto_numbers import (
    DECODE_TYPES,
    MICRO_TIMES,
    NO_NUMBERS,
    NOT_PROTOBUF,
    NUMBERS,
    OBJECT_MESSAGES,
    RAW_JSON,
    TYPE_META,
    ZERO_KEPT,
    has_type_meta,
)
from raftkube.local.control_plane import LocalControlPlane

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
CREATABLE = [("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Namespace"), ("v1", "Service"), ("v1", "Pod"),
             ("apps/v1", "Deployment"), ("batch/v1", "Job")]


# ------------------------------------------------------------------ a tiny encoder
def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def f(number: int, value: int | bool | str | bytes) -> bytes:
    """One field: ints and bools as varints, strings and bytes length-delimited."""
    if isinstance(value, bool | int):
        return varint(number << 3) + varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def m(*fields: bytes) -> bytes:
    return b"".join(fields)


def entry(number: int, key: str, value: str | bytes) -> bytes:
    return f(number, m(f(1, key), f(2, value)))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return MAGIC + f(1, m(f(1, api_version), f(2, kind))) + f(2, raw) + f(3, "") + f(4, "")


def meta(name: str, **extra: bytes) -> bytes:
    """ObjectMeta as gogo writes it: every non-pointer field, zero or not (creationTimestamp empty)."""
    return m(f(1, name), f(2, ""), f(3, ""), f(4, ""), f(5, ""), f(6, ""), f(7, 0), f(8, b""), *extra.values())


def bad(body: bytes) -> str:
    with pytest.raises(APIError) as info:
        decode_k8s_protobuf(body)
    assert info.value.code == 400
    return info.value.message


# ------------------------------------------------------------------ the number table
def test_every_field_reachable_from_the_creatable_kinds_has_a_number() -> None:
    roots = [KIND_TYPES[kind] for kind in CREATABLE] + [CORE + "PodTemplateSpec"]
    reachable = {name for root in roots for name in referenced_types(root)}
    assert {CORE + "Container", CORE + "Probe", CORE + "Affinity", META + "LabelSelector"} <= reachable
    missing = [(name, field) for name in sorted(reachable) for field in TYPES[name]
               if field not in NUMBERS.get(name, {}) and not (has_type_meta(name) and field in TYPE_META)]
    assert missing == []


def test_every_served_type_has_numbers_and_the_table_matches_the_schema() -> None:
    for name, fields in TYPES.items():
        if name in NOT_PROTOBUF or name in NO_NUMBERS:
            assert name not in NUMBERS
            continue
        wanted = {f for f in fields if not (has_type_meta(name) and f in TYPE_META)}
        assert set(NUMBERS[name]) == wanted, name
        for field_name, field in fields.items():
            assert element_type(field.type) != "any", (name, field_name)
            if element_type(field.type) == "object":
                assert (name, field_name) in OBJECT_MESSAGES, (name, field_name)
    for name, numbers in NUMBERS.items():
        paths = [n if isinstance(n, tuple) else (n,) for n in numbers.values()]
        assert len(set(paths)) == len(paths), f"duplicate numbers in {name}"
        heads = {p[0] for p in paths if len(p) > 1}
        assert not heads & {p[0] for p in paths if len(p) == 1}, f"inline number reused in {name}"
        for field in DECODE_TYPES[name].values():  # every referenced message is decodable
            inner = element_type(field.type)
            assert inner in PRIMITIVES or inner in NUMBERS, (name, inner)
    for (name, field_name), message in OBJECT_MESSAGES.items():
        assert DECODE_TYPES[name][field_name].type == "object"
        assert message == RAW_JSON or message in NUMBERS
    for name, kept in ZERO_KEPT.items():
        for field_name in kept:
            assert DECODE_TYPES[name][field_name].type in ("string", "integer", "boolean"), (name, field_name)
    for name, field_name in MICRO_TIMES:
        assert TYPES[name][field_name].type == "time"


def test_spot_checked_numbers() -> None:
    assert NUMBERS[CORE + "ConfigMap"] == {"metadata": 1, "data": 2, "binaryData": 3, "immutable": 4}
    assert NUMBERS[META + "ObjectMeta"]["managedFields"] == 17
    assert NUMBERS[CORE + "Volume"]["configMap"] == (2, 19)
    assert NUMBERS[CORE + "ConfigMapKeySelector"]["name"] == (1, 1)
    assert NUMBERS[CORE + "EphemeralContainer"]["targetContainerName"] == 2
    assert NUMBERS[CORE + "EphemeralContainer"]["image"] == (1, 2)
    assert NUMBERS[APPS + "DeploymentSpec"]["progressDeadlineSeconds"] == 9
    assert NUMBERS[BATCH + "JobSpec"]["podFailurePolicy"] == 11


# ------------------------------------------------------------------ hand-built bodies
def test_configmap_and_secret() -> None:
    raw = m(f(1, meta("c", labels=entry(11, "app", "x"))), entry(2, "a", "b"), entry(2, "empty", ""),
            entry(3, "bin", b"\x00\x01\xff"), f(4, False))
    assert decode_k8s_protobuf(envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app": "x"}},
        "data": {"a": "b", "empty": ""}, "binaryData": {"bin": "AAH/"}, "immutable": False}
    raw = m(f(1, meta("s")), entry(2, "p", b"q\x80"), entry(4, "plain", "text"), f(3, "Opaque"))
    obj = decode_k8s_protobuf(envelope("v1", "Secret", raw))
    assert obj["data"] == {"p": base64.b64encode(b"q\x80").decode()} and obj["stringData"] == {"plain": "text"}
    assert obj["type"] == "Opaque" and "immutable" not in obj


def test_deployment_pointers_int_or_string_quantities_and_zeros() -> None:
    port = m(f(1, ""), f(2, 0), f(3, 8080), f(4, ""), f(5, ""))
    limits = f(1, m(f(1, "cpu"), f(2, m(f(1, "500m")))))
    container = m(f(1, "web"), f(2, "busybox"), f(6, port), f(8, limits), f(16, False))
    template = m(f(1, meta("")), f(2, m(f(2, container), f(3, "Always"), f(11, False))))
    rolling = m(f(1, m(f(1, 0), f(2, 0), f(3, ""))), f(2, m(f(1, 1), f(2, 0), f(3, "25%"))))
    spec = m(f(1, 0), f(2, m(entry(1, "app", "d"))), f(3, template), f(4, m(f(1, "RollingUpdate"), f(2, rolling))),
             f(5, 0), f(7, False))
    obj = decode_k8s_protobuf(envelope("apps/v1", "Deployment", m(f(1, meta("d")), f(2, spec), f(3, b""))))
    assert obj["metadata"] == {"name": "d"}  # zero strings, generation 0 and the empty creationTimestamp omitted
    assert obj["status"] == {}
    spec_out = obj["spec"]
    assert spec_out["replicas"] == 0  # a pointer: zero is a value
    assert "minReadySeconds" not in spec_out and "paused" not in spec_out
    assert spec_out["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}
    pod = spec_out["template"]
    assert pod["metadata"] == {}
    assert pod["spec"] == {"containers": [{"name": "web", "image": "busybox", "ports": [{"containerPort": 8080}],
                                           "resources": {"limits": {"cpu": "500m"}}}], "restartPolicy": "Always"}


def test_non_omitempty_zero_values_are_kept() -> None:
    probe = m(f(1, m(f(2, m(f(1, "/"), f(2, m(f(1, 0), f(2, 80))), f(5, m(f(1, "X-A"), f(2, ""))))))), f(2, 0))
    container = m(f(1, ""), f(10, probe), f(15, m(f(4, -1), f(2, False))))
    pod = decode_k8s_protobuf(envelope("v1", "Pod", m(f(1, meta("p")), f(2, m(f(2, container))))))
    c = pod["spec"]["containers"][0]
    assert c["name"] == ""  # `json:"name"` has no omitempty
    assert c["livenessProbe"] == {"httpGet": {"path": "/", "port": 80, "httpHeaders": [{"name": "X-A", "value": ""}]}}
    assert c["securityContext"] == {"runAsUser": -1, "privileged": False}


def test_inline_messages_volumes_and_legacy_sources() -> None:
    items = f(2, m(f(1, "k"), f(2, "p")))
    volumes = [f(1, m(f(1, "cfg"), f(2, f(19, m(f(1, f(1, "settings")), items, f(3, 0o644)))))),
               f(1, m(f(1, "pd"), f(2, f(3, m(f(1, "disk"), f(2, ""), f(3, 0), f(4, True)))))),
               f(1, m(f(1, "tmp"), f(2, f(2, m(f(1, ""), f(2, m(f(1, "1Gi"))))))))]
    debug = f(34, m(f(1, m(f(1, "dbg"), f(2, "busybox"))), f(2, "web")))
    obj = decode_k8s_protobuf(envelope("v1", "Pod", m(f(1, meta("p")), f(2, m(*volumes, debug)))))
    assert obj["spec"]["volumes"] == [
        {"name": "cfg", "configMap": {"name": "settings", "items": [{"key": "k", "path": "p"}], "defaultMode": 0o644}},
        {"name": "pd", "gcePersistentDisk": {"pdName": "disk", "readOnly": True}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
    assert obj["spec"]["ephemeralContainers"] == [{"name": "dbg", "image": "busybox", "targetContainerName": "web"}]


def test_times_micro_times_packed_lists_and_managed_fields() -> None:
    day = 1704067200  # 2024-01-01T00:00:00Z
    managed = f(17, m(f(1, "kubectl"), f(4, m(f(1, day))), f(7, f(1, b'{"f:data":{}}'))))
    metadata = meta("l", created=f(8, m(f(1, day), f(2, 5))), deleted=f(9, b""), managed=managed)
    spec = m(f(1, "me"), f(4, m(f(1, day), f(2, 123456789))), f(5, 0))
    obj = decode_k8s_protobuf(envelope("coordination.k8s.io/v1", "Lease", m(f(1, metadata), f(2, spec))))
    assert obj["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z" and "deletionTimestamp" not in obj["metadata"]
    assert obj["metadata"]["managedFields"] == [
        {"manager": "kubectl", "time": "2024-01-01T00:00:00Z", "fieldsV1": {"f:data": {}}}]
    assert obj["spec"] == {"holderIdentity": "me", "renewTime": "2024-01-01T00:00:00.123456Z", "leaseTransitions": 0}
    packed = f(4, m(varint(1000), varint(2000)))
    unpacked = m(f(4, 3000), f(4, -4))
    pod = m(f(1, meta("p")), f(2, f(14, m(packed, unpacked))))
    obj = decode_k8s_protobuf(envelope("v1", "Pod", pod))
    assert obj["spec"]["securityContext"]["supplementalGroups"] == [1000, 2000, 3000, -4]


def test_repeated_singular_message_merges_and_lists_decode() -> None:
    raw = m(f(1, meta("x")), f(2, m(f(1, "Foo"))), f(2, m(f(1, "Bar"))))
    obj = decode_k8s_protobuf(envelope("v1", "Namespace", raw))
    assert obj["spec"] == {"finalizers": ["Foo", "Bar"]}
    items = m(f(1, m(f(2, "7"))), f(2, m(f(1, meta("a")))), f(2, m(f(1, meta("b")))))
    assert decode_k8s_protobuf(envelope("v1", "ConfigMapList", items)) == {
        "apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": "7"},
        "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}


def test_rejected_bodies() -> None:
    assert "unknown field number 99 in io.k8s.api.core.v1.ConfigMap" in bad(envelope("v1", "ConfigMap", f(99, "x")))
    assert "field number 7 in io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector" in bad(
        envelope("apps/v1", "Deployment", f(2, f(2, f(7, 1)))))
    assert "magic" in bad(b'{"kind": "ConfigMap"}')
    assert "Widget" in bad(envelope("v1", "Widget", b""))
    assert "typeMeta" in bad(MAGIC + f(2, b""))
    assert "Table" in bad(envelope("meta.k8s.io/v1", "Table", b""))
    assert "contentEncoding" in bad(MAGIC + f(1, m(f(1, "v1"), f(2, "ConfigMap"))) + f(3, "gzip"))
    for raw in (b"\x0a", b"\x0a\x05ab", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x0b",
                f(1, f(1, b"\xff\xfe")), f(1, 5), f(2, m(f(1, "k"), f(2, 3)))):
        assert "malformed" in bad(envelope("v1", "ConfigMap", raw))
    assert "malformed" in bad(MAGIC + b"\x0a\x09")
    assert "malformed" in bad(envelope("coordination.k8s.io/v1", "Lease", f(2, f(3, m(f(1, 10**15))))))


def test_decode_body_accepts_protobuf() -> None:
    body = envelope("v1", "ConfigMap", m(f(1, meta("c")), entry(2, "a", "b")))
    assert decode_body(body, MEDIA_TYPE) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                             "data": {"a": "b"}}


# ------------------------------------------------------------------ real kubectl
Kubectl = Callable[..., str]
Post = Callable[[str, bytes], httpx.Response]


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kubectl, Post]]:
    """One TLS `raftkube server`: a kubectl runner and a raw protobuf POST."""
    base = tmp_path_factory.mktemp("protobuf-plane")
    control = LocalControlPlane(str(base / "plane"), size=1)
    try:
        control.start(timeout=60)
        url, headers = control.api_url(0), {"authorization": f"Bearer {control.token}"}
        assert control.ca_file is not None
        tls = ssl.create_default_context(cafile=control.ca_file)
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(url + "/api/v1/namespaces/default", headers=headers, verify=tls, timeout=2)
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API server did not become ready"
            time.sleep(0.1)
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "pb",
                  "clusters": [{"name": "pb", "cluster": {"server": url, "certificate-authority": control.ca_file}}],
                  "users": [{"name": "admin", "user": {"token": control.token}}],
                  "contexts": [{"name": "pb", "context": {"cluster": "pb", "user": "admin"}}]}
        (base / "kubeconfig").write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env.update(KUBECONFIG=str(base / "kubeconfig"), KUBECACHEDIR=str(base / "cache"), HOME=str(base))

        def run(*args: str) -> str:
            result = subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=30, env=env, cwd=base)
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
            return result.stdout

        def post(path: str, body: bytes) -> httpx.Response:
            return httpx.post(url + path, content=body, verify=tls, timeout=10,
                              headers={**headers, "content-type": MEDIA_TYPE, "accept": "application/json"})

        (base / "greeting.txt").write_text("hello\n")
        (base / "blob.bin").write_bytes(b"\x00\x01\xfe\xff")
        yield run, post
    finally:
        control.close()


@pytest.mark.cluster
@pytest.mark.timeout(60)
def test_kubectl_create_subcommands_send_protobuf(plane: tuple[Kubectl, Post]) -> None:
    kubectl, post = plane

    def get(*args: str) -> dict[str, Any]:
        return json.loads(kubectl("get", *args, "-o", "json"))

    kubectl("create", "configmap", "c", "--from-literal=a=b", "--from-file=greeting.txt", "--from-file=blob.bin")
    cm = get("configmap", "c")
    assert cm["data"] == {"a": "b", "greeting.txt": "hello\n"}
    assert base64.b64decode(cm["binaryData"]["blob.bin"]) == b"\x00\x01\xfe\xff"

    kubectl("create", "secret", "generic", "s", "--from-literal=p=q", "--from-literal=u=ünï")
    secret = get("secret", "s")
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {"p": "q", "u": "ünï"}
    assert secret["type"] == "Opaque"
    kubectl("create", "secret", "tls", "t", "--cert=plane/pki/apiserver.crt", "--key=plane/pki/apiserver.key")
    assert get("secret", "t")["type"] == "kubernetes.io/tls"
    kubectl("create", "secret", "docker-registry", "r", "--docker-server=x", "--docker-username=u",
            "--docker-password=pw")
    assert set(get("secret", "r")["data"]) == {".dockerconfigjson"}

    kubectl("create", "deployment", "d", "--image=busybox", "--replicas=2", "--port=8080")
    kubectl("create", "deployment", "zero", "--image=busybox", "--replicas=0")
    deploy = get("deployment", "d")
    assert deploy["spec"]["replicas"] == 2 and deploy["spec"]["selector"] == {"matchLabels": {"app": "d"}}
    assert deploy["spec"]["template"]["metadata"]["labels"] == {"app": "d"}
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "busybox" and container["ports"][0]["containerPort"] == 8080
    assert get("deployment", "zero")["spec"]["replicas"] == 0

    kubectl("create", "job", "j", "--image=busybox", "--", "echo", "hi")
    job = get("job", "j")["spec"]["template"]["spec"]
    assert job["containers"][0]["command"] == ["echo", "hi"] and job["restartPolicy"] == "Never"

    kubectl("create", "namespace", "n")
    assert get("namespace", "n")["metadata"]["name"] == "n"

    kubectl("create", "service", "nodeport", "svc", "--tcp=80:8080")
    svc = get("service", "svc")["spec"]
    assert svc["type"] == "NodePort" and svc["selector"] == {"app": "svc"}
    port = svc["ports"][0]
    assert (port["port"], port["targetPort"], port["protocol"]) == (80, 8080, "TCP")
    assert 30000 <= port["nodePort"] <= 32767
    kubectl("create", "service", "clusterip", "cip", "--tcp=5678:8080")
    assert get("service", "cip")["spec"]["ports"][0]["targetPort"] == 8080
    kubectl("create", "service", "loadbalancer", "lb", "--tcp=81:82")
    assert get("service", "lb")["spec"]["type"] == "LoadBalancer"
    kubectl("create", "service", "externalname", "ext", "--external-name=example.com")
    assert get("service", "ext")["spec"]["externalName"] == "example.com"

    kubectl("run", "p", "--image=busybox", "--labels=a=b")
    pod = get("pod", "p")
    assert pod["metadata"]["labels"] == {"a": "b"} and pod["spec"]["containers"][0]["image"] == "busybox"

    response = post("/api/v1/namespaces/default/configmaps",
                    envelope("v1", "ConfigMap", m(f(1, meta("raw")), entry(2, "k", "v"))))
    assert response.status_code == 201 and response.json()["data"] == {"k": "v"}
    response = post("/api/v1/namespaces/default/configmaps", envelope("v1", "ConfigMap", f(42, "x")))
    assert response.status_code == 400 and response.json()["kind"] == "Status"
    assert "unknown field number 42" in response.json()["message"]
