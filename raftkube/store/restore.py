"""Restore: a new member's data dir whose Raft snapshot is a backup, for a new cluster.

PySyncObj loads `raft.snapshot` (config.py) on its first tick: a gzip'd pickle of
`(data, last_entry, previous_entry, cluster)`, where `data` is `[SyncObj attributes, one dict
per consumer]` and the entries are `(command, index, term)`. It replaces its journal by those
two entries, takes the last one as applied, sets the consumer's attributes (ours: `{"sm":
KVStateMachine}`) and takes `cluster` as the membership (which overrides --peers).

Every member restored from the same backup with the same --initial-cluster gets the same
(entries, cluster, state machine), so the members start as if each had applied the same log
up to the same index: Raft's log matching holds for those two entries (same index and term,
same content everywhere), the first leader appends at index RESTORED_INDEX + 1 and commits
from there. The entries are no-ops at indexes 2 and 3 of term 0: a member with an empty data
dir (journal: one no-op at index 1) that later joins has no entry the leader still holds, so
the leader sends it this snapshot (or a later one) instead of the no-ops, and it can never
win an election against restored members (its log is shorter).

The dump holds only objects of the state machine (KVStateMachine, LeaseRecord, SortedDict,
OrderedDict, set, bytes) and pysyncobj's TCPNode: the classes of PySyncObj's own dumps (in
pickle protocol 2, as pysyncobj.pickle writes it: the globals are raftkube.store.mvcc.
KVStateMachine/LeaseRecord, sortedcontainers.sorteddict.SortedDict, collections.OrderedDict,
pysyncobj.node.TCPNode, __builtin__.set, __builtin__.bytes and _codecs.encode).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
from dataclasses import dataclass

import pysyncobj.pickle as pysyncobj_pickle
from pysyncobj.node import TCPNode
from pysyncobj.syncobj import _COMMAND_TYPE

from ..secure_files import private_dir, write_private
from . import snapshot_file
from .backup_state import rebuild
from .mvcc import KVStateMachine

DUMP_NAME = "raft.snapshot"  # config.ReplicaConfig.syncobj_conf's fullDumpFile
MEMBER_NAME = "restored-member.json"  # who this data dir was restored for: checked at start-up
RESTORED_INDEX = 3
_NO_OP = struct.pack("B", _COMMAND_TYPE.NO_OP)


class RestoreRefused(ValueError):
    """The restore cannot go ahead (bad flags, a non-empty data dir); the message says why."""


@dataclass(frozen=True)
class Member:
    name: str
    raft_addr: str


def parse_initial_cluster(value: str) -> list[Member]:
    """`NAME=HOST:PORT,...` (etcd's --initial-cluster) as members; names and addresses unique."""
    members = []
    for item in (x.strip() for x in value.split(",") if x.strip()):
        name, sep, addr = item.partition("=")
        host, colon, port = addr.rpartition(":")
        if not sep or not name or not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RestoreRefused(f"--initial-cluster: {item!r} is not NAME=HOST:PORT")
        members.append(Member(name, addr))
    if not members:
        raise RestoreRefused("--initial-cluster: no member given")
    for attr in ("name", "raft_addr"):
        values = [getattr(m, attr) for m in members]
        if len(set(values)) != len(values):
            raise RestoreRefused(f"--initial-cluster: a {attr.replace('_', ' ')} appears twice")
    return members


def dump_bytes(sm: KVStateMachine, cluster: list[str]) -> bytes:
    """PySyncObj's full dump of a RaftNode whose one consumer (KVConsumer) holds `sm`."""
    previous, last = (_NO_OP, RESTORED_INDEX - 1, 0), (_NO_OP, RESTORED_INDEX, 0)
    data = [{}, {"sm": sm}]
    nodes = {TCPNode(addr) for addr in cluster}
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as g:
        pysyncobj_pickle.dump((data, last, previous, nodes), g)
    return out.getvalue()


def restore(snapshot_path: str, data_dir: str, name: str, initial_cluster: str) -> tuple[snapshot_file.SnapshotInfo,
                                                                                          Member]:
    """Verify the backup and create `data_dir` (0700, new or empty) holding member `name`'s dump."""
    members = parse_initial_cluster(initial_cluster)
    me = next((m for m in members if m.name == name), None)
    if me is None:
        raise RestoreRefused(f"--name {name!r} is not one of the --initial-cluster names "
                             f"({', '.join(m.name for m in members)})")
    if os.path.exists(data_dir) and (not os.path.isdir(data_dir) or os.listdir(data_dir)):
        raise RestoreRefused(f"--data-dir {data_dir} exists and is not an empty directory; "
                             "restore creates a new member's data dir")
    info, records = snapshot_file.read(snapshot_path, keep_keys=True)
    assert records.meta is not None
    sm = rebuild(records.meta, records.kvs)
    dump = dump_bytes(sm, [m.raft_addr for m in members])
    private_dir(data_dir)
    write_private(os.path.join(data_dir, MEMBER_NAME), json.dumps({
        "name": me.name, "raft_addr": me.raft_addr, "initial_cluster": [m.raft_addr for m in members],
        "revision": info.revision, "snapshot_sha256": info.sha256}, indent=2) + "\n")
    write_private(os.path.join(data_dir, DUMP_NAME), dump)
    return info, me


def check_restored_member(data_dir: str | None, raft_addr: str) -> None:
    """Refuse to start a replica on a dir restored for another member: with an address that is not
    its own in the restored membership, it would count itself as a fifth wheel, and a quorum wrong."""
    if data_dir is None or not os.path.exists(os.path.join(data_dir, MEMBER_NAME)):
        return
    with open(os.path.join(data_dir, MEMBER_NAME)) as f:
        member = json.load(f)
    if member["raft_addr"] != raft_addr:
        raise RestoreRefused(f"{data_dir} was restored for member {member['name']} at {member['raft_addr']} "
                             f"(--initial-cluster {','.join(member['initial_cluster'])}); this replica's raft "
                             f"address is {raft_addr}: start it with --raft-addr {member['raft_addr']}")
