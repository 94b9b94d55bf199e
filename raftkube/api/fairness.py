"""API fairness: max in-flight requests with a fair queue per user, and a cap on open watches.

kube-apiserver's model, sized for this one-threaded Python server:
- `--max-requests-inflight` (read-only) and `--max-mutating-requests-inflight` (writes) bound the
  requests being served at once; long-running requests (watches, `log?follow=true`) are not
  counted, they have the watch cap instead. 0 turns a limit off, as in Kubernetes.
- Priority levels, as API Priority and Fairness sets them up by default: `system:masters` is
  exempt (never queued or refused: the controllers and the admin); `system:nodes` have their
  own level, a quarter of each limit, so a flooding user cannot crowd out the agents' status
  updates; everyone else shares the `workload` level, the other three quarters.
- Within a level a full limit queues the request in its user's own queue (at most
  `queue_length` requests, waiting at most `queue_wait` seconds), and each freed seat goes to
  the next user in turn (round robin across users, FIFO within one): a user sending a thousand
  requests waits behind their own, while another user's request takes the next free seat.
- A request that finds its user's queue full, or waits too long, is refused: 429 TooManyRequests
  with `Retry-After: 1` and Kubernetes' message "Too many requests, please try again later.".
- Watches: at most `max_watches` open on this server, `max_watches_per_user` per user
  (system:masters count toward the total only), refused with the same 429.

Defaults (justified in FairnessConfig) come from what one event loop can serve: a request costs
0.3-3 ms of CPU here against kube-apiserver's many cores, so 400/200 seats would only lengthen
the queue inside the loop; past ~100 concurrent reads the loop is saturated and more seats add
latency, not throughput.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from .auth import User
from .errors import APIError, Cause, too_many_requests

TOO_MANY = "Too many requests, please try again later."
EXEMPT_GROUP = "system:masters"
SYSTEM_GROUP = "system:nodes"
MUTATING_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "post", "put"})
SYSTEM_SHARE = 0.25  # of each limit, for system:nodes


@dataclass(frozen=True)
class FairnessConfig:
    """Limits per API server. The defaults: 100 reads and 50 writes in flight keep a saturated loop's
    own queue under ~100-200 ms of work (measured in bench/api_fairness_bench.py); a user may queue
    50 more and wait 5 s (under the clients' request timeouts); 2,000 watches (~100 agents with a
    dozen informers, plus the controllers) and 100 per user (an agent uses a handful, a controller
    manager ~30)."""

    max_requests_inflight: int = 100
    max_mutating_requests_inflight: int = 50
    queue_length: int = 50
    queue_wait: float = 5.0
    max_watches: int = 2000
    max_watches_per_user: int = 100


def refused(detail: str) -> APIError:
    err = too_many_requests(TOO_MANY, retry_after=1)
    err.causes = [Cause("", detail, "TooManyRequests")]
    return err


class FairQueue:
    """`limit` seats; waiting requests queue per user and are seated round robin across users."""

    def __init__(self, name: str, limit: int, queue_length: int, queue_wait: float) -> None:
        self.name, self.limit, self.queue_length, self.queue_wait = name, limit, queue_length, queue_wait
        self.seated = 0
        self._queues: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()  # the rotation order

    @property
    def queued(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def acquire(self, user: str) -> None:
        if self.seated < self.limit and not self._queues:
            self.seated += 1
            return
        queue = self._queues.get(user)
        if queue is not None and len(queue) >= self.queue_length:
            raise refused(f"{self.name}: {self.seated} requests in flight and {len(queue)} of user {user!r} "
                          f"queued, the most one user may queue")
        if self.queue_length == 0:
            raise refused(f"{self.name}: {self.seated} requests in flight, the limit")
        seat: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(user, deque()).append(seat)
        try:
            await asyncio.wait_for(asyncio.shield(seat), self.queue_wait)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if seat.done() and not seat.cancelled():  # seated at the last moment: give the seat back
                self.release()
            else:
                seat.cancel()
                self._leave(user, seat)
            if isinstance(exc, TimeoutError):
                raise refused(f"{self.name}: waited {self.queue_wait:g} s in user {user!r}'s queue for one of "
                              f"{self.limit} seats") from None
            raise

    def _leave(self, user: str, seat: asyncio.Future[None]) -> None:
        queue = self._queues.get(user)
        if queue is not None and seat in queue:
            queue.remove(seat)
            if not queue:
                del self._queues[user]

    def release(self) -> None:
        self.seated -= 1
        while self.seated < self.limit and self._queues:
            user, queue = self._queues.popitem(last=False)  # the next user in turn ...
            seat = queue.popleft()  # ... their oldest request
            if queue:
                self._queues[user] = queue  # to the back of the rotation
            if not seat.done():
                self.seated += 1
                seat.set_result(None)


class Fairness:
    """Admission of requests to the handlers: `enter` returns the function that gives the seat back."""

    def __init__(self, config: FairnessConfig) -> None:
        self.config = config
        c = config
        self._levels: dict[str, dict[bool, FairQueue | None]] = {}
        for level, share in (("system", SYSTEM_SHARE), ("workload", 1 - SYSTEM_SHARE)):
            self._levels[level] = {
                mutating: None if total <= 0 else FairQueue(
                    f"priority level {level!r} ({'mutating' if mutating else 'read-only'})",
                    max(1, math.floor(total * share)), c.queue_length, c.queue_wait)
                for mutating, total in ((False, c.max_requests_inflight), (True, c.max_mutating_requests_inflight))}
        self.watches = 0
        self._watches_by_user: dict[str, int] = {}

    @staticmethod
    def level(user: User | None) -> str:
        groups = user.groups if user is not None else ()
        if EXEMPT_GROUP in groups:
            return "exempt"
        return "system" if SYSTEM_GROUP in groups else "workload"

    def queue(self, user: User | None, verb: str) -> FairQueue | None:
        level = self.level(user)
        return None if level == "exempt" else self._levels[level][verb in MUTATING_VERBS]

    async def enter(self, user: User | None, verb: str, long_running: bool) -> Callable[[], None]:
        name = user.name if user is not None else "system:anonymous"
        if long_running:
            return self._open_watch(name, self.level(user) == "exempt")
        queue = self.queue(user, verb)
        if queue is None:
            return _nothing
        await queue.acquire(name)
        return queue.release

    def _open_watch(self, name: str, exempt: bool) -> Callable[[], None]:
        c = self.config
        if c.max_watches > 0 and self.watches >= c.max_watches:
            raise refused(f"{self.watches} watches open on this server, the limit (--max-watches)")
        mine = self._watches_by_user.get(name, 0)
        if not exempt and c.max_watches_per_user > 0 and mine >= c.max_watches_per_user:
            raise refused(f"user {name!r} has {mine} watches open, the limit per user (--max-watches-per-user)")
        self.watches += 1
        self._watches_by_user[name] = mine + 1
        closed = False

        def close() -> None:
            nonlocal closed
            if closed:
                return
            closed = True
            self.watches -= 1
            left = self._watches_by_user[name] - 1
            if left:
                self._watches_by_user[name] = left
            else:
                del self._watches_by_user[name]
        return close


def _nothing() -> None:
    return None


def is_long_running(verb: str, subresource: str, query: dict[str, str]) -> bool:
    """Watches and followed logs stream for as long as the client likes (kube-apiserver's long-running check)."""
    if verb == "watch":
        return True
    follow = query.get("follow", "").lower() in ("1", "true")
    return subresource in ("log", "exec", "attach", "portforward", "proxy") and (follow or subresource != "log")
