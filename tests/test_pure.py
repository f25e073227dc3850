"""The pure layers on their own, on in-memory data: no store, no git, no command line."""

from __future__ import annotations

import pytest

from qms_cli.errors import Finding, Severity
from qms_cli.model import values
from qms_cli.paths import BUILTIN_TYPES
from qms_cli.files import yamlio
from qms_cli.model.declaration import RecordType


@pytest.fixture(scope="module")
def complaint() -> RecordType:
    path = BUILTIN_TYPES / "complaint.yaml"
    return RecordType.from_dict(yamlio.load_declaration(path, "complaint"), "complaint")


def test_a_finding_weighs_an_error_a_warning_or_a_note():
    warning = Finding("records/x.yaml", "f", "unknown field", severity="warning")  # as read back from a cache
    assert warning.severity is Severity.WARNING and str(warning).endswith("(warning)")
    assert warning.as_dict()["severity"] == "warning"
    assert str(Finding("HEAD", "", "not tied to a key", severity=Severity.NOTE)).endswith("(note)")
    assert not str(Finding("a.yaml", "f", "bad")).endswith(")")
    with pytest.raises(ValueError):
        Finding("a.yaml", "f", "bad", severity="catastrophic")


def test_a_field_the_type_does_not_declare_is_a_warning_and_a_wrong_value_an_error(complaint):
    data = {"class": "huge", "customer": {"name": "上汽", "shoe_size": 42}, "received_at": "yesterday"}
    found = {(p.path, p.severity) for p in values.check_fields(complaint.fields, data)}
    assert ("class", Severity.ERROR) in found
    assert ("received_at", Severity.ERROR) in found
    assert ("customer.shoe_size", Severity.WARNING) in found
    assert not [p for p in values.check_fields(complaint.fields, {"class": "general"})]


def test_walk_yields_every_filled_in_leaf_with_its_declaration(complaint):
    data = {"customer": {"name": "上汽"}, "investigation": {"departments": ["质量部", "技术部"]}, "class": None}
    walked = {path: (spec.type, value) for path, spec, value in values.walk(complaint.fields, data)}
    assert walked == {"customer.name": ("text", "上汽"),
                      "investigation.departments.0": ("text", "质量部"),
                      "investigation.departments.1": ("text", "技术部")}


# -- the working-day calendar ---------------------------------------------------------------

def test_working_days_follow_the_official_calendar_and_the_stores_own_days():
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from qms_cli.calendar import WorkCalendar, due, end_of

    tz = ZoneInfo("Asia/Shanghai")
    cal = WorkCalendar()
    # National Day 2026: 10-01 .. 10-07 off, Sunday 09-20 and Saturday 10-10 make-up working days (调休)
    assert not cal.is_workday(date(2026, 10, 1)) and cal.is_workday(date(2026, 10, 10))
    assert cal.is_workday(date(2026, 9, 20)) and not cal.is_workday(date(2026, 9, 27))
    # a complaint received on 09-30: 2 working days are 10-08 and 10-09, the report is due at the close of 10-09
    assert due(datetime(2026, 9, 30, 9, 40, tzinfo=tz), "2wd", cal, tz) == end_of(date(2026, 10, 9), tz)
    plant = WorkCalendar(holidays={date(2026, 10, 8)}, workdays={date(2026, 10, 4)})
    assert plant.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 4)
    assert plant.add_working_days(date(2026, 9, 30), 2) == date(2026, 10, 9)
    assert due(datetime(2026, 3, 6, 10, 0, tzinfo=tz), "2h", cal, tz) == datetime(2026, 3, 6, 12, 0, tzinfo=tz)


# -- the checks on in-memory records ------------------------------------------------------

def test_the_record_checks_run_on_records_in_memory(complaint, tmp_path):
    from qms_cli.checks import Context, Loaded, check_envelope, check_schema, check_text

    ctx = Context(root=tmp_path, types={"complaint": complaint})
    good = Loaded("complaint", "records/complaint/CMP-2026-0001.yaml",
                  {"id": "CMP-2026-0001", "type": "complaint", "state": "received", "class": "general"})
    bad = Loaded("complaint", "records/complaint/CMP-2026-0002.yaml",
                 {"id": "CMP-2026-0009", "type": "complaint", "state": "shelved", "class": "huge",
                  "description": "渗油\x1b[2J"})
    found = [(f.source.rsplit("/", 1)[1], f.field) for check in (check_envelope, check_schema, check_text)
             for f in check([good, bad], ctx)]
    assert ("CMP-2026-0002.yaml", "id") in found and ("CMP-2026-0002.yaml", "state") in found
    assert ("CMP-2026-0002.yaml", "class") in found and ("CMP-2026-0002.yaml", "description") in found
    assert not [f for f in found if f[0] == "CMP-2026-0001.yaml"]


# -- requirements through the evaluator -------------------------------------------------------

def test_the_evaluator_reads_through_a_reference(tmp_path):
    from qms_cli.config import Config
    from qms_cli.model.rules import Evaluator

    cfg = Config.parse(tmp_path, {})
    distribution = cfg.record_type("distribution")
    documents = {("document", "LX-CX-2026-001"): {"id": "LX-CX-2026-001", "department": "质量部", "edition": "A/0"}}
    ev = Evaluator(rt=distribution, data={"document": "LX-CX-2026-001", "holder": {"department": "生产部"}},
                   types=cfg.record_type, fetch=lambda t, i: documents.get((t, i)))
    assert ev.first("document.department") == "质量部"
    assert ev.first("holder.department") == "生产部"
    assert ev.first("document.no_such_field") is None
