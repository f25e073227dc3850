"""A complaint through every path of its workflow (DOMAIN.md §2, qms_cli/types/complaint.yaml):
received -> acknowledged -> investigating -> correcting -> verifying -> closed, the
not-ours path through clarified, reopening, cancelling; each move refused with the missing
fields, the missing role or the missing move named; signatures in the YAML; `set`; lists;
and what `show --json` says a record still lacks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from conftest import CORRECT, FORMER, GM, INVESTIGATE, OUTSIDER, QE, QE2, QM, RECEIVED, REGISTERED, git, sets
from ruamel.yaml import YAML

CST = timezone(timedelta(hours=8))

# What each state needs beyond the one before, as --set assignments (a general complaint).
ACK = [
    "contact.at=2026-03-06T10:40",
    "contact.by=李雷",
    "contact.summary=已电话联系孙工，确认渗油 12 件",
    "interim_countermeasure=客户处在库品 100% 气密检测",
]
VERIFY = ["d6.implementation=新模具已投用", "report.submitted_at=2026-03-09T16:00"]
CLOSE = [
    "effectiveness.result=连续 3 批 0 泄漏",
    "effectiveness.checked_at=2026-03-12",
    "customer_confirmation.result=accepted",
    "customer_confirmation.at=2026-03-12",
]
CLARIFY = [
    "investigation.result=按 Q/LX 0312 检验合格",
    "responsibility=not_ours",
    "clarification=客户装配扭矩超出图纸要求，已与客户澄清",
]
CLOSE_NOT_OURS = ["customer_confirmation.result=accepted", "customer_confirmation.at=2026-03-10"]
EIGHT_D = [
    "d1.team=李雷(组长)、赵工、钱班长",
    "d2.problem=接头压接处渗油",
    "d3.containment=在库 1200 件全检",
    "d7.prevention=PFMEA 更新",
    "d8.closure=8D 结案",
]

# (state, the fields it needs, who signs, commit date) along the main path
MAIN_PATH = [
    ("acknowledged", ACK, QE, "2026-03-06T10:45:00+08:00"),
    ("investigating", INVESTIGATE, QE, "2026-03-06T14:00:00+08:00"),
    ("correcting", CORRECT, QE, "2026-03-09T09:00:00+08:00"),
    ("verifying", VERIFY, QE, "2026-03-09T16:30:00+08:00"),
    ("closed", CLOSE, QM, "2026-03-12T11:00:00+08:00"),
]


def fields_of(assignments: list[str]) -> list[str]:
    return [a.split("=", 1)[0] for a in assignments]


def when(iso: str) -> dict[str, str]:
    """The commit date of an action: the signature's time stamp."""
    return {"GIT_COMMITTER_DATE": iso, "GIT_AUTHOR_DATE": iso}


def load(store, cid: str) -> dict:
    return YAML(typ="safe").load(
        (store / "records" / "complaint" / f"{cid}.yaml").read_text("utf-8")
    )


def head(store) -> str:
    return git(store, "rev-parse", "HEAD").strip()


def show(qms, cid: str) -> dict:
    r = qms("complaint", "show", cid, "--json", env={"QMS_NOW": "2026-03-06T11:00"})
    assert r.code == 0, r.text
    return json.loads(r.out)


def advance(qms, cid: str, path=MAIN_PATH, until: str | None = None) -> None:
    """Move `cid` along `path` (stopping after `until`), each step with its fields."""
    for state, needed, who, date in path:
        r = qms("complaint", "move", cid, state, *sets(*needed), who=who, env=when(date))
        assert r.code == 0, r.text
        if state == until:
            return


def refused_unchanged(store, r, before_head: str, before_bytes: bytes, cid: str) -> None:
    assert r.code == 1, r.text
    assert r.err.startswith("qms: "), r.err
    assert "Traceback" not in r.err
    assert head(store) == before_head
    assert (store / "records" / "complaint" / f"{cid}.yaml").read_bytes() == before_bytes


# --------------------------------------------------------------------------- the main path


def test_general_complaint_goes_the_whole_way_and_is_signed_at_each_step(qms, store, complaint):
    advance(qms, complaint)
    rec = load(store, complaint)
    assert rec["state"] == "closed"
    sigs = rec["signatures"]
    assert [(s["from"], s["to"], s["meaning"]) for s in sigs] == [
        ("received", "acknowledged", "acknowledged"),
        ("acknowledged", "investigating", "assigned"),
        ("investigating", "correcting", "analysed"),
        ("correcting", "verifying", "implemented"),
        ("verifying", "closed", "verified"),
    ]
    assert [s["email"] for s in sigs] == [QE[1]] * 4 + [QM[1]]
    assert [s["name"] for s in sigs] == [QE[0]] * 4 + [QM[0]]
    assert [s["role"] for s in sigs] == ["sales"] + ["quality_engineer"] * 3 + ["quality_manager"]
    # `at` is the commit date the signer's git used, not the clock and not QMS_NOW
    assert [s["at"] for s in sigs] == [datetime.fromisoformat(d) for _, _, _, d in MAIN_PATH]
    # a general complaint closes without any 8D section
    assert not any(k in rec for k in ("d1", "d2", "d3", "d7", "d8"))
    view = show(qms, complaint)
    assert view["state"] == "closed" and view["final"] is True
    assert view["next_moves"] == []


def test_signature_time_is_the_commit_date_in_the_yaml_text(qms, store, complaint):
    r = qms(
        "complaint",
        "move",
        complaint,
        "acknowledged",
        *sets(*ACK),
        who=QE2,
        env=when("2026-03-06T02:45:00+00:00"),
    )
    assert r.code == 0, r.text
    sig = load(store, complaint)["signatures"][-1]
    assert sig["at"] == datetime(2026, 3, 6, 10, 45, tzinfo=CST)  # the same instant
    assert sig == {
        "meaning": "acknowledged",
        "name": QE2[0],
        "email": QE2[1],
        "role": "sales",
        "at": sig["at"],
        "from": "received",
        "to": "acknowledged",
    }
    assert git(store, "log", "-1", "--format=%cI").strip() in (
        "2026-03-06T02:45:00+00:00",
        "2026-03-06T10:45:00+08:00",
    )


@pytest.mark.parametrize(
    "date",
    ["2026-03-06T10:45:00+08:00", "Fri, 06 Mar 2026 10:45:00 +0800", "@1772765100 +0800"],
)
def test_the_signature_time_is_the_commit_time_in_every_date_format_git_reads(
    qms, store, complaint, date
):
    """CLI.md: signatures' time stamps are the real commit times; git reads ISO 8601,
    RFC 2822 and its own '@<epoch> <zone>' in GIT_COMMITTER_DATE."""
    r = qms(
        "complaint",
        "move",
        complaint,
        "acknowledged",
        *sets(*ACK),
        who=QE,
        env={"GIT_COMMITTER_DATE": date},
    )
    assert r.code == 0, r.text
    assert git(store, "log", "-1", "--format=%cI").strip() == "2026-03-06T10:45:00+08:00"
    assert load(store, complaint)["signatures"][-1]["at"] == datetime(
        2026, 3, 6, 10, 45, tzinfo=CST
    )


def test_each_move_is_refused_naming_the_missing_fields_until_the_record_holds_them(
    qms, store, complaint
):
    for state, needed, who, date in MAIN_PATH:
        before_head = head(store)
        before = (store / "records" / "complaint" / f"{complaint}.yaml").read_bytes()
        r = qms("complaint", "move", complaint, state, who=who, env=when(date))
        refused_unchanged(store, r, before_head, before, complaint)
        for f in fields_of(needed):
            assert f in r.err, f"{state}: {f} not named in {r.err!r}"
        named = {ln.split(":")[0].strip() for ln in r.err.splitlines()[1:]}
        assert named == set(fields_of(needed)), r.err
        # half of the evidence is still a refusal, naming only what is left; nothing is kept
        if len(needed) > 1:
            r = qms(
                "complaint", "move", complaint, state, *sets(needed[0]), who=who, env=when(date)
            )
            refused_unchanged(store, r, before_head, before, complaint)
            named = {ln.split(":")[0].strip() for ln in r.err.splitlines()[1:]}
            assert named == set(fields_of(needed[1:])), r.err
        r = qms("complaint", "move", complaint, state, *sets(*needed), who=who, env=when(date))
        assert r.code == 0, r.text
        assert load(store, complaint)["state"] == state


def test_evidence_recorded_earlier_with_set_lets_a_bare_move_through(qms, store, complaint):
    r = qms("complaint", "set", complaint, *ACK[:2], who=QE)
    assert r.code == 0, r.text
    r = qms("complaint", "move", complaint, "acknowledged", who=QE)
    assert r.code == 1, r.text
    assert "contact.summary" in r.err and "contact.at" not in r.err
    r = qms("complaint", "set", complaint, *ACK[2:], who=QE)
    assert r.code == 0, r.text
    r = qms("complaint", "move", complaint, "acknowledged", who=QE)
    assert r.code == 0, r.text
    assert load(store, complaint)["state"] == "acknowledged"


def test_a_written_complaint_needs_its_original_file(qms, store):
    written = [a if not a.startswith("original=") else "original=written" for a in RECEIVED]
    r = qms("complaint", "new", *sets(*written), who=QE)
    assert r.code == 1, r.text
    assert "original_file" in r.err
    assert not (store / "records" / "complaint").exists() or not any(
        (store / "records" / "complaint").iterdir()
    )
    r = qms("complaint", "new", *sets(*written, "original_file=files/complaint/letter.pdf"), who=QE)
    assert r.code == 1 and "original_file: attached file 'files/complaint/letter.pdf' is not in the store" in r.err
    (store / "files" / "complaint").mkdir(parents=True)
    (store / "files" / "complaint" / "letter.pdf").write_bytes(b"%PDF-1.4 letter")
    r = qms("complaint", "new", *sets(*written, "original_file=files/complaint/letter.pdf"), who=QE)
    assert r.code == 1 and "files/complaint/letter.pdf: not committed" in r.err, r.text  # evidence history shows
    git(store, "add", "files")
    git(store, "commit", "-q", "-m", "the customer's letter")
    r = qms("complaint", "new", *sets(*written, "original_file=files/complaint/letter.pdf"), who=QE)
    assert r.code == 0, r.text


def test_acknowledging_a_serious_complaint_needs_no_interim_countermeasure(qms, store):
    serious = [a if not a.startswith("class=") else "class=serious" for a in RECEIVED]
    cid = qms("complaint", "new", *sets(*serious), who=QE).out.strip()
    r = qms("complaint", "move", cid, "acknowledged", *sets(*ACK[:3]), who=QE)
    assert r.code == 0, r.text
    assert "interim_countermeasure" not in load(store, cid)


def test_serious_complaint_is_refused_at_close_until_every_8d_section_is_filled(qms, store):
    serious = [a if not a.startswith("class=") else "class=serious" for a in RECEIVED]
    r = qms("complaint", "new", *sets(*serious), who=QE, env=REGISTERED)
    assert r.code == 0, r.text
    cid = r.out.strip()
    advance(qms, cid, until="verifying")
    before_head = head(store)
    before = (store / "records" / "complaint" / f"{cid}.yaml").read_bytes()
    r = qms("complaint", "move", cid, "closed", *sets(*CLOSE), who=QM, env=when("2026-03-12T11:00"))
    refused_unchanged(store, r, before_head, before, cid)
    for f in ("d1.team", "d2.problem", "d3.containment", "d7.prevention", "d8.closure"):
        assert f in r.err, r.err
    # D4-D6 are already there: they are not named
    for f in ("d4.root_cause", "d5.corrective_action", "d6.implementation"):
        assert f not in r.err, r.err
    # four of five is still not enough
    r = qms("complaint", "move", cid, "closed", *sets(*CLOSE, *EIGHT_D[:4]), who=QM)
    refused_unchanged(store, r, before_head, before, cid)
    assert "d8.closure" in r.err and "d1.team" not in r.err
    # a serious complaint: the quality manager cannot close it alone
    r = qms("complaint", "move", cid, "closed", *sets(*CLOSE, *EIGHT_D), who=QM)
    refused_unchanged(store, r, before_head, before, cid)
    assert "class: must not be serious" in r.err, r.err
    r = qms(
        "complaint",
        "move",
        cid,
        "approving",
        *sets(*CLOSE, *EIGHT_D),
        who=QM,
        env=when("2026-03-12T11:00:00+08:00"),
    )
    assert r.code == 0, r.text
    # the general manager approves how it was handled: 总经理...处理的认可
    r = qms("complaint", "move", cid, "closed", who=QM, env=when("2026-03-12T14:00:00+08:00"))
    assert r.code == 1 and "general_manager" in r.err, r.text
    r = qms("complaint", "move", cid, "closed", who=GM, env=when("2026-03-12T14:00:00+08:00"))
    assert r.code == 0, r.text
    rec = load(store, cid)
    assert rec["state"] == "closed"
    assert [(s["to"], s["meaning"], s["role"]) for s in rec["signatures"][-2:]] == [
        ("approving", "verified", "quality_manager"), ("closed", "approved", "general_manager")]
    assert rec["d8"] == {"closure": "8D 结案"}


def test_not_ours_goes_through_clarified_to_closed(qms, store, complaint):
    advance(qms, complaint, until="investigating")
    # responsibility must say not_ours for this path
    wrong = [a if not a.startswith("responsibility=") else "responsibility=ours" for a in CLARIFY]
    r = qms("complaint", "move", complaint, "clarified", *sets(*wrong), who=QE)
    assert r.code == 1, r.text
    assert "responsibility" in r.err and "not_ours" in r.err
    r = qms(
        "complaint",
        "move",
        complaint,
        "clarified",
        *sets(*CLARIFY),
        who=QE,
        env=when("2026-03-07T09:00:00+08:00"),
    )
    assert r.code == 0, r.text
    r = qms("complaint", "move", complaint, "closed", who=QM)
    assert r.code == 1, r.text
    assert "customer_confirmation.result" in r.err and "customer_confirmation.at" in r.err
    # the not-ours close needs no corrective action, effectiveness check or report
    for f in ("d4.root_cause", "effectiveness.result", "report.submitted_at"):
        assert f not in r.err, r.err
    r = qms(
        "complaint",
        "move",
        complaint,
        "closed",
        *sets(*CLOSE_NOT_OURS),
        who=QM,
        env=when("2026-03-10T15:00:00+08:00"),
    )
    assert r.code == 0, r.text
    rec = load(store, complaint)
    assert rec["state"] == "closed"
    assert [(s["to"], s["meaning"], s["role"]) for s in rec["signatures"][-2:]] == [
        ("clarified", "clarified", "sales"),
        ("closed", "confirmed", "quality_manager"),
    ]


def test_a_record_that_is_ours_cannot_go_to_clarified_nor_not_ours_to_correcting(qms, complaint):
    advance(qms, complaint, until="investigating")
    not_ours = [
        a if not a.startswith("responsibility=") else "responsibility=not_ours" for a in CORRECT
    ]
    r = qms("complaint", "move", complaint, "correcting", *sets(*not_ours), who=QE)
    assert r.code == 1, r.text
    assert "responsibility" in r.err and "ours" in r.err


def test_verifying_can_be_reopened_to_correcting_and_verified_again(qms, store, complaint):
    advance(qms, complaint, until="verifying")
    r = qms("complaint", "move", complaint, "correcting", who=QE)
    assert r.code == 1, r.text  # reopening is the quality manager's call
    assert "quality_manager" in r.err
    r = qms(
        "complaint",
        "move",
        complaint,
        "correcting",
        "--comment",
        "二次泄漏，措施无效",
        who=QM,
        env=when("2026-03-10T10:00:00+08:00"),
    )
    assert r.code == 0, r.text
    assert load(store, complaint)["state"] == "correcting"
    r = qms(
        "complaint",
        "move",
        complaint,
        "verifying",
        "--set",
        "d6.implementation=模具与夹具均已更换",
        who=QE,
        env=when("2026-03-11T10:00:00+08:00"),
    )
    assert r.code == 0, r.text
    rec = load(store, complaint)
    assert rec["state"] == "verifying"
    assert [(s["from"], s["to"], s["meaning"]) for s in rec["signatures"][-2:]] == [
        ("verifying", "correcting", "reopened"),
        ("correcting", "verifying", "implemented"),
    ]
    r = qms("complaint", "move", complaint, "closed", *sets(*CLOSE), who=QM)
    assert r.code == 0, r.text


OPEN_STATES = ["received", "acknowledged", "investigating", "clarified", "correcting", "verifying"]


@pytest.mark.parametrize("state", OPEN_STATES)
def test_cancelled_from_each_open_state_only_with_a_reason(qms, store, complaint, state):
    if state == "clarified":
        advance(qms, complaint, until="investigating")
        r = qms("complaint", "move", complaint, "clarified", *sets(*CLARIFY), who=QE,
                env=when("2026-03-07T09:00:00+08:00"))
        assert r.code == 0, r.text
    elif state != "received":
        advance(qms, complaint, until=state)
    assert load(store, complaint)["state"] == state
    before_head = head(store)
    before = (store / "records" / "complaint" / f"{complaint}.yaml").read_bytes()
    r = qms("complaint", "move", complaint, "cancelled", who=QM)
    refused_unchanged(store, r, before_head, before, complaint)
    assert "cancel_reason" in r.err
    r = qms("complaint", "move", complaint, "cancelled", "--set", "cancel_reason=", who=QM)
    refused_unchanged(store, r, before_head, before, complaint)
    assert "cancel_reason" in r.err
    r = qms(
        "complaint",
        "move",
        complaint,
        "cancelled",
        "--set",
        "cancel_reason=客户撤回投诉",
        who=QM,
        env=when("2026-03-13T09:00:00+08:00"),
    )
    assert r.code == 0, r.text
    rec = load(store, complaint)
    assert rec["state"] == "cancelled"
    assert rec["cancel_reason"] == "客户撤回投诉"
    last = rec["signatures"][-1]
    assert (last["from"], last["to"], last["meaning"], last["role"], last["email"]) == (
        state,
        "cancelled",
        "cancelled",
        "quality_manager",
        QM[1],
    )
    # a final state goes nowhere
    r = qms("complaint", "move", complaint, "received", who=QM)
    assert r.code == 1, r.text


def test_cancelling_is_the_quality_managers_move(qms, store, complaint):
    r = qms("complaint", "move", complaint, "cancelled", "--set", "cancel_reason=重复登记", who=QE)
    assert r.code == 1, r.text
    assert "quality_manager" in r.err
    assert load(store, complaint)["state"] == "received"


# ------------------------------------------------------------------- moves that do not exist


def test_a_move_the_workflow_lacks_is_refused_naming_where_it_can_go(qms, store, complaint):
    before_head = head(store)
    before = (store / "records" / "complaint" / f"{complaint}.yaml").read_bytes()
    r = qms("complaint", "move", complaint, "closed", *sets(*CLOSE), who=QM)
    refused_unchanged(store, r, before_head, before, complaint)
    assert "closed" in r.err
    onward = r.err.split("can move to", 1)[1]
    assert "acknowledged" in onward and "cancelled" in onward
    assert "investigating" not in onward


def test_moving_to_the_state_it_is_in_is_refused(qms, store, complaint):
    r = qms("complaint", "move", complaint, "received", who=QE)
    assert r.code == 1, r.text


def test_an_unknown_state_is_bad_input(qms, store, complaint):
    before_head = head(store)
    r = qms("complaint", "move", complaint, "archived", who=QE)
    assert r.code == 2, r.text
    assert r.err.startswith("qms: ") and "archived" in r.err
    assert "acknowledged" in r.err  # says which states there are
    assert head(store) == before_head


# -------------------------------------------------------------------------------- roles


def test_someone_who_holds_no_role_is_refused_naming_the_role(qms, store, complaint):
    before_head = head(store)
    before = (store / "records" / "complaint" / f"{complaint}.yaml").read_bytes()
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=OUTSIDER)
    refused_unchanged(store, r, before_head, before, complaint)
    assert "'sales'" in r.err and OUTSIDER[1] in r.err
    assert f"qms role grant sales {OUTSIDER[1]} --name NAME" in r.err, r.err  # and how the holder is named


def test_the_wrong_role_is_refused_naming_the_role_it_needs(qms, store, complaint):
    advance(qms, complaint, until="verifying")
    before_head = head(store)
    before = (store / "records" / "complaint" / f"{complaint}.yaml").read_bytes()
    r = qms("complaint", "move", complaint, "closed", *sets(*CLOSE), who=QE)
    refused_unchanged(store, r, before_head, before, complaint)
    assert "quality_manager" in r.err
    # and the quality manager is not a quality engineer either
    r2 = qms("complaint", "move", complaint, "correcting", who=QM)
    assert r2.code == 0, r2.text  # reopening is hers
    r3 = qms("complaint", "move", complaint, "verifying", who=QM)
    assert r3.code == 1 and "quality_engineer" in r3.err, r3.text


def test_a_former_holder_is_refused_today(qms, store, complaint):
    """周杰 was a quality engineer until 2026-05-31; signing now (no commit date set, so
    the real clock, after that day) is refused."""
    assert datetime.now(CST).date() > datetime(2026, 5, 31).date()  # the premise of the test
    before_head = head(store)
    before = (store / "records" / "complaint" / f"{complaint}.yaml").read_bytes()
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=FORMER)
    refused_unchanged(store, r, before_head, before, complaint)
    assert "'sales'" in r.err and FORMER[1] in r.err


def test_a_holder_is_judged_on_the_day_of_the_signature(qms, store, complaint):
    """The same person, signing with a commit date inside the holding, may sign; a
    day after it ends, may not."""
    r = qms(
        "complaint",
        "move",
        complaint,
        "acknowledged",
        *sets(*ACK),
        who=FORMER,
        env=when("2026-06-01T09:00:00+08:00"),
    )
    assert r.code == 1, r.text
    r = qms(
        "complaint",
        "move",
        complaint,
        "acknowledged",
        *sets(*ACK),
        who=FORMER,
        env=when("2026-05-31T17:00:00+08:00"),
    )
    assert r.code == 0, r.text
    assert load(store, complaint)["signatures"][-1]["email"] == FORMER[1]


# ---------------------------------------------------------------------------------- set


def test_set_changes_a_field_and_nothing_else(qms, store, complaint):
    before = load(store, complaint)
    count = int(git(store, "rev-list", "--count", "HEAD"))
    r = qms(
        "complaint",
        "set",
        complaint,
        "batch=20260305-A1",
        "quantity_affected=12",
        "--comment",
        "客户补充批次",
        who=QE2,
    )
    assert r.code == 0, r.text
    after = load(store, complaint)
    assert after.pop("batch") == "20260305-A1"
    assert after.pop("quantity_affected") == 12
    assert after == before
    assert int(git(store, "rev-list", "--count", "HEAD")) == count + 1
    assert "客户补充批次" in git(store, "log", "-1", "--format=%B")


def test_set_replaces_a_value(qms, store, complaint):
    r = qms("complaint", "set", complaint, "description=接头渗油，已停线", who=QE)
    assert r.code == 0, r.text
    assert load(store, complaint)["description"] == "接头渗油，已停线"


@pytest.mark.parametrize("final", ["closed", "cancelled"])
def test_set_is_refused_on_a_final_record(qms, store, complaint, final):
    if final == "closed":
        advance(qms, complaint)
    else:
        r = qms("complaint", "move", complaint, "cancelled", "--set", "cancel_reason=重复", who=QM)
        assert r.code == 0, r.text
    before_head = head(store)
    before = (store / "records" / "complaint" / f"{complaint}.yaml").read_bytes()
    r = qms("complaint", "set", complaint, "batch=X", who=QM)
    refused_unchanged(store, r, before_head, before, complaint)
    assert final in r.err


@pytest.mark.parametrize(
    "state, field",
    [
        ("received", "description"),
        ("received", "customer.name"),
        ("acknowledged", "contact.summary"),
        ("investigating", "investigation.departments"),
    ],
)
def test_set_refuses_to_empty_a_field_the_state_requires(qms, store, complaint, state, field):
    if state != "received":
        advance(qms, complaint, until=state)
    before_head = head(store)
    before = (store / "records" / "complaint" / f"{complaint}.yaml").read_bytes()
    r = qms("complaint", "set", complaint, f"{field}=", who=QE)
    refused_unchanged(store, r, before_head, before, complaint)
    assert field in r.err


def test_set_may_empty_a_field_no_state_requires_yet(qms, store, complaint):
    assert qms("complaint", "set", complaint, "batch=B1", who=QE).code == 0
    r = qms("complaint", "set", complaint, "batch=", who=QE)
    assert r.code == 0, r.text
    assert load(store, complaint).get("batch") in (None, "")


# --------------------------------------------------------------------------- list fields


def test_list_fields_take_comma_separated_values_and_append_with_plus_equals(qms, store, complaint):
    advance(qms, complaint, until="acknowledged")
    r = qms("complaint", "set", complaint, "disposition=rework,scrap", who=QE)
    assert r.code == 0, r.text
    assert load(store, complaint)["disposition"] == ["rework", "scrap"]
    r = qms(
        "complaint",
        "move",
        complaint,
        "investigating",
        "--set",
        "investigation.departments+=质控部",
        who=QE,
    )
    assert r.code == 0, r.text
    assert load(store, complaint)["investigation"]["departments"] == ["质控部"]
    r = qms(
        "complaint",
        "set",
        complaint,
        "investigation.departments+=技术中心",
        "disposition+=repair",
        who=QE,
    )
    assert r.code == 0, r.text
    rec = load(store, complaint)
    assert rec["investigation"]["departments"] == ["质控部", "技术中心"]
    assert rec["disposition"] == ["rework", "scrap", "repair"]
    # replacing, not appending
    r = qms("complaint", "set", complaint, "disposition=return", who=QE)
    assert r.code == 0, r.text
    assert load(store, complaint)["disposition"] == ["return"]


def test_list_items_are_checked_against_their_declaration(qms, store, complaint):
    before = (store / "records" / "complaint" / f"{complaint}.yaml").read_bytes()
    for bad in ("disposition=rework,burn", "disposition+=burn"):
        r = qms("complaint", "set", complaint, bad, who=QE)
        assert r.code == 2, r.text
        assert "disposition" in r.err and "burn" in r.err
    r = qms("complaint", "set", complaint, "batch+=x", who=QE)  # not a list
    assert r.code == 2, r.text
    assert (store / "records" / "complaint" / f"{complaint}.yaml").read_bytes() == before


# ------------------------------------------------------------------------------ show --json


def test_show_json_gives_state_next_moves_with_missing_fields_and_deadlines(qms, complaint):
    view = show(qms, complaint)
    assert view["id"] == complaint and view["type"] == "complaint"
    assert view["state"] == "received" and view["final"] is False
    moves = {m["to"]: m for m in view["next_moves"]}
    assert set(moves) == {"acknowledged", "cancelled"}
    assert moves["acknowledged"]["role"] == "sales"
    assert [m["field"] for m in moves["acknowledged"]["missing"]] == fields_of(ACK)
    assert all(m["why"] == "required" for m in moves["acknowledged"]["missing"])
    assert moves["cancelled"]["role"] == "quality_manager"
    assert [m["field"] for m in moves["cancelled"]["missing"]] == ["cancel_reason"]
    dl = {d["name"]: d for d in view["deadlines"]}
    assert set(dl) == {"contact", "report", "closure"}
    assert dl["contact"]["due"] == "2026-03-06T12:00:00+08:00" and dl["contact"]["status"] == "open"
    assert dl["report"]["due"] == "2026-03-10T23:59:59+08:00"
    assert dl["closure"]["due"] == "2026-03-13T23:59:59+08:00"
    assert view["record"]["customer"]["name"] == "上汽大众汽车有限公司"
    assert view["signatures"] == []


def test_show_json_next_moves_shrink_as_the_record_fills(qms, complaint):
    advance(qms, complaint, until="investigating")
    r = qms(
        "complaint",
        "set",
        complaint,
        "investigation.result=超差",
        "responsibility=ours",
        "d4.root_cause=模具磨损",
        who=QE,
    )
    assert r.code == 0, r.text
    moves = {m["to"]: m for m in show(qms, complaint)["next_moves"]}
    assert set(moves) == {"clarified", "correcting", "cancelled"}
    assert [m["field"] for m in moves["correcting"]["missing"]] == [
        "disposition",
        "d5.corrective_action",
    ]
    clarified = {m["field"]: m["why"] for m in moves["clarified"]["missing"]}
    assert clarified["clarification"] == "required"
    assert "not_ours" in clarified["responsibility"]
    r = qms(
        "complaint", "set", complaint, "disposition=rework", "d5.corrective_action=换模", who=QE
    )
    assert r.code == 0, r.text
    moves = {m["to"]: m for m in show(qms, complaint)["next_moves"]}
    assert moves["correcting"]["missing"] == []


def test_show_without_json_names_the_state_and_what_is_missing(qms, complaint):
    r = qms("--lang", "en", "complaint", "show", complaint, env={"QMS_NOW": "2026-03-06T11:00"})
    assert r.code == 0, r.text
    assert complaint in r.out and "received" in r.out
    assert "contact.summary" in r.out and "cancel_reason" in r.out
