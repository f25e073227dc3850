"""`qms validate` (CLI.md "Store-wide commands", STYLE.md habit 3): exit 0 on a clean
store; one line per finding, `FILE:LINE: FIELD: MESSAGE`, and exit 1 otherwise. Each
test states the broken record as YAML text written into records/complaint/."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, git

VALID = """\
id: {id}
type: complaint
state: received
customer:
  name: 上汽大众汽车有限公司
product:
  part_number: 5QD 611 701 B
channel: phone
received_at: 2026-03-06T10:00:00+08:00
original: oral
description: 接头渗油
class: general
"""

CORRECTING = """\
id: CMP-2026-0003
type: complaint
state: correcting
customer:
  name: 上汽大众汽车有限公司
product:
  part_number: 5QD 611 701 B
channel: phone
received_at: 2026-03-06T10:00:00+08:00
original: oral
description: 接头渗油
class: general
contact:
  at: 2026-03-06T10:40:00+08:00
  by: 李雷
  summary: 已联系
interim_countermeasure: 全检
investigation:
  departments: [质控部]
  result: 压接外径超差
responsibility: ours
disposition: [rework]
d4:
  escape_point: 终检抽检频次不足
d5:
  corrective_action: 更换模具
"""


def put(store: Path, rel: str, text: str) -> Path:
    path = store / "records" / "complaint" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(text: str, start: str) -> int:
    """1-based number of the first line of `text` that starts with `start`."""
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith(start):
            return i
    raise AssertionError(f"no line starts with {start!r}")


def findings(r) -> list[str]:
    return [ln for ln in r.out.splitlines() if ln.strip()]


def only_finding(qms, expected: str, *args: str) -> None:
    r = qms("validate", *args)
    assert r.code == 1, r.text
    assert findings(r) == [expected], r.text


# -------------------------------------------------------------------------------- clean


def test_an_empty_store_is_clean(qms):
    r = qms("validate")
    assert r.code == 0, r.text
    assert findings(r) == []


def test_a_store_of_valid_records_is_clean(qms, store, complaint):
    put(store, "CMP-2026-0002.yaml", VALID.format(id="CMP-2026-0002"))
    put(store, "2025/CMP-2025-0007.yaml", VALID.format(id="CMP-2025-0007"))
    r = qms("validate")
    assert r.code == 0, r.text
    assert findings(r) == []
    assert "3 records" in r.err and "0 finding" in r.err


# ----------------------------------------------------------------------- schema findings


def test_a_value_of_the_wrong_type(qms, store):
    text = VALID.format(id="CMP-2026-0001") + "quantity_affected: many\n"
    put(store, "CMP-2026-0001.yaml", text)
    only_finding(
        qms,
        f"records/complaint/CMP-2026-0001.yaml:{line_of(text, 'quantity_affected')}: "
        "quantity_affected: expected a whole number",
    )


@pytest.mark.parametrize(
    "snippet, field",
    [
        ("received_at: 2026-03-06\n", "received_at"),  # a date, not a moment
        ("reply_needed: perhaps\n", "reply_needed"),
        ("quantity_affected: -4\n", "quantity_affected"),
        ("investigation:\n  departments: 质控部\n", "investigation.departments"),
        ("customer: 上汽\n", "customer"),
        ("d6:\n  implemented_at: next week\n", "d6.implemented_at"),
    ],
)
def test_more_values_of_the_wrong_type(qms, store, snippet, field):
    base = VALID.format(id="CMP-2026-0001")
    key = snippet.split(":")[0]
    text = (
        "\n".join(ln for ln in base.splitlines() if not ln.startswith(key + ":")) + "\n" + snippet
    )
    if key == "customer":  # replace the whole group
        text = text.replace("  name: 上汽大众汽车有限公司\n", "")
    put(store, "CMP-2026-0001.yaml", text)
    r = qms("validate")
    assert r.code == 1, r.text
    assert any(
        re.match(rf"records/complaint/CMP-2026-0001\.yaml:\d+: {re.escape(field)}: ", ln)
        for ln in findings(r)
    ), r.text


def test_a_value_outside_an_enum(qms, store):
    text = VALID.format(id="CMP-2026-0001").replace("class: general", "class: huge")
    put(store, "CMP-2026-0001.yaml", text)
    r = qms("validate")
    assert r.code == 1, r.text
    line = line_of(text, "class:")
    assert findings(r) == [
        (
            f"records/complaint/CMP-2026-0001.yaml:{line}: class: "
            "'huge' is not one of general, requirement, serious"
        )
    ], r.text


def test_an_enum_inside_a_list_and_a_group(qms, store):
    text = VALID.format(id="CMP-2026-0001") + textwrap.dedent("""\
        disposition:
          - rework
          - burn
        customer_confirmation:
          result: maybe
        """)
    put(store, "CMP-2026-0001.yaml", text)
    r = qms("validate")
    assert r.code == 1, r.text
    out = findings(r)
    assert (
        f"records/complaint/CMP-2026-0001.yaml:{line_of(text, '  - burn')}: disposition.1: "
        "'burn' is not one of return, exchange, rework, repair, downgrade, scrap" in out
    ), r.text
    assert any(
        ln.startswith(
            f"records/complaint/CMP-2026-0001.yaml:{line_of(text, '  result: maybe')}: "
            "customer_confirmation.result: 'maybe'"
        )
        for ln in out
    ), r.text


def test_an_unknown_field_is_a_warning_and_an_error_with_strict(qms, store):
    text = VALID.format(id="CMP-2026-0001") + "colour: red\n"
    put(store, "CMP-2026-0001.yaml", text)
    r = qms("validate")
    assert r.code == 0, r.text
    line = line_of(text, "colour")
    assert findings(r) == [
        (
            f"records/complaint/CMP-2026-0001.yaml:{line}: colour: unknown field "
            "(not declared for this record type) (warning)"
        )
    ], r.text
    assert "1 warning" in r.err
    r = qms("validate", "--strict")
    assert r.code == 1, r.text
    assert findings(r) == [
        (
            f"records/complaint/CMP-2026-0001.yaml:{line}: colour: unknown field "
            "(not declared for this record type)"
        )
    ], r.text


def test_a_field_declared_by_qms_yaml_is_not_unknown(qms, store):
    (store / "qms.yaml").write_text(
        (store / "qms.yaml").read_text("utf-8")
        + textwrap.dedent("""\
        types:
          complaint:
            fields:
              sales_order: {type: text}
        """),
        encoding="utf-8",
    )
    put(store, "CMP-2026-0001.yaml", VALID.format(id="CMP-2026-0001") + "sales_order: SO-1\n")
    r = qms("validate", "--strict")
    assert r.code == 0, r.text


# ----------------------------------------------------------------- workflow requirements


def test_a_field_the_state_requires_is_missing(qms, store):
    path = put(store, "CMP-2026-0003.yaml", CORRECTING)
    line = line_of(CORRECTING, "d4:")
    only_finding(
        qms,
        f"records/complaint/CMP-2026-0003.yaml:{line}: d4.root_cause: "
        "required in state 'correcting'",
    )
    assert path.read_text("utf-8") == CORRECTING  # validate changes nothing


def test_a_missing_group_still_gets_a_line(qms, store):
    """Every finding carries file, line, field and message (STYLE.md habit 3), even when
    the whole group the field belongs to is absent."""
    text = CORRECTING.replace("d4:\n  escape_point: 终检抽检频次不足\n", "")
    put(store, "CMP-2026-0003.yaml", text)
    r = qms("validate")
    assert r.code == 1, r.text
    assert len(findings(r)) == 1, r.text
    m = re.fullmatch(
        r"records/complaint/CMP-2026-0003\.yaml:(\d+): d4\.root_cause: "
        r"required in state 'correcting'",
        findings(r)[0],
    )
    assert m, r.text
    assert 1 <= int(m.group(1)) <= len(text.splitlines())


def test_an_empty_value_does_not_meet_a_requirement(qms, store):
    text = CORRECTING.replace("d4:\n  escape_point: 终检抽检频次不足\n", 'd4:\n  root_cause: ""\n')
    put(store, "CMP-2026-0003.yaml", text)
    only_finding(
        qms,
        f"records/complaint/CMP-2026-0003.yaml:{line_of(text, '  root_cause')}: "
        "d4.root_cause: required in state 'correcting'",
    )


def test_requirements_of_the_states_it_includes_count_and_conditions_apply(qms, store):
    # correcting includes acknowledged: a general complaint needs its interim countermeasure
    text = CORRECTING.replace("interim_countermeasure: 全检\n", "").replace(
        "d4:\n  escape_point: 终检抽检频次不足\n", "d4:\n  root_cause: 模具磨损\n"
    )
    put(store, "CMP-2026-0003.yaml", text)
    r = qms("validate")
    assert r.code == 1, r.text
    assert (
        len(findings(r)) == 1 and "interim_countermeasure: required in state 'correcting'" in r.out
    )
    # a serious one does not
    put(store, "CMP-2026-0003.yaml", text.replace("class: general", "class: serious"))
    r = qms("validate")
    assert r.code == 0, r.text


def test_a_value_the_state_forbids(qms, store):
    text = CORRECTING.replace("responsibility: ours", "responsibility: not_ours").replace(
        "d4:\n  escape_point: 终检抽检频次不足\n", "d4:\n  root_cause: 模具磨损\n"
    )
    put(store, "CMP-2026-0003.yaml", text)
    only_finding(
        qms,
        f"records/complaint/CMP-2026-0003.yaml:{line_of(text, 'responsibility')}: "
        "responsibility: is not_ours; must be ours in state 'correcting'",
    )


# ---------------------------------------------------------------------------- files


def test_an_attached_file_that_is_not_in_the_store(qms, store):
    text = (
        VALID.format(id="CMP-2026-0001").replace("original: oral", "original: written")
        + "original_file: files/complaint/CMP-2026-0001-letter.pdf\n"
        + "attachments:\n  - files/complaint/photo-1.jpg\n"
    )
    put(store, "CMP-2026-0001.yaml", text)
    r = qms("validate")
    assert r.code == 1, r.text
    assert findings(r) == [
        (
            f"records/complaint/CMP-2026-0001.yaml:{line_of(text, 'original_file')}: "
            "original_file: "
            "attached file 'files/complaint/CMP-2026-0001-letter.pdf' is not in the store"
        ),
        (
            f"records/complaint/CMP-2026-0001.yaml:{line_of(text, '  - files/complaint/photo')}: "
            "attachments.0: attached file 'files/complaint/photo-1.jpg' is not in the store"
        ),
    ], r.text
    (store / "files" / "complaint").mkdir(parents=True)
    (store / "files" / "complaint" / "CMP-2026-0001-letter.pdf").write_bytes(b"%PDF-1.4\n")
    (store / "files" / "complaint" / "photo-1.jpg").write_bytes(b"\xff\xd8\xff")
    r = qms("validate")
    assert r.code == 0, r.text


def test_an_attached_path_outside_files_is_a_finding(qms, store):
    text = VALID.format(id="CMP-2026-0001") + "attachments:\n  - ../secret.pdf\n"
    (store / "secret.pdf").write_bytes(b"x")
    put(store, "CMP-2026-0001.yaml", text)
    r = qms("validate")
    assert r.code == 1, r.text
    assert any("attachments.0: expected a path under files/" in ln for ln in findings(r)), r.text


# ----------------------------------------------------------------- identity of records


def test_an_id_that_does_not_match_the_file_name(qms, store):
    text = VALID.format(id="CMP-2026-0005")
    put(store, "CMP-2026-0004.yaml", text)
    only_finding(
        qms,
        f"records/complaint/CMP-2026-0004.yaml:{line_of(text, 'id:')}: id: "
        "'CMP-2026-0005' does not match the file name 'CMP-2026-0004'",
    )


def test_the_same_id_in_two_shard_folders(qms, store):
    put(store, "2025/CMP-2026-0001.yaml", VALID.format(id="CMP-2026-0001"))
    put(store, "2026/CMP-2026-0001.yaml", VALID.format(id="CMP-2026-0001"))
    r = qms("validate")
    assert r.code == 1, r.text
    out = findings(r)
    assert len(out) == 2, r.text
    a, b = "records/complaint/2025/CMP-2026-0001.yaml", "records/complaint/2026/CMP-2026-0001.yaml"
    assert out[0].startswith(f"{a}:1: id: ") and b in out[0], r.text
    assert out[1].startswith(f"{b}:1: id: ") and a in out[1], r.text


def test_a_type_that_does_not_match_the_folder(qms, store):
    text = VALID.format(id="CMP-2026-0001").replace("type: complaint", "type: document")
    put(store, "CMP-2026-0001.yaml", text)
    r = qms("validate")
    assert r.code == 1, r.text
    assert findings(r) == [
        (
            f"records/complaint/CMP-2026-0001.yaml:{line_of(text, 'type:')}: type: "
            "'document' but the file is in records/complaint/"
        )
    ], r.text


def test_an_unknown_state(qms, store):
    text = VALID.format(id="CMP-2026-0001").replace("state: received", "state: archived")
    put(store, "CMP-2026-0001.yaml", text)
    r = qms("validate")
    assert r.code == 1, r.text
    out = findings(r)
    assert len(out) == 1, r.text
    assert out[0].startswith(
        f"records/complaint/CMP-2026-0001.yaml:{line_of(text, 'state:')}: state: "
        "'archived' is not a state of complaint"
    ), r.text


def test_a_signature_naming_a_move_the_workflow_lacks(qms, store):
    text = VALID.format(id="CMP-2026-0001").replace(
        "state: received", "state: investigating"
    ) + textwrap.dedent("""\
        contact:
          at: 2026-03-06T10:40:00+08:00
          by: 李雷
          summary: 已联系
        interim_countermeasure: 全检
        investigation:
          departments: [质控部]
        signatures:
          - meaning: assigned
            name: 李雷
            email: li.lei@example.com
            role: quality_engineer
            at: 2026-03-06T11:00:00+08:00
            from: received
            to: investigating
        """)
    put(store, "CMP-2026-0001.yaml", text)
    only_finding(
        qms,
        f"records/complaint/CMP-2026-0001.yaml:{line_of(text, '  - meaning')}: "
        "signatures.0: received -> investigating is not a move of complaint",
    )


def test_a_state_its_signatures_do_not_lead_to(qms, store):
    text = VALID.format(id="CMP-2026-0001") + textwrap.dedent("""\
        signatures:
          - meaning: cancelled
            name: 王强
            email: wang.qiang@example.com
            role: quality_manager
            at: 2026-03-07T09:00:00+08:00
            from: received
            to: cancelled
        """)
    put(store, "CMP-2026-0001.yaml", text)
    r = qms("validate")
    assert r.code == 1, r.text
    assert any(
        ": state: 'received' but the last signed move went to 'cancelled'" in ln
        for ln in findings(r)
    ), r.text


# ------------------------------------------------------------------ unreadable records


@pytest.mark.parametrize(
    "broken",
    [
        "id: CMP-2026-0002\ntype: complaint\nstate: received\ncustomer: {name: 上汽\n",
        "id: CMP-2026-0002\ntype: complaint\nstate: received\ncustomer:\n\tname: 上汽\n",
        "id: CMP-2026-0002\nid: CMP-2026-0002\ntype: complaint\nstate: received\n",
        (
            "id: CMP-2026-0002\ntype: complaint\nstate: received\n"
            "customer: &c {name: 上汽}\ncontact: *c\n"
        ),
        "id: CMP-2026-0002\ntype: complaint\nstate: !python/object:os.system received\n",
        "- not\n- a mapping\n",
    ],
)
def test_an_unparsable_record_is_a_finding_and_the_others_are_still_checked(
    qms_subprocess, store, broken
):
    put(store, "CMP-2026-0002.yaml", broken)
    good = put(
        store,
        "CMP-2026-0001.yaml",
        VALID.format(id="CMP-2026-0001").replace("class: general", "class: huge"),
    )
    put(store, "CMP-2026-0003.yaml", CORRECTING)
    r = qms_subprocess("validate")
    assert r.code == 1, r.text
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    out = findings(r)
    assert any(
        ln.startswith("records/complaint/CMP-2026-0001.yaml:") and "class: 'huge'" in ln
        for ln in out
    ), r.text
    assert any(ln.startswith("records/complaint/CMP-2026-0002.yaml") for ln in out), r.text
    assert any(
        ln.startswith("records/complaint/CMP-2026-0003.yaml:") and "d4.root_cause" in ln
        for ln in out
    ), r.text
    assert good.is_file()


def test_a_yaml_error_finding_names_its_line(qms, store):
    put(
        store,
        "CMP-2026-0002.yaml",
        "id: CMP-2026-0002\ntype: complaint\nstate: received\ncustomer:\n"
        "    name: 上汽\n  phone: 021\n",
    )
    r = qms("validate")
    assert r.code == 1, r.text
    assert re.match(r"records/complaint/CMP-2026-0002\.yaml:[56]: ", findings(r)[0]), r.text


# ------------------------------------------------------------------- selecting, output


def _three(store):
    put(
        store,
        "CMP-2026-0001.yaml",
        VALID.format(id="CMP-2026-0001").replace("class: general", "class: huge"),
    )
    put(
        store,
        "2026/CMP-2026-0002.yaml",
        VALID.format(id="CMP-2026-0002").replace("channel: phone", "channel: fax"),
    )
    put(store, "CMP-2026-0003.yaml", CORRECTING)


def test_validate_an_id_checks_only_that_record(qms, store):
    _three(store)
    r = qms("validate", "CMP-2026-0001")
    assert r.code == 1, r.text
    assert [ln.split(":")[0] for ln in findings(r)] == ["records/complaint/CMP-2026-0001.yaml"], (
        r.text
    )
    r = qms("validate", "CMP-2026-0002", "CMP-2026-0003")
    assert {ln.split(":")[0] for ln in findings(r)} == {
        "records/complaint/2026/CMP-2026-0002.yaml",
        "records/complaint/CMP-2026-0003.yaml",
    }, r.text


def test_validate_a_path_checks_only_that_file_or_folder(qms, store):
    _three(store)
    r = qms("validate", "records/complaint/CMP-2026-0003.yaml")
    assert r.code == 1, r.text
    assert [ln.split(":")[0] for ln in findings(r)] == ["records/complaint/CMP-2026-0003.yaml"], (
        r.text
    )
    r = qms("validate", "records/complaint/2026")
    assert [ln.split(":")[0] for ln in findings(r)] == [
        "records/complaint/2026/CMP-2026-0002.yaml"
    ], r.text


def test_validate_a_clean_record_in_a_dirty_store_exits_0(qms, store):
    _three(store)
    put(store, "CMP-2026-0004.yaml", VALID.format(id="CMP-2026-0004"))
    r = qms("validate", "CMP-2026-0004")
    assert r.code == 0, r.text
    assert findings(r) == []


def test_validate_an_unknown_id_is_bad_input(qms, store):
    _three(store)
    r = qms("validate", "CMP-2026-0404")
    assert r.code == 2, r.text
    assert "CMP-2026-0404" in r.text


def test_validate_json(qms, store):
    _three(store)
    put(store, "CMP-2026-0004.yaml", VALID.format(id="CMP-2026-0004") + "colour: red\n")
    r = qms("--json", "validate")
    assert r.code == 1, r.text
    doc = json.loads(r.out)
    assert doc["errors"] == 3
    by_source = {(f["source"], f["field"]): f for f in doc["findings"]}
    f = by_source[("records/complaint/CMP-2026-0003.yaml", "d4.root_cause")]
    assert f == {
        "source": "records/complaint/CMP-2026-0003.yaml",
        "line": line_of(CORRECTING, "d4:"),
        "field": "d4.root_cause",
        "message": "required in state 'correcting'",
        "severity": "error",
    }
    assert by_source[("records/complaint/CMP-2026-0004.yaml", "colour")]["severity"] == "warning"
    assert by_source[("records/complaint/2026/CMP-2026-0002.yaml", "channel")]["line"] == 8
    r = qms("--json", "validate", "--strict")
    assert json.loads(r.out)["errors"] == 4


def test_validate_json_of_a_clean_store(qms, store, complaint):
    r = qms("--json", "validate")
    assert r.code == 0, r.text
    assert json.loads(r.out) == {"findings": [], "errors": 0, "records": 1, "read": 1}


def test_validate_reads_the_working_tree_not_only_commits(qms, store, complaint):
    path = store / "records" / "complaint" / f"{complaint}.yaml"
    path.write_text(
        path.read_text("utf-8").replace("channel: phone", "channel: fax"), encoding="utf-8"
    )
    r = qms("validate")
    assert r.code == 1 and "channel" in r.out, r.text
    git(store, "checkout", "--", str(path))
    assert qms("validate").code == 0


# -------------------------------------------------------------------- the project itself


def test_the_project_checkout_is_a_valid_store(qms):
    r = qms("validate", root=REPO)
    assert r.code == 0, r.text
