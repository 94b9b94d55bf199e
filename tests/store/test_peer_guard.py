"""peer_guard in process: the restricted loader, the bounded read loop, fail-closed decoding, and
the cluster secret being required (ReplicaConfig, `raftkube server`, `raftkube store`).

(tests/store/test_peer_security.py attacks a running cluster; the rest of tests/store is the
proof that real PySyncObj traffic, journals and snapshots load through the restricted loader.)
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import secrets
import socket
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pysyncobj.journal
import pysyncobj.serializer
import pysyncobj.syncobj
import pysyncobj.tcp_connection
import pytest
from click.testing import CliRunner
from pysyncobj.node import TCPNode
from pysyncobj.tcp_connection import CONNECTION_STATE, TcpConnection

from raftkube.cli.server import server
from raftkube.cli.store import store
from raftkube.secure_files import write_private
from raftkube.store import ReplicaConfig, StoreReplica, peer_guard
from raftkube.store.config import MissingClusterSecret
from raftkube.store.mvcc import KVStateMachine, LeaseRecord
from raftkube.store.peer_cipher import PeerCipher
from raftkube.store.raft_node import encode_command

from .test_peer_security import CreatesFile


def test_the_restricted_loader_refuses_code_that_plain_pickle_would_run(tmp_path: Path) -> None:
    evil = pickle.dumps(CreatesFile(str(tmp_path / "by-pickle")), protocol=2)
    pickle.loads(evil).close()
    assert (tmp_path / "by-pickle").exists()  # what PySyncObj's own loads did with such a message

    evil = pickle.dumps(CreatesFile(str(tmp_path / "by-guard")), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="io.open is not allowed"):
        peer_guard.loads(evil)
    with pytest.raises(pickle.UnpicklingError):
        peer_guard.load(io.BytesIO(evil))
    assert not (tmp_path / "by-guard").exists()
    for gadget in (os.system, subprocess.Popen, eval, exec, getattr, __import__):
        with pytest.raises(pickle.UnpicklingError):
            peer_guard.loads(pickle.dumps(gadget, protocol=2))


def test_every_pickle_load_in_pysyncobj_goes_through_the_guard() -> None:
    for module in (pysyncobj.tcp_connection, pysyncobj.syncobj, pysyncobj.serializer):
        assert module.pickle.loads is peer_guard.loads and module.pickle.load is peer_guard.load
    assert pysyncobj.journal.loads is peer_guard.loads


def test_what_pysyncobj_sends_and_stores_loads() -> None:
    dumps = pysyncobj.tcp_connection.pickle.dumps
    entries = [(b"\x00" + dumps(encode_command({"t": "noop"})), 7, 2), (b"\xff" * 300, 8, 2)]
    message = {"type": "append_entries", "term": 2, "commit_index": 6, "entries": entries, "prevLogIdx": 6,
               "prevLogTerm": 2, "b": b""}
    assert peer_guard.loads(dumps((os.urandom(32), message)))[1] == message
    membership = dumps(["add", "127.0.0.1:7004", TCPNode("127.0.0.1:7004")])
    assert peer_guard.loads(membership)[2] == TCPNode("127.0.0.1:7004")
    sm = KVStateMachine()
    sm.apply({"t": "grant", "ttl": 30, "id": 5})
    sm.leases[5] = LeaseRecord(30, 1, {b"/a"})
    snapshot = io.BytesIO()
    with gzip.GzipFile(fileobj=snapshot, mode="wb") as g:
        pysyncobj.serializer.pickle.dump(({"state": {1, 2}}, {"sm": sm}), g)
    with gzip.GzipFile(fileobj=io.BytesIO(snapshot.getvalue())) as g:
        loaded = peer_guard.load(g)
    assert loaded[1]["sm"].leases[5].keys == {b"/a"} and loaded[0]["state"] == {1, 2}


class StubPoller:
    def subscribe(self, *args: Any) -> None:
        pass

    def unsubscribe(self, *args: Any) -> None:
        pass


@pytest.fixture
def pair() -> Iterator[tuple[TcpConnection, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    conn = TcpConnection(StubPoller(), socket=ours, recvBufferSize=2**16)
    conn.encryptor = PeerCipher("s3cret")
    yield conn, theirs
    conn.disconnect()
    theirs.close()


def buffered(conn: TcpConnection) -> bytes:
    return conn._TcpConnection__readBuffer  # type: ignore[attr-defined, no-any-return]


def read(conn: TcpConnection) -> None:
    conn._TcpConnection__tryReadBuffer()  # type: ignore[attr-defined]


def parse(conn: TcpConnection) -> Any:
    return conn._TcpConnection__processParseMessage()  # type: ignore[attr-defined]


def test_reading_stops_at_one_frame_however_much_the_peer_sends(pair: tuple[TcpConnection, socket.socket]) -> None:
    conn, theirs = pair
    cap = peer_guard.MAX_FRAME_BYTES
    flood = threading.Thread(target=lambda: _send_quietly(theirs, struct.pack("i", cap) + b"\0" * (3 * cap)))
    flood.start()
    deadline = time.monotonic() + 30
    most = 0
    while len(buffered(conn)) < 4 + cap and time.monotonic() < deadline:
        read(conn)
        most = max(most, len(buffered(conn)))
    for _ in range(20):  # the peer keeps sending; we do not read on
        read(conn)
        most = max(most, len(buffered(conn)))
    assert 4 + cap <= most <= 4 + cap + 2**16
    assert parse(conn) is None and conn.state == CONNECTION_STATE.DISCONNECTED  # not a valid token: dropped
    flood.join(10)


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass  # we closed it


@pytest.mark.parametrize("declared", [peer_guard.MAX_FRAME_BYTES + 1, -5])
def test_a_bad_length_disconnects_at_the_header(pair: tuple[TcpConnection, socket.socket], declared: int) -> None:
    conn, theirs = pair
    theirs.sendall(struct.pack("i", declared))
    read(conn)
    assert conn.state == CONNECTION_STATE.DISCONNECTED


def test_without_a_secret_nothing_is_decoded(pair: tuple[TcpConnection, socket.socket]) -> None:
    conn, theirs = pair
    conn.encryptor = None
    theirs.sendall(struct.pack("i", 30) + zlib.compress(pickle.dumps("127.0.0.1:7001", protocol=2)).ljust(30, b"\0"))
    read(conn)
    assert parse(conn) is None and conn.state == CONNECTION_STATE.DISCONNECTED


def test_a_message_that_inflates_past_the_limit_is_dropped(pair: tuple[TcpConnection, socket.socket]) -> None:
    conn, theirs = pair
    bomb = zlib.compress(b"\0" * (peer_guard.MAX_MESSAGE_BYTES + 1), 9)
    theirs.sendall(_sealed(bomb))
    read(conn)
    assert parse(conn) is None and conn.state == CONNECTION_STATE.DISCONNECTED


def test_a_sealed_message_from_a_peer_with_the_secret_is_decoded(pair: tuple[TcpConnection, socket.socket]) -> None:
    conn, theirs = pair
    theirs.sendall(_sealed(zlib.compress(pickle.dumps({"type": "ping", "n": 1}, protocol=2))))
    read(conn)
    assert parse(conn) == {"type": "ping", "n": 1} and conn.state == CONNECTION_STATE.CONNECTED


def _sealed(compressed: bytes) -> bytes:
    token = PeerCipher("s3cret").encrypt_at_time(compressed, int(time.monotonic()))
    return struct.pack("i", len(token)) + token


def test_install_refuses_a_pysyncobj_without_the_methods_it_replaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(TcpConnection, "_TcpConnection__processParseMessage")
    with pytest.raises(RuntimeError, match="PySyncObj changed: _TcpConnection__processParseMessage"):
        peer_guard.install()


async def test_a_replica_without_a_secret_does_not_start() -> None:
    replica = StoreReplica(ReplicaConfig("127.0.0.1:1", []))
    with pytest.raises(MissingClusterSecret, match="cluster secret is required"):
        await replica.start()
    assert replica.node is None


SERVER_ARGS = ["--raft-addr", "127.0.0.1:1", "--api-addr", "127.0.0.1:1"]
STORE_ARGS = ["--raft-addr", "127.0.0.1:1", "--http-addr", "127.0.0.1:1"]


@pytest.mark.parametrize("command,args", [(server, SERVER_ARGS), (store, STORE_ARGS)], ids=["server", "store"])
def test_the_commands_refuse_to_run_without_a_safe_secret_file(command: Any, args: list[str], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAFTKUBE_CLUSTER_SECRET_FILE", raising=False)
    missing = CliRunner().invoke(command, args)
    assert missing.exit_code == 2 and "--cluster-secret-file is required" in missing.output

    readable = tmp_path / "cluster-secret"
    readable.write_text(secrets.token_urlsafe(16))
    readable.chmod(0o644)
    for run in ([*args, "--cluster-secret-file", str(readable)], args):
        monkeypatch.setenv("RAFTKUBE_CLUSTER_SECRET_FILE", str(readable))  # the env var is read too
        refused = CliRunner().invoke(command, run)
        assert refused.exit_code == 2, refused.output
        assert "--cluster-secret-file" in refused.output and "chmod 600" in refused.output

    empty = write_private(str(tmp_path / "empty-secret"), "")
    refused = CliRunner().invoke(command, [*args, "--cluster-secret-file", empty])
    assert refused.exit_code == 2 and "is empty" in refused.output

    value_flag = CliRunner().invoke(command, [*args, "--cluster-secret", "visible-in-ps"])
    assert value_flag.exit_code == 2 and "No such option" in value_flag.output
