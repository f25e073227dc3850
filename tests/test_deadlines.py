"""Time limits of complaints (DOMAIN.md §2), as `qms complaint show ID --json` and
`qms complaint list --overdue` report them at QMS_NOW: contact within 2 h; improvement
report 2 working days, 8D report 5 working days, closure 5 working days, each ending at
the close (23:59:59 +08:00) of the Nth working day after the day of receipt, on the
Chinese official calendar with its make-up working days, plus the store's own days.

Every expected date below was counted by hand; `assert_official` counts it again with
the `chinese_calendar` package itself, so the two must agree."""

from __future__ import annotations

import json
import textwrap
from datetime import date, timedelta

import chinese_calendar
import pytest
from conftest import CONFIG, QE, QM, git, sets

RECORD = """\
id: {id}
type: complaint
state: {state}
customer:
  name: 上汽大众汽车有限公司
product:
  part_number: 5QD 611 701 B
channel: phone
received_at: {received_at}
original: oral
description: 接头渗油
class: {cls}
"""


def write(
    store,
    cid: str = "CMP-2026-0001",
    *,
    received_at: str,
    cls: str = "general",
    state: str = "received",
    extra: str = "",
) -> str:
    folder = store / "records" / "complaint"
    folder.mkdir(parents=True, exist_ok=True)
    text = RECORD.format(id=cid, state=state, received_at=received_at, cls=cls)
    (folder / f"{cid}.yaml").write_text(text + textwrap.dedent(extra), encoding="utf-8")
    return cid


def configure(store, old: str, new: str) -> None:
    """Change one line of the store's qms.yaml (and commit it, as a store would)."""
    assert old in CONFIG
    (store / "qms.yaml").write_text(CONFIG.replace(old, new), encoding="utf-8")
    git(store, "commit", "-q", "-am", "qms.yaml: " + new.splitlines()[0])


def view(qms, cid: str, now: str = "2026-03-06T11:00") -> tuple[dict, str]:
    r = qms("complaint", "show", cid, "--json", env={"QMS_NOW": now})
    assert r.code == 0, r.text
    return json.loads(r.out), r.err


def deadlines(qms, cid: str, now: str = "2026-03-06T11:00") -> dict[str, dict]:
    return {d["name"]: d for d in view(qms, cid, now)[0]["deadlines"]}


def end_of(day: str) -> str:
    return f"{day}T23:59:59+08:00"


def official_nth_workday_after(start: date, n: int) -> date:
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            counted += 1
    return day


def assert_official(received: str, n: int, expected: str) -> None:
    """The hand-counted date is what the official calendar says."""
    assert official_nth_workday_after(date.fromisoformat(received), n) == date.fromisoformat(
        expected
    )


# --------------------------------------------------------------------- the default profile


def test_a_general_complaint_received_on_a_friday(qms, store):
    cid = write(store, received_at="2026-03-06T10:00:00+08:00")
    dl = deadlines(qms, cid)
    assert (dl["contact"]["limit"], dl["contact"]["due"]) == ("2h", "2026-03-06T12:00:00+08:00")
    # Friday 03-06 -> Monday 03-09 (1), Tuesday 03-10 (2)
    assert (dl["report"]["limit"], dl["report"]["due"]) == ("2wd", end_of("2026-03-10"))
    assert (dl["closure"]["limit"], dl["closure"]["due"]) == ("5wd", end_of("2026-03-13"))
    assert_official("2026-03-06", 2, "2026-03-10")
    assert_official("2026-03-06", 5, "2026-03-13")
    assert {d["status"] for d in dl.values()} == {"open"}
    assert all(d["met_at"] is None and d["extended_by_plan"] is False for d in dl.values())


def test_a_serious_complaint_has_five_working_days_for_its_8d_report(qms, store):
    cid = write(store, received_at="2026-03-06T10:00:00+08:00", cls="serious")
    dl = deadlines(qms, cid)
    assert (dl["report"]["limit"], dl["report"]["due"]) == ("5wd", end_of("2026-03-13"))
    assert dl["contact"]["due"] == "2026-03-06T12:00:00+08:00"


def test_a_customer_requirement_has_two_working_days(qms, store):
    cid = write(store, received_at="2026-03-06T10:00:00+08:00", cls="requirement")
    assert deadlines(qms, cid)["report"]["due"] == end_of("2026-03-10")


def test_the_contact_limit_counts_clock_hours_across_midnight(qms, store):
    cid = write(store, received_at="2026-03-06T23:15:00+08:00")
    assert deadlines(qms, cid)["contact"]["due"] == "2026-03-07T01:15:00+08:00"


def test_the_day_of_receipt_is_the_stores_local_day(qms, store):
    """17:00 UTC on Thursday 03-05 is 01:00 on Friday 03-06 in Hangzhou: the count starts
    after Friday, not after Thursday."""
    cid = write(store, received_at="2026-03-05T17:00:00Z")
    dl = deadlines(qms, cid)
    assert dl["contact"]["due"] == "2026-03-06T03:00:00+08:00"
    assert dl["report"]["due"] == end_of("2026-03-10")


CALENDAR_CASES = [
    # (received on, class, report due, closure due)    -- why
    ("2026-03-07T09:00", "general", "2026-03-10", "2026-03-13"),  # received on a Saturday
    ("2026-03-08T09:00", "serious", "2026-03-13", "2026-03-13"),  # received on a Sunday
    # Spring Festival 2026: holidays 02-15..23; Saturday 02-14 and 02-28 are working days
    ("2026-02-13T09:00", "general", "2026-02-24", "2026-02-27"),  # Sat 02-14 counts, then 02-24
    ("2026-02-13T09:00", "serious", "2026-02-27", "2026-02-27"),
    ("2026-02-12T15:00", "general", "2026-02-14", "2026-02-26"),  # due on the make-up Saturday
    ("2026-02-14T10:00", "general", "2026-02-25", "2026-02-28"),  # received on the make-up day
    ("2026-02-16T10:00", "general", "2026-02-25", "2026-02-28"),  # received in the holiday
    ("2026-02-26T10:00", "general", "2026-02-28", "2026-03-04"),  # Sat 02-28 is a working day
    # Mid-Autumn 09-25..27 and National Day 10-01..07; Sunday 09-20, Saturday 10-10 work
    ("2026-09-18T10:00", "general", "2026-09-21", "2026-09-24"),  # Sun 09-20 counts
    ("2026-09-24T10:00", "general", "2026-09-29", "2026-10-09"),
    ("2026-09-24T10:00", "serious", "2026-10-09", "2026-10-09"),
    ("2026-09-30T10:00", "general", "2026-10-09", "2026-10-13"),  # Sat 10-10 counts
    ("2026-10-01T10:00", "serious", "2026-10-13", "2026-10-13"),
]


@pytest.mark.parametrize("received, cls, report, closure", CALENDAR_CASES)
def test_working_days_follow_the_official_calendar(qms, store, received, cls, report, closure):
    n_report = 5 if cls == "serious" else 2
    assert_official(received[:10], n_report, report)
    assert_official(received[:10], 5, closure)
    cid = write(store, received_at=received, cls=cls)
    dl = deadlines(qms, cid, now=received)
    assert dl["report"]["due"] == end_of(report)
    assert dl["closure"]["due"] == end_of(closure)


def test_the_official_calendar_itself_agrees_with_the_days_counted_by_hand():
    workdays = ["2026-02-14", "2026-02-28", "2026-09-20", "2026-10-10", "2026-02-24", "2026-10-08"]
    holidays = ["2026-02-15", "2026-02-23", "2026-09-25", "2026-09-27", "2026-10-01", "2026-10-07"]
    assert all(chinese_calendar.is_workday(date.fromisoformat(d)) for d in workdays)
    assert not any(chinese_calendar.is_workday(date.fromisoformat(d)) for d in holidays)


# ---------------------------------------------------------------------- the store's own days


def test_the_stores_own_working_days_and_holidays_count(qms, store):
    configure(
        store,
        "  workdays: []\n  holidays: []\n",
        "  workdays: [2026-03-07]\n  holidays: [2026-03-10]\n",
    )
    cid = write(store, received_at="2026-03-06T10:00:00+08:00")
    dl = deadlines(qms, cid)
    # Saturday 03-07 (1, the plant works), Monday 03-09 (2)
    assert dl["report"]["due"] == end_of("2026-03-09")
    # 03-07, 03-09, (03-10 plant holiday), 03-11, 03-12, 03-13
    assert dl["closure"]["due"] == end_of("2026-03-13")


def test_a_plant_holiday_pushes_the_deadline(qms, store):
    configure(store, "  holidays: []\n", "  holidays:\n    - 2026-03-09\n    - 2026-03-10\n")
    cid = write(store, received_at="2026-03-06T10:00:00+08:00")
    dl = deadlines(qms, cid)
    assert dl["report"]["due"] == end_of("2026-03-12")
    assert dl["closure"]["due"] == end_of("2026-03-17")


def test_the_store_may_work_an_official_holiday(qms, store):
    configure(store, "  workdays: []\n", "  workdays: [2026-10-02]\n")
    cid = write(store, received_at="2026-09-30T10:00")
    assert deadlines(qms, cid, now="2026-09-30T11:00")["report"]["due"] == end_of("2026-10-08")


def test_a_year_the_package_has_not_published_falls_back_to_weekends_with_a_warning(qms, store):
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2031, 3, 7))  # the premise: 2031 is not published
    cid = write(store, "CMP-2031-0001", received_at="2031-03-07T10:00")  # a Friday
    shown, err = view(qms, cid, now="2031-03-07T11:00")
    dl = {d["name"]: d for d in shown["deadlines"]}
    assert dl["report"]["due"] == end_of("2031-03-11")
    assert dl["closure"]["due"] == end_of("2031-03-14")
    assert "2031" in err and "chinesecalendar" in err.lower().replace("_", "")
    assert "Traceback" not in err


def test_an_unpublished_year_counts_its_holidays_as_working_days_unless_the_store_lists_them(
    qms, store
):
    cid = write(store, "CMP-2031-0002", received_at="2031-09-30T10:00")  # Tuesday
    assert deadlines(qms, cid, now="2031-09-30T11:00")["report"]["due"] == end_of("2031-10-02")
    configure(store, "  holidays: []\n", "  holidays: [2031-10-01, 2031-10-02, 2031-10-03]\n")
    assert deadlines(qms, cid, now="2031-09-30T11:00")["report"]["due"] == end_of("2031-10-07")


def test_list_overdue_in_an_unpublished_year_warns_and_does_not_crash(qms_subprocess, store):
    write(store, "CMP-2031-0001", received_at="2031-03-07T10:00")
    r = qms_subprocess(
        "complaint", "list", "--overdue", "--json", env={"QMS_NOW": "2031-03-20T09:00"}
    )
    assert r.code == 0, r.text
    assert "Traceback" not in r.err and "2031" in r.err
    assert [row["id"] for row in json.loads(r.out)] == ["CMP-2031-0001"]


# ------------------------------------------------------------------------------ statuses


def test_open_until_the_last_second_of_the_day_then_overdue(qms, store):
    cid = write(store, received_at="2026-03-06T10:00:00+08:00")
    assert deadlines(qms, cid, now="2026-03-06T12:00")["contact"]["status"] == "open"
    assert deadlines(qms, cid, now="2026-03-06T12:01")["contact"]["status"] == "overdue"
    dl = deadlines(qms, cid, now="2026-03-10T23:59")
    assert dl["report"]["status"] == "open"
    dl = deadlines(qms, cid, now="2026-03-11T00:00")
    assert dl["report"]["status"] == "overdue"
    assert dl["closure"]["status"] == "open"
    assert deadlines(qms, cid, now="2026-03-14T00:00")["closure"]["status"] == "overdue"


def test_met_and_late(qms, store):
    on_time = write(
        store,
        "CMP-2026-0001",
        received_at="2026-03-06T10:00:00+08:00",
        extra="""\
        contact:
          at: 2026-03-06T11:30:00+08:00
          by: 李雷
          summary: 已联系
        report:
          submitted_at: 2026-03-10T18:00:00+08:00
        """,
    )
    late = write(
        store,
        "CMP-2026-0002",
        received_at="2026-03-06T10:00:00+08:00",
        extra="""\
        contact:
          at: 2026-03-06T12:30:00+08:00
          by: 李雷
          summary: 已联系
        report:
          submitted_at: 2026-03-11T08:00:00+08:00
        """,
    )
    dl = deadlines(qms, on_time, now="2026-03-20T09:00")
    assert (dl["contact"]["status"], dl["contact"]["met_at"]) == (
        "met",
        "2026-03-06T11:30:00+08:00",
    )
    assert (dl["report"]["status"], dl["report"]["met_at"]) == ("met", "2026-03-10T18:00:00+08:00")
    assert dl["closure"]["status"] == "overdue"
    dl = deadlines(qms, late, now="2026-03-20T09:00")
    assert dl["contact"]["status"] == "late"
    assert dl["report"]["status"] == "late"


def _to_verifying(qms, cid: str) -> None:
    steps = [
        (
            "acknowledged",
            [
                "contact.at=2026-03-06T10:40",
                "contact.by=李雷",
                "contact.summary=已联系",
                "interim_countermeasure=全检",
            ],
        ),
        ("investigating", ["investigation.departments=质控部"]),
        (
            "correcting",
            [
                "investigation.result=超差",
                "responsibility=ours",
                "disposition=rework",
                "d4.root_cause=模具磨损",
                "d5.corrective_action=换模",
            ],
        ),
        ("verifying", ["d6.implementation=已换模", "report.submitted_at=2026-03-09T16:00"]),
    ]
    for state, needed in steps:
        r = qms(
            "complaint",
            "move",
            cid,
            state,
            *sets(*needed),
            who=QE,
            env={"GIT_COMMITTER_DATE": "2026-03-09T17:00:00+08:00"},
        )
        assert r.code == 0, r.text


CLOSE = [
    "effectiveness.result=有效",
    "effectiveness.checked_at=2026-03-13",
    "customer_confirmation.result=accepted",
    "customer_confirmation.at=2026-03-13",
]


@pytest.mark.parametrize(
    "closed_at, status",
    [
        ("2026-03-13T23:59:00+08:00", "met"),
        ("2026-03-16T09:00:00+08:00", "late"),
    ],
)
def test_closure_is_met_by_the_move_to_closed(qms, store, complaint, closed_at, status):
    _to_verifying(qms, complaint)
    r = qms(
        "complaint",
        "move",
        complaint,
        "closed",
        *sets(*CLOSE),
        who=QM,
        env={"GIT_COMMITTER_DATE": closed_at},
    )
    assert r.code == 0, r.text
    dl = deadlines(qms, complaint, now="2026-04-01T09:00")
    assert dl["closure"]["status"] == status
    assert dl["closure"]["met_at"] == closed_at
    assert dl["report"]["status"] == "met"


def test_a_later_closure_plan_extends_the_closure_limit(qms, store):
    cid = write(
        store,
        received_at="2026-03-06T10:00:00+08:00",
        extra="""\
        closure_plan:
          due: 2026-03-20
          actions: 模具供应商整改后再验证
        """,
    )
    dl = deadlines(qms, cid, now="2026-03-16T09:00")
    assert dl["closure"]["due"] == end_of("2026-03-20")
    assert dl["closure"]["extended_by_plan"] is True
    assert dl["closure"]["status"] == "open"
    assert dl["report"]["due"] == end_of("2026-03-10")  # the plan extends closure only
    assert deadlines(qms, cid, now="2026-03-21T00:00")["closure"]["status"] == "overdue"


def test_an_earlier_closure_plan_does_not_shorten_the_limit(qms, store):
    cid = write(
        store,
        received_at="2026-03-06T10:00:00+08:00",
        extra="""\
        closure_plan:
          due: 2026-03-09
        """,
    )
    dl = deadlines(qms, cid)
    assert dl["closure"]["due"] == end_of("2026-03-13")
    assert dl["closure"]["extended_by_plan"] is False


def test_a_cancelled_complaint_is_never_overdue(qms, store):
    cid = write(
        store,
        received_at="2026-03-02T10:00:00+08:00",
        state="cancelled",
        extra="cancel_reason: 重复登记\n",
    )
    dl = deadlines(qms, cid, now="2026-04-01T09:00")
    assert {d["status"] for d in dl.values()} == {"stopped"}
    r = qms("complaint", "list", "--overdue", "--json", env={"QMS_NOW": "2026-04-01T09:00"})
    assert r.code == 0, r.text
    assert json.loads(r.out) == []


def test_list_overdue_shows_only_the_records_past_a_deadline(qms, store):
    write(store, "CMP-2026-0001", received_at="2026-03-02T10:00:00+08:00")  # report due 03-04
    write(store, "CMP-2026-0002", received_at="2026-03-06T10:00:00+08:00")  # contact due 12:00
    write(
        store,
        "CMP-2026-0003",
        received_at="2026-03-02T10:00:00+08:00",
        extra="""\
        contact:
          at: 2026-03-02T10:30:00+08:00
          by: 李雷
          summary: 已联系
        report:
          submitted_at: 2026-03-04T10:00:00+08:00
        """,
    )
    env = {"QMS_NOW": "2026-03-06T11:00"}
    r = qms("complaint", "list", "--overdue", "--json", env=env)
    assert r.code == 0, r.text
    rows = json.loads(r.out)
    assert [row["id"] for row in rows] == ["CMP-2026-0001"]
    assert rows[0]["overdue"] == ["contact", "report"]
    r = qms("complaint", "list", "--json", env=env)
    assert [row["id"] for row in json.loads(r.out)] == [
        "CMP-2026-0001",
        "CMP-2026-0002",
        "CMP-2026-0003",
    ]
    # an hour later the contact limit of the second has run out too
    r = qms("complaint", "list", "--overdue", "--json", env={"QMS_NOW": "2026-03-06T12:01"})
    assert [row["id"] for row in json.loads(r.out)] == ["CMP-2026-0001", "CMP-2026-0002"]
    # and the table names the overdue one
    r = qms("complaint", "list", "--overdue", env=env)
    assert r.code == 0, r.text
    assert "CMP-2026-0001" in r.out and "CMP-2026-0002" not in r.out


def test_qms_now_is_read_as_store_time(qms, store):
    cid = write(store, received_at="2026-03-06T10:00:00+08:00")
    assert deadlines(qms, cid, now="2026-03-06T03:59:00Z")["contact"]["status"] == "open"
    assert deadlines(qms, cid, now="2026-03-06T04:01:00Z")["contact"]["status"] == "overdue"
    shown, _ = view(qms, cid, now="2026-03-06T11:00")
    assert shown["now"].startswith("2026-03-06T11:00")


def test_a_bad_qms_now_is_bad_input(qms, store):
    cid = write(store, received_at="2026-03-06T10:00:00+08:00")
    r = qms("complaint", "show", cid, "--json", env={"QMS_NOW": "yesterday"})
    assert r.code == 2, r.text
    assert r.err.startswith("qms: ") and "QMS_NOW" in r.err


# -------------------------------------------------------------------------- other profiles


def test_the_gbt27922_profile_counts_clock_hours(qms, store):
    configure(store, "time_limits: iatf16949", "time_limits: gbt27922")
    cid = write(store, received_at="2026-03-06T10:00:00+08:00", cls="serious")
    shown, _ = view(qms, cid)
    assert shown["deadline_profile"] == "gbt27922"
    dl = {d["name"]: d for d in shown["deadlines"]}
    assert (dl["contact"]["limit"], dl["contact"]["due"]) == ("24h", "2026-03-07T10:00:00+08:00")
    # 48 hours run through the weekend
    assert (dl["report"]["limit"], dl["report"]["due"]) == ("48h", "2026-03-08T10:00:00+08:00")
    assert (dl["closure"]["limit"], dl["closure"]["due"]) == ("48h", "2026-03-08T10:00:00+08:00")


def test_a_single_limit_can_be_overridden_on_top_of_a_profile(qms, store):
    configure(
        store,
        "time_limits: iatf16949",
        "time_limits: {profile: iatf16949, complaint: {report: {serious: 4wd}}}",
    )
    serious = write(store, "CMP-2026-0001", received_at="2026-03-06T10:00:00+08:00", cls="serious")
    general = write(store, "CMP-2026-0002", received_at="2026-03-06T10:00:00+08:00", cls="general")
    shown, _ = view(qms, serious)
    assert shown["deadline_profile"] == "iatf16949"
    dl = {d["name"]: d for d in shown["deadlines"]}
    assert (dl["report"]["limit"], dl["report"]["due"]) == ("4wd", end_of("2026-03-12"))
    assert dl["closure"]["limit"] == "5wd" and dl["contact"]["limit"] == "2h"
    # the other classes keep the profile's limits
    dl = deadlines(qms, general)
    assert (dl["report"]["limit"], dl["report"]["due"]) == ("2wd", end_of("2026-03-10"))


@pytest.mark.parametrize("setting", ["time_limits: iso9999", "time_limits: {profile: iso9999}"])
def test_an_unknown_profile_is_bad_input_naming_qms_yaml(qms, store, setting):
    configure(store, "time_limits: iatf16949", setting)
    cid = write(store, received_at="2026-03-06T10:00:00+08:00")
    for args in (["complaint", "show", cid, "--json"], ["complaint", "list", "--overdue"]):
        r = qms(*args, env={"QMS_NOW": "2026-03-06T11:00"})
        assert r.code == 2, r.text
        assert r.err.startswith("qms: ") and "qms.yaml" in r.err and "iso9999" in r.err


def test_an_unreadable_limit_is_bad_input_naming_qms_yaml(qms, store):
    configure(
        store,
        "time_limits: iatf16949",
        "time_limits: {profile: iatf16949, complaint: {report: {serious: soon}}}",
    )
    cid = write(store, received_at="2026-03-06T10:00:00+08:00", cls="serious")
    r = qms("complaint", "show", cid, "--json", env={"QMS_NOW": "2026-03-06T11:00"})
    assert r.code == 2, r.text
    assert "qms.yaml" in r.err and "soon" in r.err
