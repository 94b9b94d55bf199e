"""What the StatefulSet and PersistentVolume kubectl tests share: a 3-replica control plane with its
controllers and two hollow node agents (pods run and turn Ready without containers; claim volumes are
real directories under each node's storage dir), kubectl on a namespace of the test's own, and
small readers of kubectl's output."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from raftkube.local.nodes import LocalNodes

from .cluster import E2ECluster, Kubectl, parse_table

Obj = dict[str, Any]


def free_port_pair() -> int:
    """A port p with p and p + 1 free on 127.0.0.1 (the two agents' log servers)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no two consecutive free ports")


@contextlib.contextmanager
def cluster_with_nodes(base: Path) -> Iterator[tuple[E2ECluster, LocalNodes]]:
    e2e = E2ECluster(base, controllers=True)
    e2e.plane.extra_args = ["--log-level", os.environ.get("RAFTKUBE_TEST_LOG_LEVEL", "warning")]
    nodes = LocalNodes(str(base / "nodes"), str(base / "admin.kubeconfig"), count=2, runtime="fake",
                       agent_base_port=free_port_pair())
    nodes.provision(e2e.plane)
    try:
        e2e.start()
        e2e.write_kubeconfig(base / "admin.kubeconfig", 0)
        nodes.start_agents()
        yield e2e, nodes
    finally:
        for process in nodes.processes:
            process.send_signal(signal.SIGTERM)
        for process in nodes.processes:
            try:
                process.wait(10)
            except Exception:
                process.kill()
        e2e.close()


def rows(k: Kubectl, *args: str) -> dict[str, dict[str, str]]:
    """`kubectl get ...` as rows by NAME (a two-word header such as ACCESS MODES is keyed by its first word)."""
    return {row["NAME"]: row for row in parse_table(k("get", *args))}


def live_pods(k: Kubectl, selector: str) -> dict[str, Obj]:
    pods = k.json("get", "pods", "-l", selector, "-o", "json")["items"]
    return {p["metadata"]["name"]: p for p in pods if not p["metadata"].get("deletionTimestamp")}


def is_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in pod["status"].get("conditions") or [])


def ready_since(pod: Obj) -> str:
    return next(c["lastTransitionTime"] for c in pod["status"]["conditions"] if c["type"] == "Ready")
