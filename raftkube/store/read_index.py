"""Linearizable reads without a log entry: Raft's ReadIndex (Raft thesis §6.4) on PySyncObj.

A read asks `ReadIndex.request(done)` from any thread. On the tick thread (`on_tick`, once per
tick, and `on_message` for our own peer messages) the leader:

1. waits until an entry of its current term is committed (PySyncObj's no-op at election), so its
   commit index covers every entry any earlier leader committed;
2. records its commit index as the read's index and the next heartbeat round's number;
3. sends that round (`rk_ri_ping` {term, seq}) to every voting peer, one round shared by every read
   registered since the last one, and one round in flight at a time (so a burst of reads costs
   two rounds, not one per tick);
4. confirms the read once a majority (itself included) answered (`rk_ri_pong`) a round at least that
   new *with the leader's own term*: a member that answers at term T after the read's index was taken
   had not joined any later term, and a majority of them meets every majority that could have elected
   a newer leader, so no write newer than the index was committed anywhere before the confirmation;
5. answers once its own applied index reached the read's index (`done(index, None)`).

A follower forwards the reads of one tick as one request (`rk_ri_req` {id}) to the leader it knows; the leader runs 1-4
and answers `rk_ri_resp` {id, index} (or {id, error}); the follower answers its reader once
*its* applied index reached that index. A deposed leader cannot confirm a read: its peers answer
with their newer term (the read is refused, `done(None, reason)`) or not at all (the reader's
timeout). Nothing here is replicated or stored: a reader that gives up leaves nothing behind
but an entry that expires after `expiry` seconds. All replicas must run this code (an older
replica ignores the messages, so reads through it time out): upgrade all replicas at once.
"""

from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from pysyncobj.monotonic import monotonic as monotonic_time

Done = Callable[[int | None, str | None], None]  # (read index, None) or (None, why it was refused)
PING, PONG, REQUEST, RESPONSE = "rk_ri_ping", "rk_ri_pong", "rk_ri_req", "rk_ri_resp"
MESSAGE_TYPES = frozenset({PING, PONG, REQUEST, RESPONSE})
NOT_LEADER = "not the leader"
DEPOSED = "leadership lost before the read was confirmed"
NO_LEADER = "no known leader"
ROUND_RETRY = 0.05  # seconds before another round is sent while one is still unanswered


class RaftView(Protocol):
    """What ReadIndex needs of the Raft node (raft_node.RaftNode implements it from PySyncObj's state)."""

    def ri_is_leader(self) -> bool: ...
    def ri_term(self) -> int: ...
    def ri_commit_index(self) -> int: ...
    def ri_term_committed(self) -> bool: ...  # an entry of the leader's own term is committed
    def ri_applied_index(self) -> int: ...
    def ri_leader(self) -> Any: ...  # the known leader's node, or None
    def ri_voters(self) -> set[Any]: ...  # the other voting members
    def ri_send(self, node: Any, message: dict[str, Any]) -> None: ...
    def ri_wake(self) -> None: ...  # wake the tick thread (thread-safe)


@dataclass
class _Pending:  # a read on the leader, waiting for its heartbeat round
    index: int
    seq: int
    term: int
    done: Done
    since: float


@dataclass
class _Forwarded:  # a read on a follower, waiting for the leader's answer
    leader: Any
    done: Done
    since: float


def _all(dones: list[Done]) -> Done:
    def done(index: int | None, error: str | None) -> None:
        for one in dones:
            one(index, error)
    return done


class ReadIndex:
    def __init__(self, view: RaftView, expiry: float = 10.0) -> None:
        self._view = view
        self._expiry = expiry
        self._incoming: collections.deque[Done] = collections.deque()  # from any thread
        self._waiting_term: list[Done] = []  # leader reads waiting for a committed entry of the term
        self._pending: list[_Pending] = []
        self._applying: list[tuple[int, Done, float]] = []  # confirmed, waiting for the local apply
        self._forwarded: dict[int, _Forwarded] = {}
        self._ids = itertools.count(1)
        self._seq_sent = 0  # the last heartbeat round sent
        self._sent_at = 0.0
        self._round_term = -1
        self._acks: dict[Any, int] = {}  # the newest round each voter answered in `_round_term`
        self.rounds = 0  # heartbeat rounds sent (status, tests)

    # --------------------------------------------------------- any thread
    def request(self, done: Done) -> None:
        """Ask for a read index; `done` runs on the tick thread once this replica applied it (or refused)."""
        self._incoming.append(done)
        self._view.ri_wake()

    # --------------------------------------------------------- tick thread
    def on_tick(self) -> None:
        view = self._view
        now = monotonic_time()
        leader = view.ri_is_leader()
        term = view.ri_term()
        if term != self._round_term:
            self._round_term, self._acks, self._sent_at = term, {}, 0.0  # nothing in flight in the new term
        if self._pending and (not leader or self._pending[0].term != term):
            self._fail_pending(DEPOSED)
        if self._waiting_term and not leader:
            waiting, self._waiting_term = self._waiting_term, []
            for done in waiting:
                done(None, NOT_LEADER)
        if self._incoming:
            dones = []
            while self._incoming:
                dones.append(self._incoming.popleft())
            self._route(dones, leader, now)
        if leader and self._waiting_term and view.ri_term_committed():
            waiting, self._waiting_term = self._waiting_term, []
            for done in waiting:
                self._register(done, term, now)
        self._confirm()
        if self._pending and self._pending[-1].seq > self._seq_sent and self._may_send(now):
            self._send_round(term, now)
        self._expire(now)
        self._finish_applied()

    def on_message(self, node: Any, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == PING:
            self._view.ri_send(node, {"type": PONG, "term": self._view.ri_term(), "seq": message.get("seq")})
        elif kind == PONG:
            self._on_pong(node, message)
        elif kind == REQUEST:
            self._on_request(node, message.get("id"))
        elif kind == RESPONSE:
            self._on_response(node, message)

    # --------------------------------------------------------- leader side
    def _route(self, dones: list[Done], leader: bool, now: float) -> None:
        view = self._view
        if leader:
            for done in dones:
                done = self._when_applied(done)
                if view.ri_term_committed():
                    self._register(done, view.ri_term(), now)
                else:
                    self._waiting_term.append(done)
            return
        target = view.ri_leader()
        if target is None:
            for done in dones:
                done(None, NO_LEADER)
            return
        request_id = next(self._ids)  # one request for every read of this tick
        self._forwarded[request_id] = _Forwarded(target, self._when_applied(_all(dones)), now)
        view.ri_send(target, {"type": REQUEST, "id": request_id})

    def _register(self, done: Done, term: int, now: float) -> None:
        pending = _Pending(self._view.ri_commit_index(), self._seq_sent + 1, term, done, now)
        self._pending.append(pending)

    def _may_send(self, now: float) -> bool:
        """One round in flight at a time (reads arriving meanwhile share the next one), unless the
        one in flight is older than ROUND_RETRY (an answer lost with a dropped connection)."""
        return self._confirmed_round() >= self._seq_sent or now - self._sent_at > ROUND_RETRY

    def _send_round(self, term: int, now: float) -> None:
        self._sent_at = now
        self._seq_sent += 1
        self.rounds += 1
        message = {"type": PING, "term": term, "seq": self._seq_sent}
        for node in self._view.ri_voters():
            self._view.ri_send(node, message)

    def _on_pong(self, node: Any, message: dict[str, Any]) -> None:
        term, seq = message.get("term"), message.get("seq")
        if not isinstance(term, int) or not isinstance(seq, int):
            return
        if term > self._view.ri_term():
            self._fail_pending(DEPOSED)  # a peer is in a newer term: someone else may lead
            return
        if term != self._round_term or not self._view.ri_is_leader() or node not in self._view.ri_voters():
            return
        if self._acks.get(node, 0) < seq:
            self._acks[node] = seq
        self._confirm()

    def _confirmed_round(self) -> int:
        """The newest round a majority (this leader included) answered in the current term."""
        voters = self._view.ri_voters()
        needed = (len(voters) + 1) // 2  # answers from others, with our own vote a majority
        if needed == 0:
            return self._seq_sent + 1  # alone: a read is confirmed as soon as it is registered
        acked = sorted((self._acks.get(node, 0) for node in voters), reverse=True)
        return acked[needed - 1]

    def _confirm(self) -> None:
        if not self._pending or not self._view.ri_is_leader():
            return
        confirmed = self._confirmed_round()
        keep: list[_Pending] = []
        for pending in self._pending:
            if pending.seq <= confirmed and pending.term == self._round_term:
                pending.done(pending.index, None)
            else:
                keep.append(pending)
        self._pending = keep

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, []
        for p in pending:
            p.done(None, reason)

    def _on_request(self, node: Any, request_id: Any) -> None:
        if not isinstance(request_id, int):
            return
        view = self._view

        def answer(index: int | None, error: str | None) -> None:
            reply: dict[str, Any] = {"type": RESPONSE, "id": request_id}
            if index is None:
                reply["error"] = error or NOT_LEADER
            else:
                reply["index"] = index
            view.ri_send(node, reply)
        if not view.ri_is_leader():
            answer(None, NOT_LEADER)
        elif view.ri_term_committed():
            self._register(answer, view.ri_term(), monotonic_time())
        else:
            self._waiting_term.append(answer)

    # --------------------------------------------------------- follower side
    def _on_response(self, node: Any, message: dict[str, Any]) -> None:
        forwarded = self._forwarded.get(message.get("id"))  # type: ignore[arg-type]
        if forwarded is None or forwarded.leader != node:
            return
        del self._forwarded[message["id"]]
        index = message.get("index")
        if isinstance(index, int):
            forwarded.done(index, None)
        else:
            forwarded.done(None, str(message.get("error") or NOT_LEADER))

    def _when_applied(self, done: Done) -> Done:
        def confirmed(index: int | None, error: str | None) -> None:
            if index is None:
                done(None, error)
            else:
                self._applying.append((index, done, monotonic_time()))
                self._finish_applied()
        return confirmed

    def _finish_applied(self) -> None:
        if not self._applying:
            return
        applied = self._view.ri_applied_index()
        keep = []
        for index, done, since in self._applying:
            if index <= applied:
                done(index, None)
            else:
                keep.append((index, done, since))
        self._applying = keep

    def _expire(self, now: float) -> None:
        """Forget reads whose reader long gave up; fail forwarded reads whose leader changed."""
        horizon = now - self._expiry
        leader = self._view.ri_leader()
        for request_id, forwarded in list(self._forwarded.items()):
            if forwarded.leader != leader or forwarded.since < horizon:
                del self._forwarded[request_id]
                forwarded.done(None, NO_LEADER if leader is None else DEPOSED)
        if self._pending and self._pending[0].since < horizon:
            self._pending = [p for p in self._pending if p.since >= horizon]
        self._applying = [a for a in self._applying if a[2] >= horizon]

    def pending_count(self) -> int:
        return len(self._pending) + len(self._waiting_term) + len(self._forwarded) + len(self._applying)
