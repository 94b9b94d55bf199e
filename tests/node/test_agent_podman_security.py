"""securityContext and subPath safety on real Podman (issue 14): the agent with a PodmanRuntime against the
in-process API. A container's user, groups, capabilities, read-only root and no_new_privs are read from inside
it (its log); runAsNonRoot on a root image and fields this node cannot honour refuse the container
(CreateContainerConfigError); a subPath through a symlink a container wrote (`ln -s / escape`) is refused
while normal and in-volume-symlink subPaths work.

One Podman service and one node (pod CIDR 127.98.241.0/24) per module; its sandboxes are removed at the end."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from raftkube.client import ApiClient
from raftkube.local.store_cluster import free_port
from raftkube.node.agent import Agent
from raftkube.node.memory_volumes import unmount_under
from raftkube.node.podman_runtime import PodmanRuntime
from raftkube.node.podman_service import PodmanService
from raftkube.node.security_context import apparmor_enabled
from tests.api.inproc import InProcessAPI

from .podman_fixtures import IMAGE, podman_ps, podman_service
from .test_agent_support import (
    EVENT,
    POD,
    api,  # noqa: F401  (module fixture)
    api_client,
    container_status,
    eventually,
    fast_config,
    namespace,
    wait_pod,
)

pytestmark = [pytest.mark.podman, pytest.mark.asyncio(loop_scope="module")]
Obj = dict[str, Any]
NODE_NAME = f"podsec-{uuid.uuid4().hex[:6]}"
CIDR = "127.98.241.0/24"
WAIT = 40.0  # seconds: a bounded wait for anything Podman does (never a timing assertion)
CAP_CHOWN, CAP_NET_RAW, CAP_SYS_ADMIN = 0, 13, 21


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
    with podman_service(tmp_path_factory.mktemp("podman"), [NODE_NAME]) as svc:
        yield svc


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(api: InProcessAPI, service: PodmanService,  # noqa: F811
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApiClient]:
    async with api_client(api) as api_client_:
        runtime = PodmanRuntime(NODE_NAME, socket_path=str(service.socket_path))
        data_dir = tmp_path_factory.mktemp("agent")
        config = fast_config(NODE_NAME, data_dir, port=free_port(), pod_cidr=CIDR,
                             relist_period=0.3, **api.agent_tls)
        agent = Agent(config, runtime, api_client_)
        await agent.start()
        try:
            yield api_client_
        finally:
            await agent.stop()
            await runtime.close()
            unmount_under(str(data_dir))  # the pinned subPaths of pods left running


def pod(name: str, containers: list[Obj], **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": NODE_NAME, "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                     "containers": containers, **spec}}


def sh(name: str, script: str, **fields: Any) -> Obj:
    return {"name": name, "image": IMAGE, "command": ["sh", "-c", script], **fields}


def terminated(name: str = "app") -> Any:
    return lambda p: "terminated" in (container_status(p, name).get("state") or {})


def waiting(p: Obj, name: str = "app") -> Obj:
    return dict((container_status(p, name).get("state") or {}).get("waiting") or {})


async def output(client: ApiClient, name: str, ns: str, container: str = "app") -> str:
    await wait_pod(client, name, ns, terminated(container), WAIT, f"{container} of {ns}/{name} terminated")
    chunks = [c async for c in client.logs(name, ns, container=container)]
    return b"".join(chunks).decode()


def status_field(text: str, key: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(key + ":"))


def has_cap(cap_eff_hex: str, bit: int) -> bool:
    return bool(int(cap_eff_hex, 16) >> bit & 1)


async def refused(client: ApiClient, name: str, ns: str, container: str = "app") -> Obj:
    found = await wait_pod(client, name, ns, lambda p: waiting(p, container).get("reason")
                           == "CreateContainerConfigError", WAIT, f"{container} refused")
    return waiting(found, container)


# -- tests ----------------------------------------------------------------------------------------
async def test_run_as_user_group_and_fs_group(client: ApiClient) -> None:
    ns = await namespace(client)
    script = "id -u; id -g; id -G; touch /data/f && stat -c 'gid=%g' /data/f"
    body = pod("ids", [sh("app", script, volumeMounts=[{"name": "data", "mountPath": "/data"}])],
               securityContext={"runAsUser": 1000, "runAsGroup": 3000, "supplementalGroups": [4000], "fsGroup": 2000},
               volumes=[{"name": "data", "emptyDir": {}}])
    await client.create(POD, body, ns)
    uid, gid, groups, created = (await output(client, "ids", ns)).split("\n")[:4]
    assert (uid, gid) == ("1000", "3000")
    assert {"2000", "3000", "4000"} <= set(groups.split())
    assert created == "gid=2000"  # the emptyDir is fsGroup's and setgid


async def test_container_run_as_user_overrides_the_pod(client: ApiClient) -> None:
    ns = await namespace(client)
    body = pod("override", [sh("app", "id -u", securityContext={"runAsUser": 1001})],
               securityContext={"runAsUser": 1000, "runAsNonRoot": True})
    await client.create(POD, body, ns)
    assert (await output(client, "override", ns)).strip() == "1001"


async def test_read_only_root_filesystem(client: ApiClient) -> None:
    ns = await namespace(client)
    script = ("touch /x && echo root-writable; touch /tmp/y && echo tmp-writable; "
              "touch /scratch/z && echo volume-writable")
    body = pod("ro", [sh("app", script, securityContext={"readOnlyRootFilesystem": True},
                         volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}])],
               volumes=[{"name": "scratch", "emptyDir": {}}])
    await client.create(POD, body, ns)
    out = await output(client, "ro", ns)
    assert "Read-only file system" in out
    assert "root-writable" not in out and "tmp-writable" not in out  # no tmpfs slipped onto /tmp
    assert "volume-writable" in out


async def test_capabilities_drop_all_and_the_defaults(client: ApiClient) -> None:
    ns = await namespace(client)
    script = "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"
    body = pod("caps", [
        sh("dropped", script, securityContext={"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                                               "allowPrivilegeEscalation": False}),
        sh("plain", script)])
    await client.create(POD, body, ns)
    dropped, plain = await output(client, "caps", ns, "dropped"), await output(client, "caps", ns, "plain")
    eff = status_field(dropped, "CapEff")
    assert not has_cap(eff, CAP_NET_RAW) and not has_cap(eff, CAP_CHOWN) and int(eff, 16) == 1 << 10
    assert status_field(dropped, "NoNewPrivs") == "1"
    default = status_field(plain, "CapEff")
    assert has_cap(default, CAP_CHOWN) and not has_cap(default, CAP_SYS_ADMIN)  # privileged is false by default
    assert status_field(plain, "NoNewPrivs") == "0" and status_field(plain, "Seccomp") == "2"  # RuntimeDefault


async def test_run_as_non_root_on_a_root_image_is_refused(client: ApiClient, service: PodmanService) -> None:
    ns = await namespace(client)
    await client.create(POD, pod("rootimg", [sh("app", "id -u")], securityContext={"runAsNonRoot": True}), ns)
    state = await refused(client, "rootimg", ns)
    assert state["message"].startswith("container has runAsNonRoot and image will run as root (pod: \"rootimg_")
    names = podman_ps(service, f"raftkube.io/pod-namespace={ns}")
    assert not any(n.endswith("_app") for n in names), names  # the container was never created

    async def failed_event() -> bool:
        events = (await client.list(EVENT, ns))["items"]
        return any(e.get("reason") == "Failed" and "runAsNonRoot" in e.get("message", "") for e in events)
    await eventually(failed_event, WAIT, "a Failed event naming runAsNonRoot")
    await client.create(POD, pod("uid0", [sh("app", "id -u", securityContext={"runAsUser": 0})],
                                 securityContext={"runAsNonRoot": True}), ns)
    assert "runAsUser breaks non-root policy" in (await refused(client, "uid0", ns))["message"]


async def test_fields_this_node_cannot_honour_refuse_the_container(client: ApiClient) -> None:
    ns = await namespace(client)
    await client.create(POD, pod("selinux", [sh("app", "true")],
                                 securityContext={"seLinuxOptions": {"level": "s0:c123,c456"}}), ns)
    assert "spec.securityContext.seLinuxOptions" in (await refused(client, "selinux", ns))["message"]
    await client.create(POD, pod("seccomp", [sh("app", "true", securityContext={
        "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/absent.json"}})]), ns)
    message = (await refused(client, "seccomp", ns))["message"]
    assert "spec.containers[0].securityContext.seccompProfile" in message and "absent.json" in message
    if not apparmor_enabled():
        await client.create(POD, pod("apparmor", [sh("app", "true", securityContext={
            "appArmorProfile": {"type": "RuntimeDefault"}})]), ns)
        assert "AppArmor is not enabled on the host" in (await refused(client, "apparmor", ns))["message"]


async def test_subpath_symlink_escape_is_refused(client: ApiClient, service: PodmanService) -> None:
    ns = await namespace(client)
    init = sh("init", "ln -s / /work/escape && mkdir /work/ok && echo inside > /work/ok/f && ln -s ok /work/inner",
              volumeMounts=[{"name": "work", "mountPath": "/work"}])
    bad = sh("bad", "ls /host; sleep 30", volumeMounts=[{"name": "work", "mountPath": "/host", "subPath": "escape"}])
    through = sh("through", "cat /host/passwd", volumeMounts=[{"name": "work", "mountPath": "/host",
                                                                 "subPath": "escape/etc"}])
    good = sh("good", "cat /a/f /b/f", volumeMounts=[{"name": "work", "mountPath": "/a", "subPath": "ok"},
                                                     {"name": "work", "mountPath": "/b", "subPath": "inner"}])
    body = pod("subpath", [bad, through, good], initContainers=[init], volumes=[{"name": "work", "emptyDir": {}}])
    await client.create(POD, body, ns)
    assert (await output(client, "subpath", ns, "good")).split() == ["inside", "inside"]
    for name, sub in (("bad", "escape"), ("through", "escape/etc")):
        state = await refused(client, "subpath", ns, name)
        assert f'subPath "{sub}"' in state["message"] and "outside volume" in state["message"], state
    names = podman_ps(service, f"raftkube.io/pod-namespace={ns}")
    assert not any(n.endswith("_bad") or n.endswith("_through") for n in names), names  # never created
