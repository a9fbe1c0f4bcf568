"""Which round-up week a moment belongs to. Pure: no I/O, no clock; takes ``now``.

A round-up week is the seven days before its end, ``[roundup] week_ends``
("friday 09:00") in ``[roundup] timezone``, counted on the wall clock of that
zone: so a week that spans a clock change lasts 167 or 169 hours, and every
week starts exactly where the one before it ended. A week is named by the ISO
week of its end's local date ("2026-W48"), which is unique because the end
falls on the same weekday every week.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from roundup_bot.core.errors import WeekLabelError, WeekOutOfRange

_LABEL = re.compile(r"^\s*(\d{4})-?[Ww](\d{1,2})\s*$")


@dataclass(frozen=True, slots=True)
class RoundupWeek:
    """One round-up week: the half-open window [start, end) in UTC, and its label."""

    label: str  # "2026-W48": the ISO week of the end's local date
    start: datetime  # UTC
    end: datetime  # UTC
    zone: str  # the IANA zone the week is counted in

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(ZoneInfo(self.zone))

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(ZoneInfo(self.zone))

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def week_end_parts(week_ends: str) -> tuple[int, int, int]:
    """'friday 09:00' -> (weekday 0=Monday, hour, minute)."""
    day, clock = week_ends.strip().lower().split()
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    hour, minute = (int(x) for x in clock.split(":"))
    return days.index(day), hour, minute


#: The years a week may be named in. Every week in them has a week before and
#: after it that the calendar (datetime, 1 to 9999) can hold in any time zone.
FIRST_YEAR = 1970
LAST_YEAR = 9998


def week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week_label(text: str) -> tuple[int, int]:
    """'2026-W48' (or '2026W48', '2026-w48') -> (2026, 48).

    Raises:
        WeekLabelError: not an ISO week label.
        WeekOutOfRange: a week that is not there, or outside FIRST_YEAR..LAST_YEAR.
    """
    match = _LABEL.match(text)
    if not match:
        raise WeekLabelError(f"{text!r} is not an ISO week such as 2026-W48")
    year, week = int(match.group(1)), int(match.group(2))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise WeekOutOfRange(
            f"{year:04d}-W{week:02d} is out of range: weeks from {FIRST_YEAR} to {LAST_YEAR} only"
        )
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise WeekOutOfRange(f"{year} has no week {week}") from None
    return year, week


def _week_ending(local_end_day: date, zone: str, week_ends: str) -> RoundupWeek:
    tz = ZoneInfo(zone)
    _weekday, hour, minute = week_end_parts(week_ends)
    clock = time(hour, minute)
    end_local = datetime.combine(local_end_day, clock, tzinfo=tz)
    start_local = datetime.combine(local_end_day - timedelta(days=7), clock, tzinfo=tz)
    return RoundupWeek(
        label=week_label(local_end_day),
        start=start_local.astimezone(UTC),
        end=end_local.astimezone(UTC),
        zone=zone,
    )


def week_containing(moment: datetime, zone: str, week_ends: str) -> RoundupWeek:
    """The week that ``moment`` (timezone-aware) falls in: the one that ends next.

    A moment exactly at a week's end belongs to the following week.
    """
    if moment.tzinfo is None:
        raise ValueError("week_containing needs a timezone-aware moment")
    weekday, _hour, _minute = week_end_parts(week_ends)
    local = moment.astimezone(ZoneInfo(zone))
    end_day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    week = _week_ending(end_day, zone, week_ends)
    if moment >= week.end:
        week = _week_ending(end_day + timedelta(days=7), zone, week_ends)
    return week


def week_by_label(label: str, zone: str, week_ends: str) -> RoundupWeek:
    """The week whose end falls in ISO week ``label``. Raises WeekLabelError."""
    year, number = parse_week_label(label)
    weekday, _hour, _minute = week_end_parts(week_ends)
    return _week_ending(date.fromisocalendar(year, number, weekday + 1), zone, week_ends)


def previous_week(week: RoundupWeek, week_ends: str) -> RoundupWeek:
    return week_containing(week.start - timedelta(seconds=1), week.zone, week_ends)


def week_to_draft(now: datetime, zone: str, week_ends: str) -> RoundupWeek:
    """The week a draft made at ``now`` is for: whichever week's end is nearer.

    At the default moment (the week's end) that is the week that has just
    ended; with ``draft_at`` a little before the end ("thursday 16:00") it is
    the week about to end, so the editor can review it in time. Pure.
    """
    coming = week_containing(now, zone, week_ends)
    ended = previous_week(coming, week_ends)
    return ended if now - ended.end <= coming.end - now else coming


def next_week(week: RoundupWeek, week_ends: str) -> RoundupWeek:
    return week_containing(week.end, week.zone, week_ends)
