"""Paper records entered afterwards (补录): `qms TYPE move ID STATE --on DATE[THH:MM]` and
`qms TYPE new --on ...` record when an act happened on paper beside the real signing time.

The signature keeps `at` (the commit time) and gains `on`; the commit carries a QMS-On
trailer; deadlines, date rules (`signed:MEANING`) and role terms go by the paper time;
show, log, render and validate say so. A complaint handled on paper in October and typed
in on 2026-12-01 is closed on time by its paper dates.

Every commit here is dated (GIT_COMMITTER_DATE) after 2026-01-02, strictly later than the
one before, and not after 2026-12-01T18:00+08:00."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date, datetime

import pytest
from conftest import CORRECT, FORMER, INVESTIGATE, QE, QM, RECEIVED, git, identity_env, make_store, sets
from ruamel.yaml import YAML

NOW = {"QMS_NOW": "2026-12-01T18:00"}  # when show and render are asked, after the entry

# A general complaint received by phone on 2026-10-12 at 09:30, written on paper.
RECEIVED_OCT = [a for a in RECEIVED if not a.startswith("received_at=")] + ["received_at=2026-10-12T09:30"]
ACK = [
    "contact.at=2026-10-12T10:30",
    "contact.by=李雷",
    "contact.summary=已电话联系孙工，确认渗油 12 件",
    "interim_countermeasure=客户处在库品 100% 气密检测",
]
VERIFY = ["d6.implementation=新模具已投用", "report.submitted_at=2026-10-14T17:00"]
CLOSE = [
    "effectiveness.result=连续 3 批 0 泄漏",
    "effectiveness.checked_at=2026-10-19",
    "customer_confirmation.result=accepted",
    "customer_confirmation.at=2026-10-19",
]

# (state, fields, who signs, when it happened on paper, when it is entered on 2026-12-01)
PAPER_PATH = [
    ("acknowledged", ACK, QE, "2026-10-12T10:30", "09:05"),
    ("investigating", INVESTIGATE, QE, "2026-10-13", "09:10"),
    ("correcting", CORRECT, QE, "2026-10-14T11:00", "09:15"),
    ("verifying", VERIFY, QE, "2026-10-15", "09:20"),
    # closure is due 5 working days after receipt: 2026-10-19 24:00; a paper date meets it
    ("closed", CLOSE, QM, "2026-10-19", "09:25"),
]


def entered(hhmm: str, day: str = "2026-12-01") -> dict[str, str]:
    """The commit date of an action typed in at `hhmm` on `day` (China time)."""
    iso = f"{day}T{hhmm}:00+08:00"
    return {"GIT_COMMITTER_DATE": iso, "GIT_AUTHOR_DATE": iso}


def load(store, cid: str) -> dict:
    return YAML(typ="safe").load(record_file(store, cid).read_text("utf-8"))


def record_file(store, cid: str, type_name: str = "complaint"):
    return next((store / "records" / type_name).rglob(f"{cid}.yaml"))


def snapshot(store) -> tuple[str, str]:
    return (git(store, "rev-parse", "HEAD").strip(),
            git(store, "status", "--porcelain", "--untracked-files=all"))


def new_complaint(qms, at: str = "08:50", extra: tuple[str, ...] = (), received=RECEIVED_OCT) -> str:
    r = qms("complaint", "new", *sets(*received), *extra, who=QE, env=entered(at))
    assert r.code == 0, r.text
    return r.out.strip()


def move(qms, cid: str, state: str, fields=(), *, who=QE, on: str | None = None, at: str):
    return qms("complaint", "move", cid, state, *sets(*fields), *(["--on", on] if on else []),
               who=who, env=entered(at))


def play_on_paper(qms, cid: str, path=PAPER_PATH) -> None:
    for state, fields, who, on, at in path:
        r = move(qms, cid, state, fields, who=who, on=on, at=at)
        assert r.code == 0, r.text


def refused_unchanged(qms, store, args: list[str], *, who, at: str, code: int, says: list[str]):
    """Run a command that must be refused: exit `code`, every phrase on stderr, and HEAD,
    the index and the working tree exactly as they were."""
    before = snapshot(store)
    r = qms(*args, who=who, env=entered(at))
    assert r.code == code, r.text
    assert "Traceback" not in r.text and r.err.startswith("qms: "), r.text
    for phrase in says:
        assert phrase in r.err, f"{phrase!r} not in:\n{r.err}"
    assert snapshot(store) == before
    return r


# ------------------------------------------------------------------ the paper complaint


@pytest.fixture
def paper_complaint(qms, store) -> str:
    """The October complaint, received, handled and closed on paper, all entered on
    2026-12-01 between 08:50 and 09:25."""
    cid = new_complaint(qms)
    play_on_paper(qms, cid)
    return cid


def test_each_signature_keeps_its_signing_time_and_adds_the_paper_time(store, paper_complaint):
    rec = load(store, paper_complaint)
    assert rec["state"] == "closed"
    sigs = rec["signatures"]
    assert [s["at"] for s in sigs] == [datetime.fromisoformat(f"2026-12-01T{at}:00+08:00")
                                       for *_, at in PAPER_PATH]
    assert [s["on"] for s in sigs] == [
        datetime.fromisoformat("2026-10-12T10:30:00+08:00"), date(2026, 10, 13),
        datetime.fromisoformat("2026-10-14T11:00:00+08:00"), date(2026, 10, 15), date(2026, 10, 19),
    ]
    # `on` comes right after `at`; a date alone stays a date
    text = record_file(store, paper_complaint).read_text("utf-8")
    assert "    at: 2026-12-01 09:05:00+08:00\n    on: 2026-10-12 10:30:00+08:00\n    from: received\n" in text
    assert "    at: 2026-12-01 09:25:00+08:00\n    on: 2026-10-19\n    from: verifying\n" in text


def test_each_commit_carries_the_paper_time_as_a_trailer(store, paper_complaint):
    messages = git(store, "log", "--reverse", "--format=%B%x00", "--", "records").split("\x00")
    moves = [m for m in messages if "QMS-Action: move" in m]
    found = [re.search(r"^QMS-On: (.+)$", m, re.M) for m in moves]
    assert [f.group(1) if f else None for f in found] == [
        "2026-10-12T10:30:00+08:00", "2026-10-13", "2026-10-14T11:00:00+08:00", "2026-10-15", "2026-10-19",
    ]
    # the commit itself is dated when it was entered, as its signature's `at`
    assert git(store, "log", "-1", "--format=%cI").strip() == "2026-12-01T09:25:00+08:00"


def test_the_paper_complaint_is_closed_on_time_by_its_paper_dates(qms, paper_complaint):
    r = qms("complaint", "show", paper_complaint, "--json", env=NOW)
    assert r.code == 0, r.text
    view = json.loads(r.out)
    dl = {d["name"]: d for d in view["deadlines"]}
    assert {k: d["status"] for k, d in dl.items()} == {"contact": "met", "report": "met", "closure": "met"}
    # due at the close of the 5th working day; met by the paper date of that day
    assert dl["closure"]["due"] == "2026-10-19T23:59:59+08:00"
    assert dl["closure"]["met_at"] == "2026-10-19T00:00:00+08:00"
    # the JSON says which acts were entered afterwards, and both times
    first, last = view["signatures"][0], view["signatures"][-1]
    assert (first["entered_afterwards"], first["on"], first["at"], first["acted"]) == (
        True, "2026-10-12T10:30:00+08:00", "2026-12-01T09:05:00+08:00", "2026-10-12T10:30:00+08:00")
    assert (last["on"], last["acted"], last["when"]) == (
        "2026-10-19", "2026-10-19", "2026-10-19 补录（2026-12-01 09:25 录入）")


def test_the_same_entry_without_paper_dates_is_late(qms):
    """What --on is for: typed in on 2026-12-01 without it, the complaint closes late."""
    cid = new_complaint(qms)
    play_on_paper(qms, cid, [(s, f, who, None, at) for s, f, who, _, at in PAPER_PATH])
    view = json.loads(qms("complaint", "show", cid, "--json", env=NOW).out)
    assert {d["name"]: d["status"] for d in view["deadlines"]}["closure"] == "late"
    assert not any(s["entered_afterwards"] for s in view["signatures"])


def test_show_says_entered_afterwards_with_both_times(qms, paper_complaint):
    zh = qms("complaint", "show", paper_complaint, env=NOW)
    assert zh.code == 0, zh.text
    assert "2026-10-12 10:30 补录（2026-12-01 09:05 录入）  受理确认  李雷" in zh.out
    assert "2026-10-19 补录（2026-12-01 09:25 录入）  验证  王强" in zh.out
    closure = next(line for line in zh.out.splitlines() if "异常闭环" in line)
    assert "已按时完成" in closure and "完成于 2026-10-19" in closure
    en = qms("--lang", "en", "complaint", "show", paper_complaint, env=NOW)
    assert en.code == 0, en.text
    assert "2026-10-13 (entered afterwards on 2026-12-01 09:10)  Assigned" in en.out
    closure = next(line for line in en.out.splitlines() if "Closure" in line)
    assert " met " in closure + " " and "met late" not in closure


def test_log_says_entered_afterwards_with_both_times(qms, paper_complaint):
    r = qms("log", paper_complaint)
    assert r.code == 0, r.text
    lines = r.out.splitlines()
    ack = next(line for line in lines if "move acknowledged" in line)
    assert ack.startswith("2026-12-01 09:05  李雷 <li.lei@example.com>  move acknowledged")
    assert ack.endswith("2026-10-12 10:30 补录（2026-12-01 09:05 录入）")
    closed = next(line for line in lines if "move closed" in line)
    assert closed.endswith("2026-10-19 补录（2026-12-01 09:25 录入）")
    new = next(line for line in lines if "  new" in line)
    assert "补录" not in new  # registered as it was typed in
    en = qms("--lang", "en", "log", paper_complaint)
    assert any(line.endswith("2026-10-13 (entered afterwards on 2026-12-01 09:10)") for line in en.out.splitlines())
    entries = json.loads(qms("log", paper_complaint, "--json").out)
    assert [(e["entered_afterwards"], e["on"]) for e in entries] == [(False, None)] + [
        (True, "2026-10-12T10:30:00+08:00"), (True, "2026-10-13"), (True, "2026-10-14T11:00:00+08:00"),
        (True, "2026-10-15"), (True, "2026-10-19"),
    ]
    assert entries[1]["trailers"]["QMS-On"] == ["2026-10-12T10:30:00+08:00"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_form_says_entered_afterwards_with_both_times(qms, paper_complaint, lang):
    r = qms("render", paper_complaint, "--lang", lang, env=NOW)
    assert r.code == 0, r.text
    form = r.out
    if lang == "zh":
        assert "| 受理确认 | 李雷 | 销售部 | 2026-10-12 10:30 补录（2026-12-01 09:05 录入） |" in form
        assert "| 验证 | 王强 | 质量部经理 | 2026-10-19 补录（2026-12-01 09:25 录入） |" in form
        assert "| 异常闭环 | 5个工作日 | 2026-10-19 24:00 | 2026-10-19 00:00 | 按时完成 |" in form
        assert "| 2026-10-13 补录（2026-12-01 09:10 录入） | 李雷 | 转入：调查中 |" in form
        assert "| 2026-12-01 08:50 | 李雷 | 登记 |" in form
    else:
        assert ("| Acknowledged | 李雷 | Sales | "
                "2026-10-12 10:30 (entered afterwards on 2026-12-01 09:05) |") in form
        assert "| Verified | 王强 | Quality manager | 2026-10-19 (entered afterwards on 2026-12-01 09:25) |" in form
        closure = next(line for line in form.splitlines() if line.startswith("| Closure |"))
        assert closure.endswith("| 2026-10-19 00:00 | Met |"), closure
    assert form.count("补录" if lang == "zh" else "entered afterwards") == 10  # 5 signatures, 5 history rows


def test_validate_accepts_the_back_entered_complaint(qms, paper_complaint):
    r = qms("validate", paper_complaint)
    assert r.code == 0, r.text


def test_a_date_alone_is_that_whole_day(qms, store):
    """A paper date on the day of the signing, or on the day of an earlier event, is
    neither later nor earlier than it; a time on that day is compared as a time."""
    cid = new_complaint(qms)
    # the same day as it was received (at 09:30): a date alone is accepted, 09:00 is not
    refused_unchanged(qms, store, ["complaint", "move", cid, "acknowledged", *sets(*ACK), "--on", "2026-10-12T09:00"],
                      who=QE, at="09:00", code=1, says=["--on 2026-10-12 09:00 is before received_at"])
    assert move(qms, cid, "acknowledged", ACK, on="2026-10-12", at="09:01").code == 0
    # a time on the day of an earlier paper date
    assert move(qms, cid, "investigating", INVESTIGATE, on="2026-10-12T10:00", at="09:02").code == 0
    # the day of the signing itself
    r = move(qms, cid, "correcting", CORRECT, on="2026-12-01", at="09:03")
    assert r.code == 0, r.text
    assert [s["on"] for s in load(store, cid)["signatures"]] == [
        date(2026, 10, 12), datetime.fromisoformat("2026-10-12T10:00:00+08:00"), date(2026, 12, 1)]


# ------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("on, says", [
    ("2026-12-02", "--on 2026-12-02 is later than its signing time, 2026-12-01 10:00"),
    ("2026-12-01T10:30", "--on 2026-12-01 10:30 is later than its signing time, 2026-12-01 10:00"),
    ("2027-01-01T00:00+08:00", "is later than its signing time"),
], ids=["next-day", "later-that-day", "next-year"])
def test_a_paper_time_after_the_signing_is_refused(qms, store, on, says):
    cid = new_complaint(qms)
    r = refused_unchanged(qms, store, ["complaint", "move", cid, "acknowledged", *sets(*ACK), "--on", on],
                          who=QE, at="10:00", code=1, says=[f"complaint {cid}: ", says, "on paper"])
    assert r.err.count("\n") == 1


@pytest.mark.parametrize("on, says", [
    ("2026-10-11", "--on 2026-10-11 is before received_at (Received at), 2026-10-12 09:30"),
    ("2026-10-12T09:29", "--on 2026-10-12 09:29 is before received_at (Received at), 2026-10-12 09:30"),
], ids=["day-before", "minute-before"])
def test_a_paper_time_before_the_record_was_received_is_refused(qms, store, on, says):
    cid = new_complaint(qms)
    refused_unchanged(qms, store, ["complaint", "move", cid, "acknowledged", *sets(*ACK), "--on", on],
                      who=QE, at="10:00", code=1, says=[says, "not before what the record already holds"])


def test_a_paper_time_before_an_earlier_signature_is_refused(qms, store):
    cid = new_complaint(qms)
    assert move(qms, cid, "acknowledged", ACK, on="2026-10-14", at="09:00").code == 0
    refused_unchanged(qms, store, ["complaint", "move", cid, "investigating", *sets(*INVESTIGATE),
                                   "--on", "2026-10-13"],
                      who=QE, at="09:05", code=1,
                      says=["--on 2026-10-13 is before the 'acknowledged' signature (on paper), 2026-10-14"])
    # an act signed as it happened counts from its signing time
    assert move(qms, cid, "investigating", INVESTIGATE, at="09:10").code == 0
    refused_unchanged(qms, store, ["complaint", "move", cid, "correcting", *sets(*CORRECT),
                                   "--on", "2026-10-20"],
                      who=QE, at="09:15", code=1,
                      says=["--on 2026-10-20 is before the 'assigned' signature, 2026-12-01 09:10"])


def test_registering_on_paper_is_checked_and_marked(qms, store):
    """A complaint's registration is not signed: --on still goes into the commit (and the
    log), and is not before the complaint was received."""
    refused_unchanged(qms, store, ["complaint", "new", *sets(*RECEIVED_OCT), "--on", "2026-10-11"],
                      who=QE, at="08:40", code=1,
                      says=["new complaint: --on 2026-10-11 is before received_at (Received at)"])
    cid = new_complaint(qms, at="08:50", extra=("--on", "2026-10-12"))
    assert "QMS-On: 2026-10-12\n" in git(store, "log", "-1", "--format=%B")
    line = qms("log", cid).out.splitlines()[0]
    assert line.endswith("new  2026-10-12 补录（2026-12-01 08:50 录入）"), line


@pytest.mark.parametrize("on", ["2026-13-01", "yesterday", "15/10/2026", "2026-10-15T25:00", "1899-12-31", "",
                                "2026-10-15T09:00+99:00"])
def test_an_unreadable_paper_time_is_bad_input(qms, store, on):
    cid = new_complaint(qms)
    r = refused_unchanged(qms, store, ["complaint", "move", cid, "acknowledged", *sets(*ACK), "--on", on],
                          who=QE, at="10:00", code=2, says=[f"--on '{on}': expected "])
    assert ("from 1900 to 2999" if on.startswith("1899") else "2026-10-15T14:30") in r.err
    refused_unchanged(qms, store, ["complaint", "new", *sets(*RECEIVED_OCT), "--on", on],
                      who=QE, at="10:01", code=2, says=[f"--on '{on}': expected "])


# --------------------------------------------------------------------- role terms


@pytest.fixture
def before_june(qms, store) -> str:
    """A complaint received on paper in May, while 周杰 was still a quality engineer (until
    2026-05-31), typed in on 2026-12-01."""
    return new_complaint(qms, received=[a for a in RECEIVED if not a.startswith("received_at=")]
                         + ["received_at=2026-05-20T09:00"])


def test_a_role_held_on_the_paper_date_signs_after_it_ended(qms, store, before_june):
    ack = [a.replace("2026-10-12T10:30", "2026-05-20T10:00") for a in ACK]
    # as of the day it is entered, 周杰 no longer holds the role ...
    refused_unchanged(qms, store, ["complaint", "move", before_june, "acknowledged", *sets(*ack)],
                      who=FORMER, at="09:00", code=1,
                      says=[f"{FORMER[1]} does not hold the role 'sales' on 2026-12-01"])
    # ... but did on the day it happened on paper
    r = move(qms, before_june, "acknowledged", ack, who=FORMER, on="2026-05-28", at="09:05")
    assert r.code == 0, r.text
    sig = load(store, before_june)["signatures"][-1]
    assert (sig["email"], sig["role"], sig["on"]) == (FORMER[1], "sales", date(2026, 5, 28))
    assert sig["at"] == datetime.fromisoformat("2026-12-01T09:05:00+08:00")


def test_a_role_not_held_on_the_paper_date_is_refused(qms, store, before_june):
    ack = [a.replace("2026-10-12T10:30", "2026-05-20T10:00") for a in ACK]
    refused_unchanged(qms, store, ["complaint", "move", before_june, "acknowledged", *sets(*ack),
                                   "--on", "2026-06-02T10:00"],
                      who=FORMER, at="09:00", code=1,
                      says=[f"{FORMER[1]} does not hold the role 'sales' on 2026-06-02"])


# ----------------------------------------------------------------------------- validate


@pytest.mark.parametrize("index, line, says", [
    (0, "on: soon", "signatures.0.on: expected a date such as 2026-10-15, or a date and time"),
    (0, "on: 2026-12-02", "signatures.0.on: 2026-12-02 is later than its signing time, 2026-12-01 09:05"),
    (1, "on: 2026-10-12",
     "signatures.1.on: 2026-10-12 is before the 'acknowledged' signature (signatures.0), 2026-10-13"),
    (1, "on: 2026-12-01 09:11:00+08:00",
     "signatures.1.on: 2026-12-01 09:11 is later than its signing time, 2026-12-01 09:10"),
], ids=["not-a-date", "after-signing", "before-earlier", "minute-after-signing"])
def test_validate_reports_a_hand_written_bad_paper_time(qms, store, index, line, says):
    cid = new_complaint(qms)
    assert move(qms, cid, "acknowledged", ACK, on="2026-10-13", at="09:05").code == 0
    assert move(qms, cid, "investigating", INVESTIGATE, at="09:10").code == 0
    path = record_file(store, cid)
    text = path.read_text("utf-8")
    at_lines = [m.end() for m in re.finditer(r"^    at: .*\n", text, re.M)]
    if index == 0:  # replace the paper date qms wrote
        text = text.replace("    on: 2026-10-13\n", f"    {line}\n")
    else:
        text = text[:at_lines[index]] + f"    {line}\n" + text[at_lines[index]:]
    path.write_text(text, "utf-8")
    r = qms("validate", cid)
    assert r.code == 1, r.text
    assert re.search(rf"^{re.escape(path.relative_to(store).as_posix())}:\d+: {re.escape(says)}", r.out, re.M), r.text


def test_validate_accepts_a_hand_written_good_paper_time(qms, store):
    cid = new_complaint(qms)
    assert move(qms, cid, "acknowledged", ACK, at="09:05").code == 0
    path = record_file(store, cid)
    text = path.read_text("utf-8")
    text = text.replace("    at: 2026-12-01 09:05:00+08:00\n", "    at: 2026-12-01 09:05:00+08:00\n    on: 2026-10-12\n")
    path.write_text(text, "utf-8")
    r = qms("validate", cid)
    assert r.code == 0, r.text


# ------------------------------------------------------- documents: date rules and effects

DOC_CONFIG = """\
company: 立信汽车部件股份有限公司
lang: zh
timezone: Asia/Shanghai
roles:
  document_controller:
    label: {zh: 文控, en: Document controller}
    holders: [{name: 赵敏, email: zhao.min@example.com, from: 2024-01-01}]
  quality_manager:
    label: {zh: 质量部经理, en: Quality manager}
    holders: [{name: 王强, email: wang.qiang@example.com}]
  management_representative:
    label: {zh: 管理者代表, en: Management representative}
    holders: [{name: 张伟, email: zhang.wei@example.com}]
"""
PROCEDURE = """\
title: 客户投诉处理程序
category: procedure
department: 质量部
controlled: true
"""
DC = ("赵敏", "zhao.min@example.com")
MR = ("张伟", "zhang.wei@example.com")


def test_a_revision_approved_on_paper_takes_effect_on_its_paper_dates(qms, tmp_path):
    """The approval on paper (2026-10-12) comes before the effective date (2026-10-13):
    entered on 2026-12-01 without --on it is refused, with --on it is accepted; the next
    edition, in force on paper on 2026-10-23, supersedes it with that date too."""
    root = make_store(tmp_path / "docs", DOC_CONFIG)
    clock = iter(f"{h:02d}:{m:02d}" for h in range(10, 18) for m in range(0, 60, 2))

    def run(*args, who=DC, on=None):
        return qms(*args, *(["--on", on] if on else []), who=who, env=entered(next(clock)), root=root)

    def ok(*args, who=DC, on=None):
        r = run(*args, who=who, on=on)
        assert r.code == 0, r.text
        return r.out.strip()

    def content(rel: str, text: str) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, "utf-8")
        env = dict(identity_env(DC), **entered(next(clock)))
        subprocess.run(["git", "add", rel], cwd=root, check=True)
        subprocess.run(["git", "commit", "-q", "-m", f"content {rel}"], cwd=root, check=True, env=env)

    spec = tmp_path / "procedure.yaml"
    spec.write_text(PROCEDURE, "utf-8")
    doc = ok("document", "new", "--file", str(spec), on="2026-10-08")

    def revise(change: str, days: tuple[str, str, str, str, str], effective: str) -> str:
        rev = ok("revision", "new", *sets(f"document={doc}", f"change={change}", "summary=按程序要求"), on=days[0])
        content(f"files/document/{rev}.md", f"{rev}\n")
        ok("revision", "move", rev, "in_review", *sets("reason=按程序要求", f"content=files/document/{rev}.md"),
           on=days[1])
        ok("revision", "move", rev, "reviewed", who=QM, on=days[2])
        approval = sets(f"published_date={days[3]}", f"effective_date={effective}")
        before = snapshot(root)
        r = run("revision", "move", rev, "approved", *approval, who=MR)  # as if approved today
        assert r.code == 1 and f"{effective} is before the 'approved' signature (2026-12-01)" in r.err, r.text
        assert snapshot(root) == before
        ok("revision", "move", rev, "approved", *approval, who=MR, on=days[3])
        # in force on paper no earlier than its effective date: the rule's `today` is the paper day
        before = snapshot(root)
        r = run("revision", "move", rev, "effective", on=days[3])
        assert r.code == 1 and f"{effective} is after the day it happened on paper ({days[3]})" in r.err, r.text
        assert snapshot(root) == before
        ok("revision", "move", rev, "effective", on=days[4])
        return rev

    first = revise("first_issue", ("2026-10-08", "2026-10-09", "2026-10-10", "2026-10-12", "2026-10-13"),
                   "2026-10-13")
    second = revise("modification", ("2026-10-20", "2026-10-20", "2026-10-21", "2026-10-22", "2026-10-23"),
                    "2026-10-23")
    y = YAML(typ="safe")
    old = y.load(next(root.rglob(f"{first}.yaml")).read_text("utf-8"))
    # the effect of the second release signs the first one superseded, on the same paper date
    assert old["state"] == "superseded"
    assert (old["signatures"][-1]["meaning"], old["signatures"][-1]["on"]) == ("superseded", date(2026, 10, 23))
    new = y.load(next(root.rglob(f"{second}.yaml")).read_text("utf-8"))
    assert [s["on"] for s in new["signatures"]] == [date(2026, 10, d) for d in (20, 20, 21, 22, 23)]
    # the document's form dates its edition's signatures by the paper dates
    form = qms("render", doc, "--lang", "en", root=root, env=NOW).out
    assert "| Date | 2026-10-20 | 2026-10-21 | 2026-10-22 |" in form
    rev_form = qms("render", first, "--lang", "zh", root=root, env=NOW).out
    assert re.search(r"\| 批准 \| 张伟 \| 管理者代表 \| 2026-10-12 补录（2026-12-01 \d\d:\d\d 录入） \|", rev_form)
    assert re.search(r"\| 被替代 \| 赵敏 \| 文控 \| 2026-10-23 补录（2026-12-01 \d\d:\d\d 录入） \|", rev_form)
    assert qms("validate", root=root).code == 0


@pytest.mark.parametrize("verb", ["move", "new"])
def test_help_documents_on(qms, verb):
    r = qms("complaint", verb, "--help")
    assert r.code == 0, r.text
    text = " ".join(r.out.split())
    assert "--on DATE[THH:MM]" in text and "补录" in text and "2026-10-15T14:30" in text
