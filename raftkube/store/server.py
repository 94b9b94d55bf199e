"""Runs one store replica and its HTTP port in one asyncio loop until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any, Callable, Coroutine

import uvicorn

from .config import ReplicaConfig
from .gc_policy import settle_server_process
from .http_protocol import CoalescingHttpToolsProtocol
from .http_server import build_app
from .replica import CannotStart, StoreReplica


def split_host_port(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host or "127.0.0.1", int(port)


async def serve(config: ReplicaConfig, http_addr: str, token: str | None = None) -> None:
    replica = StoreReplica(config)
    await replica.start()
    host, port = split_host_port(http_addr)
    server = uvicorn.Server(uvicorn.Config(build_app(replica, token), host=host, port=port, log_level="warning",
                                           lifespan="off", access_log=False,
                                           proxy_headers=False,  # no proxy in front: skip its middleware
                                           http=CoalescingHttpToolsProtocol))
    settle_server_process()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]  # we own the signals
    serving = asyncio.create_task(server.serve())
    await stopping.wait()
    server.should_exit = True
    await serving
    await replica.stop()


def run(config: ReplicaConfig, http_addr: str, token: str | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run_loop(serve(config, http_addr, token))


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (about twice the HTTP throughput), else asyncio; a replica
    that cannot start (cannot listen on its Raft address, a data dir restored for another member)
    exits 1 with a message naming the problem."""
    try:
        import uvloop
        runner: Callable[[Coroutine[Any, Any, None]], None] = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        runner(main)
    except CannotStart as exc:
        sys.exit(f"error: {exc}")
