"""ReadIndex's rules on a scripted Raft view: one heartbeat round per batch of reads, confirmation
only by a majority answering a new enough round in the leader's own term, refusal when a peer is in
a newer term, the wait for a committed entry of the term, followers forwarding and waiting to apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from raftkube.store import read_index
from raftkube.store.read_index import DEPOSED, NO_LEADER, NOT_LEADER, PING, PONG, REQUEST, RESPONSE, ReadIndex


@dataclass
class View:
    leader: bool = True
    term: int = 3
    commit: int = 10
    applied: int = 10
    term_committed: bool = True
    known_leader: Any = None
    voters: set[str] = field(default_factory=lambda: {"b", "c"})
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def ri_is_leader(self) -> bool:
        return self.leader

    def ri_term(self) -> int:
        return self.term

    def ri_commit_index(self) -> int:
        return self.commit

    def ri_term_committed(self) -> bool:
        return self.term_committed

    def ri_applied_index(self) -> int:
        return self.applied

    def ri_leader(self) -> Any:
        return self.known_leader

    def ri_voters(self) -> set[str]:
        return set(self.voters)

    def ri_send(self, node: Any, message: dict[str, Any]) -> None:
        self.sent.append((node, message))

    def ri_wake(self) -> None:
        pass

    def pings(self) -> list[tuple[str, dict[str, Any]]]:
        return [(n, m) for n, m in self.sent if m["type"] == PING]


class Reads:
    def __init__(self, ri: ReadIndex) -> None:
        self.ri = ri
        self.results: list[tuple[int | None, str | None]] = []

    def ask(self, n: int = 1) -> None:
        for _ in range(n):
            self.ri.request(lambda index, error: self.results.append((index, error)))


def setup(**kwargs: Any) -> tuple[View, ReadIndex, Reads]:
    view = View(**kwargs)
    ri = ReadIndex(view)
    return view, ri, Reads(ri)


def pong(ri: ReadIndex, node: str, term: int, seq: int) -> None:
    ri.on_message(node, {"type": PONG, "term": term, "seq": seq})


def test_reads_of_one_tick_share_one_round_and_wait_for_a_majority() -> None:
    view, ri, reads = setup()
    reads.ask(50)
    ri.on_tick()
    assert len(view.pings()) == 2 and ri.rounds == 1  # one round to both voters for all 50 reads
    assert {m["seq"] for _, m in view.pings()} == {1} and reads.results == []
    view.commit = 12  # a later commit does not move the index these reads were given
    pong(ri, "b", 3, 1)  # with the leader itself: 2 of 3
    assert reads.results == [(10, None)] * 50
    pong(ri, "c", 3, 1)
    assert len(reads.results) == 50


def test_an_answer_to_an_older_round_does_not_confirm_a_newer_read() -> None:
    view, ri, reads = setup()
    reads.ask()
    ri.on_tick()
    reads.ask()  # registered after round 1 was sent: needs round 2
    ri.on_tick()
    assert ri.rounds == 1  # one round in flight at a time: round 2 waits for round 1's answers
    pong(ri, "b", 3, 1)
    assert reads.results == [(10, None)]
    ri.on_tick()
    assert ri.rounds == 2
    pong(ri, "c", 3, 1)
    assert len(reads.results) == 1
    pong(ri, "c", 3, 2)
    assert len(reads.results) == 2


def test_a_round_unanswered_for_long_is_followed_by_another(monkeypatch: pytest.MonkeyPatch) -> None:
    view, ri, reads = setup()
    reads.ask()
    ri.on_tick()
    reads.ask()
    clock = [read_index.monotonic_time() + read_index.ROUND_RETRY + 0.01]
    monkeypatch.setattr(read_index, "monotonic_time", lambda: clock[0])
    ri.on_tick()
    assert ri.rounds == 2  # the first round's answers may have been lost with a connection
    pong(ri, "b", 3, 2)
    assert reads.results == [(10, None)] * 2


def test_answers_from_another_term_or_a_non_voter_do_not_count() -> None:
    view, ri, reads = setup()
    reads.ask()
    ri.on_tick()
    pong(ri, "b", 2, 1)  # a member still in an older term
    pong(ri, "stranger", 3, 1)
    assert reads.results == []


def test_a_peer_in_a_newer_term_refuses_the_pending_reads() -> None:
    view, ri, reads = setup()
    reads.ask(3)
    ri.on_tick()
    pong(ri, "b", 4, 1)  # someone was elected in term 4: this leader may be deposed
    assert reads.results == [(None, DEPOSED)] * 3
    pong(ri, "c", 3, 1)
    assert len(reads.results) == 3  # nothing confirmed afterwards


def test_a_leader_that_stepped_down_refuses_and_never_confirms() -> None:
    view, ri, reads = setup()
    reads.ask()
    ri.on_tick()
    view.leader = False
    ri.on_tick()
    assert reads.results == [(None, DEPOSED)]
    pong(ri, "b", 3, 1)
    assert reads.results == [(None, DEPOSED)]


def test_a_new_term_forgets_the_old_terms_answers() -> None:
    view, ri, reads = setup()
    reads.ask()
    ri.on_tick()
    pong(ri, "b", 3, 1)
    view.term = 5  # re-elected in a later term: answers of term 3 prove nothing now
    reads.ask()
    ri.on_tick()
    assert reads.results[0] == (10, None) and len(reads.results) == 1
    latest = max(m["seq"] for _, m in view.pings())
    pong(ri, "b", 3, latest)
    assert len(reads.results) == 1
    pong(ri, "b", 5, latest)
    assert reads.results[1] == (10, None)


def test_a_new_leader_waits_for_an_entry_of_its_term_before_taking_an_index() -> None:
    view, ri, reads = setup(term_committed=False, commit=7)
    reads.ask()
    ri.on_tick()
    assert view.pings() == []
    view.term_committed, view.commit, view.applied = True, 9, 9
    ri.on_tick()
    pong(ri, "b", 3, 1)
    assert reads.results == [(9, None)]


def test_the_leader_answers_after_applying_the_index() -> None:
    view, ri, reads = setup(commit=12, applied=10)
    reads.ask()
    ri.on_tick()
    pong(ri, "b", 3, 1)
    assert reads.results == []
    view.applied = 12
    ri.on_tick()
    assert reads.results == [(12, None)]


def test_a_lone_replica_confirms_at_once() -> None:
    view, ri, reads = setup(voters=set())
    reads.ask()
    ri.on_tick()
    assert reads.results == [(10, None)] and view.sent == []


def test_a_follower_forwards_and_waits_for_its_own_apply() -> None:
    view, ri, reads = setup(leader=False, known_leader="a", applied=5)
    reads.ask()
    ri.on_tick()
    [(to, request)] = view.sent
    assert to == "a" and request["type"] == REQUEST
    ri.on_message("b", {"type": RESPONSE, "id": request["id"], "index": 8})  # not from the leader asked
    ri.on_message("a", {"type": RESPONSE, "id": request["id"], "index": 8})
    assert reads.results == []
    view.applied = 8
    ri.on_tick()
    assert reads.results == [(8, None)]


def test_a_follower_read_fails_when_the_leader_changes_or_refuses() -> None:
    view, ri, reads = setup(leader=False, known_leader="a")
    reads.ask(5)  # the reads of one tick share one request
    ri.on_tick()
    assert len(view.sent) == 1
    reads.ask()
    ri.on_tick()
    first, second = (m["id"] for _, m in view.sent)
    ri.on_message("a", {"type": RESPONSE, "id": first, "error": NOT_LEADER})
    view.known_leader = "c"
    ri.on_tick()
    assert reads.results == [(None, NOT_LEADER)] * 5 + [(None, DEPOSED)]
    view.known_leader = None
    reads.ask()
    ri.on_tick()
    assert reads.results[-1] == (None, NO_LEADER)


def test_the_leader_serves_a_forwarded_request_after_its_round() -> None:
    view, ri, _ = setup()
    ri.on_message("b", {"type": REQUEST, "id": 7})
    ri.on_tick()
    pong(ri, "c", 3, 1)
    assert ("b", {"type": RESPONSE, "id": 7, "index": 10}) in view.sent
    view.leader = False
    ri.on_message("b", {"type": REQUEST, "id": 8})
    assert ("b", {"type": RESPONSE, "id": 8, "error": NOT_LEADER}) in view.sent


def test_a_member_answers_a_ping_with_its_own_term() -> None:
    view, ri, _ = setup(leader=False, term=6)
    ri.on_message("a", {"type": PING, "term": 5, "seq": 4})
    assert view.sent == [("a", {"type": PONG, "term": 6, "seq": 4})]


def test_unanswered_reads_expire() -> None:
    view = View()
    ri = ReadIndex(view, expiry=0.0)
    Reads(ri).ask()
    ri.on_tick()
    ri.on_tick()
    assert ri.pending_count() == 0
