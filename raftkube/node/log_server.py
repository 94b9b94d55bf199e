"""The agent's HTTP endpoint, as a kubelet's: `GET /containerLogs/{namespace}/{pod}/{container}`
(query: follow, previous, tailLines, timestamps) streams the container's output from the runtime;
`GET /healthz`. The API server proxies `pods/{name}/log` here (Node InternalIP + daemonEndpoints
port). Plain HTTP on the node's address; a missing pod or container is a 404 that says which."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from .runtime import Runtime, RuntimeError_

# (namespace, pod name) -> (pod uid, names of its containers and init containers), or None
PodLookup = Callable[[str, str], tuple[str, list[str]] | None]


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


def build_app(runtime: Runtime, lookup: PodLookup) -> Starlette:
    async def container_logs(request: Request) -> Response:
        namespace, pod, container = (request.path_params[k] for k in ("namespace", "pod", "container"))
        found = lookup(namespace, pod)
        if found is None:
            return PlainTextResponse(f"pod {namespace}/{pod} is not on this node\n", status_code=404)
        uid, names = found
        if container not in names:
            return PlainTextResponse(f"container {container} is not valid for pod {pod} "
                                     f"(containers: {', '.join(names)})\n", status_code=404)
        tail_text = request.query_params.get("tailLines")
        try:
            tail = int(tail_text) if tail_text else None
        except ValueError:
            return PlainTextResponse(f"tailLines must be an integer, not {tail_text!r}\n", status_code=400)
        chunks = runtime.logs(uid, container, previous=_flag(request, "previous"), follow=_flag(request, "follow"),
                              tail_lines=tail, timestamps=_flag(request, "timestamps"))
        try:
            first = await anext(chunks, b"")
        except RuntimeError_ as exc:
            code = 404 if exc.reason == "NotFound" else 500
            return PlainTextResponse(f"{exc.message}\n", status_code=code)

        async def stream() -> AsyncIterator[bytes]:
            async with contextlib.aclosing(chunks):  # type: ignore[type-var]
                if first:
                    yield first
                async for chunk in chunks:
                    yield chunk
        return StreamingResponse(stream(), media_type="text/plain")

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/containerLogs/{namespace}/{pod}/{container}", container_logs),
                             Route("/healthz", healthz)])


class LogServer:
    """uvicorn serving `build_app` on host:port, in a task of the running loop."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                                    access_log=False))
        self.server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 30.0) -> None:
        self._task = asyncio.get_running_loop().create_task(self.server.serve())
        deadline = asyncio.get_running_loop().time() + timeout
        for _ in range(int(timeout / 0.02) + 1):  # uvicorn has no "started" event to await
            if self.server.started:
                return
            if self._task.done():
                try:
                    self._task.result()
                except SystemExit as exc:  # uvicorn exits when it cannot bind
                    raise OSError(f"log server could not listen on {self.server.config.host}:"
                                  f"{self.server.config.port}") from exc
                raise OSError("log server stopped at start")
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        raise TimeoutError("log server did not start")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception, SystemExit, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5)
