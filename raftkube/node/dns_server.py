"""The node's cluster DNS server (CoreDNS's kubernetes plugin, in asyncio with dnslib): UDP and TCP.

    dns = ClusterDns(api, [DnsListener("127.0.0.1", 1053), DnsListener("10.96.0.10", 53, service_alias)])
    await dns.start()      # informers on Services and Endpoints synced, sockets bound
    await dns.stop()

Answers come from `dns_records.build_records`, rebuilt (per listener view) on the first query after an
informer change. Every listener has a view: the function that maps a Service's cluster IP to the address
its askers reach it at (identity for the host's 127.0.0.1 listener; `pod_network.service_alias` for the
listener pods use, see docs/networking.md). Names in the cluster domain are answered authoritatively:
records (TTL 5), NODATA or NXDOMAIN with the zone's SOA in the authority section; names outside it are
REFUSED (no recursion: nothing here may leave the machine). UDP replies larger than the asker's buffer
(512 bytes, or its EDNS size) are sent truncated (TC) so it retries over TCP. Sockets use SO_REUSEPORT,
so two agents of one machine may serve the same address (their answers are the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dnslib import CLASS, QTYPE, RCODE, RR, SOA, SRV, A, DNSRecord
from dnslib.dns import CNAME, DNSError

from ..client import ApiClient, Informer
from .dns_records import TTL, ClusterRecords, Record, build_records

log = logging.getLogger(__name__)
SERVICE = ("v1", "Service")
ENDPOINTS = ("v1", "Endpoints")
MAX_TCP_MESSAGE = 65535
TCP_IDLE_TIMEOUT = 10.0


def identity(ip: str) -> str | None:
    return ip


@dataclass(frozen=True)
class DnsListener:
    address: str
    port: int
    view: Callable[[str], str | None] = field(default=identity, compare=False)  # cluster IPs
    endpoint_view: Callable[[str], str | None] = field(default=identity, compare=False)  # endpoint IPs


def soa_record(zone: str) -> RR:
    """The zone's SOA, as CoreDNS writes it (minimum = negative-caching TTL = 5 s)."""
    return RR(zone, QTYPE.SOA, CLASS.IN, TTL,
              SOA(f"ns.dns.{zone}", f"hostmaster.{zone}", (1, 7200, 1800, 86400, TTL)))


def _rr(record: Record) -> RR:
    if record.rtype == "A":
        return RR(record.name, QTYPE.A, CLASS.IN, TTL, A(record.value))
    if record.rtype == "CNAME":
        return RR(record.name, QTYPE.CNAME, CLASS.IN, TTL, CNAME(record.value))
    return RR(record.name, QTYPE.SRV, CLASS.IN, TTL, SRV(0, record.weight, record.port, record.value))


def answer(records: ClusterRecords, request: DNSRecord) -> DNSRecord:
    """The reply to one query: authoritative inside the zone, REFUSED outside, NOTIMP for other opcodes."""
    reply = request.reply(ra=0, aa=1)
    if request.header.opcode != 0 or not request.questions:
        reply.header.aa = 0
        reply.header.rcode = RCODE.NOTIMP if request.header.opcode != 0 else RCODE.FORMERR
        return reply
    question = request.questions[0]
    qname, qtype = str(question.qname).lower(), QTYPE.get(question.qtype, str(question.qtype))
    if question.qclass not in (CLASS.IN, 255) or not records.in_zone(qname):
        reply.header.aa = 0
        reply.header.rcode = RCODE.REFUSED
        return reply
    if qname == records.zone and qtype in ("SOA", "ANY"):
        reply.add_answer(soa_record(records.zone))
        return reply
    found = records.lookup(qname, str(qtype))
    chased = 0
    while found.answers and chased < 8:
        for record in found.answers:
            reply.add_answer(_rr(record))
        last = found.answers[-1]
        if last.rtype != "CNAME" or qtype == "CNAME" or not records.in_zone(last.value):
            break
        found, chased = records.lookup(last.value, str(qtype)), chased + 1
    for record in (r for r in found.answers if r.rtype == "SRV"):
        for target in records.lookup(record.value, "A").answers:
            reply.add_ar(_rr(target))
    if not reply.rr:
        if not found.exists:
            reply.header.rcode = RCODE.NXDOMAIN
        reply.add_auth(soa_record(records.zone))
    return reply


def udp_limit(request: DNSRecord) -> int:
    """The asker's UDP buffer: its EDNS payload size, else 512 bytes."""
    for extra in request.ar:
        if extra.rtype == QTYPE.OPT:
            return max(512, min(int(extra.rclass), MAX_TCP_MESSAGE))
    return 512


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: ClusterDns, listener: DnsListener) -> None:
        self.server, self.listener = server, listener
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            request = DNSRecord.parse(data)
        except (DNSError, struct.error, IndexError, ValueError):
            return  # not DNS: nothing to answer
        packed = self.server.respond(self.listener, request).pack()
        if len(packed) > udp_limit(request):
            truncated = request.reply(ra=0, aa=1)
            truncated.header.tc = 1
            packed = truncated.pack()
        if self.transport is not None:
            self.transport.sendto(packed, addr)


class ClusterDns:
    def __init__(self, api: ApiClient, listeners: list[DnsListener], zone: str = "cluster.local") -> None:
        self.zone, self.listeners = zone, listeners
        self.services = Informer(api, SERVICE, None, name="dns-services")
        self.endpoints = Informer(api, ENDPOINTS, None, name="dns-endpoints")
        self.queries = 0
        self._generation = 0
        self._views: dict[DnsListener, tuple[int, ClusterRecords]] = {}
        self._transports: list[asyncio.BaseTransport] = []
        self._servers: list[asyncio.Server] = []
        for informer in (self.services, self.endpoints):
            informer.add_handlers(on_add=self._changed, on_update=self._changed, on_delete=self._changed)

    def _changed(self, *_objs: Any) -> None:
        self._generation += 1

    def records(self, listener: DnsListener) -> ClusterRecords:
        cached = self._views.get(listener)
        if cached is None or cached[0] != self._generation:
            built = build_records(self.services.cache.list(), self.endpoints.cache.list(), self.zone, listener.view,
                                  listener.endpoint_view)
            cached = (self._generation, built)
            self._views[listener] = cached
        return cached[1]

    def respond(self, listener: DnsListener, request: DNSRecord) -> DNSRecord:
        self.queries += 1
        try:
            return answer(self.records(listener), request)
        except Exception:  # a bug must cost one answer (SERVFAIL), never the server
            log.exception("cluster DNS: cannot answer %s", request.q.qname if request.questions else "?")
            failed = request.reply(ra=0, aa=0)
            failed.header.rcode = RCODE.SERVFAIL
            return failed

    @staticmethod
    def _socket(listener: DnsListener, kind: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((listener.address, listener.port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def _bind_pair(self, listener: DnsListener) -> tuple[DnsListener, socket.socket, socket.socket]:
        """UDP and TCP sockets on one port; for port 0, a port free for both (a few tries)."""
        for attempt in range(20 if listener.port == 0 else 1):
            udp = self._socket(listener, socket.SOCK_DGRAM)
            bound = DnsListener(listener.address, udp.getsockname()[1], listener.view, listener.endpoint_view)
            try:
                return bound, udp, self._socket(bound, socket.SOCK_STREAM)
            except OSError:
                udp.close()
                if attempt == (19 if listener.port == 0 else 0):
                    raise
        raise AssertionError("unreachable")

    async def start(self, timeout: float = 60.0) -> None:
        """Sync the informers, then bind every listener (UDP and TCP on one port; port 0 picks one,
        written back into `listeners`)."""
        for informer in (self.services, self.endpoints):
            informer.start()
        for informer in (self.services, self.endpoints):
            if not await informer.wait_synced(timeout):
                raise TimeoutError(f"cluster DNS: the {informer.name} informer did not sync in {timeout}s")
        loop = asyncio.get_running_loop()
        for i, listener in enumerate(list(self.listeners)):
            listener, udp, tcp = self._bind_pair(listener)
            self.listeners[i] = listener
            transport, _ = await loop.create_datagram_endpoint(lambda lst=listener: _Udp(self, lst), sock=udp)
            self._transports.append(transport)
            self._servers.append(await asyncio.start_server(
                lambda r, w, lst=listener: self._serve_tcp(lst, r, w), sock=tcp))
            log.info("cluster DNS: serving %s on %s:%s", self.zone, listener.address, listener.port)

    async def _serve_tcp(self, listener: DnsListener, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(10**6):  # bounded: one connection may ask many questions
                header = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT)
                data = await asyncio.wait_for(reader.readexactly(struct.unpack("!H", header)[0]), TCP_IDLE_TIMEOUT)
                try:
                    request = DNSRecord.parse(data)
                except (DNSError, struct.error, IndexError, ValueError):
                    return
                packed = self.respond(listener, request).pack()
                writer.write(struct.pack("!H", len(packed)) + packed)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        for transport in self._transports:
            transport.close()
        for server in self._servers:
            server.close()
        self._transports.clear()
        self._servers.clear()
        for informer in (self.services, self.endpoints):
            with contextlib.suppress(Exception):
                await informer.stop()
