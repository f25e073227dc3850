"""Named checks (qms_cli/model/named.py): a rule a declaration calls by name, run alike by
the write path and by `qms validate`; and a declaration naming a function qms does not
have is refused by name, not with a traceback."""

from __future__ import annotations

from conftest import git
from doc_support import DC, MR, QM, docs_store
from test_documents import A0_DAYS, DOC_CONFIG, PROCEDURE

SEPARATE = """\
types:
  revision:
    checks:
      - {fn: different_signers, args: [prepared, reviewed, approved]}
"""


def test_a_store_can_require_prepared_reviewed_and_approved_by_different_people(qms, tmp_path):
    d = docs_store(qms, tmp_path, DOC_CONFIG + SEPARATE)
    doc = d.register(PROCEDURE)
    rev = d.draft(doc, "first_issue", "首次发布", who=QM, at=A0_DAYS[0])  # 王强 prepares (编制)
    d.submit(rev, f"files/document/{doc}/{rev}.md", "正文\n", who=QM, at=A0_DAYS[0])
    d.refused("revision", "move", rev, "reviewed", who=QM, at=A0_DAYS[1], says=(
        "problem(s); nothing was written",
        "'reviewed' is signed by wang.qiang@example.com, who also signed 'prepared'"))
    # withdrawn, and prepared again by the document controller: 王强 may review it
    d.ok("revision", "move", rev, "withdrawn", "--set", "withdrawn_reason=编制与审核须为不同的人", who=DC,
         at=A0_DAYS[1])
    rev2 = d.draft(doc, "first_issue", "首次发布", who=DC, at=A0_DAYS[1])
    d.submit(rev2, f"files/document/{doc}/{rev2}.md", "正文\n", who=DC, at=A0_DAYS[1])
    d.ok("revision", "move", rev2, "reviewed", who=QM, at=A0_DAYS[1])
    d.approve(rev2, who=MR, at=A0_DAYS[2], published=A0_DAYS[2], effective=A0_DAYS[3])
    r = d.run("validate", at=A0_DAYS[2])
    assert r.code == 0, r.text


def test_without_the_setting_one_person_may_prepare_and_review(qms, tmp_path):
    d = docs_store(qms, tmp_path, DOC_CONFIG)
    doc = d.register(PROCEDURE)
    rev = d.draft(doc, "first_issue", "首次发布", who=QM, at=A0_DAYS[0])
    d.submit(rev, f"files/document/{doc}/{rev}.md", "正文\n", who=QM, at=A0_DAYS[0])
    d.ok("revision", "move", rev, "reviewed", who=QM, at=A0_DAYS[1])


def test_validate_reports_the_records_a_new_rule_finds(qms, tmp_path):
    """Records made before the store turned the rule on are reported by validate: the rule
    holds the same way at write time and in validate."""
    d = docs_store(qms, tmp_path, DOC_CONFIG)
    doc = d.register(PROCEDURE)
    rev = d.draft(doc, "first_issue", "首次发布", who=QM, at=A0_DAYS[0])
    d.submit(rev, f"files/document/{doc}/{rev}.md", "正文\n", who=QM, at=A0_DAYS[0])
    d.ok("revision", "move", rev, "reviewed", who=QM, at=A0_DAYS[1])
    with open(d.root / "qms.yaml", "a", encoding="utf-8") as f:
        f.write(SEPARATE)
    r = d.run("--lang", "en", "validate")
    assert r.code == 1, r.text
    assert f"{rev}.yaml" in r.out + r.err and "who also signed 'prepared'" in r.out + r.err, r.text


def test_a_check_or_computed_value_qms_does_not_have_is_refused_by_name(qms, tmp_path):
    d = docs_store(qms, tmp_path, DOC_CONFIG + SEPARATE.replace("different_signers", "four_eyes"))
    head = git(d.root, "rev-parse", "HEAD")
    r = d.run("--lang", "en", "revision", "list")
    assert r.code == 2 and "checks: no check named 'four_eyes' (expected one of " in r.err, r.text
    assert "different_signers" in r.err.partition("expected one of")[2], r.text
    for _run in ("afresh", "from what validate keeps"):
        r = d.run("--lang", "en", "validate")
        assert r.code != 0 and "four_eyes" in r.out + r.err and "Traceback" not in r.text, (_run, r.text)
    assert git(d.root, "rev-parse", "HEAD") == head


def test_different_signers_judges_each_meanings_latest_signature():
    """A revision sent back and prepared again by someone else is judged by its last round."""
    from qms_cli.model.named import NAMED
    from qms_cli.model.rules import Evaluator
    from qms_cli.paths import BUILTIN_TYPES
    from qms_cli.model.declaration import RecordType
    from qms_cli.files import yamlio

    rt = RecordType.from_dict(yamlio.load_declaration(BUILTIN_TYPES / "revision.yaml", "revision"), "revision")

    def problems(*signers: tuple[str, str]) -> list[tuple[str, str]]:
        data = {"signatures": [{"meaning": m, "email": e} for m, e in signers]}
        return list(NAMED["different_signers"](Evaluator(rt=rt, data=data), "prepared", "reviewed", "approved"))

    assert problems(("prepared", "a@x"), ("reviewed", "b@x"), ("approved", "c@x")) == []
    assert problems(("prepared", "a@x"), ("reviewed", "b@x"), ("approved", "A@x")) == [
        ("signatures", "'approved' is signed by A@x, who also signed 'prepared': they are signed by different people")]
    assert problems(("prepared", "a@x"), ("prepared", "c@x"), ("reviewed", "a@x")) == []  # the last round counts
    assert problems(("prepared", "a@x")) == []  # nothing to compare yet
