"""The node's service proxy (kube-proxy's job, in userspace asyncio): Service addresses forwarded to pods.

    proxy = ServiceProxy(api)                 # api: a raftkube.client.ApiClient
    await proxy.start()                       # informers on v1 Services and Endpoints, synced, listeners bound
    await proxy.wait_for(lambda table: any(l.service == "web" for l in table), timeout=10)
    await proxy.stop()

Which listeners and backends are wanted is `proxy_table.plan` (TCP only: UDP and SCTP ports are
skipped); with `alias` (raftkube.node.pod_network.service_alias) every cluster listener is bound a
second time on the address bridge pods reach the Service at (and `endpoint_alias` gives headless
Services' endpoints listeners of their own). Every change an informer delivers marks the
table dirty; one task recomputes it and reconciles: listeners no longer wanted are closed (their open
connections go on), new ones are bound, and the backends of the others are swapped in place (a
connection keeps the backend it has). Sockets are bound with SO_REUSEADDR and SO_REUSEPORT, so that two
proxies on one machine (two agents of `raftkube up`) serve the same addresses side by side, the kernel
spreading connections between them. A bind that fails (the port taken by a socket without SO_REUSEPORT,
a privileged port) is logged and retried on the next change, or after `retry_period`.

Each accepted connection goes to the next backend of its listener (round-robin); one that
refuses or does not answer within `CONNECT_TIMEOUT` is skipped for the next one, at most
`MAX_ATTEMPTS` in all, then the client is closed. A listener without ready backends closes its
connections at once. Bytes are copied by two asyncio Protocols, with flow control: a side whose
write buffer passes `HIGH_WATER` pauses reading on the other side, so buffers stay bounded. An
EOF is passed on as a half-close (shutdown of the write side); the pair is closed once both
sides have sent EOF, or as soon as either is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from ..client import ApiClient, Informer
from .proxy_table import DEFAULT_NODEPORT_ADDRESS, Alias, Backend, Listener, ProxyTable, plan

log = logging.getLogger(__name__)
SERVICE = ("v1", "Service")
ENDPOINTS = ("v1", "Endpoints")
CONNECT_TIMEOUT = 3.0  # seconds for one backend to accept a connection
MAX_ATTEMPTS = 3  # backends tried for one connection
HIGH_WATER = 256 * 1024  # bytes buffered towards one side before the other side is paused
BACKLOG = 1024


@dataclass
class ProxyStats:
    accepted: int = 0  # connections accepted on any listener
    forwarded: int = 0  # ... connected to a backend
    rejected: int = 0  # ... closed at once: no ready backend
    failed: int = 0  # ... closed after every backend tried refused or timed out
    connect_errors: int = 0  # backend connection attempts that failed
    bind_failures: int = 0  # listener binds that failed


class _Route:
    """A bound listener: its server and the backends new connections go to (swapped in place)."""

    def __init__(self, listener: Listener, backends: tuple[Backend, ...]) -> None:
        self.listener, self.backends = listener, backends
        self.server: asyncio.Server | None = None
        self._next = 0

    def pick(self) -> list[Backend]:
        """The backends to try for one connection, the round-robin one first."""
        backends = self.backends
        if not backends:
            return []
        start = self._next % len(backends)
        self._next = start + 1
        return [backends[(start + i) % len(backends)] for i in range(min(len(backends), MAX_ATTEMPTS))]


class _Side(asyncio.Protocol):
    """One end of a forwarded connection: what it reads is written to its peer's transport."""

    def __init__(self, conn: _Connection) -> None:
        self.conn = conn
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.eof = self.lost = self.full = False  # full: our write buffer is past HIGH_WATER
        self.pending: list[bytes] = []  # read before the peer exists (a client whose backend is connecting)
        self.pending_size = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio.Transport
        self.transport.set_write_buffer_limits(high=HIGH_WATER)
        self.conn.made(self)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None:  # uvloop starts reading after connection_made even if it paused: hold the bytes
            self.pending.append(data)
            self.pending_size += len(data)
            if self.pending_size >= HIGH_WATER and self.transport is not None:
                self.transport.pause_reading()
        elif peer.transport is not None:
            peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        if self.peer is not None:  # else passed on once the peer is connected
            self.conn.half_closed(self)
        return True  # keep our write side open: the other direction may still carry data

    def pause_writing(self) -> None:  # our write buffer is full: stop reading what fills it
        self.full = True
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        self.full = False
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.conn.lost(self)


class _Connection:
    """A client connection accepted on a route, and the backend connection it is forwarded to."""

    def __init__(self, proxy: ServiceProxy, route: _Route) -> None:
        self.proxy, self.route = proxy, route
        self.client = _Side(self)
        self.backend: _Side | None = None
        self.closed = False

    def made(self, side: _Side) -> None:
        if side is not self.client:
            return
        assert side.transport is not None
        side.transport.pause_reading()  # until a backend is connected
        self.proxy._accepted(self)

    async def connect(self) -> None:
        stats, client = self.proxy.stats, self.client
        candidates = self.route.pick()
        if not candidates:
            stats.rejected += 1
            self.close()
            return
        loop = asyncio.get_running_loop()
        for backend in candidates:
            side = _Side(self)
            side.peer = client
            try:
                await asyncio.wait_for(loop.create_connection(lambda s=side: s, backend.ip, backend.port),
                                       CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                stats.connect_errors += 1
                log.debug("proxy %s: backend %s: %s", self.route.listener, backend, exc or type(exc).__name__)
                if self.closed:
                    return
                continue
            self.backend = side
            if self.closed or side.lost:
                self.close()
                return
            stats.forwarded += 1
            client.peer = side
            assert client.transport is not None and side.transport is not None
            if client.pending:
                side.transport.writelines(client.pending)
                client.pending.clear()
            if client.eof:
                self.half_closed(client)
            elif not side.full:  # else resume_writing resumes it
                client.transport.resume_reading()
            return
        stats.failed += 1
        log.info("proxy %s: no backend of %d tried accepted the connection", self.route.listener, len(candidates))
        self.close()

    def half_closed(self, side: _Side) -> None:
        peer = side.peer
        if peer is None or peer.transport is None or peer.transport.is_closing():
            self.close()
        elif self.client.eof and self.backend is not None and self.backend.eof:
            self.close()  # both directions are done (close() flushes what is buffered first)
        elif peer.transport.can_write_eof():
            peer.transport.write_eof()

    def lost(self, side: _Side) -> None:
        self.close()
        if all(s is None or s.transport is None or s.lost for s in (self.client, self.backend)):
            self.proxy._connections.discard(self)

    def close(self) -> None:
        self.closed = True
        for side in (self.client, self.backend):
            if side is not None and side.transport is not None:
                side.transport.close()

    def abort(self) -> None:
        self.closed = True
        for side in (self.client, self.backend):
            if side is not None and side.transport is not None:
                side.transport.abort()


class ServiceProxy:
    """Forwards TCP connections to Services' cluster IPs and nodePorts to their ready endpoints."""

    def __init__(self, client: ApiClient, nodeport_address: str = DEFAULT_NODEPORT_ADDRESS, *,
                 retry_period: float = 10.0, name: str = "proxy", alias: Alias | None = None,
                 endpoint_alias: Alias | None = None) -> None:
        self.client, self.nodeport_address = client, nodeport_address
        self.alias, self.endpoint_alias = alias, endpoint_alias
        self.retry_period = retry_period
        self.services = Informer(client, SERVICE, None, name=f"{name}-services")
        self.endpoints = Informer(client, ENDPOINTS, None, name=f"{name}-endpoints")
        self.stats = ProxyStats()
        self.bind_errors: dict[Listener, str] = {}  # listeners wanted but not bound, with the reason
        self.generation = 0  # reconciles done
        self._routes: dict[Listener, _Route] = {}
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._dirty = asyncio.Event()
        self._changed = asyncio.Condition()
        self._runner: asyncio.Task[None] | None = None
        for informer in (self.services, self.endpoints):
            informer.add_handlers(on_add=self._mark, on_update=self._mark, on_delete=self._mark)

    @property
    def listeners(self) -> ProxyTable:
        """What is bound now, each listener with the backends its next connections go to."""
        return {listener: route.backends for listener, route in self._routes.items()}

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    @property
    def buffered_bytes(self) -> int:
        """Bytes read from one side and not yet written to the other, over all open connections."""
        return sum(side.transport.get_write_buffer_size() for conn in self._connections
                   for side in (conn.client, conn.backend) if side is not None and side.transport is not None)

    async def start(self, timeout: float | None = 60.0) -> None:
        """Start the informers, wait until both have listed, bind the listeners and follow changes."""
        if self._runner is not None:
            return
        self.services.start()
        self.endpoints.start()
        for informer in (self.services, self.endpoints):
            if not await informer.wait_synced(timeout):
                raise TimeoutError(f"service proxy: the {informer.name} informer did not sync in {timeout}s")
        self._dirty.clear()
        await self._reconcile()
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="service-proxy")

    async def stop(self) -> None:
        """Stop following changes, close every listener and every open connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        await self.services.stop()
        await self.endpoints.stop()
        for route in self._routes.values():
            if route.server is not None:
                route.server.close()
        self._routes.clear()
        for conn in list(self._connections):
            conn.abort()
        self._connections.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[ProxyTable], bool], timeout: float = 10.0) -> ProxyTable:
        """Wait until `predicate(self.listeners)` holds (checked after every reconcile); TimeoutError if not."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.listeners)), timeout)
        return self.listeners

    # -- reconciling ------------------------------------------------------------------------------

    def _mark(self, *_objs: Any) -> None:
        self._dirty.set()

    async def _run(self) -> None:
        for _ in range(10**15):  # bounded in principle; ends by cancellation (stop)
            wait = self.retry_period if self.bind_errors else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), wait)
            self._dirty.clear()
            try:
                await self._reconcile()
            except Exception:  # never let the proxy die; the next change tries again
                log.exception("service proxy: reconcile failed")

    async def _reconcile(self) -> None:
        wanted = plan(self.services.cache.list(), self.endpoints.cache.list(), self.nodeport_address, self.alias,
                      self.endpoint_alias)
        for listener in [known for known in self._routes if known not in wanted]:
            route = self._routes.pop(listener)
            if route.server is not None:
                route.server.close()
            log.info("proxy: closed %s", listener)
        for listener in [known for known in self.bind_errors if known not in wanted]:
            del self.bind_errors[listener]
        for listener, backends in wanted.items():
            route = self._routes.get(listener)
            if route is not None:
                if route.backends != backends:
                    log.debug("proxy %s: backends %s", listener, ", ".join(map(str, backends)) or "none")
                route.backends = backends
                continue
            route = _Route(listener, backends)
            try:
                route.server = await self._bind(route)
            except OSError as exc:
                self.stats.bind_failures += 1
                reason = f"{type(exc).__name__}: {exc}"
                level = logging.DEBUG if self.bind_errors.get(listener) == reason else logging.WARNING
                log.log(level, "proxy: cannot bind %s: %s (retried on the next change)", listener, reason)
                self.bind_errors[listener] = reason
                continue
            self.bind_errors.pop(listener, None)
            self._routes[listener] = route
            log.info("proxy: listening on %s -> %s", listener, ", ".join(map(str, backends)) or "no backend")
        self.generation += 1
        async with self._changed:
            self._changed.notify_all()

    async def _bind(self, route: _Route) -> asyncio.Server:
        listener = route.listener
        family = socket.AF_INET6 if ":" in listener.address else socket.AF_INET
        # IPPROTO_TCP, so that asyncio sets TCP_NODELAY on the accepted connections
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((listener.address, listener.port))
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            return await loop.create_server(lambda: _Connection(self, route).client, sock=sock, backlog=BACKLOG)
        except BaseException:
            sock.close()
            raise

    def _accepted(self, conn: _Connection) -> None:
        self.stats.accepted += 1
        self._connections.add(conn)
        task = asyncio.get_running_loop().create_task(conn.connect())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
