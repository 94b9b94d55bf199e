"""A replica that cannot listen on its Raft address fails start-up, naming the address, instead of
running cut off from its peers for ever (PySyncObj alone retries the bind silently)."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from raftkube.local.store_cluster import free_port
from raftkube.secure_files import write_private
from raftkube.store import RaftTuning, ReplicaConfig, StoreReplica
from raftkube.store.replica import CannotListen


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another socket listens on for the whole test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


async def test_start_fails_when_the_raft_port_is_taken(taken_port: int, tmp_path: Path) -> None:
    config = ReplicaConfig(f"127.0.0.1:{taken_port}", [f"127.0.0.1:{free_port()}"], data_dir=str(tmp_path),
                           password=secrets.token_urlsafe(16), tuning=RaftTuning(bind_retry=0.05, bind_attempts=3))
    replica = StoreReplica(config)
    with pytest.raises(CannotListen, match=f"127.0.0.1:{taken_port}.*tried 3 times"):
        await replica.start()
    assert replica.node is None  # the PySyncObj node was destroyed, no thread left ticking


def test_the_store_process_exits_1_naming_the_address(taken_port: int, tmp_path: Path) -> None:
    secret_file = write_private(str(tmp_path / "cluster-secret"), secrets.token_urlsafe(16))
    token_file = write_private(str(tmp_path / "store-token"), secrets.token_urlsafe(16))
    done = subprocess.run([sys.executable, "-m", "raftkube", "store", "--id", "s1", "--token-file", token_file,
                           "--raft-addr", f"127.0.0.1:{taken_port}", "--peers", f"127.0.0.1:{free_port()}",
                           "--http-addr", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path / "s1"),
                           "--cluster-secret-file", secret_file], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot listen on the Raft address 127.0.0.1:{taken_port}" in done.stderr
