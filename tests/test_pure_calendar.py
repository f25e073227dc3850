"""Working days and time limits on their own (qms_cli/calendar.py, qms_cli/deadlines.py):
mainland China's official calendar from the `chinesecalendar` package (holidays and the
make-up working days of 调休), a store's own days on top, durations, and the deadlines
of a record in memory. No store, no git."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pure_support import config, record

from qms_cli.calendar import WorkCalendar, due, end_of, parse_duration
from qms_cli.deadlines import deadlines, moved_at
from qms_cli.model import values

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def at(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


# -- the official calendar --------------------------------------------------------------------

@pytest.mark.parametrize("day, working", [
    # Spring Festival 2025: 01-28 .. 02-04 off; Sunday 01-26 and Saturday 02-08 worked (调休)
    (date(2025, 1, 26), True), (date(2025, 1, 27), True), (date(2025, 1, 28), False),
    (date(2025, 2, 4), False), (date(2025, 2, 5), True), (date(2025, 2, 8), True), (date(2025, 2, 9), False),
    # National Day and Mid-autumn 2025: 10-01 .. 10-08 off; Sunday 09-28 and Saturday 10-11 worked
    (date(2025, 9, 28), True), (date(2025, 10, 6), False), (date(2025, 10, 8), False),
    (date(2025, 10, 9), True), (date(2025, 10, 11), True),
    # Spring Festival 2026: 02-15 .. 02-23 off; Saturdays 02-14 and 02-28 worked
    (date(2026, 2, 14), True), (date(2026, 2, 16), False), (date(2026, 2, 23), False),
    (date(2026, 2, 24), True), (date(2026, 2, 28), True), (date(2026, 3, 1), False),
    # National Day 2026: 10-01 .. 10-07 off; Sunday 09-20 and Saturday 10-10 worked
    (date(2026, 9, 20), True), (date(2026, 9, 25), False), (date(2026, 10, 5), False),
    (date(2026, 10, 8), True), (date(2026, 10, 10), True), (date(2026, 10, 11), False),
    # New Year 2026: 01-01 and 01-02 off, Sunday 01-04 worked
    (date(2026, 1, 2), False), (date(2026, 1, 4), True),
    # an ordinary week
    (date(2026, 3, 6), True), (date(2026, 3, 7), False), (date(2026, 3, 8), False),
])
def test_working_days_follow_chinas_official_calendar(cal, day, working):
    assert cal.is_workday(day) is working


def test_working_days_are_counted_after_the_day_of_receipt_across_holidays(cal):
    # a Friday before Spring Festival 2026: the make-up Saturday is the first working day
    assert cal.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert cal.add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert cal.add_working_days(date(2026, 2, 12), 5) == date(2026, 2, 26)
    # Spring Festival 2025 starts on a Tuesday after a working Sunday
    assert cal.add_working_days(date(2025, 1, 24), 1) == date(2025, 1, 26)
    assert cal.add_working_days(date(2025, 1, 24), 2) == date(2025, 1, 27)
    assert cal.add_working_days(date(2025, 1, 24), 3) == date(2025, 2, 5)
    # National Day 2025
    assert cal.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert cal.add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 11)
    # received on a holiday: the next working day is the first
    assert cal.add_working_days(date(2026, 10, 3), 1) == date(2026, 10, 8)
    assert cal.add_working_days(date(2026, 3, 6), 0) == date(2026, 3, 6)


def test_a_stores_own_days_come_before_the_official_calendar():
    plant = WorkCalendar(holidays={date(2026, 3, 9), date(2026, 10, 10)}, workdays={date(2026, 10, 4)})
    assert not plant.is_workday(date(2026, 3, 9))  # a Monday the plant is closed
    assert not plant.is_workday(date(2026, 10, 10))  # the plant skips the official make-up day
    assert plant.is_workday(date(2026, 10, 4))  # and works on a National Day holiday instead
    assert plant.add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 10)
    both = WorkCalendar(holidays={date(2026, 3, 10)}, workdays={date(2026, 3, 10)})
    assert both.is_workday(date(2026, 3, 10))  # a day listed as both is worked


def test_without_the_official_calendar_monday_to_friday_are_working_days():
    plain = WorkCalendar(use_official=False, workdays={date(2026, 2, 14)})
    assert plain.is_workday(date(2026, 10, 1)) and not plain.is_workday(date(2026, 10, 10))
    assert plain.is_workday(date(2026, 2, 14))
    assert plain.warnings == []


def test_a_year_the_package_has_not_published_counts_weekdays_and_warns_once():
    later = WorkCalendar(holidays={date(2099, 1, 6)})
    assert later.is_workday(date(2099, 1, 5)) and not later.is_workday(date(2099, 1, 3))  # Monday, Saturday
    assert not later.is_workday(date(2099, 1, 6))  # the store's own days still count
    later.is_workday(date(2099, 5, 1))
    assert len(later.warnings) == 1
    assert "the official holiday calendar for 2099 is not in the installed 'chinesecalendar' package" in later.warnings[0]


# -- durations ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2h", (2, "h")), (" 5wd ", (5, "wd")), ("5 wd", (5, "wd")), ("7d", (7, "d")), ("2w", (2, "w")),
    ("12mo", (12, "mo")), ("0d", (0, "d")),
    ("87600h", (87_600, "h")), ("3660d", (3660, "d")), ("2500wd", (2500, "wd")), ("520w", (520, "w")),
    ("120mo", (120, "mo")),
])
def test_parse_duration_reads_a_number_and_a_unit(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["5WD", "2.5h", "-1d", "h", "1y", "2 days", "", "1" * 25 + "d"])
def test_parse_duration_refuses_anything_else_naming_the_forms(text):
    with pytest.raises(ValueError) as e:
        parse_duration(text)
    assert str(e.value) == f"'{text}': expected a time limit such as 2h, 5wd (working days), 7d, 2w or 12mo"


@pytest.mark.parametrize("text, longest", [("87601h", "87600h"), ("3661d", "3660d"), ("2501wd", "2500wd"),
                                           ("521w", "520w"), ("121mo", "120mo")])
def test_a_limit_of_more_than_ten_years_is_a_typing_error(text, longest):
    with pytest.raises(ValueError, match=f"'{text}': a time limit may be at most {longest} \\(ten years\\)"):
        parse_duration(text)


# -- when a limit runs out --------------------------------------------------------------------

def test_working_days_end_at_the_close_of_the_nth_working_day_in_the_stores_zone(cal):
    assert due(at(2026, 2, 13, 16, 0), "2wd", cal, TZ) == at(2026, 2, 24, 23, 59, 59)
    # 17:00 UTC on Thursday is already Friday in Shanghai: the count starts from Friday
    assert due(datetime(2026, 3, 5, 17, 0, tzinfo=timezone.utc), "1wd", cal, TZ) == at(2026, 3, 9, 23, 59, 59)
    assert due(datetime(2026, 3, 5, 15, 0, tzinfo=timezone.utc), "1wd", cal, TZ) == at(2026, 3, 6, 23, 59, 59)
    assert end_of(date(2026, 3, 6), TZ) == at(2026, 3, 6, 23, 59, 59)


def test_hours_days_weeks_and_months_run_from_the_moment(cal):
    start = at(2026, 3, 6, 23, 0)
    assert due(start, "2h", cal, TZ) == at(2026, 3, 7, 1, 0)  # hours run through nights and weekends
    assert due(start, "1d", cal, TZ) == at(2026, 3, 7, 23, 0)
    assert due(start, "1w", cal, TZ) == at(2026, 3, 13, 23, 0)
    assert due(at(2026, 1, 31, 10, 0), "1mo", cal, TZ) == at(2026, 2, 28, 10, 0)  # the month's last day
    utc = due(datetime(2026, 3, 6, 2, 0, tzinfo=timezone.utc), "2h", cal, TZ)
    assert utc == at(2026, 3, 6, 12, 0) and utc.tzinfo is TZ


def test_a_limit_from_a_date_ends_at_the_close_of_the_day_it_lands_on(cal):
    assert due(date(2026, 3, 6), "7d", cal, TZ) == at(2026, 3, 13, 23, 59, 59)
    assert due(date(2026, 3, 6), "2w", cal, TZ) == at(2026, 3, 20, 23, 59, 59)
    assert due(date(2026, 1, 31), "1mo", cal, TZ) == at(2026, 2, 28, 23, 59, 59)
    assert due(date(2026, 2, 13), "2wd", cal, TZ) == at(2026, 2, 24, 23, 59, 59)
    assert due(date(2026, 3, 6), "2h", cal, TZ) == at(2026, 3, 6, 23, 59, 59)
    assert due(date(2026, 3, 6), "30h", cal, TZ) == at(2026, 3, 7, 23, 59, 59)


def test_a_bad_limit_is_refused_by_due(cal):
    with pytest.raises(ValueError, match="expected a time limit"):
        due(at(2026, 3, 6, 10, 0), "2 days", cal, TZ)


def test_a_limit_in_hours_is_that_many_hours_of_real_time_across_daylight_saving():
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, 1, 0, tzinfo=berlin)  # clocks go from 02:00 to 03:00
    end = due(start, "2h", WorkCalendar(), berlin)
    assert end.astimezone(timezone.utc) - start.astimezone(timezone.utc) == timedelta(hours=2)


# -- a record's deadlines -------------------------------------------------------------------------

STORE = """
    timezone: Asia/Shanghai
    time_limits: {profile: iatf16949, complaint: {report: {serious: 4wd}}}
    calendar: {holidays: [2026-03-09]}
"""


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    return config(tmp_path_factory.mktemp("store"), STORE)


def by_name(rt, data, cfg, now):
    return {d.name: d for d in deadlines(rt, data, cfg, now)}


def test_a_complaints_limits_come_from_the_profile_by_its_class_and_the_stores_days(cfg):
    rt = cfg.record_type("complaint")
    data = record("""
        id: CMP-2026-0001
        type: complaint
        state: investigating
        class: serious
        received_at: 2026-03-06T10:00:00+08:00
        contact: {at: 2026-03-06T13:00:00+08:00}
    """)
    found = by_name(rt, data, cfg, at(2026, 3, 12, 9, 0))
    assert (found["contact"].limit, found["contact"].due) == ("2h", at(2026, 3, 6, 12, 0))
    assert found["contact"].status == "late" and found["contact"].met_at == at(2026, 3, 6, 13, 0)
    # 4wd for a serious one in this store; Monday 03-09 is the plant's holiday
    assert (found["report"].limit, found["report"].due, found["report"].status) == (
        "4wd", at(2026, 3, 13, 23, 59, 59), "open")
    assert (found["closure"].limit, found["closure"].due) == ("5wd", at(2026, 3, 16, 23, 59, 59))
    assert by_name(rt, data, cfg, at(2026, 3, 14, 0, 0))["report"].status == "overdue"
    assert found["report"].as_dict() == {"name": "report", "limit": "4wd", "due": "2026-03-13T23:59:59+08:00",
                                         "met_at": None, "status": "open", "extended_by_plan": False}


def test_a_limit_is_met_by_a_date_on_its_day_by_a_move_or_stopped(cfg):
    rt = cfg.record_type("complaint")
    data = record("""
        id: CMP-2026-0002
        type: complaint
        state: closed
        class: general
        responsibility: not_ours
        received_at: 2026-03-06T10:00:00+08:00
        signatures:
          - {meaning: verified, to: closed, at: 2026-03-16T09:00:00+08:00, on: 2026-03-10}
    """)
    found = by_name(rt, data, cfg, at(2026, 4, 1, 0, 0))
    assert found["closure"].met_at == at(2026, 3, 10, 0, 0) and found["closure"].status == "met"
    assert found["report"].status == "stopped"  # not ours: no report is due
    assert found["contact"].status == "overdue"
    cancelled = dict(data, state="cancelled", responsibility="ours", signatures=[])
    assert by_name(rt, cancelled, cfg, at(2026, 4, 1, 0, 0))["report"].status == "stopped"


def test_a_time_written_without_seconds_meets_a_limit_at_that_time(cfg):
    rt = cfg.record_type("complaint")
    data = record("""
        id: CMP-2026-0004
        type: complaint
        state: acknowledged
        class: general
        received_at: 2026-03-06T10:00
        contact: {at: 2026-03-06T13:00}
    """)
    assert list(values.check_fields(rt.fields, data, envelope=True)) == []  # a well-formed record
    contact = by_name(rt, data, cfg, at(2026, 3, 12, 0, 0))["contact"]
    assert contact.due == at(2026, 3, 6, 12, 0)  # the start, written the same way, keeps its time
    assert (contact.met_at, contact.status) == (at(2026, 3, 6, 13, 0), "late")


def test_a_closure_plan_extends_the_limit_to_its_planned_day(cfg):
    rt = cfg.record_type("complaint")
    data = record("""
        id: CMP-2026-0003
        type: complaint
        state: correcting
        class: general
        received_at: 2026-03-06T10:00:00+08:00
        closure_plan: {plan: CLP-2026-0001, due: 2026-04-30}
    """)
    closure = by_name(rt, data, cfg, at(2026, 4, 1, 0, 0))["closure"]
    assert (closure.due, closure.extended, closure.status) == (at(2026, 4, 30, 23, 59, 59), True, "open")
    early = dict(data, closure_plan={"due": date(2026, 3, 7)})  # a plan before the limit changes nothing
    assert by_name(rt, early, cfg, at(2026, 3, 7, 0, 0))["closure"].extended is False


def test_a_review_is_due_its_period_after_the_latest_of_the_effective_date_and_the_reviews(cfg):
    rt = cfg.record_type("document")
    data = record("""
        id: LX-CX-2026-001
        type: document
        state: active
        effective_date: 2025-01-15
        review_period_months: 12
        reviews: [{at: 2025-12-20, outcome: no_change}]
    """)
    (review,) = deadlines(rt, data, cfg, at(2026, 6, 1, 0, 0))
    assert (review.limit, review.due, review.met_at, review.status) == ("12mo", at(2026, 12, 20, 23, 59, 59), None, "open")
    assert deadlines(rt, dict(data, review_period_months=None), cfg, at(2026, 6, 1, 0, 0)) == []
    assert deadlines(rt, dict(data, review_period_months=True), cfg, at(2026, 6, 1, 0, 0)) == []
    assert deadlines(rt, dict(data, state="obsolete"), cfg, at(2027, 6, 1, 0, 0))[0].status == "stopped"


def test_moved_at_is_the_last_move_into_a_state():
    data = {"signatures": [
        {"to": "correcting", "at": "2026-03-07T09:00:00+08:00"},
        {"to": "verifying", "at": "2026-03-08T09:00:00+08:00"},
        {"to": "correcting", "at": "2026-03-09T09:00:00+08:00", "on": date(2026, 3, 8)},
    ]}
    assert moved_at(data, "correcting", TZ) == at(2026, 3, 8, 0, 0)
    assert moved_at(data, "closed", TZ) is None
