"""PodmanRuntime against a real Podman service (marked `podman`; skipped when podman is not installed).

One service per module in a tmp dir, the busybox image from deploy/images/build.sh, and a node name
unique to this module so nothing else on the machine is touched; everything is removed at the end.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from podman import PodmanClient

from raftkube.local.store_cluster import free_port
from raftkube.node import podman_service
from raftkube.node import podman_specs as specs
from raftkube.node.podman_runtime import PodmanRuntime
from raftkube.node.podman_service import CONTAINERS_CONF_TEXT, PodmanNotAvailable, PodmanService, podman_env
from raftkube.node.runtime import (
    CONTAINER_NAME_LABEL,
    NODE_LABEL,
    ContainerSpec,
    ImageNotFound,
    Mount,
    RuntimeError_,
    SandboxSpec,
    SandboxState,
)

pytestmark = pytest.mark.podman

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/raftkube/busybox:latest"
NODE = f"podtest-{uuid.uuid4().hex[:6]}"
OTHER_NODE = f"{NODE}-other"
_ip_counter = iter(range(random.randrange(10, 120), 250))


def next_pod_ip() -> str:
    return f"127.98.250.{next(_ip_counter)}"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: run deploy/podman/setup.sh")
    svc = PodmanService(tmp_path_factory.mktemp("podman"))
    svc.start()
    try:
        subprocess.run(["bash", str(ROOT / "deploy/images/build.sh")], env=podman_env(svc.conf_path),
                       check=True, capture_output=True, timeout=120)
        yield svc
    finally:
        with PodmanClient(base_url=svc.base_url, timeout=60) as client:
            for node in (NODE, OTHER_NODE):
                for pod in client.pods.list(filters=[f"label={NODE_LABEL}={node}"]):
                    pod.remove(force=True)
                for ctr in client.containers.list(all=True, filters=[f"label={NODE_LABEL}={node}"]):
                    ctr.remove(force=True)
        svc.stop()


@pytest.fixture
async def rt(service: PodmanService) -> AsyncIterator[PodmanRuntime]:
    runtime = PodmanRuntime(NODE, socket_path=str(service.socket_path))
    await runtime.start()
    yield runtime
    await runtime.close()


def sandbox_spec(node: str = NODE, ports: tuple[int, ...] = ()) -> SandboxSpec:
    uid = str(uuid.uuid4())
    return SandboxSpec(uid=uid, namespace="default", name=f"p-{uid[:6]}", node=node, pod_ip=next_pod_ip(),
                       ports=ports)


def sh(name: str, script: str, **kwargs: object) -> ContainerSpec:
    return ContainerSpec(name=name, image=IMAGE, command=("sh", "-c"), args=(script,), stop_grace_seconds=2,
                         **kwargs)  # type: ignore[arg-type]


async def wait_exited(rt: PodmanRuntime, sandbox: SandboxState, name: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded polling: the contract has no wait call
        found = [s for s in await rt.list_sandboxes() if s.uid == sandbox.uid]
        state = found[0].container(name) if found else None
        if state is not None and state.status == "exited":
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} did not exit within {timeout} s")


async def read_logs(rt: PodmanRuntime, uid: str, name: str, **kwargs: object) -> bytes:
    return b"".join([chunk async for chunk in rt.logs(uid, name, **kwargs)])  # type: ignore[arg-type]


def podman_cli(service: PodmanService, *args: str) -> list[str]:
    out = subprocess.run(["podman", *args], env=podman_env(service.conf_path), check=True, capture_output=True,
                         text=True, timeout=30)
    return out.stdout.split()


def podman_ps(service: PodmanService, label: str) -> list[str]:
    return podman_cli(service, "ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}")


# -- pure checks (no Podman needed) ---------------------------------------------------------------
def test_deploy_conf_is_the_packaged_conf() -> None:
    assert (ROOT / "deploy/podman/containers.conf").read_text() == CONTAINERS_CONF_TEXT


def test_command_and_args_follow_kubernetes() -> None:
    sandbox = SandboxState(uid="u" * 8, id="podid", namespace="ns", name="n", pod_ip="127.98.250.1")
    both = specs.container_create_kwargs(ContainerSpec("c", IMAGE, command=("a",), args=("b",)), sandbox=sandbox,
                                         node=NODE)
    assert (both["entrypoint"], both["command"]) == (["a"], ["b"])
    only_command = specs.container_create_kwargs(ContainerSpec("c", IMAGE, command=("a",)), sandbox=sandbox, node=NODE)
    assert (only_command["entrypoint"], only_command["command"]) == (["a"], [])  # the image CMD is dropped
    only_args = specs.container_create_kwargs(ContainerSpec("c", IMAGE, args=("b",)), sandbox=sandbox, node=NODE)
    assert "entrypoint" not in only_args and only_args["command"] == ["b"]
    assert only_args["name"] == "rk-ns-n-uuuuuuuu_c" and only_args["pod"] == "podid"


def test_state_mapping_from_podman_list() -> None:
    entry = {"Id": "abc", "Image": IMAGE, "State": "exited", "ExitCode": 137, "StartedAt": 100, "ExitedAt": 105,
             "Labels": {CONTAINER_NAME_LABEL: "c"}, "Names": ["rk-ns-n-uuuuuuuu_c"]}
    state = specs.state_from_list_entry(entry, oom_killed=True)
    assert (state.name, state.status, state.exit_code, state.started_at, state.finished_at, state.reason) == (
        "c", "exited", 137, 100.0, 105.0, "OOMKilled")
    assert specs.state_from_list_entry(entry | {"ExitCode": 0}).reason == "Completed"
    assert specs.state_from_list_entry(entry).reason == "Error"
    running = specs.state_from_list_entry(entry | {"State": "running", "ExitedAt": -62135596800})
    assert (running.status, running.exit_code, running.finished_at, running.reason) == ("running", None, None, None)
    created = specs.state_from_list_entry(entry | {"State": "created", "StartedAt": 0})
    assert (created.status, created.started_at) == ("created", None)
    assert specs.is_current(entry, "rk-ns-n-uuuuuuuu")
    assert not specs.is_current(entry | {"Names": ["rk-ns-n-uuuuuuuu_c_previous"]}, "rk-ns-n-uuuuuuuu")


def test_missing_podman_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(podman_service._REQUIRED, "no-such-podman-helper", ())
    with pytest.raises(PodmanNotAvailable, match="missing no-such-podman-helper; run deploy/podman/setup.sh"):
        PodmanService(tmp_path).start()


# -- against Podman -------------------------------------------------------------------------------
async def test_two_containers_share_localhost_and_port_is_published(rt: PodmanRuntime) -> None:
    spec = sandbox_spec(ports=(8080,))
    sandbox = await rt.ensure_sandbox(spec)
    assert await rt.ensure_sandbox(spec) == sandbox  # idempotent
    web = await rt.start_container(sandbox, ContainerSpec("web", IMAGE, command=("httpd",),
                                                          args=("-f", "-p", "8080", "-h", "/www")))
    assert web.status == "running" and web.started_at is not None
    await rt.start_container(sandbox, sh("client", "for i in $(seq 100); do wget -q -O- http://127.0.0.1:8080/ "
                                                   "&& exit 0; sleep 0.1; done; exit 1"))
    client = await wait_exited(rt, sandbox, "client")
    assert (client.exit_code, client.reason) == (0, "Completed")
    assert b"Hello from raftkube" in await read_logs(rt, spec.uid, "client")
    async with httpx.AsyncClient(timeout=2) as http:
        response = await http.get(f"http://{spec.pod_ip}:8080/")
    assert response.status_code == 200 and "Hello from raftkube" in response.text
    await rt.remove_sandbox(spec.uid, grace=2)


async def test_exit_codes_reasons_env_mounts_and_limits(rt: PodmanRuntime, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("from-host")
    spec = sandbox_spec()
    sandbox = await rt.ensure_sandbox(spec)
    await rt.start_container(sandbox, sh("fail", 'echo "$GREETING $(cat /data/in.txt) $(pwd)"; exit 3',
                                         env=(("GREETING", "hi"),), working_dir="/tmp",
                                         mounts=(Mount(str(tmp_path), "/data", read_only=True),),
                                         cpu_millis=500, memory_bytes=64 << 20))
    failed = await wait_exited(rt, sandbox, "fail")
    assert (failed.exit_code, failed.reason) == (3, "Error")
    assert failed.started_at is not None and failed.finished_at is not None
    assert failed.finished_at >= failed.started_at > time.time() - 60
    assert await read_logs(rt, spec.uid, "fail") == b"hi from-host /tmp\n"
    assert not rt.notes, "this host accepts cpu and memory limits"
    await rt.start_container(sandbox, sh("writer", "echo x > /data/out.txt", mounts=(Mount(str(tmp_path), "/data",
                                                                                          read_only=True),)))
    assert (await wait_exited(rt, sandbox, "writer")).exit_code != 0  # read-only mount
    assert not (tmp_path / "out.txt").exists()
    await rt.remove_sandbox(spec.uid, grace=2)


async def test_memory_limit_is_enforced(rt: PodmanRuntime) -> None:
    spec = sandbox_spec()
    sandbox = await rt.ensure_sandbox(spec)
    await rt.start_container(sandbox, sh("hog", 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived',
                                         memory_bytes=16 << 20))
    hog = await wait_exited(rt, sandbox, "hog", timeout=60)
    # killed by the kernel; Podman 4.3.1 on this cgroup-v1 host reports OOMKilled=false, so the reason is
    # "OOMKilled" only where Podman says so (see test_state_mapping_from_podman_list)
    assert hog.exit_code == 137 and hog.reason in ("OOMKilled", "Error")
    assert b"survived" not in await read_logs(rt, spec.uid, "hog")
    await rt.remove_sandbox(spec.uid, grace=2)


async def test_replacing_a_container_keeps_one_previous_log(rt: PodmanRuntime, service: PodmanService) -> None:
    spec = sandbox_spec()
    sandbox = await rt.ensure_sandbox(spec)
    ids = []
    for word in ("first", "second", "third"):
        ids.append((await rt.start_container(sandbox, sh("c", f"echo {word}"))).id)
        await wait_exited(rt, sandbox, "c")
    assert len(set(ids)) == 3
    assert await read_logs(rt, spec.uid, "c") == b"third\n"
    assert await read_logs(rt, spec.uid, "c", previous=True) == b"second\n"
    names = podman_ps(service, f"raftkube.io/pod-uid={spec.uid}")
    assert sorted(n for n in names if not n.endswith("-infra")) == [
        specs.container_name(specs.pod_name("default", spec.name, spec.uid), "c"),
        specs.previous_name(specs.pod_name("default", spec.name, spec.uid), "c"),
    ]
    [state] = [s for s in await rt.list_sandboxes() if s.uid == spec.uid]
    assert [(c.name, c.id) for c in state.containers] == [("c", ids[-1])]  # the previous one is not listed
    await rt.remove_sandbox(spec.uid, grace=2)
    with pytest.raises(RuntimeError_):
        await read_logs(rt, spec.uid, "c", previous=True)


async def test_logs_tail_follow_and_cancel(rt: PodmanRuntime) -> None:
    spec = sandbox_spec()
    sandbox = await rt.ensure_sandbox(spec)
    await rt.start_container(sandbox, sh("count", "for i in 1 2 3 4 5; do echo line$i; done; sleep 1; echo line6"))
    followed = await asyncio.wait_for(read_logs(rt, spec.uid, "count", follow=True), 20)
    assert followed == b"".join(b"line%d\n" % i for i in range(1, 7))  # followed until the container exited
    assert await read_logs(rt, spec.uid, "count", tail_lines=2) == b"line5\nline6\n"
    stamped = await read_logs(rt, spec.uid, "count", tail_lines=1, timestamps=True)
    assert stamped.endswith(b"line6\n") and stamped[:2] == b"20"
    await rt.start_container(sandbox, sh("quiet", "echo ready; exec sleep 600"))
    stream = rt.logs(spec.uid, "quiet", follow=True)
    assert await asyncio.wait_for(anext(stream), 10) == b"ready\n"
    started = time.monotonic()
    await asyncio.wait_for(stream.aclose(), 5)  # a silent followed container must not hold the stream
    assert time.monotonic() - started < 2
    await rt.remove_sandbox(spec.uid, grace=2)


async def test_exec_and_missing_image(rt: PodmanRuntime) -> None:
    spec = sandbox_spec()
    sandbox = await rt.ensure_sandbox(spec)
    await rt.start_container(sandbox, sh("main", "exec sleep 600"))
    rc, output = await rt.exec(sandbox, "main", ["sh", "-c", "echo out; echo err >&2; exit 5"], timeout=10)
    assert (rc, output) == (5, b"out\nerr\n")
    with pytest.raises(RuntimeError_) as slow:
        await rt.exec(sandbox, "main", ["sleep", "3"], timeout=0.5)
    assert slow.value.reason == "DeadlineExceeded"
    with pytest.raises(ImageNotFound) as missing:
        await rt.start_container(sandbox, ContainerSpec("ghost", "localhost/raftkube/no-such-image:1"))
    assert missing.value.reason == "ErrImagePull"
    started = time.monotonic()
    await rt.stop_container(sandbox, "main", grace=10)
    assert time.monotonic() - started < 5  # init (catatonit) forwards SIGTERM: no wait for the grace period
    [state] = [s for s in await rt.list_sandboxes() if s.uid == spec.uid]
    assert state.container("main").status == "exited" and state.container("ghost") is None
    await rt.stop_container(sandbox, "main", grace=1)  # stopping again is fine
    await rt.remove_sandbox(spec.uid, grace=2)


async def test_nodes_do_not_see_each_other(rt: PodmanRuntime, service: PodmanService) -> None:
    other = PodmanRuntime(OTHER_NODE, socket_path=str(service.socket_path))
    await other.start()
    try:
        theirs = sandbox_spec(node=OTHER_NODE)
        ours = sandbox_spec()
        await other.start_container(await other.ensure_sandbox(theirs), sh("x", "exec sleep 600"))
        await rt.start_container(await rt.ensure_sandbox(ours), sh("x", "exec sleep 600"))
        assert theirs.uid not in {s.uid for s in await rt.list_sandboxes()}
        assert ours.uid in {s.uid for s in await rt.list_sandboxes()}
        assert {s.uid for s in await other.list_sandboxes()} == {theirs.uid}
        await rt.remove_sandbox(theirs.uid, grace=1)  # not ours: nothing happens
        assert {s.uid for s in await other.list_sandboxes()} == {theirs.uid}
        with pytest.raises(RuntimeError_):
            await rt.ensure_sandbox(theirs)
        await other.remove_sandbox(theirs.uid, grace=1)
        await rt.remove_sandbox(ours.uid, grace=1)
    finally:
        await other.close()


async def test_host_network_sandbox(rt: PodmanRuntime) -> None:
    port = free_port()  # a free port on the host's loopback
    spec = SandboxSpec(uid=str(uuid.uuid4()), namespace="default", name="hostnet", node=NODE, pod_ip="127.0.0.1",
                       host_network=True, ports=(port,))
    sandbox = await rt.ensure_sandbox(spec)
    await rt.start_container(sandbox, ContainerSpec("web", IMAGE, command=("httpd",),
                                                    args=("-f", "-p", f"127.0.0.1:{port}", "-h", "/www")))
    deadline = time.monotonic() + 10
    async with httpx.AsyncClient(timeout=2) as http:
        while True:  # bounded polling: nothing tells us when httpd listens
            try:
                response = await http.get(f"http://127.0.0.1:{port}/")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "httpd in the host-network pod never answered"
                await asyncio.sleep(0.1)
    assert "Hello from raftkube" in response.text
    await rt.remove_sandbox(spec.uid, grace=2)


async def test_failed_sandbox_leaves_no_pod_behind(rt: PodmanRuntime, service: PodmanService) -> None:
    first = sandbox_spec(ports=(8082,))
    await rt.ensure_sandbox(first)
    clash = SandboxSpec(uid=str(uuid.uuid4()), namespace="default", name="clash", node=NODE, pod_ip=first.pod_ip,
                        ports=(8082,))  # the same pod_ip:port cannot be published twice
    with pytest.raises(RuntimeError_) as failed:
        await rt.ensure_sandbox(clash)
    assert failed.value.reason == "CreatePodSandboxError"
    assert podman_cli(service, "pod", "ps", "-q", "--filter", f"label=raftkube.io/pod-uid={clash.uid}") == []
    assert {first.uid} <= {s.uid for s in await rt.list_sandboxes()}
    await rt.remove_sandbox(first.uid, grace=1)


async def test_remove_sandbox_removes_everything(rt: PodmanRuntime, service: PodmanService) -> None:
    spec = sandbox_spec(ports=(8081,))
    sandbox = await rt.ensure_sandbox(spec)
    await rt.start_container(sandbox, sh("a", "exec sleep 600"))
    await rt.start_container(sandbox, sh("b", "exit 1"))
    await rt.start_container(sandbox, sh("b", "exit 2"))  # leaves a previous instance too
    assert podman_ps(service, f"raftkube.io/pod-uid={spec.uid}")
    started = time.monotonic()
    await rt.remove_sandbox(spec.uid, grace=10)
    assert time.monotonic() - started < 8
    assert podman_ps(service, f"raftkube.io/pod-uid={spec.uid}") == []
    assert podman_cli(service, "pod", "ps", "-q", "--filter", f"label=raftkube.io/pod-uid={spec.uid}") == []
    assert spec.uid not in {s.uid for s in await rt.list_sandboxes()}
    await rt.remove_sandbox(spec.uid, grace=1)  # idempotent


async def test_restarted_agent_adopts_running_sandbox(rt: PodmanRuntime, service: PodmanService) -> None:
    spec = sandbox_spec(ports=(8080,))
    sandbox = await rt.ensure_sandbox(spec)
    web = await rt.start_container(sandbox, ContainerSpec("web", IMAGE, command=("httpd",),
                                                          args=("-f", "-p", "8080", "-h", "/www")))
    await rt.close()
    restarted = PodmanRuntime(NODE, socket_path=str(service.socket_path))
    await restarted.start()
    try:
        [adopted] = [s for s in await restarted.list_sandboxes() if s.uid == spec.uid]
        assert (adopted.id, adopted.pod_ip, adopted.namespace, adopted.name) == (
            sandbox.id, spec.pod_ip, "default", spec.name)
        assert [(c.name, c.id, c.status) for c in adopted.containers] == [("web", web.id, "running")]
        assert adopted.containers[0].labels[CONTAINER_NAME_LABEL] == "web"
        assert await restarted.ensure_sandbox(spec) == adopted
        await restarted.remove_sandbox(spec.uid, grace=2)
    finally:
        await restarted.close()
