"""The store client over HTTP, with failover across replicas.

Any replica accepts any call (writes are forwarded to the Raft leader). When a replica is
down, refuses, or answers "unavailable", the client moves on to the next endpoint and tries
again until `deadline` seconds have passed. A write whose outcome is unknown is retried with
the same request id, which the state machine applies at most once. A watch that loses its
replica resumes on another from the revision after the last one it delivered: no gap, no
duplicate.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator

import httpx
import msgpack

from .backup_state import BadBackup
from .client import StoreClient
from .errors import OutcomeUnknown, StoreError, Unavailable, WatchCancelled, error_from_wire
from .mvcc import Outcome
from .snapshot_file import SnapshotInfo, SnapshotWriter
from .types import LeaseInfo, RangeResult
from .watch_hub import WatchResponse
from .wire import CONTENT_TYPE, outcome_from_wire, pack, range_from_wire, unpack, watch_response_from_wire

_RETRYABLE = (Unavailable, OutcomeUnknown)


def _decode(response: httpx.Response) -> Any:
    """msgpack or JSON body; anything else (a proxy's or a crashed handler's text) as None."""
    try:
        if response.headers.get("content-type") == CONTENT_TYPE:
            return unpack(response.content)
        return response.json()
    except ValueError:
        return None


class HttpClient(StoreClient):
    def __init__(self, endpoints: list[str] | str, token: str | None = None, deadline: float = 15.0,
                 request_timeout: float = 10.0) -> None:
        self.endpoints = [e.rstrip("/") for e in (endpoints.split(",") if isinstance(endpoints, str) else endpoints)]
        if not self.endpoints:
            raise ValueError("at least one endpoint is needed")
        self.deadline = deadline
        self.request_timeout = request_timeout
        self._current = 0
        headers = {"content-type": CONTENT_TYPE}
        if token:
            headers["authorization"] = f"Bearer {token}"
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        self._http = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(request_timeout, connect=1.0),
                                       limits=limits)

    async def close(self) -> None:
        await self._http.aclose()

    def _rotate(self, failed: int) -> None:
        if self._current == failed:
            self._current = (failed + 1) % len(self.endpoints)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None, write: bool = False) -> Any:
        """Send to the current endpoint, failing over until the deadline; raise StoreError.

        For a write, a request that may have reached a replica (any failure after the
        connection was made) has an unknown outcome; once any attempt's outcome is unknown,
        a final failure is reported as OutcomeUnknown, never as "not applied".
        """
        stop = time.monotonic() + self.deadline
        attempt = 0
        last: StoreError = Unavailable("no endpoint answered")
        unknown: OutcomeUnknown | None = None
        while True:
            index = self._current
            remaining = max(stop - time.monotonic(), 0.05)
            try:
                response = await self._http.request(
                    method, self.endpoints[index] + path, content=None if body is None else pack(body),
                    timeout=httpx.Timeout(min(self.request_timeout, remaining), connect=min(1.0, remaining)))
                data = _decode(response)
                if response.status_code < 400:
                    return data
                err = error_from_wire(data) if isinstance(data, dict) else (
                    OutcomeUnknown if write else Unavailable)(f"{self.endpoints[index]}: HTTP {response.status_code}")
                if not isinstance(err, _RETRYABLE):
                    raise err
                last = err
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                last = Unavailable(f"{self.endpoints[index]}: {exc.__class__.__name__}")
            except httpx.TransportError as exc:
                last = (OutcomeUnknown if write else Unavailable)(f"{self.endpoints[index]}: {exc.__class__.__name__}")
            if isinstance(last, OutcomeUnknown):
                unknown = last
            self._rotate(index)
            attempt += 1
            if time.monotonic() >= stop:
                raise unknown or last
            if attempt % len(self.endpoints) == 0:
                await asyncio.sleep(min(0.05 * attempt, 0.5, max(stop - time.monotonic(), 0)))

    async def execute(self, cmd: dict[str, Any]) -> Outcome:
        result = outcome_from_wire(await self._call("POST", "/v1/execute", cmd, write=True))
        if isinstance(result, StoreError):
            raise result
        return result

    async def range(self, key: bytes, end: bytes = b"", limit: int = 0, keys_only: bool = False,
                    count_only: bool = False, serializable: bool = False, revision: int = 0) -> RangeResult:
        return range_from_wire(await self._call("POST", "/v1/range", {
            "key": key, "range_end": end, "limit": limit, "keys_only": keys_only, "count_only": count_only,
            "serializable": serializable, "revision": revision}))

    async def leases(self, serializable: bool = False) -> list[LeaseInfo]:
        data = await self._call("POST", "/v1/leases", {"serializable": serializable})
        return [LeaseInfo(i, ttl, list(keys)) for i, ttl, keys in data["leases"]]

    async def status(self) -> dict[str, Any]:
        return await self._call("GET", "/v1/status")

    async def status_of(self, endpoint: str) -> dict[str, Any]:
        """Status of one replica, without failover."""
        response = await self._http.get(endpoint.rstrip("/") + "/v1/status")
        response.raise_for_status()
        return response.json()

    async def digest_of(self, endpoint: str) -> dict[str, Any]:
        """{revision, digest} of one replica's local state, without failover."""
        response = await self._http.get(endpoint.rstrip("/") + "/v1/digest")
        response.raise_for_status()
        return response.json()

    async def save_snapshot(self, path: str) -> SnapshotInfo:
        """Stream a replica's GET /v1/snapshot into the file `path` (written atomically, 0600).

        A stream cut short (a replica that died mid-way) leaves no file and is started again on
        the next replica, until the deadline: the file is always one whole revision.
        """
        stop = time.monotonic() + self.deadline
        last: StoreError = Unavailable("no endpoint answered")
        while True:
            index = self._current
            writer: SnapshotWriter | None = SnapshotWriter(path)
            try:
                async with self._http.stream("GET", self.endpoints[index] + "/v1/snapshot") as response:
                    if response.status_code >= 400:
                        await response.aread()
                        data = _decode(response)
                        err = error_from_wire(data) if isinstance(data, dict) else Unavailable(
                            f"{self.endpoints[index]}: HTTP {response.status_code}")
                        if not isinstance(err, _RETRYABLE):
                            raise err
                        last = err
                    else:
                        async for chunk in response.aiter_bytes():
                            writer.write(chunk)
                        info = writer.commit()
                        writer = None
                        return info
            except httpx.TransportError as exc:
                last = Unavailable(f"{self.endpoints[index]}: {exc.__class__.__name__}")
            except BadBackup as exc:
                last = Unavailable(f"{self.endpoints[index]}: the snapshot stream was cut short or damaged ({exc})")
            finally:
                if writer is not None:
                    writer.abort()
            self._rotate(index)
            if time.monotonic() >= stop:
                raise last
            await asyncio.sleep(0.05)

    async def add_member(self, raft_addr: str) -> None:
        await self._call("POST", "/v1/members", {"add": raft_addr}, write=True)

    async def remove_member(self, raft_addr: str) -> None:
        await self._call("POST", "/v1/members", {"remove": raft_addr}, write=True)

    async def watch(self, key: bytes, end: bytes = b"", start_revision: int = 0,
                    prev_kv: bool = False) -> AsyncIterator[WatchResponse]:
        next_revision = start_revision
        stop = time.monotonic() + self.deadline
        while True:
            index = self._current
            body = {"key": key, "range_end": end, "start_revision": next_revision, "prev_kv": prev_kv}
            try:
                async with self._http.stream("POST", self.endpoints[index] + "/v1/watch", content=pack(body),
                                             timeout=httpx.Timeout(None, connect=1.0)) as response:
                    if response.status_code >= 400:
                        err = error_from_wire(unpack(await response.aread()))
                        if not isinstance(err, _RETRYABLE):
                            raise err
                        raise httpx.TransportError(err.message)
                    unpacker = msgpack.Unpacker(raw=False)
                    async for chunk in response.aiter_bytes():
                        unpacker.feed(chunk)
                        for item in unpacker:
                            if "created" in item:
                                next_revision = max(next_revision, item["start_revision"])
                                continue
                            if "error" in item:
                                err = error_from_wire(item)
                                if isinstance(err, (WatchCancelled, Unavailable)):
                                    raise httpx.TransportError(err.message)
                                raise err
                            stop = time.monotonic() + self.deadline
                            watch_response = watch_response_from_wire(item)
                            if watch_response.events:
                                next_revision = watch_response.events[-1].revision + 1
                            else:
                                next_revision = max(next_revision, watch_response.revision + 1)
                            yield watch_response
                    raise httpx.TransportError("watch stream ended")
            except httpx.TransportError as exc:
                self._rotate(index)
                if time.monotonic() >= stop:
                    raise Unavailable(f"watch could not be resumed: {exc}") from None
                await asyncio.sleep(0.05)
