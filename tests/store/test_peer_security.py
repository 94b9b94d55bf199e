"""Attacks on a running cluster's Raft port: it fails closed and the cluster keeps committing.

One 3-replica `LocalCluster` (real processes on 127.0.0.1) for the module. Each test talks raw
TCP to a replica's Raft port the way PySyncObj frames messages (native int length, then the
zlib-compressed pickle, encrypted when a secret is set), then checks that a write commits.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import select
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from raftkube.local.store_cluster import LocalCluster
from raftkube.secure_files import read_secret
from raftkube.store.http_client import HttpClient
from raftkube.store.peer_cipher import PeerCipher
from raftkube.store.peer_guard import HANDSHAKE_TIMEOUT, MAX_UNKNOWN_CONNECTIONS

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


class CreatesFile:
    """Unpickling this opens (creates) `path` for writing: code run by whoever loads it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(str(tmp_path_factory.mktemp("peer-security")))
    local.start()
    try:
        yield local
    finally:
        local.close()


@pytest.fixture
async def client(cluster: LocalCluster) -> AsyncIterator[HttpClient]:
    http = cluster.client()
    yield http
    await http.close()


async def commits(client: HttpClient, key: bytes) -> None:
    revision, _ = await asyncio.wait_for(client.put(key, b"still committing"), 10)
    assert revision > 1
    got = await client.range(key)
    assert [kv.value for kv in got.kvs] == [b"still committing"]


def raft_socket(cluster: LocalCluster, i: int = 0) -> socket.socket:
    host, port = cluster.replicas[i].raft_addr.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=5)


def frame(payload: bytes) -> bytes:
    return struct.pack("i", len(payload)) + payload


def seal(cipher: PeerCipher, message: Any) -> bytes:
    return frame(cipher.encrypt_at_time(zlib.compress(pickle.dumps(message, protocol=2)), int(time.monotonic())))


def read_frame(sock: socket.socket) -> bytes:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "connection closed mid-frame"
            data += chunk
        return data
    (length,) = struct.unpack("i", exactly(4))
    return exactly(length)


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """True once the server closed `sock` (EOF or reset), False if still open after `timeout` s."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if readable:
            try:
                if not sock.recv(65536):
                    return True
            except ConnectionResetError:
                return True
    return False


def refusals_logged(cluster: LocalCluster) -> str:
    return "".join(Path(cluster.base_dir, f"{r.name}.log").read_text(errors="replace") for r in cluster.replicas)


async def test_an_unencrypted_code_pickle_runs_nothing_and_is_dropped(cluster: LocalCluster, client: HttpClient,
                                                                     tmp_path: Path) -> None:
    target = tmp_path / "pwned-plain"
    with raft_socket(cluster) as sock:
        sock.sendall(frame(zlib.compress(pickle.dumps(CreatesFile(str(target)), protocol=2))))
        assert closed_by_server(sock, 5)
    assert not target.exists()
    await commits(client, b"/after/plain-pickle")


async def test_an_authenticated_peers_code_pickle_is_refused(cluster: LocalCluster, client: HttpClient,
                                                             tmp_path: Path) -> None:
    """A peer holding the real secret completes PySyncObj's key exchange, then sends a code pickle."""
    cipher = PeerCipher(read_secret(cluster.secret_file))
    first, later = tmp_path / "pwned-first", tmp_path / "pwned-after-handshake"
    with raft_socket(cluster) as sock:  # as its very first message
        sock.sendall(seal(cipher, CreatesFile(str(first))))
        assert closed_by_server(sock, 5)
    with raft_socket(cluster, 1) as sock:  # after the handshake, inside the connection's key
        my_key = os.urandom(32)
        sock.sendall(seal(cipher, my_key))
        echoed, server_key = pickle.loads(zlib.decompress(cipher.decrypt(read_frame(sock))))
        assert echoed == my_key  # we are authenticated: the server answered with its key
        sock.sendall(seal(cipher, (server_key, CreatesFile(str(later)))))
        assert closed_by_server(sock, 5)
    assert not first.exists() and not later.exists()
    assert "refused to unpickle io.open" in refusals_logged(cluster)
    await commits(client, b"/after/authenticated-pickle")


@pytest.mark.parametrize("declared", [2**31 - 1, 64 * 1024 * 1024, -1])
async def test_a_frame_header_out_of_range_disconnects_before_any_body(cluster: LocalCluster, client: HttpClient,
                                                                       declared: int) -> None:
    with raft_socket(cluster) as sock:
        sock.sendall(struct.pack("i", declared))  # the header alone: the server must not wait for 2 GiB
        assert closed_by_server(sock, 5)
        with pytest.raises(OSError):  # nothing more gets in (the peer reset the connection)
            for _ in range(64):
                sock.sendall(b"\0" * 65536)
                time.sleep(0.01)
    await commits(client, f"/after/header-{declared}".encode())


async def test_a_hundred_idle_strangers_neither_stall_the_cluster_nor_stay(cluster: LocalCluster,
                                                                           client: HttpClient) -> None:
    leader = cluster.leader_index()
    opened = time.monotonic()
    strangers = [raft_socket(cluster, leader) for _ in range(100)]
    try:
        for n in range(20):  # while they are all connected (the newest still within their handshake time)
            await commits(client, f"/among-strangers/{n}".encode())
        assert time.monotonic() - opened < HANDSHAKE_TIMEOUT, "the writes were too slow to overlap the strangers"
        open_now = [s for s in strangers if not closed_by_server(s, 0.01)]
        assert 0 < len(open_now) <= MAX_UNKNOWN_CONNECTIONS  # the oldest went as soon as more came
        assert all(closed_by_server(s, HANDSHAKE_TIMEOUT + 5) for s in open_now)
        assert time.monotonic() - opened >= HANDSHAKE_TIMEOUT - 0.5  # ... and the rest after their time
    finally:
        for s in strangers:
            s.close()
    await commits(client, b"/after/strangers")
