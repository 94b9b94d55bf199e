"""The Raft peer port fails closed: restricted unpickling, bounded frames, bounded strangers.

PySyncObj 0.3.17 reads length-prefixed frames on the Raft port, decrypts them (our
`peer_cipher`), zlib-decompresses and unpickles them; log entries, membership commands and
snapshots are pickles too. `install()` changes four things, for every SyncObj built after it:

1. Every pickle PySyncObj loads (tcp_connection, syncobj, serializer, journal) goes through
   `RestrictedUnpickler`, whose `find_class` allows only the globals in `ALLOWED_GLOBALS`
   (what PySyncObj's messages, log entries and our snapshots actually contain). Anything else
   raises `UnpicklingError`: the connection is dropped, the load refused.
2. A frame may declare at most `MAX_FRAME_BYTES`; a negative or larger length disconnects as
   soon as its 4-byte header is in, and a connection stops reading once that much is
   buffered, so a connection holds at most about one frame in memory.
3. A connection without an encryptor (no cluster secret) never decodes anything.
4. The listener takes every pending connection per poll (PySyncObj took one, with a backlog
   of 5: a burst of strangers kept real peers waiting for SYN retries). At most
   `MAX_UNKNOWN_CONNECTIONS` incoming connections may be waiting for their handshake
   (the oldest goes when one more arrives); each is dropped unless it has identified itself
   within `HANDSHAKE_TIMEOUT` seconds.

The private PySyncObj methods patched here are checked at install: if PySyncObj changed,
start-up fails rather than running unguarded.
"""

from __future__ import annotations

import io
import logging
import pickle
import socket
import struct
import types
import zlib
from typing import IO, Any

import pysyncobj.journal as _journal_module
import pysyncobj.pickle as _pysyncobj_pickle
import pysyncobj.serializer as _serializer_module
import pysyncobj.syncobj as _syncobj_module
import pysyncobj.tcp_connection as _tcp_module
import pysyncobj.transport as _transport_module
from pysyncobj.monotonic import monotonic as monotonic_time
from pysyncobj.poller import POLL_EVENT_TYPE
from pysyncobj.tcp_connection import CONNECTION_STATE, TcpConnection
from pysyncobj.tcp_server import TcpServer
from pysyncobj.transport import TCPTransport

from .config import APPEND_ENTRIES_BATCH_BYTES, SNAPSHOT_CHUNK_BYTES

log = logging.getLogger(__name__)

# An AppendEntries batch stops after the entry that reaches the batch size, and every entry is
# far below the batch size (requests are at most 2 MiB), so a message's entries stay under twice
# the batch size; snapshot chunks are much smaller. Compression and encryption add a few bytes.
MAX_FRAME_BYTES = 2 * APPEND_ENTRIES_BATCH_BYTES
# Pickle protocol 2 writes bytes as the UTF-8 of their latin-1 text: up to twice their size.
MAX_MESSAGE_BYTES = 2 * MAX_FRAME_BYTES
MAX_UNKNOWN_CONNECTIONS = 32
HANDSHAKE_TIMEOUT = 3.0
LISTEN_BACKLOG = 128  # pending connections the kernel keeps for us
ACCEPT_BURST = 64  # connections accepted per poll of the listening socket
_LENGTH = struct.Struct("i")  # PySyncObj's frame header: native int, as it writes it
assert MAX_FRAME_BYTES > APPEND_ENTRIES_BATCH_BYTES + SNAPSHOT_CHUNK_BYTES

# Found by logging find_class over tests/store (messages, log entries, membership changes,
# snapshots sent and loaded) plus what a snapshot holds (mvcc.KVStateMachine's fields).
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("_codecs", "encode"),  # protocol 2 writes bytes as _codecs.encode(text, "latin1")
    ("builtins", "bytes"),  # ... and empty bytes as bytes()
    ("builtins", "set"),
    ("collections", "OrderedDict"),
    ("pysyncobj.node", "Node"),
    ("pysyncobj.node", "TCPNode"),
    ("sortedcontainers.sorteddict", "SortedDict"),
    ("raftkube.store.mvcc", "KVStateMachine"),
    ("raftkube.store.mvcc", "LeaseRecord"),
})

_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
_warned: set[str] = set()


def _warn_once(key: str, message: str, *args: object) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only the globals in `ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)  # protocol 2 writes builtins as __builtin__
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        _warn_once(f"class {module}.{name}", "refused to unpickle %s.%s (not an allowed class)", module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed here")


def loads(data: bytes | str) -> Any:
    return RestrictedUnpickler(io.BytesIO(_pysyncobj_pickle.to_bytes(data))).load()


def load(file: IO[bytes]) -> Any:
    return RestrictedUnpickler(file).load()


restricted_pickle = types.ModuleType("raftkube.store.peer_guard.restricted_pickle",
                                     "PySyncObj's pickle module with restricted loads/load (see peer_guard).")
restricted_pickle.dumps = _pysyncobj_pickle.dumps  # type: ignore[attr-defined]
restricted_pickle.dump = _pysyncobj_pickle.dump  # type: ignore[attr-defined]
restricted_pickle.to_bytes = _pysyncobj_pickle.to_bytes  # type: ignore[attr-defined]
restricted_pickle.loads = loads  # type: ignore[attr-defined]
restricted_pickle.load = load  # type: ignore[attr-defined]


def _decompress(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    plain = inflater.decompress(data, MAX_MESSAGE_BYTES)
    if inflater.unconsumed_tail or not inflater.eof:
        raise ValueError(f"peer message inflates past {MAX_MESSAGE_BYTES} bytes or is truncated")
    return plain


def _drop(conn: TcpConnection, reason: str, detail: str) -> None:
    _warn_once(f"drop {reason}", "dropping a Raft peer connection: %s (%s); further ones not logged", reason, detail)
    conn.disconnect()


def _frame_length(conn: TcpConnection, buffered: bytes) -> int | None:
    """The declared length of the frame at the buffer's start (None: header incomplete, or dropped)."""
    if len(buffered) < _LENGTH.size:
        return None
    length: int = _LENGTH.unpack_from(buffered)[0]
    if length < 0 or length > MAX_FRAME_BYTES:
        _drop(conn, "frame length out of range", f"{length} bytes declared, at most {MAX_FRAME_BYTES}")
        return None
    return length


def _process_read(self: TcpConnection) -> bool:
    """PySyncObj's read step, but never past a whole frame's worth of buffer, and headers checked early."""
    if len(self._TcpConnection__readBuffer) >= _LENGTH.size + MAX_FRAME_BYTES:
        return False  # a whole frame is in: parse it before reading on
    sock: socket.socket = self._TcpConnection__socket
    try:
        incoming = sock.recv(self._TcpConnection__recvBufferSize)
    except OSError as e:
        if e.errno not in (socket.errno.EAGAIN, socket.errno.EWOULDBLOCK):  # type: ignore[attr-defined]
            self.disconnect()
        return False
    if not incoming or sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
        self.disconnect()
        return False
    self._TcpConnection__readBuffer += incoming
    _frame_length(self, self._TcpConnection__readBuffer)  # drops the connection on a bad header
    return bool(self.state != CONNECTION_STATE.DISCONNECTED)


def _process_parse_message(self: TcpConnection) -> Any:
    """PySyncObj's frame parser, failing closed: no encryptor, bad length, bad token or pickle -> drop."""
    buffered: bytes = self._TcpConnection__readBuffer
    length = _frame_length(self, buffered)
    if length is None or len(buffered) - _LENGTH.size < length:
        return None
    if not self.encryptor:
        _drop(self, "no cluster secret", "peer messages are only decoded when authenticated")
        return None
    data = buffered[_LENGTH.size:_LENGTH.size + length]
    try:
        timestamp = self.encryptor.extract_timestamp(data)
        if timestamp < self.recvLastTimestamp:
            raise ValueError("timestamp went back")
        plain = self.encryptor.decrypt(data)
        self.recvLastTimestamp = timestamp
        message = loads(_decompress(plain))
        if self.recvRandKey:
            rand_key, message = message
            if rand_key != self.recvRandKey:
                raise ValueError("wrong connection key")
    except Exception as exc:
        _drop(self, "undecodable message", f"{type(exc).__name__}: {exc}")
        return None
    self._TcpConnection__readBuffer = buffered[_LENGTH.size + length:]
    return message


_original_bind = TcpServer.bind
_original_on_new_incoming = TCPTransport._onNewIncomingConnection
_original_on_tick = TCPTransport._onTick


def _on_new_incoming_connection(self: TCPTransport, conn: TcpConnection) -> None:
    conn._raftkube_accepted_at = monotonic_time()  # type: ignore[attr-defined]
    while len(self._unknownConnections) >= MAX_UNKNOWN_CONNECTIONS:
        oldest = min(self._unknownConnections, key=lambda c: c._raftkube_accepted_at)
        self._unknownConnections.discard(oldest)
        _drop(oldest, "too many connections waiting for their handshake", f"at most {MAX_UNKNOWN_CONNECTIONS}")
    _original_on_new_incoming(self, conn)


def _on_tick(self: TCPTransport) -> None:
    _original_on_tick(self)
    if self._unknownConnections:
        expired = monotonic_time() - HANDSHAKE_TIMEOUT
        for conn in [c for c in self._unknownConnections if c._raftkube_accepted_at < expired]:
            self._unknownConnections.discard(conn)
            _drop(conn, "handshake not completed in time", f"{HANDSHAKE_TIMEOUT} s")


def _bind(self: TcpServer) -> None:
    _original_bind(self)
    self._TcpServer__socket.listen(LISTEN_BACKLOG)  # PySyncObj's 5 overflows under a burst of strangers


def _on_new_connection(self: TcpServer, descr: int, event: int) -> None:
    """PySyncObj's accept handler, but taking every pending connection (up to a burst), not one per poll."""
    if event & POLL_EVENT_TYPE.READ:
        listener: socket.socket = self._TcpServer__socket
        for _ in range(ACCEPT_BURST):
            try:
                sock, _addr = listener.accept()
            except OSError as e:
                if e.errno not in (socket.errno.EAGAIN, socket.errno.EWOULDBLOCK):  # type: ignore[attr-defined]
                    self.unbind()
                return
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._TcpServer__sendBufferSize)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._TcpServer__recvBufferSize)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            conn = TcpConnection(poller=self._TcpServer__poller, socket=sock,
                                 timeout=self._TcpServer__connectionTimeout,
                                 sendBufferSize=self._TcpServer__sendBufferSize,
                                 recvBufferSize=self._TcpServer__recvBufferSize, keepalive=self._TcpServer__keepalive)
            self._TcpServer__onNewConnectionCallback(conn)
    if event & POLL_EVENT_TYPE.ERROR:
        self.unbind()


_PRIVATE_CONNECTION_STATE = ("_TcpConnection__readBuffer", "_TcpConnection__socket", "_TcpConnection__recvBufferSize")
_PRIVATE_SERVER_STATE = ("_TcpServer__socket", "_TcpServer__sendBufferSize", "_TcpServer__recvBufferSize",
                         "_TcpServer__poller", "_TcpServer__connectionTimeout", "_TcpServer__keepalive",
                         "_TcpServer__onNewConnectionCallback")


def _check_pysyncobj() -> None:
    """Refuse to run if what we replace is not where we expect it (another PySyncObj version)."""
    missing = [name for name in ("_TcpConnection__processRead", "_TcpConnection__processParseMessage")
               if not callable(getattr(TcpConnection, name, None))]
    missing += [name for name in ("_onNewIncomingConnection", "_onTick", "_onDisconnected")
                if not callable(getattr(TCPTransport, name, None))]
    missing += [name for name in ("_TcpServer__onNewConnection", "bind", "unbind")
                if not callable(getattr(TcpServer, name, None))]
    server = TcpServer(poller=None, host="127.0.0.1", port=0, onNewConnection=None)
    missing += [name for name in _PRIVATE_SERVER_STATE if not hasattr(server, name)]
    probe = TcpConnection(poller=None)
    missing += [name for name in (*_PRIVATE_CONNECTION_STATE, "encryptor", "recvRandKey", "recvLastTimestamp")
                if not hasattr(probe, name)]
    missing += [f"{module.__name__}.pickle" for module in (_tcp_module, _syncobj_module, _serializer_module)
                if getattr(module, "pickle", None) not in (_pysyncobj_pickle, restricted_pickle)]
    if not callable(getattr(_journal_module, "loads", None)):
        missing.append("pysyncobj.journal.loads")
    if missing:
        raise RuntimeError(f"PySyncObj changed: {', '.join(missing)} not found; the Raft port cannot be guarded")


def install() -> None:
    """Guard the Raft port of every SyncObj built after this call (idempotent)."""
    _check_pysyncobj()
    for module in (_tcp_module, _syncobj_module, _serializer_module):
        module.pickle = restricted_pickle  # type: ignore[attr-defined]
    _journal_module.loads = loads  # type: ignore[attr-defined]
    TcpConnection._TcpConnection__processRead = _process_read  # type: ignore[attr-defined]
    TcpConnection._TcpConnection__processParseMessage = _process_parse_message  # type: ignore[attr-defined]
    TcpServer.bind = _bind  # type: ignore[method-assign]
    TcpServer._TcpServer__onNewConnection = _on_new_connection  # type: ignore[attr-defined]
    TCPTransport._onNewIncomingConnection = _on_new_incoming_connection  # type: ignore[method-assign]
    TCPTransport._onTick = _on_tick  # type: ignore[method-assign]
    assert _transport_module.TCPTransport is TCPTransport
