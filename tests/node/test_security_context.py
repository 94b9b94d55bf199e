"""securityContext translation and subPath resolution without Podman: effective values (container over
pod), capability names, refusals naming the field, runAsNonRoot in the hollow runtime, specgen kwargs, and
subPaths that leave their volume through symlinks (pinned by a bind mount when running as root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from raftkube.node import podman_specs as specs
from raftkube.node.env import ConfigError
from raftkube.node.hollow_runtime import HollowMachine, HollowRuntime
from raftkube.node.memory_volumes import unmount_under
from raftkube.node.runtime import ContainerSpec, RuntimeError_, SandboxSpec, SecuritySettings
from raftkube.node.security_context import non_root_refusal, security_settings
from raftkube.node.subpaths import subpath_source
from raftkube.node.volumes import prepare_volumes

WHERE = "spec.containers[0].securityContext"


def pod(pod_sc: dict | None = None, sc: dict | None = None) -> dict:
    return {"metadata": {"name": "p"}, "spec": {"securityContext": pod_sc or {},
                                                "containers": [{"name": "app", "securityContext": sc or {}}]}}


def settings(pod_sc: dict | None = None, sc: dict | None = None, **kwargs: str) -> SecuritySettings:
    body = pod(pod_sc, sc)
    return security_settings(body, body["spec"]["containers"][0], WHERE, **kwargs)


def test_effective_values_and_capabilities() -> None:
    got = settings({"runAsUser": 1000, "runAsGroup": 3000, "runAsNonRoot": True, "supplementalGroups": [5],
                    "fsGroup": 2000, "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]},
                   {"runAsUser": 1001, "capabilities": {"drop": ["ALL"], "add": ["net_bind_service"]},
                    "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                    "seccompProfile": {"type": "Unconfined"}})
    assert (got.run_as_user, got.run_as_group, got.run_as_non_root, got.groups) == (1001, 3000, True, (5, 2000))
    assert (got.cap_drop, got.cap_add) == (("ALL",), ("CAP_NET_BIND_SERVICE",))
    assert got.read_only_root and got.no_new_privileges and got.seccomp == "unconfined" and not got.privileged
    kwargs = specs.security_kwargs(got, image_user="")
    assert kwargs["user"] == "1001:3000" and kwargs["group_add"] == ["5", "2000"]
    assert kwargs["read_only"] and kwargs["read_write_tmpfs"] is False and kwargs["no_new_privileges"]
    assert kwargs["sysctls"] == {"net.ipv4.ip_unprivileged_port_start": "0"}
    assert specs.podman_user(SecuritySettings(run_as_group=7), "app:app") == "app:7"
    assert "user" not in specs.security_kwargs(SecuritySettings(), "nobody")  # the image's user stays
    assert settings().seccomp is None  # RuntimeDefault: Podman's default profile


@pytest.mark.parametrize(("pod_sc", "sc", "field"), [
    ({"seLinuxOptions": {"type": "spc_t"}}, {}, "spec.securityContext.seLinuxOptions"),
    ({}, {"windowsOptions": {"runAsUserName": "x"}}, f"{WHERE}.windowsOptions"),
    ({}, {"procMount": "Unmasked"}, f"{WHERE}.procMount"),
    ({"supplementalGroupsPolicy": "Strict"}, {}, "supplementalGroupsPolicy"),
    ({}, {"privileged": True, "allowPrivilegeEscalation": False}, "allowPrivilegeEscalation"),
    ({}, {"seccompProfile": {"type": "Localhost"}}, "localhostProfile must be set"),
    ({"seccompProfile": {"type": "Localhost", "localhostProfile": "../../etc/passwd"}}, {}, "escapes"),
])
def test_what_cannot_be_honoured_is_refused(pod_sc: dict, sc: dict, field: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")) as err:
        settings(pod_sc, sc, seccomp_root=str(tmp_path))
    assert err.value.reason == "CreateContainerConfigError"


def test_localhost_seccomp_profile_from_the_node_directory(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "audit.json").write_text('{"defaultAction": "SCMP_ACT_LOG"}')
    got = settings(sc={"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/audit.json"}},
                   seccomp_root=str(tmp_path))
    assert got.seccomp == str(tmp_path / "profiles" / "audit.json")
    with pytest.raises(ConfigError, match="not found"):
        settings(sc={"seccompProfile": {"type": "Localhost", "localhostProfile": "nope.json"}},
                 seccomp_root=str(tmp_path))


def test_run_as_non_root_decisions() -> None:
    on = SecuritySettings(run_as_non_root=True)
    assert "image will run as root" in (non_root_refusal(on, "", "p_ns(u)", "app") or "")
    assert "image will run as root" in (non_root_refusal(on, "0:0", "p_ns(u)", "app") or "")
    assert "non-numeric user (nobody)" in (non_root_refusal(on, "nobody", "p_ns(u)", "app") or "")
    assert non_root_refusal(on, "1000", "p_ns(u)", "app") is None
    assert non_root_refusal(SecuritySettings(run_as_non_root=True, run_as_user=1000), "", "p", "app") is None
    assert "breaks non-root policy" in (non_root_refusal(SecuritySettings(run_as_non_root=True, run_as_user=0),
                                                         "1000", "p", "app") or "")
    assert non_root_refusal(SecuritySettings(), "", "p", "app") is None


async def test_hollow_runtime_evaluates_run_as_non_root_like_podman() -> None:
    machine = HollowMachine(image_users={"example/nonroot:1": "65532"})
    rt = HollowRuntime("n1", machine)
    sandbox = await rt.ensure_sandbox(SandboxSpec("u1", "ns", "p", "n1", "127.98.1.2"))
    with pytest.raises(RuntimeError_) as err:
        await rt.start_container(sandbox, ContainerSpec("app", "busybox:1", security=SecuritySettings(
            run_as_non_root=True)))
    assert err.value.reason == "CreateContainerConfigError"
    assert err.value.message == ('container has runAsNonRoot and image will run as root (pod: "p_ns(u1)", '
                                 "container: app)")
    state = await rt.start_container(sandbox, ContainerSpec("app", "example/nonroot:1", security=SecuritySettings(
        run_as_non_root=True)))
    assert state.status == "running"


def emptydir(tmp_path: Path) -> str:
    volumes = prepare_volumes({"spec": {"securityContext": {"fsGroup": 2000},
                                        "volumes": [{"name": "work", "emptyDir": {}}]}}, str(tmp_path / "pod"), {})
    return volumes["work"][0]


def test_subpath_symlinks_must_stay_inside_the_volume(tmp_path: Path) -> None:
    root = emptydir(tmp_path)
    assert os.stat(root).st_gid == 2000 and os.stat(root).st_mode & 0o2000  # fsGroup, setgid
    os.symlink("/", os.path.join(root, "escape"))
    os.mkdir(os.path.join(root, "ok"))
    os.symlink("ok", os.path.join(root, "inner"))
    for sub in ("escape", "escape/etc", "ok/../../x", "/etc"):
        with pytest.raises(ConfigError, match=f'subPath "{sub}"') as err:
            subpath_source(root, sub, True, mount="work", container="app", pin=None)
        assert err.value.reason == "CreateContainerConfigError"
    assert subpath_source(root, "inner", True, mount="work", container="app", pin=None) == os.path.join(root, "ok")
    made = subpath_source(root, "new/deeper", True, mount="work", container="app", pin=None)
    assert os.path.isdir(made) and os.stat(made).st_mode & 0o777 == 0o777
    with pytest.raises(ConfigError, match="does not exist"):
        subpath_source(root, "absent", False, mount="work", container="app", pin=None)


@pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")
def test_pinned_subpath_keeps_the_checked_directory(tmp_path: Path) -> None:
    root = emptydir(tmp_path)
    os.mkdir(os.path.join(root, "ok"))
    Path(root, "ok", "f").write_text("inside")
    pin = str(tmp_path / "pod" / "volume-subpaths" / "app" / "0")
    try:
        assert subpath_source(root, "ok", True, mount="work", container="app", pin=pin) == pin
        assert subpath_source(root, "ok", True, mount="work", container="app", pin=pin) == pin  # idempotent
        os.rename(os.path.join(root, "ok"), os.path.join(root, "moved"))
        os.symlink("/", os.path.join(root, "ok"))  # swapped after the check: the pin still shows the checked one
        assert Path(pin, "f").read_text() == "inside"
        with pytest.raises(ConfigError, match="outside volume"):
            subpath_source(root, "ok", True, mount="work", container="app", pin=pin)
    finally:
        unmount_under(str(tmp_path / "pod"))
