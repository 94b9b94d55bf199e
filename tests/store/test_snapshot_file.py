"""Backup files and restore, in one process: the file's checks, the rebuilt state, the restored dump.

The process-level save/restore of a 3-replica cluster under load is in test_backup_cluster.py.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
from pathlib import Path
from typing import Any

import httpx
import pytest

from raftkube.local.store_cluster import free_port
from raftkube.store import CompactedError, ReplicaConfig, StoreReplica
from raftkube.store.backup_state import RecordReader, capture, encode, rebuild
from raftkube.store.http_server import build_app
from raftkube.store.mvcc import KVStateMachine
from raftkube.store.replica import CannotStart
from raftkube.store.restore import DUMP_NAME, RestoreRefused, dump_bytes, parse_initial_cluster, restore
from raftkube.store.snapshot_file import HEADER_BYTES, BadSnapshotFile, SnapshotWriter, read, verify


def sample_state() -> KVStateMachine:
    sm = KVStateMachine()
    lease = sm.apply({"t": "grant", "ttl": 600}).result
    short = sm.apply({"t": "grant", "ttl": 30}).result
    for i in range(300):
        sm.apply({"t": "txn", "ok": [["put", b"/k/%04d" % i, os.urandom(i % 50), lease.id if i % 7 == 0 else 0,  # type: ignore[union-attr]
                                      False]]})
    sm.apply({"t": "txn", "ok": [["put", b"/k/0003", b"again", short.id, False]]})  # type: ignore[union-attr]
    sm.apply({"t": "keepalive", "id": lease.id})  # type: ignore[union-attr]
    sm.apply({"t": "txn", "ok": [["del", b"/k/0010", b"/k/0020", False], ["put", b"/last", b"x", 0, False]]})
    return sm


def save(sm: KVStateMachine, path: Path) -> None:
    writer = SnapshotWriter(str(path))
    for chunk in encode(capture(sm)):
        writer.write(chunk)
    writer.commit()


def state_of(sm: KVStateMachine) -> tuple[Any, ...]:
    return (sm.revision, list(sm.kv.items()), {i: (lr.ttl, sorted(lr.keys)) for i, lr in sm.leases.items()},
            sm.next_lease_id)


def test_save_then_read_gives_the_same_state_compacted_at_its_revision(tmp_path: Path) -> None:
    sm = sample_state()
    path = tmp_path / "snap.db"
    save(sm, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["snap.db"], "the temporary file was left behind"
    info, records = read(str(path), keep_keys=True)
    assert (info.revision, info.keys, info.leases) == (sm.revision, len(sm.kv), 2)
    assert records.meta is not None
    restored = rebuild(records.meta, records.kvs)
    assert state_of(restored) == state_of(sm)
    assert all(lr.renewals == 0 for lr in restored.leases.values()), "a restored lease's countdown starts again"
    assert restored.compact_revision == sm.revision
    with pytest.raises(CompactedError):
        restored.events_since(sm.revision - 1, b"\0", b"\0")
    last = restored.events_since(sm.revision, b"\0", b"\0")  # the backup's own revision is still watchable
    assert last == sm.events_since(sm.revision, b"\0", b"\0") and len(last) == 11
    restored.apply({"t": "txn", "ok": [["put", b"/after", b"y", 0, False]]})
    assert restored.revision == sm.revision + 1


def test_a_damaged_or_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "snap.db"
    save(sample_state(), path)
    good = path.read_bytes()
    cases = {
        "flipped": good[:HEADER_BYTES + 500] + bytes([good[HEADER_BYTES + 500] ^ 1]) + good[HEADER_BYTES + 501:],
        "truncated": good[:-10],
        "longer": good + b"\0",
        "no header": good[HEADER_BYTES:],
        "empty": b"",
    }
    for name, data in cases.items():
        bad = tmp_path / f"{name}.db"
        bad.write_bytes(data)
        with pytest.raises(BadSnapshotFile) as err:
            verify(str(bad))
        assert str(bad) in str(err.value), name
    assert "checksum mismatch" in str(pytest.raises(BadSnapshotFile, verify, str(tmp_path / "flipped.db")).value)
    assert "truncated" in str(pytest.raises(BadSnapshotFile, verify, str(tmp_path / "truncated.db")).value)


def test_a_stream_cut_short_leaves_no_file(tmp_path: Path) -> None:
    chunks = list(encode(capture(sample_state())))
    writer = SnapshotWriter(str(tmp_path / "snap.db"))
    writer.write(chunks[0][:-7])
    with pytest.raises(ValueError, match="truncated"):
        writer.commit()
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_restore_refuses_a_non_empty_data_dir_and_bad_flags(tmp_path: Path) -> None:
    path = tmp_path / "snap.db"
    save(sample_state(), path)
    used = tmp_path / "used"
    used.mkdir()
    (used / "raft.journal").write_bytes(b"x")
    cluster = "a=127.0.0.1:7001,b=127.0.0.1:7002"
    with pytest.raises(RestoreRefused, match="not an empty directory"):
        restore(str(path), str(used), "a", cluster)
    with pytest.raises(RestoreRefused, match="--name 'c'"):
        restore(str(path), str(tmp_path / "new"), "c", cluster)
    for bad in ("a=127.0.0.1", "a:7001", "a=127.0.0.1:7001,a=127.0.0.1:7002", "a=h:1,b=h:1", ""):
        with pytest.raises(RestoreRefused, match="--initial-cluster"):
            parse_initial_cluster(bad)
    assert not (tmp_path / "new").exists()
    target = tmp_path / "new"
    restore(str(path), str(target), "b", cluster)
    assert os.stat(target).st_mode & 0o777 == 0o700
    assert os.stat(target / DUMP_NAME).st_mode & 0o777 == 0o600


class RecordingUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.classes: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.classes.add(f"{module}.{name}")
        return super().find_class(module, name)


def test_every_member_gets_the_same_dump_of_state_machine_objects_only() -> None:
    sm = sample_state()
    members = ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]
    unpickler = RecordingUnpickler(gzip.decompress(dump_bytes(sm, members)))
    data, last, previous, cluster = unpickler.load()
    # pysyncobj.pickle writes protocol 2: sets and bytes go through __builtin__.set and _codecs.encode
    assert unpickler.classes == {"raftkube.store.mvcc.KVStateMachine", "raftkube.store.mvcc.LeaseRecord",
                                 "sortedcontainers.sorteddict.SortedDict", "collections.OrderedDict",
                                 "pysyncobj.node.TCPNode", "__builtin__.set", "__builtin__.bytes", "_codecs.encode"}
    other = pickle.loads(gzip.decompress(dump_bytes(sm, list(reversed(members)))))
    assert (other[1:3], state_of(other[0][1]["sm"]), other[3]) == ((last, previous), state_of(data[1]["sm"]), cluster)
    assert (previous[1:], last[1:]) == ((2, 0), (3, 0))
    assert sorted(n.id for n in cluster) == members
    assert state_of(data[1]["sm"]) == state_of(sm)


async def test_a_replica_started_on_a_restored_dir_serves_the_backup(tmp_path: Path) -> None:
    sm = sample_state()
    path = tmp_path / "snap.db"
    save(sm, path)
    addr = f"127.0.0.1:{free_port()}"
    restore(str(path), str(tmp_path / "member"), "only", f"only={addr}")
    replica = StoreReplica(ReplicaConfig(addr, [], data_dir=str(tmp_path / "member"), password="test"))
    await replica.start()
    try:
        await replica.wait_ready(15)
        result = await replica.range(b"\0", b"\0")
        assert result.revision == sm.revision
        assert [(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease) for kv in result.kvs] == \
            [(k, *v) for k, v in sm.kv.items()]
        assert {x.id: (x.ttl, x.keys) for x in await replica.leases()} == \
            {x.id: (x.ttl, x.keys) for x in sm.lease_list()}
        written = await replica.execute({"t": "txn", "ok": [["put", b"/after", b"y", 0, False]]})
        assert written.revision == sm.revision + 1  # type: ignore[union-attr]
        with pytest.raises(CompactedError):
            replica.watch(b"\0", b"\0", start_revision=sm.revision - 1)
    finally:
        await replica.stop()


async def test_a_replica_refuses_a_dir_restored_for_another_member(tmp_path: Path) -> None:
    path = tmp_path / "snap.db"
    save(sample_state(), path)
    mine, theirs = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    restore(str(path), str(tmp_path / "a"), "a", f"a={mine},b={theirs}")
    replica = StoreReplica(ReplicaConfig(theirs, [mine], data_dir=str(tmp_path / "a"), password="test"))
    with pytest.raises(CannotStart, match=f"restored for member a at {mine}.*--raft-addr {mine}"):
        await replica.start()


async def test_the_snapshot_endpoint_needs_the_token_and_streams_the_current_state() -> None:
    replica = StoreReplica(ReplicaConfig(f"127.0.0.1:{free_port()}", [], data_dir=None, password="test"))
    await replica.start()
    try:
        await replica.wait_ready(30)
        for i in range(50):
            await replica.execute({"t": "txn", "ok": [["put", b"/k/%02d" % i, b"v" * i, 0, False]]})
        transport = httpx.ASGITransport(app=build_app(replica, token="sesame"))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://store") as http:
            refused = await http.get("/v1/snapshot", headers={"authorization": "Bearer wrong"})
            assert refused.status_code == 401
            response = await http.get("/v1/snapshot", headers={"authorization": "Bearer sesame"})
        assert response.status_code == 200
        records = RecordReader(keep=True)
        records.feed(response.content)
        meta = records.finish()
        assert meta["revision"] == replica.sm.revision == 51
        assert records.kvs == list(replica.sm.kv.items())
    finally:
        await replica.stop()
