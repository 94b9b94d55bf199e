"""Secrets encrypted at rest (api/encryption.py): what the store holds, what the API gives back, key
rotation and re-encryption by replace, identity fallback, tampering, and malformed configurations."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
import yaml

from raftkube.api.encryption import EncryptionConfig, EncryptionConfigError, write_encryption_config
from tests.api.inproc import InProcessAPI

Obj = dict[str, Any]
PLAIN = b"hunter2-very-secret-value"
B64 = base64.b64encode(PLAIN)
KEY = b"/registry/core/secrets/default/db"


def config(*providers: Obj) -> EncryptionConfig:
    return EncryptionConfig.parse({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
                                   "resources": [{"resources": ["secrets"], "providers": list(providers)}]})


def aesgcm(*names: str) -> Obj:
    return {"aesgcm": {"keys": [{"name": n, "secret": base64.b64encode(n.encode().ljust(32, b"k")).decode()}
                                for n in names]}}


IDENTITY: Obj = {"identity": {}}


def start(encryption: EncryptionConfig | None) -> InProcessAPI:
    api = InProcessAPI(encryption=encryption)
    api.start()
    return api


def raw(api: InProcessAPI, key: bytes = KEY) -> bytes:
    assert api.store is not None
    kv = api.call(api.store.get(key))
    assert kv is not None
    return kv.value


def create_secret(api: InProcessAPI) -> None:
    with api.client() as http:
        r = http.post("/api/v1/namespaces/default/secrets",
                      json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                            "data": {"password": B64.decode()}})
        assert r.status_code == 201, r.text


def read_password(api: InProcessAPI) -> str:
    with api.client() as http:
        r = http.get("/api/v1/namespaces/default/secrets/db")
        assert r.status_code == 200, r.text
        return base64.b64decode(r.json()["data"]["password"]).decode()


def test_secret_is_ciphertext_in_the_store_and_plaintext_through_the_api() -> None:
    api = start(config(aesgcm("key1"), IDENTITY))
    try:
        with api.client() as http:
            rv = http.get("/api/v1/namespaces/default/secrets").json()["metadata"]["resourceVersion"]
            create_secret(api)
            stored = raw(api)
            assert stored.startswith(b"k8s:enc:aesgcm:v1:key1:")
            assert PLAIN not in stored and B64 not in stored
            assert read_password(api) == PLAIN.decode()
            listed = http.get("/api/v1/secrets").json()["items"]
            assert [s["data"]["password"] for s in listed if s["metadata"]["name"] == "db"] == [B64.decode()]
            with http.stream("GET", f"/api/v1/namespaces/default/secrets?watch=1&resourceVersion={rv}") as w:
                event = json.loads(next(w.iter_lines()))
            assert event["type"] == "ADDED" and event["object"]["data"]["password"] == B64.decode()
            # an unchanged update keeps the stored bytes (no write), a changed one gets a new nonce
            live = http.get("/api/v1/namespaces/default/secrets/db").json()
            assert http.put("/api/v1/namespaces/default/secrets/db", json=live).status_code == 200
            assert raw(api) == stored
            live["metadata"]["labels"] = {"a": "b"}
            assert http.put("/api/v1/namespaces/default/secrets/db", json=live).status_code == 200
            assert raw(api) != stored and raw(api).startswith(b"k8s:enc:aesgcm:v1:key1:")
            # ConfigMaps are not listed in the configuration: plaintext
            assert http.post("/api/v1/namespaces/default/configmaps", json={
                "metadata": {"name": "c"}, "data": {"k": "visible"}}).status_code == 201
            assert b"visible" in raw(api, b"/registry/core/configmaps/default/c")
    finally:
        api.stop()


def test_rotation_identity_fallback_and_reencryption_by_replace() -> None:
    plain = start(None)
    try:
        create_secret(plain)
        assert PLAIN.decode() in read_password(plain)
        assert B64 in raw(plain)
        # the same store under a new configuration: simulate by swapping the storage's config
        storage_config = config(aesgcm("new", "old"), IDENTITY)
        _swap(plain, storage_config)
        assert read_password(plain) == PLAIN.decode()  # identity reads what was written before
        with plain.client() as http:
            live = http.get("/api/v1/namespaces/default/secrets/db").json()
            assert http.put("/api/v1/namespaces/default/secrets/db", json=live).status_code == 200
        assert raw(plain).startswith(b"k8s:enc:aesgcm:v1:new:")  # an unchanged replace re-encrypts
        # the second key decrypts; a changed update writes with the first
        _swap(plain, config(aesgcm("old", "new")))
        with plain.client() as http:
            live = http.get("/api/v1/namespaces/default/secrets/db").json()
            live["metadata"]["labels"] = {"x": "y"}
            assert http.put("/api/v1/namespaces/default/secrets/db", json=live).status_code == 200
        assert raw(plain).startswith(b"k8s:enc:aesgcm:v1:old:")
        _swap(plain, config(aesgcm("new", "old")))
        assert read_password(plain) == PLAIN.decode()
        with plain.client() as http:
            live = http.get("/api/v1/namespaces/default/secrets/db").json()
            assert http.put("/api/v1/namespaces/default/secrets/db", json=live).status_code == 200
        assert raw(plain).startswith(b"k8s:enc:aesgcm:v1:new:")
        # without the key: a clear 500, not garbage
        _swap(plain, config(aesgcm("other"), IDENTITY))
        with plain.client() as http:
            r = http.get("/api/v1/namespaces/default/secrets/db")
        assert r.status_code == 500 and "no configured provider" in r.json()["message"]
    finally:
        plain.stop()


def _swap(api: InProcessAPI, encryption: EncryptionConfig) -> None:
    """Point the running server's storage at another configuration (as a restart with a new file would)."""
    assert api.storage is not None
    api.storage.encryption = encryption


def test_tampered_ciphertext_is_a_clear_error() -> None:
    api = start(config(aesgcm("key1")))
    try:
        create_secret(api)
        stored = bytearray(raw(api))
        stored[-1] ^= 1
        assert api.store is not None
        api.call(api.store.put(KEY, bytes(stored)))
        with api.client() as http:
            r = http.get("/api/v1/namespaces/default/secrets/db")
        assert r.status_code == 500 and "authentication failed" in r.json()["message"], r.text
        # a ciphertext moved to another key does not decrypt there either
        api.call(api.store.put(b"/registry/core/secrets/default/moved", raw(api)))
        with api.client() as http:
            assert http.get("/api/v1/namespaces/default/secrets/moved").status_code == 500
    finally:
        api.stop()


@pytest.mark.parametrize(("doc", "field"), [
    ({"apiVersion": "v1", "kind": "EncryptionConfiguration", "resources": []}, "apiVersion/kind"),
    ({"resources": "x"}, "resources: must"),
    ({"resources": []}, "resources: must"),
    ({"resources": [{"providers": [IDENTITY]}]}, "resources[0].resources"),
    ({"resources": [{"resources": ["secrets"], "providers": []}]}, "resources[0].providers"),
    ({"resources": [{"resources": ["secrets"], "providers": [{"aescbc": {}}]}]}, "resources[0].providers[0]"),
    ({"resources": [{"resources": ["secrets"], "providers": [{"aesgcm": {"keys": [{"name": "k", "secret": "!!"}]}}]}]},
     "resources[0].providers[0].aesgcm.keys[0].secret"),
    ({"resources": [{"resources": ["secrets"], "providers": [
        {"aesgcm": {"keys": [{"name": "k", "secret": base64.b64encode(b"short").decode()}]}}]}]},
     "resources[0].providers[0].aesgcm.keys[0].secret"),
    ({"resources": [{"resources": ["secrets"], "providers": [{"aesgcm": {"keys": [{"secret": "AAAA"}]}}]}]},
     "resources[0].providers[0].aesgcm.keys[0].name"),
])
def test_malformed_configuration_names_the_field(doc: Obj, field: str) -> None:
    full = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration", **doc}
    with pytest.raises(EncryptionConfigError) as err:
        EncryptionConfig.parse(full)
    assert field in str(err.value)


def test_written_configuration_is_private_and_loads(tmp_path: Any) -> None:
    path = str(tmp_path / "encryption-config.yaml")
    write_encryption_config(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = EncryptionConfig.load(path)
    transformer = loaded.for_resource("secrets")
    value = transformer.to_storage(b"x", KEY)
    assert value.startswith(b"k8s:enc:aesgcm:v1:key1:") and transformer.from_storage(value, KEY) == (b"x", False)
    assert loaded.for_resource("configmaps").plaintext_only
    assert yaml.safe_load(open(path))["resources"][0]["providers"][1] == {"identity": {}}
