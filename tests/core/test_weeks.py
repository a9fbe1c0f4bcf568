"""Round-up weeks: seven days before [roundup] week_ends on the local wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from roundup_bot.core.errors import WeekLabelError
from roundup_bot.core.weeks import (
    next_week,
    parse_week_label,
    previous_week,
    week_by_label,
    week_containing,
)

ZONE = "Europe/London"
ENDS = "friday 09:00"


def test_a_week_is_the_seven_days_before_friday_nine_in_london() -> None:
    week = week_containing(datetime(2026, 11, 25, 12, 0, tzinfo=UTC), ZONE, ENDS)
    assert week.label == "2026-W48"
    assert week.start == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert week.end == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert week.hours == 168


def test_the_end_moment_itself_belongs_to_the_next_week() -> None:
    end = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert week_containing(end - timedelta(microseconds=1), ZONE, ENDS).label == "2026-W48"
    assert week_containing(end, ZONE, ENDS).label == "2026-W49"


def test_the_week_across_the_change_from_bst_to_gmt_lasts_169_hours() -> None:
    # Clocks went back on Sunday 25 October 2026: Friday 23rd 09:00 is BST (08:00 UTC),
    # Friday 30th 09:00 is GMT (09:00 UTC).
    week = week_by_label("2026-W44", ZONE, ENDS)
    assert week.start == datetime(2026, 10, 23, 8, 0, tzinfo=UTC)
    assert week.end == datetime(2026, 10, 30, 9, 0, tzinfo=UTC)
    assert week.hours == 169
    assert week.local_start.hour == 9
    assert week.local_end.hour == 9
    # A moment in the repeated hour (01:30 happens twice) is inside that week.
    assert week.contains(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    assert week.contains(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))


def test_the_week_across_the_change_from_gmt_to_bst_lasts_167_hours() -> None:
    week = week_by_label("2026-W14", ZONE, ENDS)  # clocks went forward on 29 March 2026
    assert week.hours == 167
    assert week.end == datetime(2026, 4, 3, 8, 0, tzinfo=UTC)


def test_weeks_follow_each_other_without_gap_or_overlap_across_a_year() -> None:
    week = week_by_label("2026-W01", ZONE, ENDS)
    for _ in range(60):
        following = next_week(week, ENDS)
        assert following.start == week.end
        assert previous_week(following, ENDS) == week
        week = following


def test_across_the_year_end_the_label_is_the_iso_week_of_the_end() -> None:
    # 2026 has 53 ISO weeks; the week ending Friday 1 January 2027 is 2026-W53.
    week = week_containing(datetime(2026, 12, 31, 23, 59, tzinfo=UTC), ZONE, ENDS)
    assert week.label == "2026-W53"
    assert week.start == datetime(2026, 12, 25, 9, 0, tzinfo=UTC)
    assert week.end == datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    assert next_week(week, ENDS).label == "2027-W01"
    assert week_by_label("2027-W01", ZONE, ENDS).start == week.end
    # A week that starts in one year and ends in the next ISO year.
    w01 = week_by_label("2020-W01", ZONE, ENDS)
    assert w01.local_end.date().isoformat() == "2020-01-03"
    assert w01.local_start.date().isoformat() == "2019-12-27"


def test_other_zones_and_end_days() -> None:
    week = week_containing(
        datetime(2026, 11, 25, 12, 0, tzinfo=UTC), "America/New_York", "monday 06:30"
    )
    assert week.local_end.strftime("%A %H:%M") == "Monday 06:30"
    assert week.end == datetime(2026, 11, 30, 11, 30, tzinfo=UTC)
    assert week.label == "2026-W49"


@pytest.mark.parametrize("text", ["2026-48", "W48", "2026-W54", "2025-W53", "2026-W00", "soon"])
def test_bad_week_labels_are_refused(text: str) -> None:
    with pytest.raises(WeekLabelError):
        parse_week_label(text)


def test_labels_are_read_leniently() -> None:
    assert parse_week_label("2026w7") == (2026, 7)
    assert parse_week_label(" 2026-W07 ") == (2026, 7)


@pytest.mark.parametrize("label", ["0001-W01", "1969-W52", "9999-W01", "9999-W52"])
def test_weeks_outside_the_supported_years_are_refused(label: str) -> None:
    with pytest.raises(WeekLabelError, match="out of range"):
        week_by_label(label, "Europe/London", "friday 09:00")


@pytest.mark.parametrize("zone", ["Europe/London", "Pacific/Kiritimati", "Etc/GMT+12"])
@pytest.mark.parametrize("label", ["1970-W01", f"9998-W{date(9998, 12, 28).isocalendar()[1]}"])
def test_the_first_and_last_supported_weeks_have_neighbours(zone: str, label: str) -> None:
    for week_ends in ("monday 00:00", "sunday 23:59"):
        week = week_by_label(label, zone, week_ends)
        assert previous_week(week, week_ends).end == week.start
        assert next_week(week, week_ends).start == week.end
