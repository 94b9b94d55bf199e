"""Environment resolution, `$(VAR)` expansion and volumes: pure functions, then through the agent."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from raftkube.node.env import ConfigError, expand, expand_command, referenced_objects, resolve_env
from raftkube.node.volumes import container_mounts, prepare_volumes
from tests.api.inproc import InProcessAPI

from .test_agent_support import (
    CM,
    POD,
    api,  # noqa: F401  (module fixture)
    api_client,
    eventually,
    namespace,
    pod_body,
    running_agent,
    running_ready,
    unique,
    wait_pod,
)

POD_OBJ = {"metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"},
                        "annotations": {"team": "blue"}},
           "spec": {"nodeName": "n1", "serviceAccountName": "sa"}}
CM_OBJ = {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"mode": "fast", "level": "3"},
          "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()}}
SECRET_OBJ = {"kind": "Secret", "metadata": {"name": "sec"},
              "data": {"password": base64.b64encode(b"hunter2").decode()}}
OBJECTS = {("ConfigMap", "cfg"): CM_OBJ, ("Secret", "sec"): SECRET_OBJ, ("ConfigMap", "gone"): None}


@pytest.mark.parametrize("text,expected", [
    ("$(A)", "1"), ("x-$(A)-$(B)", "x-1-two"), ("$(MISSING)", "$(MISSING)"), ("$$(A)", "$(A)"), ("$$", "$"),
    ("$(A", "$(A"), ("a$b", "a$b"), ("$", "$"), ("", ""), ("$(A)$(A)", "11"),
])
def test_expand_follows_kubernetes_rules(text: str, expected: str) -> None:
    assert expand(text, {"A": "1", "B": "two"}) == expected


def test_env_resolution_from_every_source() -> None:
    container = {"name": "app", "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"},
                                            {"secretRef": {"name": "sec"}}],
                 "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
                         {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}},
                         {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "x",
                                                                            "optional": True}}},
                         {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                         {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                         {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                         {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                         {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                         {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                         {"name": "URL", "value": "http://$(IP):80/$(MODE)/$(NOPE)"}],
                 "command": ["run", "--mode=$(MODE)"], "args": ["$(POD)", "$$(POD)"]}
    env = resolve_env(POD_OBJ, container, OBJECTS, "127.98.1.5", "127.0.0.1")
    values = dict(env)
    assert values["CFG_mode"] == "fast" and values["CFG_bin"] == "\x00\x01" and values["password"] == "hunter2"
    assert values["MODE"] == "fast" and values["PW"] == "hunter2" and "OPT" not in values
    assert (values["POD"], values["NS"], values["UID"], values["APP"]) == ("web-0", "shop", "u-1", "web")
    assert (values["NODE"], values["IP"], values["HOST"]) == ("n1", "127.98.1.5", "127.0.0.1")
    assert values["URL"] == "http://127.98.1.5:80/fast/$(NOPE)"
    assert [k for k, _ in env].index("CFG_mode") < [k for k, _ in env].index("MODE")  # envFrom first
    assert expand_command(container, env) == (("run", "--mode=fast"), ("web-0", "$(POD)"))
    assert referenced_objects({"spec": {"containers": [container]}}) == {("ConfigMap", "cfg"), ("Secret", "sec"),
                                                                         ("ConfigMap", "gone")}


@pytest.mark.parametrize("env,needle", [
    ([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k"}}}], '"gone" not found'),
    ([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nokey"}}}], "key nokey in ConfigMap cfg"),
    ([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nosecret", "key": "k"}}}], '"nosecret" not found'),
])
def test_missing_required_reference_names_it(env: list, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_env(POD_OBJ, {"name": "app", "env": env}, OBJECTS, "", "")
    assert needle in err.value.message and err.value.reason == "CreateContainerConfigError"
    assert "X" in err.value.message


def test_volumes_materialised_with_items_modes_subpath_and_updates(tmp_path: Path) -> None:
    host = tmp_path / "host"
    pod = {"spec": {"volumes": [
        {"name": "scratch", "emptyDir": {}},
        {"name": "conf", "configMap": {"name": "cfg", "defaultMode": 0o600}},
        {"name": "picked", "configMap": {"name": "cfg", "items": [{"key": "mode", "path": "sub/m.txt",
                                                                    "mode": 0o400}]}},
        {"name": "creds", "secret": {"secretName": "sec"}},
        {"name": "hp", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}},
        {"name": "opt", "configMap": {"name": "gone", "optional": True}},
    ]}}
    pod_dir = str(tmp_path / "pod")
    volumes = prepare_volumes(pod, pod_dir, OBJECTS)
    conf = Path(volumes["conf"][0])
    assert (conf / "mode").read_text() == "fast" and (conf / "bin").read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(os.stat(conf / "level").st_mode) == 0o600
    picked = Path(volumes["picked"][0])
    assert (picked / "sub" / "m.txt").read_text() == "fast" and not (picked / "level").exists()
    assert stat.S_IMODE(os.stat(picked / "sub" / "m.txt").st_mode) == 0o400
    assert (Path(volumes["creds"][0]) / "password").read_text() == "hunter2"
    assert host.is_dir() and volumes["hp"] == (str(host), False)
    assert Path(volumes["scratch"][0]).is_dir() and volumes["scratch"][0].startswith(pod_dir)
    container = {"volumeMounts": [{"name": "scratch", "mountPath": "/data", "subPath": "logs"},
                                  {"name": "conf", "mountPath": "/etc/app"},
                                  {"name": "hp", "mountPath": "/host", "readOnly": True}]}
    mounts = container_mounts(container, volumes)
    assert mounts[0].host_path.endswith("scratch/logs") and os.path.isdir(mounts[0].host_path)
    assert [m.read_only for m in mounts] == [False, True, True]
    changed = {**OBJECTS, ("ConfigMap", "cfg"): {"kind": "ConfigMap", "data": {"mode": "slow"}}}
    prepare_volumes(pod, pod_dir, changed)
    assert (conf / "mode").read_text() == "slow" and not (conf / "level").exists()
    with pytest.raises(ConfigError, match="gone"):
        prepare_volumes({"spec": {"volumes": [{"name": "v", "configMap": {"name": "gone"}}]}}, pod_dir, OBJECTS)
    with pytest.raises(ConfigError, match="escapes"):
        container_mounts({"volumeMounts": [{"name": "scratch", "mountPath": "/x", "subPath": "../../etc"}]}, volumes)


async def test_configmap_env_and_volume_reach_the_container(api: InProcessAPI, tmp_path: Path) -> None:  # noqa: F811
    node = unique("cm")
    from raftkube.node.hollow_runtime import HollowRuntime
    runtime = HollowRuntime(node)
    async with api_client(api) as client, running_agent(client, node, tmp_path, runtime, api=api):
        ns = await namespace(client)
        await client.create(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                                 "data": {"greeting": "hello", "file.conf": "a=1"}}, ns)
        container = {"name": "app", "image": "busybox:1", "command": ["echo", "$(GREETING)"],
                     "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "settings",
                                                                                     "key": "greeting"}}}],
                     "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]}
        body = pod_body("cm", node, [container], volumes=[{"name": "cfg", "configMap": {"name": "settings"}}])
        uid = (await client.create(POD, body, ns))["metadata"]["uid"]
        await wait_pod(client, "cm", ns, running_ready)
        spec = runtime.spec(uid, "app")
        assert spec is not None and ("GREETING", "hello") in spec.env and spec.command == ("echo", "hello")
        mount = spec.mounts[0]
        assert mount.container_path == "/etc/cfg" and mount.read_only
        assert Path(mount.host_path, "file.conf").read_text() == "a=1"
        assert mount.host_path.startswith(str(tmp_path / "pods" / uid / "volumes"))
        cm = await client.get(CM, "settings", ns)
        cm["data"]["file.conf"] = "a=2"
        await client.update(CM, cm, ns)

        async def refreshed() -> bool:
            return Path(mount.host_path, "file.conf").read_text() == "a=2"
        await eventually(refreshed, 15, "configMap volume refreshed")
