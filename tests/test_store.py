"""The store (CLI.md "A store", "Commits"; STYLE.md "Git through GitPython", "YAML through
ruamel"): one commit per action holding only the record, authored by the actor, with the
documented message and trailers; a person's own work in the checkout left alone; hand
edits surviving; numbering; qms.yaml extensions; concurrent writers; a failing commit;
`qms log`, `qms init` and `qms demo`."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import CONFIG, QE, QM, RECEIVED, git, identity_env, sets
from ruamel.yaml import YAML

TZ = ZoneInfo("Asia/Shanghai")

ACK = [
    "contact.at=2026-03-06T10:40",
    "contact.by=李雷",
    "contact.summary=已电话联系孙工",
    "interim_countermeasure=客户处在库品全检",
]


def record_path(store: Path, cid: str) -> Path:
    return store / "records" / "complaint" / f"{cid}.yaml"


def load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text("utf-8"))


def commits(store: Path) -> int:
    return int(git(store, "rev-list", "--count", "HEAD"))


def files_of(store: Path, rev: str = "HEAD") -> list[str]:
    return git(store, "show", "--name-only", "--format=", rev).split()


def trailer(store: Path, key: str, rev: str = "HEAD") -> list[str]:
    """What git itself reads as trailer `key` of the commit (so the block is well-formed)."""
    out = git(store, "log", "-1", f"--format=%(trailers:key={key},valueonly)", rev)
    return [line for line in out.splitlines() if line.strip()]


def configure(store: Path, extra: str) -> None:
    (store / "qms.yaml").write_text(CONFIG + textwrap.dedent(extra), encoding="utf-8")
    git(store, "commit", "-q", "-am", "qms.yaml: configure")


# ------------------------------------------------------------------------------ commits


def test_new_is_one_commit_with_only_the_record_by_the_actor(qms, store):
    before = commits(store)
    r = qms("complaint", "new", *sets(*RECEIVED), who=QM)
    assert r.code == 0, r.text
    cid = r.out.strip()
    assert cid == "CMP-2026-0001"
    assert commits(store) == before + 1
    assert files_of(store) == ["records/complaint/CMP-2026-0001.yaml"]
    assert git(store, "log", "-1", "--format=%an|%ae").strip() == f"{QM[0]}|{QM[1]}"
    subject = git(store, "log", "-1", "--format=%s").strip()
    assert subject.startswith("complaint CMP-2026-0001:") and "new" in subject
    assert trailer(store, "QMS-Record") == ["complaint/CMP-2026-0001"]
    assert trailer(store, "QMS-Action") == ["new"]
    assert git(store, "status", "--porcelain").strip() == ""


def test_a_move_is_one_commit_with_the_documented_message(qms, store, complaint):
    before = commits(store)
    r = qms(
        "complaint",
        "move",
        complaint,
        "acknowledged",
        *sets(*ACK),
        "--comment",
        "Called the customer; interim action: 100 % sorting of stock at the customer.",
        who=QE,
        env={"GIT_COMMITTER_DATE": "2026-03-06T10:45:00+08:00"},
    )
    assert r.code == 0, r.text
    assert commits(store) == before + 1
    assert files_of(store) == [f"records/complaint/{complaint}.yaml"]
    assert (
        git(store, "log", "-1", "--format=%an|%ae|%cn|%ce").strip()
        == f"{QE[0]}|{QE[1]}|{QE[0]}|{QE[1]}"
    )
    assert git(store, "log", "-1", "--format=%B").rstrip("\n") == (
        "complaint CMP-2026-0001: received -> acknowledged\n"
        "\n"
        "Called the customer; interim action: 100 % sorting of stock at the customer.\n"
        "\n"
        "QMS-Record: complaint/CMP-2026-0001\n"
        "QMS-Action: move acknowledged\n"
        "QMS-Signature: acknowledged by li.lei@example.com"
    )
    assert trailer(store, "QMS-Record") == ["complaint/CMP-2026-0001"]
    assert trailer(store, "QMS-Action") == ["move acknowledged"]
    assert trailer(store, "QMS-Signature") == ["acknowledged by li.lei@example.com"]
    assert git(store, "log", "-1", "--format=%cI").strip() == "2026-03-06T10:45:00+08:00"


def test_a_move_without_comment_still_carries_its_trailers(qms, store, complaint):
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE)
    assert r.code == 0, r.text
    assert (
        git(store, "log", "-1", "--format=%s").strip()
        == "complaint CMP-2026-0001: received -> acknowledged"
    )
    assert trailer(store, "QMS-Signature") == ["acknowledged by li.lei@example.com"]


def test_set_is_one_commit_naming_the_fields(qms, store, complaint):
    before = commits(store)
    r = qms(
        "complaint",
        "set",
        complaint,
        "batch=B2",
        "quantity_affected=12",
        "--comment",
        "补充信息",
        who=QE,
    )
    assert r.code == 0, r.text
    assert commits(store) == before + 1
    assert files_of(store) == [f"records/complaint/{complaint}.yaml"]
    subject = git(store, "log", "-1", "--format=%s").strip()
    assert subject.startswith(f"complaint {complaint}:") and "batch" in subject
    assert "补充信息" in git(store, "log", "-1", "--format=%b")
    assert trailer(store, "QMS-Record") == [f"complaint/{complaint}"]
    action = trailer(store, "QMS-Action")
    assert len(action) == 1 and "batch" in action[0] and "quantity_affected" in action[0]


def test_a_refused_action_makes_no_commit(qms, store, complaint):
    before = git(store, "rev-parse", "HEAD")
    assert qms("complaint", "move", complaint, "acknowledged", who=QE).code == 1
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QM).code == 1
    assert git(store, "rev-parse", "HEAD") == before
    assert git(store, "status", "--porcelain").strip() == ""


def test_a_persons_own_staged_and_unstaged_work_is_left_exactly_as_it_was(qms, store, complaint):
    (store / "notes.md").write_text("原始笔记\n", encoding="utf-8")
    (store / "plan.md").write_text("计划 v1\n", encoding="utf-8")
    git(store, "add", "notes.md", "plan.md")
    git(store, "commit", "-q", "-m", "notes")
    (store / "staged-new.md").write_text("新文件，已暂存\n", encoding="utf-8")
    git(store, "add", "staged-new.md")
    (store / "notes.md").write_text("原始笔记\n未暂存的修改\n", encoding="utf-8")  # unstaged
    (store / "plan.md").write_text("计划 v2\n", encoding="utf-8")
    git(store, "add", "plan.md")  # staged ...
    (store / "plan.md").write_text("计划 v3\n", encoding="utf-8")  # ... and changed again
    (store / "untracked.txt").write_text("untracked\n", encoding="utf-8")

    def state():
        return (
            git(store, "status", "--porcelain"),
            git(store, "diff", "--cached"),
            git(store, "diff"),
            [ln for ln in git(store, "ls-files", "-s").splitlines() if "records/" not in ln],
            {
                p: (store / p).read_bytes()
                for p in ("notes.md", "plan.md", "staged-new.md", "untracked.txt")
            },
        )

    before = state()
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE)
    assert r.code == 0, r.text
    r = qms("complaint", "set", complaint, "batch=B2", who=QE)
    assert r.code == 0, r.text
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code == 0, r.text
    assert state() == before
    for rev in ("HEAD", "HEAD~1", "HEAD~2"):
        assert all(f.startswith("records/complaint/") for f in files_of(store, rev)), rev
    assert git(store, "show", "HEAD:plan.md") == "计划 v1\n"


HAND_EDITED = """\
# 客诉处理单: entered by hand from the paper form of 2026-03-06
id: CMP-2026-0001
type: complaint
state: acknowledged
description: "接头渗油，客户称 \\"批量\\""   # quoted by hand
class: 'general'
customer:
    name: 上汽大众汽车有限公司
    contact_person: '孙工'
product: {part_number: "5QD 611 701 B", name: 前制动软管总成}

channel: phone
received_at: 2026-03-06T10:00:00+08:00
original: oral
batch: "20260305-A1"  # from the label on the box
contact:
    at: 2026-03-06T10:40:00+08:00
    by: 李雷
    summary: >-
        已联系，确认 12 件
interim_countermeasure: 全检
investigation:
    departments:
    - 质控部
    - 技术中心
signatures:
- meaning: acknowledged
  name: 李雷
  email: li.lei@example.com
  role: quality_engineer
  at: 2026-03-06T10:45:00+08:00
  from: received
  to: acknowledged
"""


def _put_hand_edited(store: Path) -> Path:
    path = record_path(store, "CMP-2026-0001")
    path.parent.mkdir(parents=True)
    path.write_text(HAND_EDITED, encoding="utf-8")
    git(store, "add", "records")
    git(store, "commit", "-q", "-m", "hand-entered complaint")
    return path


def test_hand_edits_survive_set_byte_for_byte_except_the_changed_line(qms, store):
    path = _put_hand_edited(store)
    r = qms("complaint", "set", "CMP-2026-0001", "batch=20260305-B2", who=QE)
    assert r.code == 0, r.text
    expected = HAND_EDITED.replace('batch: "20260305-A1"', 'batch: "20260305-B2"')
    assert expected != HAND_EDITED
    assert path.read_text("utf-8") == expected


def test_hand_edits_survive_when_a_nested_value_changes(qms, store):
    path = _put_hand_edited(store)
    r = qms("complaint", "set", "CMP-2026-0001", "customer.contact_person=孙工 (SQE)", who=QE)
    assert r.code == 0, r.text
    changed = [
        d
        for d in difflib.ndiff(HAND_EDITED.splitlines(), path.read_text("utf-8").splitlines())
        if d[:1] in "+-"
    ]
    assert len(changed) == 2, changed
    assert changed[0] == "-     contact_person: '孙工'"
    assert changed[1].startswith("+     contact_person: ") and "孙工 (SQE)" in changed[1]


def test_hand_edits_survive_adding_fields_and_a_move(qms, store):
    path = _put_hand_edited(store)
    r = qms(
        "complaint",
        "move",
        "CMP-2026-0001",
        "investigating",
        "--set",
        "investigation.departments+=制造部",
        "--set",
        "quantity_affected=12",
        who=QE,
        env={"GIT_COMMITTER_DATE": "2026-03-07T09:00:00+08:00"},
    )
    assert r.code == 0, r.text
    after = path.read_text("utf-8")
    diff = [d for d in difflib.ndiff(HAND_EDITED.splitlines(), after.splitlines()) if d[:1] in "+-"]
    removed = [d for d in diff if d.startswith("-")]
    assert removed == ["- state: acknowledged"], diff
    added = [d[2:] for d in diff if d.startswith("+")]
    assert "state: investigating" in added
    assert any(a.strip() == "- 制造部" for a in added)
    assert any(a.startswith("quantity_affected: 12") for a in added)
    assert any("meaning: assigned" in a for a in added)
    # every original line is still there, in order
    kept = [
        d[2:] for d in difflib.ndiff(HAND_EDITED.splitlines(), after.splitlines()) if d[:2] == "  "
    ]
    assert kept == [ln for ln in HAND_EDITED.splitlines() if ln != "state: acknowledged"]


# ------------------------------------------------------------------------------ numbering


def test_ids_are_numbered_per_year_of_receipt(qms, store):
    ids = []
    for received in (
        "2026-03-06T10:00",
        "2026-03-07T10:00",
        "2025-12-31T23:00",
        "2026-01-02T08:00",
    ):
        args = [
            a if not a.startswith("received_at=") else f"received_at={received}" for a in RECEIVED
        ]
        r = qms("complaint", "new", *sets(*args), who=QE)
        assert r.code == 0, r.text
        ids.append(r.out.strip())
    assert ids == ["CMP-2026-0001", "CMP-2026-0002", "CMP-2025-0001", "CMP-2026-0003"]
    for cid in ids:
        assert record_path(store, cid).is_file()
        assert load(record_path(store, cid))["id"] == cid


def test_the_year_is_the_year_of_receipt_in_the_stores_time_zone(qms, store):
    """17:30 UTC on 31 December 2025 is 01:30 on 1 January 2026 in Hangzhou."""
    args = [
        a if not a.startswith("received_at=") else "received_at=2025-12-31T17:30:00Z"
        for a in RECEIVED
    ]
    r = qms("complaint", "new", *sets(*args), who=QE)
    assert r.code == 0, r.text
    assert r.out.strip() == "CMP-2026-0001"


HAND_WRITTEN = """\
id: {id}
type: complaint
state: received
customer: {{name: 一汽}}
product: {{part_number: P-1}}
channel: phone
received_at: 2026-01-05T09:00:00+08:00
original: oral
description: 异响
class: general
"""


def test_numbering_continues_after_the_highest_id_including_shard_folders(qms, store):
    shard = store / "records" / "complaint" / "2026"
    shard.mkdir(parents=True)
    (shard / "CMP-2026-0041.yaml").write_text(HAND_WRITTEN.format(id="CMP-2026-0041"), encoding="utf-8")
    git(store, "add", "records")
    git(store, "commit", "-q", "-m", "sharded record")
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code == 0, r.text
    assert r.out.strip() == "CMP-2026-0042"
    r = qms("complaint", "show", "CMP-2026-0041", "--json")
    assert r.code == 0, r.text
    assert json.loads(r.out)["path"] == "records/complaint/2026/CMP-2026-0041.yaml"


@pytest.mark.parametrize("how, folder", [("hundred", "CMP-2026-00xx"), ("year", "2026")])
def test_a_sharded_store_files_new_records_in_their_folder(qms, store, how, folder):
    """qms.yaml `shard: hundred` (what `qms init` writes) or `year`: a commit then rewrites
    a small folder, not one holding every record ever made. Every command finds the record."""
    configure(store, f"shard: {how}\n")
    (store / "records" / "complaint").mkdir(parents=True)
    flat = record_path(store, "CMP-2026-0007")
    flat.write_text(HAND_WRITTEN.format(id="CMP-2026-0007"), encoding="utf-8")
    git(store, "add", "records")
    git(store, "commit", "-q", "-m", "a record from before sharding")
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert (r.code, r.out.strip()) == (0, "CMP-2026-0008"), r.text
    sharded = store / "records" / "complaint" / folder / "CMP-2026-0008.yaml"
    assert sharded.is_file() and not record_path(store, "CMP-2026-0008").exists()
    assert git(store, "show", "--name-only", "--format=", "HEAD").strip() == f"records/complaint/{folder}/CMP-2026-0008.yaml"
    for args in (["complaint", "show", "CMP-2026-0008"], ["complaint", "set", "CMP-2026-0008", "batch=B2"],
                 ["complaint", "move", "CMP-2026-0008", "acknowledged", *sets(*ACK)],
                 ["log", "CMP-2026-0008"], ["render", "CMP-2026-0008", "--lang", "en"], ["validate"],
                 ["complaint", "set", "CMP-2026-0007", "batch=B3"]):
        r = qms(*args, who=QE)
        assert r.code == 0, (args, r.text)
    assert flat.is_file()  # records filed before are not moved (a rename would break the audit trail)
    assert "CMP-2026-0008" in qms("complaint", "list").out
    audit = qms("audit")  # the hand-written record is a finding; the sharded one's history is not
    assert "CMP-2026-0007" in audit.out and "CMP-2026-0008" not in audit.out, audit.text


def test_an_unknown_shard_setting_is_bad_input(qms, store, complaint):
    configure(store, "shard: month\n")
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code == 2 and "shard" in r.err and "year" in r.err, r.text


def test_a_numbering_override_in_qms_yaml(qms, store):
    configure(store, 'numbering:\n  complaint: "CMP-{site}-{year}-{seq:04}"\n')
    first = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    second = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert (first.code, second.code) == (0, 0), first.text + second.text
    assert [first.out.strip(), second.out.strip()] == ["CMP-HZ-2026-0001", "CMP-HZ-2026-0002"]
    assert record_path(store, "CMP-HZ-2026-0002").is_file()
    assert trailer(store, "QMS-Record") == ["complaint/CMP-HZ-2026-0002"]


def test_qms_yaml_adds_a_field_and_a_requirement(qms, store, complaint):
    configure(
        store,
        """\
        types:
          complaint:
            fields:
              sales_order: {type: text}
            requires:
              acknowledged: [sales_order]
        """,
    )
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE)
    assert r.code == 1, r.text
    assert "sales_order" in r.err
    r = qms(
        "complaint",
        "move",
        complaint,
        "acknowledged",
        *sets(*ACK, "sales_order=SO-2026-0312"),
        who=QE,
    )
    assert r.code == 0, r.text
    assert load(record_path(store, complaint))["sales_order"] == "SO-2026-0312"
    # the requirement holds from then on
    r = qms("complaint", "set", complaint, "sales_order=", who=QE)
    assert r.code == 1 and "sales_order" in r.err, r.text
    # a field nobody declared is still unknown
    r = qms("complaint", "set", complaint, "purchase_order=PO-1", who=QE)
    assert r.code == 2 and "purchase_order" in r.err, r.text
    r = qms("validate")
    assert r.code == 0, r.text


def test_without_the_extension_the_field_is_unknown(qms, complaint):
    r = qms("complaint", "set", complaint, "sales_order=SO-1", who=QE)
    assert r.code == 2, r.text
    assert "sales_order" in r.err


# ---------------------------------------------------------------------------- concurrency


def test_processes_creating_complaints_at_once_get_distinct_ids_and_one_commit_each(store):
    n = 4
    env = dict(os.environ)
    env.update(identity_env(QE))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qms_cli",
                "-C",
                str(store),
                "complaint",
                "new",
                *sets(*RECEIVED, f"batch=P{i}"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=store,
        )
        for i in range(n)
    ]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert all(code == 0 for _, _, code in results), results
    ids = sorted(out.strip() for out, _, _ in results)
    assert ids == [f"CMP-2026-{i:04d}" for i in range(1, n + 1)]
    assert commits(store) == 1 + n
    for i in range(n):
        assert len(files_of(store, f"HEAD~{i}")) == 1
    batches = sorted(load(record_path(store, cid))["batch"] for cid in ids)
    assert batches == [f"P{i}" for i in range(n)]
    fsck = subprocess.run(
        ["git", "fsck", "--strict"], cwd=store, capture_output=True, text=True, check=False
    )
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert git(store, "status", "--porcelain").strip() == ""


# ------------------------------------------------------------------------ a failing commit


def _reject_commits(store: Path) -> None:
    hook = store / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'policy: no commits today' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)


def test_a_failing_commit_leaves_no_file_no_commit_and_a_clean_index(qms, store):
    _reject_commits(store)
    before = git(store, "rev-parse", "HEAD")
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code in (1, 2), r.text
    assert r.err.startswith("qms: ") and "commit" in r.err
    assert git(store, "rev-parse", "HEAD") == before
    assert not record_path(store, "CMP-2026-0001").exists()
    assert git(store, "status", "--porcelain", "--untracked-files=all").strip() == ""
    assert git(store, "diff", "--cached", "--name-only").strip() == ""
    # the next attempt, once the hook lets it through, gets the first number
    (store / ".git" / "hooks" / "pre-commit").unlink()
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code == 0 and r.out.strip() == "CMP-2026-0001", r.text


def test_a_failing_commit_of_a_move_leaves_the_record_as_it_was(qms, store, complaint):
    path = record_path(store, complaint)
    before_bytes = path.read_bytes()
    _reject_commits(store)
    before = git(store, "rev-parse", "HEAD")
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE)
    assert r.code in (1, 2), r.text
    assert git(store, "rev-parse", "HEAD") == before
    assert path.read_bytes() == before_bytes
    assert git(store, "status", "--porcelain", "--untracked-files=all").strip() == ""
    assert git(store, "diff", "--cached", "--name-only").strip() == ""


# ------------------------------------------------------------------------------- qms log


def _history(qms, cid: str) -> None:
    steps = [
        ("move", "acknowledged", ACK, "已联系客户", QE, "2026-03-06T10:45:00+08:00"),
        ("set", None, ["batch=B2"], "补充批次", QE, "2026-03-06T11:00:00+08:00"),
        (
            "move",
            "cancelled",
            ["cancel_reason=客户撤回"],
            "客户撤回投诉",
            QM,
            "2026-03-07T09:00:00+08:00",
        ),
    ]
    for verb, target, assignments, comment, who, date in steps:
        env = {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date} if date else None
        if verb == "move":
            r = qms(
                "complaint",
                "move",
                cid,
                target,
                *sets(*assignments),
                "--comment",
                comment,
                who=who,
                env=env,
            )
        else:
            r = qms("complaint", "set", cid, *assignments, "--comment", comment, who=who, env=env)
        assert r.code == 0, r.text


def test_log_lists_each_step_with_actor_and_action(qms, store, complaint):
    _history(qms, complaint)
    r = qms("log", complaint)
    assert r.code == 0, r.text
    lines = [ln for ln in r.out.splitlines() if not ln.startswith(" ")]
    assert len(lines) == 4, r.out
    assert QE[1] in lines[0] and "new" in lines[0]
    assert (
        QE[1] in lines[1] and "move acknowledged" in lines[1] and lines[1].startswith("2026-03-06")
    )
    assert QE[1] in lines[2] and "set batch" in lines[2]
    assert QM[1] in lines[3] and "move cancelled" in lines[3]
    assert "已联系客户" in r.out and "客户撤回投诉" in r.out


def test_log_shows_each_commit_on_the_stores_clock(qms, store, complaint):
    """A commit made on a computer set to UTC: the log reads it in the store's time zone."""
    r = qms("complaint", "set", complaint, "batch=B2", who=QE,
            env={"GIT_COMMITTER_DATE": "2026-03-06T03:30:00+00:00", "GIT_AUTHOR_DATE": "2026-03-06T03:30:00+00:00"})
    assert r.code == 0, r.text
    lines = qms("log", complaint).out.splitlines()
    assert lines[-1].startswith("2026-03-06 11:30  "), lines


def test_log_writes_the_commit_graph_that_makes_it_fast_on_a_long_history(qms, store, complaint):
    graph = store / ".git" / "objects" / "info" / "commit-graph"
    assert not graph.exists()
    r = qms("log", complaint)
    assert r.code == 0 and complaint in git(store, "log", "-1", "--format=%s"), r.text
    assert graph.is_file()
    subprocess.run(["git", "commit-graph", "verify"], cwd=store, check=True, capture_output=True)
    # later commits are not in the graph yet: git walks them the ordinary way
    assert qms("complaint", "set", complaint, "batch=B9", who=QE).code == 0
    r = qms("--json", "log", complaint)
    assert [e["subject"].split(": ")[-1] for e in json.loads(r.out)][-1].startswith("set"), r.out


def test_log_json(qms, store, complaint):
    _history(qms, complaint)
    r = qms("log", complaint, "--json")
    assert r.code == 0, r.text
    entries = json.loads(r.out)
    assert [e["email"] for e in entries] == [QE[1], QE[1], QE[1], QM[1]]
    assert [e["trailers"]["QMS-Action"] for e in entries] == [
        ["new"],
        ["move acknowledged"],
        ["set batch"],
        ["move cancelled"],
    ]
    assert entries[1]["body"] == "已联系客户"
    assert entries[3]["trailers"]["QMS-Signature"] == [f"cancelled by {QM[1]}"]
    assert entries[1]["date"].startswith("2026-03-06T10:45")


def test_a_commit_message_cannot_forge_another_commit_in_the_log(qms, store, complaint):
    """The fields of git's log are split on a marker made for each reading: separators a
    message may hold (\\x1e, \\x1f, a line like a commit id) are only text of that message."""
    path = next((store / "records" / "complaint").rglob(f"{complaint}.yaml"))
    path.write_text(path.read_text(encoding="utf-8") + "# hand edit\n", encoding="utf-8")
    forged = "hand edit\x1e0000000000000000000000000000000000000000\x1f2020-01-01T00:00:00+00:00\x1fMallory\x1fmallory@example.com\x1fforged\x1f"
    env = dict(os.environ, **identity_env(QE))
    subprocess.run(["git", "commit", "-q", "-am", forged], cwd=store, check=True, env=env)
    entries = json.loads(qms("--json", "log", complaint).out)
    assert len(entries) == 2
    assert [e["email"] for e in entries] == [QE[1], QE[1]]
    assert "mallory" not in json.dumps([e["email"] for e in entries] + [e["author"] for e in entries])


def test_log_json_as_a_global_option(qms, store, complaint):
    _history(qms, complaint)
    r = qms("--json", "log", complaint)
    assert r.code == 0, r.text
    assert len(json.loads(r.out)) == 4


def test_log_of_an_unknown_id_is_bad_input(qms, store):
    r = qms("log", "CMP-2026-0404")
    assert r.code == 2, r.text
    assert r.err.startswith("qms: ") and "CMP-2026-0404" in r.err


# --------------------------------------------------------------------------- init and demo


def test_init_makes_a_valid_store_where_the_initialiser_holds_every_role(qms, tmp_path):
    target = tmp_path / "新工厂"
    r = qms("init", str(target), "--company", "立信汽车部件", "--site", "NB", who=QM, root=False)
    assert r.code == 0, r.text
    assert (target / "qms.yaml").is_file() and (target / ".git").is_dir()
    assert commits(target) == 1
    assert git(target, "log", "-1", "--format=%an|%ae").strip() == f"{QM[0]}|{QM[1]}"
    assert git(target, "status", "--porcelain", "--untracked-files=all").strip() == ""
    config = load(target / "qms.yaml")
    assert config["site"] == "NB" and config["company"] == "立信汽车部件"
    assert config["roles"], config
    for name, role in config["roles"].items():
        assert [h["email"] for h in role["holders"]] == [QM[1]], name
    for role in ("quality_engineer", "quality_manager"):
        assert role in config["roles"]
    r = qms("validate", root=target)
    assert r.code == 0, r.text
    # the one who initialised it can take a complaint all the way
    r = qms("complaint", "new", *sets(*RECEIVED), who=QM, root=target)
    assert r.code == 0, r.text
    assert r.out.strip() == "CMP-2026-0001"
    r = qms("complaint", "move", "CMP-2026-0001", "acknowledged", *sets(*ACK), who=QM, root=target)
    assert r.code == 0, r.text


def test_init_on_an_existing_store_is_refused_and_changes_nothing(qms, store):
    before = (
        git(store, "rev-parse", "HEAD"),
        (store / "qms.yaml").read_bytes(),
        git(store, "status", "--porcelain"),
    )
    r = qms("init", str(store), who=QE, root=False)
    assert r.code == 1, r.text
    assert r.err.startswith("qms: ") and "qms.yaml" in r.err
    assert (
        git(store, "rev-parse", "HEAD"),
        (store / "qms.yaml").read_bytes(),
        git(store, "status", "--porcelain"),
    ) == before


def test_demo_plays_a_complaint_to_closed_in_a_store_that_validates(qms, tmp_path):
    target = tmp_path / "demo"
    r = qms("--json", "demo", str(target), root=False)
    assert r.code == 0, r.text
    result = json.loads(r.out)
    assert Path(result["store"]) == target.resolve()
    cid = result["record"]
    r = qms("complaint", "show", cid, "--json", root=target)
    assert r.code == 0, r.text
    shown = json.loads(r.out)
    assert shown["state"] == "closed"
    assert [s["to"] for s in shown["signatures"]][-1] == "closed"
    r = qms("validate", root=target)
    assert r.code == 0, r.text
    assert (target / "qms.yaml").is_file()
    subjects = git(target, "log", "--format=%s").splitlines()
    assert f"complaint {cid}: verifying -> approving" in subjects  # serious: the general manager approves
    assert f"complaint {cid}: approving -> closed" in subjects
    assert f"complaint {cid}: new (received)" in subjects


def test_demo_in_text_mode_says_what_to_open(qms, tmp_path):
    target = tmp_path / "demo2"
    r = qms("demo", str(target), root=False)
    assert r.code == 0, r.text
    assert str(target.resolve()) in r.out and "validate: clean" in r.out


def test_demo_refuses_a_folder_that_is_not_empty(qms, tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n", encoding="utf-8")
    r = qms("demo", str(target), root=False)
    assert r.code == 1, r.text
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("where", ["flag", "env", "cwd"])
def test_the_store_is_found_by_flag_env_or_from_a_subfolder(qms, store, complaint, where):
    sub = store / "records"
    if where == "flag":
        r = qms("complaint", "show", complaint, "--json")
    elif where == "env":
        r = qms("complaint", "show", complaint, "--json", root=False, env={"QMS_STORE": str(store)})
    else:
        r = qms("complaint", "show", complaint, "--json", root=False, cwd=sub)
    assert r.code == 0, r.text
    assert json.loads(r.out)["id"] == complaint


def test_a_refused_write_leaves_no_index_lock_behind(store, complaint):
    """A write asks git its questions in the background and cancels them when it is refused
    early; a git status killed half-way must not leave .git/index.lock for the next command."""
    from qms_cli.store import git as gitops

    lock = store / ".git" / "index.lock"
    for _ in range(40):
        checks = gitops.Checks(store, [])
        checks.cancel()
        assert not lock.exists()


def test_a_write_is_checked_by_validates_own_record_checks_naming_every_problem(store, complaint):
    """The write path runs validate's record checks on what it is about to write, so a
    write never leaves a record validate reports, and says every problem at once."""
    from qms_cli.engine.action import begin
    from qms_cli.engine.check import check_change
    from qms_cli.errors import BadInput, Refused
    from qms_cli.store import Store
    from qms_cli.store.git import Actor

    s = Store(store)
    act = begin(s, "complaint", None, Actor("王强", "wangq@example.com", datetime(2026, 11, 25, 9, 0, tzinfo=TZ)))
    path = next((store / "records" / "complaint").rglob(f"{complaint}.yaml"))
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update({"class": "huge", "state": "acknowledged", "description": "渗油\x1b[2J"})
    with pytest.raises(BadInput) as refused:  # a value that does not fit the form: exit 2
        check_change(act, {path: (data, None)}, "complaint X")
    said = "\n".join(refused.value.details)
    assert "class" in said and "description" in said and "contact" in said, said
    assert "nothing was written" in refused.value.message
    data.update({"class": "general", "description": "渗油"})
    with pytest.raises(Refused) as refused:  # only what the state requires is missing: exit 1
        check_change(act, {path: (data, None)}, "complaint X")
    assert not isinstance(refused.value, BadInput) and "contact" in "\n".join(refused.value.details)
    data.update({"state": "received"})
    check_change(act, {path: (data, None)}, "complaint X")  # a sound record passes


def test_a_move_names_every_problem_at_once_and_writes_nothing(qms, store, complaint):
    """One refusal lists every field the target state still lacks; the record and history
    are as they were."""
    before = git(store, "rev-parse", "HEAD")
    text = (next((store / "records" / "complaint").rglob(f"{complaint}.yaml"))).read_bytes()
    r = qms("complaint", "move", complaint, "acknowledged", "--set", ACK[1], who=QE)
    assert r.code == 1, r.text
    assert "3 problem(s)" in r.err and "nothing was written" in r.err, r.err
    for field in ("contact.at", "contact.summary", "interim_countermeasure"):
        assert f"  {field}: " in r.err, r.err
    assert git(store, "rev-parse", "HEAD") == before
    assert next((store / "records" / "complaint").rglob(f"{complaint}.yaml")).read_bytes() == text
