"""The backup file: a fixed-size header, then the record stream of `backup_state`.

Layout: 8 bytes of magic, a 4-byte big-endian header length, the header (a msgpack map:
format version, revision, compacted revision, key and lease counts, payload size and the
payload's sha256, creation time), zero padding up to HEADER_BYTES, then the payload. The file
is written to a temporary file (0600 from creation) in the target's directory while the
payload streams in, the header is written last, then it is fsynced and renamed into place:
a reader never sees a partial backup under the final name.

`verify` reads the header, hashes the payload and checks its size, and parses every record
(`backup_state.RecordReader`): a truncated or altered file is a `BadSnapshotFile`.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator

import msgpack

from .backup_state import BadBackup, RecordReader
from .durable_journal import fsync_dir

MAGIC = b"RKSNAP\x00\x01"
FORMAT_VERSION = 1
HEADER_BYTES = 1024
READ_BYTES = 1024 * 1024
_HEADER_FIELDS = {"format", "revision", "compact_revision", "keys", "leases", "payload_bytes", "sha256", "created"}


class BadSnapshotFile(ValueError):
    """Not a raftkube store snapshot, or a damaged one; the message names the file and the problem."""


@dataclass(frozen=True)
class SnapshotInfo:
    path: str
    revision: int
    compact_revision: int
    keys: int
    leases: int
    payload_bytes: int
    sha256: str
    created: str

    @property
    def total_bytes(self) -> int:
        return HEADER_BYTES + self.payload_bytes


class SnapshotWriter:
    """Write a snapshot file from payload chunks: `write(chunk)`... then `commit(meta)` or `abort()`."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        directory = os.path.dirname(self.path)
        self._tmp = os.path.join(directory, f".{os.path.basename(self.path)}.{os.getpid()}.part")
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, 0o600)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._file.write(bytes(HEADER_BYTES))
        self._hash = hashlib.sha256()
        self._size = 0
        self.records = RecordReader()

    def write(self, chunk: bytes) -> None:
        self.records.feed(chunk)
        self._file.write(chunk)
        self._hash.update(chunk)
        self._size += len(chunk)

    def commit(self) -> SnapshotInfo:
        """Check the stream ended, write the header, fsync, rename into place."""
        meta = self.records.finish()
        info = SnapshotInfo(self.path, meta["revision"], meta["compact_revision"], meta["count"], len(meta["leases"]),
                            self._size, self._hash.hexdigest(),
                            datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
        header = msgpack.packb({"format": FORMAT_VERSION, "revision": info.revision,
                                "compact_revision": info.compact_revision, "keys": info.keys, "leases": info.leases,
                                "payload_bytes": info.payload_bytes, "sha256": info.sha256, "created": info.created},
                               use_bin_type=True)
        self._file.seek(0)
        self._file.write(MAGIC + struct.pack(">I", len(header)) + header)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.path)
        fsync_dir(os.path.dirname(self.path))
        return info

    def abort(self) -> None:
        self._file.close()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)


def read_header(path: str, f: BinaryIO) -> SnapshotInfo:
    head = f.read(HEADER_BYTES)
    if len(head) < HEADER_BYTES or not head.startswith(MAGIC):
        raise BadSnapshotFile(f"{path}: not a raftkube store snapshot (no header)")
    (length,) = struct.unpack(">I", head[len(MAGIC):len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if length > HEADER_BYTES - start:
        raise BadSnapshotFile(f"{path}: damaged header (length {length})")
    try:
        header: Any = msgpack.unpackb(head[start:start + length], raw=False)
    except (msgpack.UnpackException, ValueError):
        raise BadSnapshotFile(f"{path}: damaged header (not msgpack)") from None
    if not isinstance(header, dict) or set(header) != _HEADER_FIELDS:
        raise BadSnapshotFile(f"{path}: damaged header (fields)")
    if header["format"] != FORMAT_VERSION:
        raise BadSnapshotFile(f"{path}: snapshot format {header['format']}, this raftkube reads {FORMAT_VERSION}")
    return SnapshotInfo(path, header["revision"], header["compact_revision"], header["keys"], header["leases"],
                        header["payload_bytes"], header["sha256"], header["created"])


def _payload_chunks(path: str, f: BinaryIO, info: SnapshotInfo) -> Iterator[bytes]:
    digest = hashlib.sha256()
    size = 0
    while chunk := f.read(READ_BYTES):
        size += len(chunk)
        if size > info.payload_bytes:
            raise BadSnapshotFile(f"{path}: longer than its header says ({info.payload_bytes} payload bytes)")
        digest.update(chunk)
        yield chunk
    if size != info.payload_bytes:
        raise BadSnapshotFile(f"{path}: truncated: {size} of {info.payload_bytes} payload bytes")
    if digest.hexdigest() != info.sha256:
        raise BadSnapshotFile(f"{path}: checksum mismatch: the payload's sha256 is {digest.hexdigest()}, "
                              f"the header says {info.sha256}")


def read(path: str, keep_keys: bool = False) -> tuple[SnapshotInfo, RecordReader]:
    """Verify the whole file; with keep_keys, the reader also holds every key record (for restore)."""
    problem: BadBackup | None = None
    with open(path, "rb") as f:
        info = read_header(path, f)
        records = RecordReader(keep=keep_keys)
        for chunk in _payload_chunks(path, f, info):  # a bad checksum or size is reported first
            if problem is None:
                try:
                    records.feed(chunk)
                except BadBackup as exc:
                    problem = exc
    try:
        if problem is not None:
            raise problem
        meta = records.finish()
    except BadBackup as exc:
        raise BadSnapshotFile(f"{path}: {exc}") from None
    if (meta["revision"], meta["count"], len(meta["leases"])) != (info.revision, info.keys, info.leases):
        raise BadSnapshotFile(f"{path}: the header does not describe the payload")
    return info, records


def verify(path: str) -> SnapshotInfo:
    return read(path)[0]
