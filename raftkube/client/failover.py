"""Sending one request to several API endpoints: failover, bounded backoff, and what is safe to retry.

Policy (per request; the endpoint that last answered stays the first choice):
- connection refused / connect timeout: the request never left, so any method moves on to
  the next endpoint; so does 429 TooManyRequests (the server rejected it unprocessed).
- reads (GET/HEAD/OPTIONS, including list and watch): also retried on any transport error and
  on 5xx.
- writes (POST/PUT/PATCH/DELETE): a transport error after the request was sent raises
  `OutcomeUnknown`; a 5xx raises the typed `ServerError` (the write may have been committed).
  Neither is retried: the caller decides (a controller requeues, a create checks with a GET).
  The failing endpoint is still demoted, so the caller's next request goes elsewhere.
After every full round over the endpoints the client sleeps `base * 2**round` (capped at
`backoff_max`, with jitter; a Retry-After is honoured up to the cap); it gives up after
`max_attempts` attempts or `deadline` seconds with the last HTTP error, or `ApiUnavailable`
if no endpoint answered at all.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import httpx

from .errors import ApiError, ApiUnavailable, OutcomeUnknown, TooManyRequests, error_from_status

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


@dataclass
class RetryPolicy:
    max_attempts: int | None = None  # None: 3 rounds over the endpoints
    deadline: float = 30.0
    backoff_base: float = 0.05
    backoff_max: float = 2.0
    jitter: float = 0.1


async def error_from_response(response: httpx.Response) -> ApiError:
    """The typed error for an HTTP answer >= 400 (reads the body if it was streamed)."""
    raw = await response.aread()
    retry_after: float | None = None
    header = response.headers.get("retry-after")
    if header:
        try:
            retry_after = float(header)
        except ValueError:
            retry_after = None
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return error_from_status(body, response.status_code, text=raw.decode(errors="replace")[:500],
                             retry_after=retry_after)


class Failover:
    def __init__(self, endpoints: list[str], http: httpx.AsyncClient, policy: RetryPolicy | None = None, *,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoints = [e.rstrip("/") for e in endpoints if e.strip()]
        if not self.endpoints:
            raise ValueError("at least one API endpoint is needed")
        self.http = http
        self.policy = policy or RetryPolicy()
        self._sleep, self._clock = sleep, clock
        self.current = 0
        self.attempts_made = 0  # every attempt, for tests and metrics

    @property
    def current_endpoint(self) -> str:
        return self.endpoints[self.current]

    def _demote(self, index: int) -> None:
        if self.current == index:
            self.current = (index + 1) % len(self.endpoints)

    def demote_url(self, url: str) -> None:
        """Demote the endpoint a URL was sent to (after a broken stream)."""
        for index, endpoint in enumerate(self.endpoints):
            if url.startswith(endpoint + "/"):
                self._demote(index)
                return

    def _backoff(self, round_no: int, retry_after: float | None) -> float:
        p = self.policy
        delay = min(p.backoff_base * 2.0 ** max(round_no - 1, 0), p.backoff_max)
        if retry_after is not None:
            delay = max(delay, min(retry_after, p.backoff_max))
        return delay * (1 + random.uniform(0, p.jitter)) if p.jitter else delay

    async def send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                   content: bytes | None = None, headers: dict[str, str] | None = None,
                   timeout: httpx.Timeout | None = None, stream: bool = False) -> httpx.Response:
        """The first answer < 400 (a streamed response is left open for the caller to read and close)."""
        method = method.upper()
        read = method in READ_METHODS
        n = len(self.endpoints)
        max_attempts = self.policy.max_attempts or 3 * n
        stop = self._clock() + self.policy.deadline
        last_http: ApiError | None = None
        last_transport = "no attempt made"
        for attempt in range(1, max_attempts + 1):
            index = self.current
            endpoint = self.endpoints[index]
            retry_after: float | None = None
            self.attempts_made += 1
            try:
                request = self.http.build_request(method, endpoint + path, params=params, content=content,
                                                  headers=headers, timeout=timeout if timeout is not None else
                                                  httpx.USE_CLIENT_DEFAULT)
                response = await self.http.send(request, stream=stream)
            except _NOT_SENT as exc:
                last_transport = f"{endpoint}: {type(exc).__name__}: {exc}"
            except httpx.TransportError as exc:
                if not read:
                    self._demote(index)
                    raise OutcomeUnknown(message=f"{method} {path} on {endpoint}: {type(exc).__name__}: {exc}; the "
                                         "request was sent but its outcome is unknown (not retried)") from exc
                last_transport = f"{endpoint}: {type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                err = await error_from_response(response)
                await response.aclose()
                retryable = isinstance(err, TooManyRequests) or (read and err.code >= 500)
                if err.code >= 500 or isinstance(err, TooManyRequests):
                    self._demote(index)
                if not retryable:
                    raise err
                last_http, retry_after = err, err.retry_after
            self._demote(index)
            if attempt == max_attempts or self._clock() >= stop:
                break
            if attempt % n == 0 or retry_after is not None:
                await self._sleep(self._backoff(attempt // n or 1, retry_after))
        if last_http is not None:
            raise last_http
        raise ApiUnavailable(message=f"no API endpoint answered {method} {path} (last: {last_transport})")
