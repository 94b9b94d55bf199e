"""Cron schedules (raftkube/machinery/cron.py): fields, ranges, steps, lists, names, macros, @every,
time zones, robfig/cron's refusals; next-time arithmetic against a brute-force minute scan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raftkube.machinery.cron import ScheduleError, parse_go_duration, parse_schedule, unix_minutes


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(moment: float | None) -> str:
    assert moment is not None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(("schedule", "after", "expected"), [
    ("* * * * *", "2026-01-01T00:00:30", "2026-01-01T00:01"),
    ("*/15 * * * *", "2026-01-01T00:16", "2026-01-01T00:30"),
    ("5/20 * * * *", "2026-01-01T00:26", "2026-01-01T00:45"),  # robfig: N/step is N-59/step
    ("0 1-3 * * *", "2026-01-01T03:30", "2026-01-02T01:00"),
    ("0 9 * * mon-fri", "2026-01-02T10:00", "2026-01-05T09:00"),  # Friday -> Monday
    ("0 0 1 jan,JUL *", "2026-02-01T00:00", "2026-07-01T00:00"),
    ("0,30 * * * *", "2026-01-01T00:10", "2026-01-01T00:30"),
    ("0 0 13 * 5", "2026-01-01T00:00", "2026-01-02T00:00"),  # day-of-month OR day-of-week: Friday 2nd
    ("@hourly", "2026-01-01T00:01", "2026-01-01T01:00"),
    ("@daily", "2026-01-01T00:01", "2026-01-02T00:00"),
    ("@weekly", "2026-01-01T00:01", "2026-01-04T00:00"),  # Sunday
    ("@monthly", "2026-01-01T00:01", "2026-02-01T00:00"),
    ("@yearly", "2026-01-01T00:01", "2027-01-01T00:00"),
    ("0 0 ? * *", "2026-01-01T00:01", "2026-01-02T00:00"),
    ("59/1 * * * *", "2023-11-14T22:13", "2023-11-14T22:59"),  # croniter alone reads 59-59/1 as every minute
    ("0 0 */2 * 1", "2026-01-02T00:00", "2026-01-03T00:00"),  # */2 has no star bit: day 3 OR Monday
])
def test_next_activation(schedule: str, after: str, expected: str) -> None:
    assert iso(parse_schedule(schedule).next_after(at(after))) == expected


def test_time_zone_field_and_prefix_and_daylight_saving() -> None:
    berlin = parse_schedule("30 9 * * *", "Europe/Berlin")
    assert iso(berlin.next_after(at("2026-01-01T00:00"))) == "2026-01-01T08:30"  # CET: UTC+1
    assert iso(berlin.next_after(at("2026-07-01T00:00"))) == "2026-07-01T07:30"  # CEST: UTC+2
    assert iso(parse_schedule("TZ=America/New_York 0 9 * * *").next_after(at("2026-01-01T00:00"))) == \
        "2026-01-01T14:00"
    with pytest.raises(ScheduleError, match="unknown time zone Mars/Olympus"):
        parse_schedule("* * * * *", "Mars/Olympus")
    with pytest.raises(ScheduleError, match="unknown time zone"):
        parse_schedule("* * * * *", "../../etc/passwd")


@pytest.mark.parametrize(("schedule", "message"), [
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("* * * * * *", "expected exactly 5 fields, found 6"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* 0-24 * * *", "end of range (24) above maximum (23): 0-24"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
])
def test_refusals_with_robfig_messages(schedule: str, message: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse_schedule(schedule)
    assert message in str(err.value)


def test_every_and_go_durations() -> None:
    assert parse_go_duration("1h30m") == 5400
    assert parse_go_duration("1.5s") == 1.5
    every = parse_schedule("@every 90s")
    assert every.next_after(1000.7) == 1090.0
    with pytest.raises(ScheduleError, match="invalid duration"):
        parse_schedule("@every soon")


def test_impossible_date_never_fires_and_minutes_hash() -> None:
    assert parse_schedule("0 0 30 2 *").next_after(at("2026-01-01T00:00")) is None
    assert unix_minutes(at("2026-01-01T00:01")) == int(at("2026-01-01T00:01")) // 60


def _brute_next(minutes: set[int], hours: set[int], start: float) -> float:
    moment = (int(start) // 60 + 1) * 60
    while True:
        stamp = datetime.fromtimestamp(moment, UTC)
        if stamp.minute in minutes and stamp.hour in hours:
            return float(moment)
        moment += 60


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(0, 59), min_size=1, max_size=4), st.sets(st.integers(0, 23), min_size=1, max_size=3),
       st.integers(1_700_000_000, 1_900_000_000))
def test_lists_match_a_minute_scan(minutes: set[int], hours: set[int], start: int) -> None:
    schedule = parse_schedule(f"{','.join(map(str, sorted(minutes)))} {','.join(map(str, sorted(hours)))} * * *")
    assert schedule.next_after(start) == _brute_next(minutes, hours, start)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 59), st.integers(1, 30), st.integers(1_700_000_000, 1_900_000_000))
def test_steps_match_a_minute_scan(first: int, step: int, start: int) -> None:
    schedule = parse_schedule(f"{first}/{step} * * * *")
    assert schedule.next_after(start) == _brute_next(set(range(first, 60, step)), set(range(24)), start)
