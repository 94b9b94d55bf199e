"""Watch stream checker: ordered, duplicate-free, gap-free streams that agree with each other.

Streams are labelled "<replica>:<prefix>" and hold (revision, key, event type) in the order
received. Within a stream revisions never go back and a (revision, key) pair never repeats (one
transaction may touch several keys at the same revision). Streams on the same prefix must carry the
same (revision, key) sequence over the revision range both covered; an acknowledged write's
(key, revision) must appear in every stream whose prefix and range cover it.
"""

from __future__ import annotations

from itertools import combinations

from chaos.result import CheckResult

NAME = "watch"
Event = tuple[int, str, str]


def split_label(label: str) -> tuple[str, str]:
    """("replica", "prefix") from "replica:prefix"; a label without ':' is a prefix-less replica."""
    replica, _, prefix = label.partition(":")
    return replica, prefix


def _order_errors(label: str, events: list[Event], limit: int = 5) -> list[str]:
    errors: list[str] = []
    seen: set[tuple[int, str]] = set()
    previous: int | None = None
    for position, (revision, key, kind) in enumerate(events):
        if (revision, key) in seen:
            errors.append(f"{label}: duplicate event #{position} {kind} {key!r} at revision {revision}")
        elif previous is not None and revision < previous:
            errors.append(f"{label}: revision went back from {previous} to {revision} at event #{position} ({key!r})")
        seen.add((revision, key))
        previous = revision if previous is None else max(previous, revision)
        if len(errors) >= limit:
            break
    return errors


def _compare(label_a: str, a: list[Event], label_b: str, b: list[Event]) -> str | None:
    if not a or not b:
        return None
    low = max(a[0][0], b[0][0])
    high = min(max(e[0] for e in a), max(e[0] for e in b))
    if low > high:
        return None
    in_a = sorted({(r, k) for r, k, _ in a if low <= r <= high})
    in_b = sorted({(r, k) for r, k, _ in b if low <= r <= high})
    if in_a == in_b:
        return None
    only_a = sorted(set(in_a) - set(in_b))
    only_b = sorted(set(in_b) - set(in_a))
    first = min(only_a[:1] + only_b[:1])
    return (f"{label_a} vs {label_b} over revisions {low}..{high}: first difference at revision {first[0]} "
            f"({first[1]!r}); only in {label_a}: {only_a[:5]}, only in {label_b}: {only_b[:5]}")


def check_watches(streams: dict[str, list[tuple[int, str, str]]],
                  writes_acknowledged: dict[str, int] | None = None) -> CheckResult:
    """Order, duplicates and agreement of watch streams; coverage of acknowledged writes."""
    details: list[str] = []
    problems = 0
    for label in sorted(streams):
        errors = _order_errors(label, streams[label])
        problems += len(errors)
        details.extend(errors)
    by_prefix: dict[str, list[str]] = {}
    for label in sorted(streams):
        by_prefix.setdefault(split_label(label)[1], []).append(label)
    for labels in by_prefix.values():
        for label_a, label_b in combinations(labels, 2):
            difference = _compare(label_a, streams[label_a], label_b, streams[label_b])
            if difference is not None:
                problems += 1
                details.append(difference)
    covered = missing = 0
    if writes_acknowledged:
        ranges = {label: (events[0][0], max(e[0] for e in events), {(r, k) for r, k, _ in events})
                  for label, events in streams.items() if events}
        for key, revision in sorted(writes_acknowledged.items()):
            for label, (low, high, pairs) in sorted(ranges.items()):
                if not key.startswith(split_label(label)[1]) or not low <= revision <= high:
                    continue
                covered += 1
                if (revision, key) not in pairs:
                    missing += 1
                    if missing <= 10:
                        details.append(f"{label}: acknowledged write {key!r} at revision {revision} not delivered")
        problems += missing
    events = sum(len(v) for v in streams.values())
    scope = f"{len(streams)} streams, {events} events"
    if writes_acknowledged:
        scope += f", {covered} acknowledged-write checks ({missing} missing)"
    if not streams:
        return CheckResult(NAME, False, "no watch streams recorded", details)
    if writes_acknowledged and covered == 0:
        return CheckResult(NAME, False, f"no stream covers any of {len(writes_acknowledged)} acknowledged writes "
                           f"(prefix or revision mismatch?); {scope}", details)
    if problems:
        return CheckResult(NAME, False, f"FAILED: {problems} problem(s); {scope}", details)
    return CheckResult(NAME, True, f"ordered, no duplicates, no gaps; {scope}", details)
