"""The hollow runtime on its own: ownership by node label, replacement, crash/exec hooks, logs."""

from __future__ import annotations

import pytest

from raftkube.node.hollow_runtime import HollowMachine, HollowRuntime
from raftkube.node.runtime import ContainerSpec, ImageNotFound, RuntimeError_, SandboxSpec


async def test_hollow_runtime_contract() -> None:
    machine = HollowMachine()
    rt, other = HollowRuntime("n1", machine), HollowRuntime("n2", machine)
    sandbox = await rt.ensure_sandbox(SandboxSpec("u1", "ns", "p", "n1", "127.98.1.2", ports=(80,)))
    assert (await rt.ensure_sandbox(SandboxSpec("u1", "ns", "p", "n1", "127.98.1.2"))).id == sandbox.id
    assert await other.list_sandboxes() == []
    with pytest.raises(RuntimeError_):
        await other.ensure_sandbox(SandboxSpec("u1", "ns", "p", "n2", "127.98.1.3"))
    await other.remove_sandbox("u1", 0)  # not its own: untouched
    assert [s.uid for s in await rt.list_sandboxes()] == ["u1"]

    first = await rt.start_container(sandbox, ContainerSpec("app", "busybox:1", labels=(("k", "v"),)))
    assert first.status == "running" and first.labels["k"] == "v"
    with pytest.raises(ImageNotFound) as err:
        await rt.start_container(sandbox, ContainerSpec("app", "missing/image:1"))
    assert err.value.reason == "ErrImagePull"
    assert await rt.exec(sandbox, "app", ["true"], 1) == (0, b"")
    rt.set_exec_result("u1", "app", 3)
    assert (await rt.exec(sandbox, "app", ["true"], 1))[0] == 3
    rt.crash("u1", "app", 5)
    state = (await rt.list_sandboxes())[0].container("app")
    assert state is not None and state.status == "exited" and state.exit_code == 5 and state.reason == "Error"
    with pytest.raises(RuntimeError_):
        await rt.exec(sandbox, "app", ["true"], 1)

    second = await rt.start_container(sandbox, ContainerSpec("app", "busybox:1"))
    assert second.id != first.id and rt.started_containers == 2
    logs = b"".join([chunk async for chunk in rt.logs("u1", "app")])
    assert b"hollow" in logs and second.id[:12].encode() in logs
    previous = b"".join([chunk async for chunk in rt.logs("u1", "app", previous=True)])
    assert first.id[:12].encode() in previous
    assert [chunk async for chunk in rt.logs("u1", "app", tail_lines=0)] == []
    with pytest.raises(RuntimeError_):
        [chunk async for chunk in rt.logs("u1", "nope")]

    follow = rt.logs("u1", "app", follow=True)
    assert b"hollow" in await anext(follow)
    await rt.stop_container(sandbox, "app", 1)
    assert [chunk async for chunk in follow] == []  # ends once the container stopped
    await rt.remove_sandbox("u1", 0)
    assert await rt.list_sandboxes() == [] and machine.sandboxes == {}


async def test_each_node_lists_its_own_sandboxes_from_the_machines_index() -> None:
    machine = HollowMachine()
    runtimes = {f"n{i}": HollowRuntime(f"n{i}", machine) for i in range(3)}
    for i in range(30):
        node = f"n{i % 3}"
        await runtimes[node].ensure_sandbox(SandboxSpec(f"u{i}", "ns", f"p{i}", node, f"127.98.2.{i + 1}"))
    for node, rt in runtimes.items():
        assert sorted(s.uid for s in await rt.list_sandboxes()) == sorted(
            f"u{i}" for i in range(30) if f"n{i % 3}" == node)
    await runtimes["n1"].remove_sandbox("u1", 0)
    await runtimes["n0"].remove_sandbox("u1", 0)  # another node's: untouched, and no error
    assert "u1" not in machine.sandboxes and "u1" not in machine.by_node["n1"]
    assert len(await runtimes["n1"].list_sandboxes()) == 9 and len(machine.of_node("n0")) == 10
