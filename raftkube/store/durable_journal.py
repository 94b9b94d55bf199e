"""A PySyncObj file journal that reaches the disk before anything is acknowledged.

PySyncObj 0.3.17 writes log entries into an mmap and never msyncs it, and writes its
term/vote file without fsync: an acknowledged write survives a process kill but not a
machine crash. This journal records that it is dirty on every change, and `sync()` flushes
it once; `raft_node.RaftNode` calls `sync()` once per tick, before a follower answers
AppendEntries and before the leader's next commit decision (group commit), with fdatasync
(which releases the GIL, unlike msync through `mmap.flush()`). The term/vote file is written (0600) to a
temporary file, fsynced, renamed and its directory fsynced.

`install()` makes PySyncObj build this journal instead of its own.
"""

from __future__ import annotations

import os

import pysyncobj.syncobj as _syncobj_module
from pysyncobj.journal import FileJournal, Journal, MemoryJournal, MetaStorer
from pysyncobj.pickle import dumps


class DurableMetaStorer(MetaStorer):
    def storeMeta(self, meta: dict) -> None:  # noqa: N802 (PySyncObj's name)
        path = self.getPath()
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # term and vote: private
        with os.fdopen(fd, "wb") as f:
            f.write(dumps(meta))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(os.path.dirname(os.path.abspath(path)))


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DurableFileJournal(FileJournal):
    def __init__(self, journal_file: str) -> None:
        super().__init__(journal_file)
        self._FileJournal__metaStorer = DurableMetaStorer(journal_file + ".meta")
        self.dirty = False
        self.syncs = 0
        self.synced_index = self[-1][1] if len(self) else 0  # the last entry known on disk
        self._fileno = self._FileJournal__journalFile._ResizableFile__f.fileno()
        fsync_dir(os.path.dirname(os.path.abspath(journal_file)))

    def add(self, command: bytes, idx: int, term: int) -> None:
        super().add(command, idx, term)
        self.dirty = True

    def clear(self) -> None:
        super().clear()
        self.dirty = True

    def deleteEntriesFrom(self, entryFrom: int) -> None:  # noqa: N802,N803
        super().deleteEntriesFrom(entryFrom)
        self.dirty = True

    def sync(self) -> None:
        """Flush the journal to disk if anything changed since the last sync (one call per batch).

        fdatasync on the journal's descriptor writes back the pages dirtied through the mmap
        (Linux keeps one page cache for both) and, unlike `mmap.flush()` (msync), releases the
        GIL while it waits for the disk, so the replica's HTTP loop keeps serving meanwhile.
        """
        if self.dirty:
            self.dirty = False
            os.fdatasync(self._fileno)
            self.syncs += 1
            self.synced_index = self[-1][1] if len(self) else 0


def create_journal(journal_file: str | None = None) -> Journal:
    if journal_file is None:
        return MemoryJournal()
    return DurableFileJournal(journal_file)


def install() -> None:
    """Make PySyncObj create DurableFileJournal for every SyncObj built after this call."""
    _syncobj_module.createJournal = create_journal
