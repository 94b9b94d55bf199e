"""Cron schedules as a CronJob's spec.schedule reads them (robfig/cron's standard parser, which Kubernetes uses).

Five fields (minute hour day-of-month month day-of-week), each a comma list of `*`, `?`, a value or
a range `a-b`, any of them with a step `/n`; month and weekday names (jan..dec, sun..sat); the macros
@yearly @annually @monthly @weekly @daily @midnight @hourly and `@every <duration>`; an optional
`TZ=<zone>` / `CRON_TZ=<zone>` prefix. The syntax is checked here (with robfig's messages); the
next-time arithmetic is croniter's, in the schedule's time zone (zoneinfo), so daylight-saving
changes land where a wall clock puts them. Day-of-month and day-of-week restricted together match
either (as cron and robfig do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (name, minimum, maximum, names)
FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
          ("month", 1, 12, {m: i + 1 for i, m in enumerate(MONTHS)}), ("day of week", 0, 6,
                                                                        {d: i for i, d in enumerate(DAYS)}))
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TZ_NAME = re.compile(r"^[A-Za-z._+\-0-9/]+$")


class ScheduleError(ValueError):
    """A schedule that does not parse; the message is robfig/cron's."""


def load_zone(name: str) -> tzinfo:
    """A time zone by its tz database name (`""` and `UTC`: UTC; `Local` is refused: the controller's
    machine must not decide); ScheduleError `unknown time zone <name>`."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local" or not _TZ_NAME.match(name) or ".." in name or name.startswith("/"):
        raise ScheduleError(f"unknown time zone {name}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(f"unknown time zone {name}") from None


def parse_go_duration(text: str) -> float:
    """Seconds of a Go duration (`1h30m`, `90s`, `1.5h`)."""
    pos, total = 0, 0.0
    if not text:
        raise ScheduleError('time: invalid duration ""')
    while pos < len(text):
        part = _DURATION_PART.match(text, pos)
        if part is None:
            raise ScheduleError(f'time: invalid duration "{text}"')
        total += float(part.group(1)) * _DURATION_UNITS[part.group(2)]
        pos = part.end()
    return total


def _value(text: str, names: dict[str, int], expr: str) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ScheduleError(f"failed to parse int from {text}: strconv.Atoi: parsing {text!r}: invalid syntax"
                            .replace("'", '"'))
    return int(text)


def field_values(expr: str, minimum: int, maximum: int, names: dict[str, int]) -> tuple[set[int], bool]:
    """The values one field allows, and whether it is a star (`*` or `?` without a step > 1: robfig's
    starBit, which decides how day-of-month and day-of-week combine)."""
    values: set[int] = set()
    star = False
    for item in expr.split(","):
        range_part, _, step_text = item.partition("/")
        if "/" in step_text:
            raise ScheduleError(f"too many slashes: {item}")
        step = 1
        if range_part in ("*", "?"):
            start, end = minimum, maximum
        else:
            low, dash, high = range_part.partition("-")
            if "-" in high:
                raise ScheduleError(f"too many hyphens: {item}")
            start = _value(low, names, item)
            end = _value(high, names, item) if dash else start
        if step_text or item.endswith("/"):
            step = _value(step_text, {}, item)
            if step == 0:
                raise ScheduleError(f"step of range should be a positive number: {item}")
            if range_part not in ("*", "?") and "-" not in range_part:
                end = maximum  # robfig: `N/step` means N-max/step
        if start < minimum:
            raise ScheduleError(f"beginning of range ({start}) below minimum ({minimum}): {item}")
        if end > maximum:
            raise ScheduleError(f"end of range ({end}) above maximum ({maximum}): {item}")
        if start > end:
            raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {item}")
        values.update(range(start, end + 1, step))
        star = star or (range_part in ("*", "?") and step == 1)
    return values, star


def _croniter_expression(fields: list[str]) -> str:
    """Each field as croniter reads it unambiguously: `*` for a star, else the explicit values (croniter
    misreads some ranges, e.g. `59-59/1`); croniter's day-of-month/day-of-week OR applies when neither
    is `*`, as robfig's does when neither has the star bit."""
    out = []
    for text, (_, minimum, maximum, names) in zip(fields, FIELDS, strict=True):
        values, star = field_values(text, minimum, maximum, names)
        out.append("*" if star else ",".join(str(v) for v in sorted(values)))
    return " ".join(out)


@dataclass(frozen=True)
class Schedule:
    expression: str  # five fields, or "" for @every
    zone: tzinfo
    every: float = 0.0  # @every's interval in seconds

    def next_after(self, moment: float) -> float | None:
        """The first activation strictly after epoch second `moment` (None: the schedule never fires,
        e.g. `0 0 30 2 *`)."""
        if self.every:
            return float(int(moment) + self.every)
        start = datetime.fromtimestamp(int(moment), self.zone)
        try:
            nxt = croniter(self.expression, start).get_next(datetime)
        except CroniterBadDateError:
            return None
        return float(nxt.timestamp())


def parse_schedule(text: str, zone_name: str | None = None) -> Schedule:
    """A schedule, or ScheduleError with robfig/cron's message. `zone_name`: the CronJob's spec.timeZone."""
    spec = text.strip()
    zone = load_zone(zone_name or "")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, spec = spec.partition(" ")
        zone = load_zone(prefix.split("=", 1)[1])
        spec = spec.strip()
    if spec.startswith("@every "):
        seconds = parse_go_duration(spec[len("@every "):].strip())
        return Schedule("", zone, max(float(int(seconds)), 1.0))
    if spec.startswith("@"):
        if spec not in MACROS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = MACROS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    return Schedule(_croniter_expression(fields), zone)


def unix_minutes(moment: float) -> int:
    """Kubernetes' time hash of a scheduled time: whole minutes since the epoch (a Job's name suffix)."""
    return int(moment) // 60


def as_utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)
