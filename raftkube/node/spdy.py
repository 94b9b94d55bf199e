"""SPDY/3 framing, the part port-forward needs (what k8s.io/apimachinery's spdystream speaks).

kubectl 1.32 port-forwards over SPDY in all cases: tunnelled in websocket binary messages (the
subprotocol `SPDY/3.1+portforward.k8s.io`, its default) or after an HTTP upgrade. Frames:
a control frame starts with bit 1, version 3, a 16-bit type, 8-bit flags and a 24-bit length;
a data frame with bit 0, a 31-bit stream id, flags (FIN = 1) and a 24-bit length. Header blocks
(SYN_STREAM, SYN_REPLY, HEADERS) are a count then length-prefixed names and values, compressed
by one zlib stream per direction primed with the dictionary of the SPDY/3 specification.
spdystream does no flow control (it never sends WINDOW_UPDATE), so neither does this.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
MAX_FRAME = 1 << 24
MAX_DATA_CHUNK = 32 * 1024

_WORDS = ("options head post put delete trace accept accept-charset accept-encoding accept-language "
          "accept-ranges age allow authorization cache-control connection content-base content-encoding "
          "content-language content-length content-location content-md5 content-range content-type date etag "
          "expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since "
          "last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer "
          "retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate "
          "method get status").split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie",
                                          "keep-alive", "origin"]
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
         "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
         "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
         "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
         "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


class ProtocolError(ValueError):
    pass


@dataclass
class Frame:
    control: bool
    type: int = 0  # control frames
    stream_id: int = 0
    flags: int = 0
    data: bytes = b""  # a data frame's payload
    headers: dict[str, str] = field(default_factory=dict)
    ping_id: int = 0
    status: int = 0  # RST_STREAM / GOAWAY

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class HeaderCodec:
    """The two zlib streams of one connection: one to inflate what the peer sends, one to deflate ours."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    def decode(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as exc:
            raise ProtocolError(f"bad SPDY header block: {exc}") from None
        count, pos, headers = struct.unpack_from(">I", raw)[0], 4, {}
        for _ in range(count):
            name_len = struct.unpack_from(">I", raw, pos)[0]
            name = raw[pos + 4:pos + 4 + name_len].decode("latin-1")
            pos += 4 + name_len
            value_len = struct.unpack_from(">I", raw, pos)[0]
            headers[name.lower()] = raw[pos + 4:pos + 4 + value_len].decode("latin-1").split("\x00")[0]
            pos += 4 + value_len
        return headers

    def encode(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += struct.pack(">I", len(name)) + name.lower().encode() + struct.pack(">I", len(value)) + value.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


class FrameReader:
    """Bytes in (any chunking), whole frames out."""

    def __init__(self, codec: HeaderCodec) -> None:
        self.codec, self._buffer = codec, bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                break
            head, body = bytes(self._buffer[:8]), bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            frames.append(self._parse(head, body))
        return frames

    def _parse(self, head: bytes, body: bytes) -> Frame:
        flags = head[4]
        if not head[0] & 0x80:
            return Frame(False, stream_id=int.from_bytes(head[:4], "big") & 0x7FFFFFFF, flags=flags, data=body)
        version, kind = int.from_bytes(head[:2], "big") & 0x7FFF, int.from_bytes(head[2:4], "big")
        if version != VERSION:
            raise ProtocolError(f"SPDY version {version} is not supported (only 3)")
        frame = Frame(True, kind, flags=flags)
        if kind in (SYN_STREAM, SYN_REPLY, HEADERS, RST_STREAM, WINDOW_UPDATE) and len(body) >= 4:
            frame.stream_id = int.from_bytes(body[:4], "big") & 0x7FFFFFFF
        if kind == SYN_STREAM:
            frame.headers = self.codec.decode(body[10:])
        elif kind in (SYN_REPLY, HEADERS):
            frame.headers = self.codec.decode(body[4:])
        elif kind == RST_STREAM:
            frame.status = int.from_bytes(body[4:8], "big")
        elif kind == PING:
            frame.ping_id = int.from_bytes(body[:4], "big")
        elif kind == GOAWAY:
            frame.status = int.from_bytes(body[4:8], "big")
        return frame


def _control(kind: int, flags: int, body: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(body)) + body


def data_frame(stream_id: int, data: bytes, fin: bool = False) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data


def syn_reply(codec: HeaderCodec, stream_id: int, headers: dict[str, str] | None = None) -> bytes:
    return _control(SYN_REPLY, 0, struct.pack(">I", stream_id) + codec.encode(headers or {}))


def syn_stream(codec: HeaderCodec, stream_id: int, headers: dict[str, str], fin: bool = False) -> bytes:
    """(What a client sends: tests use it.)"""
    body = struct.pack(">IIH", stream_id, 0, 0) + codec.encode(headers)
    return _control(SYN_STREAM, FLAG_FIN if fin else 0, body)


def rst_stream(stream_id: int, status: int = 5) -> bytes:  # 5: CANCEL
    return _control(RST_STREAM, 0, struct.pack(">II", stream_id, status))


def ping(ping_id: int) -> bytes:
    return _control(PING, 0, struct.pack(">I", ping_id))


def goaway(last_stream_id: int, status: int = 0) -> bytes:
    return _control(GOAWAY, 0, struct.pack(">II", last_stream_id, status))
