"""validate's checks on records in memory (qms_cli/checks): each record check and each
store-wide check given records written as YAML text and a Context without a store. A good
record gives no finding; each way of breaking it gives one, with its field, severity and
sentence. No store, no git."""

from __future__ import annotations

import pytest
from pure_support import builtin, context, declaration, findings, loaded

from qms_cli.checks import (
    RECORD_CHECKS,
    Loaded,
    Summary,
    check_duplicate_ids,
    check_envelope,
    check_file_kinds, check_files,
    check_pinned_content,
    check_references,
    check_schema,
    check_signatures,
    check_state_requirements,
    check_text,
    check_unique,
    facts_of,
    says_in_state,
)


@pytest.fixture(scope="module")
def complaint():
    return builtin("complaint")


@pytest.fixture(scope="module")
def distribution():
    return builtin("distribution")


@pytest.fixture(scope="module")
def revision():
    return builtin("revision")


@pytest.fixture
def ctx(tmp_path, complaint, distribution, revision):
    document = {"id": "LX-CX-2026-001", "type": "document", "state": "active", "edition": "A/0",
                "controlled": True, "department": "质量部"}
    return context(tmp_path, complaint, distribution, revision, records=[document])


ACKNOWLEDGED = """
    id: CMP-2026-0001
    type: complaint
    state: acknowledged
    customer: {name: 上汽大众汽车有限公司}
    product: {part_number: 5QD 611 701 B}
    channel: phone
    received_at: 2026-03-06T10:00:00+08:00
    original: oral
    description: 接头渗油
    class: general
    contact: {at: 2026-03-06T10:40:00+08:00, by: 李雷, summary: 已电话联系}
    interim_countermeasure: 库存挑选
    signatures:
      - {meaning: acknowledged, name: 李雷, email: li.lei@example.com, at: 2026-03-06T10:45:00+08:00,
         from: received, to: acknowledged}
"""


def edited(text: str, old: str, new: str) -> str:
    assert old in text, old  # the test breaks what is there
    return text.replace(old, new)


def only(check, record: Loaded, ctx) -> list[tuple[str, str, str]]:
    return findings(check, [record], ctx)


def test_a_good_record_gives_no_finding_in_any_record_check(complaint, ctx):
    good = loaded(complaint, ACKNOWLEDGED)
    assert [f for check in RECORD_CHECKS for f in check([good], ctx)] == []


# -- the envelope ---------------------------------------------------------------------------------

def test_the_id_must_be_the_file_name(complaint, ctx):
    r = loaded(complaint, ACKNOWLEDGED, "records/complaint/CMP-2026-0009.yaml")
    assert only(check_envelope, r, ctx) == [
        ("id", "error", "'CMP-2026-0001' does not match the file name 'CMP-2026-0009'")]
    sharded = loaded(complaint, ACKNOWLEDGED, "records/complaint/2026/CMP-2026-0001.yaml")
    assert only(check_envelope, sharded, ctx) == []


def test_the_type_must_be_the_folder(complaint, ctx):
    r = loaded(complaint, edited(ACKNOWLEDGED, "type: complaint", "type: document"))
    assert only(check_envelope, r, ctx) == [("type", "error", "'document' but the file is in records/complaint/")]


@pytest.mark.parametrize("state", ["shelved", "[received]", "''"])
def test_the_state_must_be_one_of_the_types(complaint, ctx, state):
    r = loaded(complaint, edited(ACKNOWLEDGED, "state: acknowledged", f"state: {state}"))
    ((field, severity, message),) = only(check_envelope, r, ctx)
    assert (field, severity) == ("state", "error")
    assert message.endswith("is not a state of complaint (expected one of received, acknowledged, investigating, "
                            "clarified, correcting, verifying, approving, closed, cancelled)")
    assert only(check_state_requirements, r, ctx) == []  # left to check_envelope


def test_signatures_must_be_a_list(complaint, ctx):
    r = loaded(complaint, ACKNOWLEDGED.split("    signatures:")[0] + "    signatures: {acknowledged: 李雷}\n")
    assert only(check_envelope, r, ctx) == [("signatures", "error", "expected a list of signatures")]
    assert only(check_signatures, r, ctx) == []  # nothing more to say about them


# -- fields -------------------------------------------------------------------------------------------

def test_a_wrong_value_is_an_error_and_an_undeclared_field_a_warning(complaint, ctx):
    r = loaded(complaint, ACKNOWLEDGED + "    colour: red\n    quantity_affected: -3\n")
    r = Loaded(r.type, r.path, {**r.data, "class": "huge", "received_at": "yesterday"})
    assert sorted(only(check_schema, r, ctx)) == [
        ("class", "error", "'huge' is not one of general, requirement, serious"),
        ("colour", "warning", "unknown field (not declared for this record type)"),
        ("quantity_affected", "error", "expected at least 0"),
        ("received_at", "error", "expected a date and time such as 2026-03-02T09:15"),
    ]


def test_a_control_character_anywhere_is_an_error_unless_the_file_is_plain_text(complaint, ctx):
    text = edited(ACKNOWLEDGED, "description: 接头渗油", 'description: "接头渗油\\e[2J"')
    r = loaded(complaint, text)
    assert only(check_text, r, ctx) == [("description", "error", "contains the control character U+001B (ESC) at "
                                         "position 5; remove it (only text, tabs and line breaks are kept)")]
    plain = Loaded(r.type, r.path, r.data, plain_text=True)  # the reader saw no control and no backslash
    assert only(check_text, plain, ctx) == []


# -- what the state requires ------------------------------------------------------------------------

def test_what_the_state_requires_is_reported_in_that_state(complaint, ctx):
    r = loaded(complaint, edited(ACKNOWLEDGED, "    interim_countermeasure: 库存挑选\n", ""))
    found = only(check_state_requirements, r, ctx)
    assert found == [("interim_countermeasure", "error", "required in state 'acknowledged'")]
    assert says_in_state(found[0][2]) and not says_in_state("required in a signature")


def test_requirements_of_the_included_states_are_checked_too(complaint, ctx):
    r = loaded(complaint, edited(ACKNOWLEDGED, "    original: oral\n", "    original: written\n"))
    assert only(check_state_requirements, r, ctx) == [("original_file", "error", "required in state 'acknowledged'")]


def test_each_missing_field_of_a_group_is_reported_on_its_own(distribution, ctx):
    copy = """
        id: DST-2026-0001
        type: distribution
        state: issued
        document: LX-CX-2026-001
        edition: A/0
        copy_number: 1
        holder: {department: 生产部, person: 刘洋}
        issued_on: 2026-03-10
    """
    assert only(check_state_requirements, loaded(distribution, copy), ctx) == []
    r = loaded(distribution, edited(copy, "holder: {department: 生产部, person: 刘洋}", "holder: {}"))
    assert only(check_state_requirements, r, ctx) == [
        ("holder.department", "error", "required in state 'issued'"),
        ("holder.person", "error", "required in state 'issued'")]


def test_a_path_over_a_list_of_references_is_reported_at_its_path(tmp_path):
    lot = declaration("""
        type: lot
        numbering: "LOT-{seq:03}"
        workflow: {initial: held, states: {held: , released: }}
    """)
    batch = declaration("""
        type: batch
        numbering: "B-{seq:03}"
        fields:
          lots: {type: list, items: {type: ref, to: lot}}
        workflow:
          initial: shipped
          states:
            shipped: {requires: [{field: lots.*.state, in: [released]}]}
    """)
    ctx = context(tmp_path, lot, batch, records=[{"id": "LOT-001", "type": "lot", "state": "released"},
                                                 {"id": "LOT-002", "type": "lot", "state": "held"}])
    ctx.used = set()
    r = loaded(batch, "id: B-001\ntype: batch\nstate: shipped\nlots: [LOT-001, LOT-002, LOT-404]\n")
    assert only(check_state_requirements, r, ctx) == [
        ("lots.*.state", "error", "is held; must be released in state 'shipped'")]
    assert ctx.used == {("lot", "LOT-001"), ("lot", "LOT-002"), ("lot", "LOT-404")}  # what it read, for the cache


# -- signatures --------------------------------------------------------------------------------------

SIGNED = ACKNOWLEDGED.split("    signatures:")[0] + "    signatures:\n"


def sigs(*lines: str) -> str:
    return SIGNED + "".join(f"      - {line}\n" for line in lines)


ACK = ("{meaning: acknowledged, name: 李雷, email: li.lei@example.com, at: 2026-03-06T10:45:00+08:00, "
       "from: received, to: acknowledged")


def test_the_first_signature_of_a_new_record_has_no_from(complaint, ctx):
    created = sigs("{meaning: received, name: 李雷, email: li.lei@example.com, at: 2026-03-06T10:05:00+08:00, "
                   "to: received}", ACK + "}")
    assert only(check_signatures, loaded(complaint, created), ctx) == []
    skipped = sigs(ACK.replace("from: received, ", "") + "}")  # a first move, not a creation: it needs its from
    assert only(check_signatures, loaded(complaint, skipped), ctx) == [
        ("signatures.0.from", "error", "required in a signature")]


def test_a_signature_names_who_when_and_a_move(complaint, ctx):
    text = sigs("{meaning: acknowledged, name: 李雷, from: received, to: acknowledged}",
                "not a signature",
                "{meaning: closed, name: x, email: x@example.com, at: 2026-03-07T10:00:00+08:00, "
                "from: acknowledged, to: closed}",
                ACK + "}")
    assert only(check_signatures, loaded(complaint, text), ctx) == [
        ("signatures.0.email", "error", "required in a signature"),
        ("signatures.0.at", "error", "required in a signature"),
        ("signatures.1", "error", "expected meaning, name, email, at, from, to"),
        ("signatures.2", "error", "acknowledged -> closed is not a move of complaint"),
    ]


def test_the_state_is_where_the_last_signed_move_went(complaint, ctx):
    r = loaded(complaint, edited(ACKNOWLEDGED, "state: acknowledged", "state: received"))
    assert only(check_signatures, r, ctx) == [
        ("state", "error", "'received' but the last signed move went to 'acknowledged'")]


@pytest.mark.parametrize("on, message", [
    ("2026-03-06", None),
    ("2026-03-06T10:30:00+08:00", None),
    ("2026-03-07", "2026-03-07 is later than its signing time, 2026-03-06 10:45; a paper time is when the act "
                   "happened, before it was entered and after the acts before it"),
    ("yesterday", "expected a date such as 2026-10-15, or a date and time such as 2026-10-15T14:30 "
                  "(when the act happened on paper)"),
    ("1899-12-31", "expected a date from 1900 to 2999 (when the act happened on paper)"),
    ("2026-03-05", "2026-03-05 is before the 'received' signature (signatures.0), 2026-03-06 10:05; a paper time "
                   "is when the act happened, before it was entered and after the acts before it"),
])
def test_a_paper_time_lies_between_the_acts_before_it_and_its_signing(complaint, ctx, on, message):
    # without a store (no time zone) times are shown as they are written
    text = sigs("{meaning: received, name: 李雷, email: li.lei@example.com, at: 2026-03-06T10:05:00+08:00, "
                "to: received}", ACK + f", on: {on}}}")
    found = only(check_signatures, loaded(complaint, text), ctx)
    assert found == ([] if message is None else [("signatures.1.on", "error", message)])


# -- across records: references, files, IDs, pins, unique numbers -------------------------------------

def summary(rt, text: str) -> Summary:
    r = loaded(rt, text)
    return Summary(r.type, r.path, facts_of(rt, r))


def test_facts_of_a_record_are_its_references_files_pins_and_unique_keys(revision, distribution):
    rev = summary(revision, """
        id: REV-2026-0001
        type: revision
        state: approved
        document: LX-CX-2026-001
        content: files/revision/a.pdf
        content_sha256: abc123
        pins: {files/x.pdf: def456}
    """)
    assert rev.facts == {
        "id": "REV-2026-0001",
        "refs": [["document", "document", "LX-CX-2026-001"]],
        "files": [["content", "files/revision/a.pdf"]],
        "pins": [["pins.files/x.pdf", "files/x.pdf", "def456", "pins"],
                 ["content", "files/revision/a.pdf", "abc123", "approved"]],
    }
    draft = summary(revision, "id: REV-2026-0002\ntype: revision\nstate: draft\ncontent: files/b.pdf\n"
                              "content_sha256: abc\n")
    assert "pins" not in draft.facts  # pinned only in the states that pin
    copy = summary(distribution, "id: DST-2026-0002\ntype: distribution\nstate: issued\ndocument: D-1\n"
                                 "copy_number: 3\nreplaces: DST-2026-0001\n")
    assert copy.facts["unique"] == [[["document", "copy_number"], ["D-1", "3"], "DST-2026-0001", True]]
    assert summary(distribution, "id: 5\ntype: distribution\nstate: issued\n").facts == {"id": None}


def test_a_reference_must_name_a_record_in_the_store(distribution, ctx):
    good = summary(distribution, "id: DST-2026-0001\ntype: distribution\nstate: issued\n"
                                 "document: LX-CX-2026-001\n")
    bad = summary(distribution, "id: DST-2026-0002\ntype: distribution\nstate: issued\n"
                                "document: LX-CX-2026-404\nreplaces: DST-2026-0009\n")
    assert findings(check_references, [good, bad], ctx) == [
        ("document", "error", "refers to document 'LX-CX-2026-404', which is not in the store"),
        ("replaces", "error", "refers to distribution 'DST-2026-0009', which is not in the store"),
    ]


def test_an_attached_file_must_be_a_regular_file_in_the_store(complaint, ctx):
    r = summary(complaint, """
        id: CMP-2026-0001
        type: complaint
        state: received
        original_file: files/c/letter.pdf
        report: {file: files/c/8d.pdf}
        attachments: [files/c/photo.jpg, files/c/gone.jpg, ../../etc/passwd]
    """)
    ctx.file_kind = {"files/c/letter.pdf": "file", "files/c/photo.jpg": "link", "files/c/8d.pdf": "special"}.get
    assert findings(check_files, [r], ctx) == [
        ("attachments.1", "error", "attached file 'files/c/gone.jpg' is not in the store"),
    ]  # the path outside files/ is check_schema's to report
    assert findings(check_file_kinds, [r], ctx) == [
        ("report.file", "error", "attached file 'files/c/8d.pdf' is not a regular file (a device, a pipe or a socket)"),
        ("attachments.0", "error", "attached file 'files/c/photo.jpg' is (or lies under) a symbolic link; "
                                   "qms does not follow links in a store"),
    ]


def test_two_files_with_one_id_are_each_reported_with_the_others(ctx):
    a = Summary("complaint", "records/complaint/CMP-2026-0001.yaml", {"id": "CMP-2026-0001"})
    b = Summary("complaint", "records/complaint/2026/CMP-2026-0001.yaml", {"id": "CMP-2026-0001"})
    c = Summary("complaint", "records/complaint/CMP-2026-0002.yaml", {"id": "CMP-2026-0002"})
    assert findings(check_duplicate_ids, [a, b, c], ctx) == [
        ("id", "error", "'CMP-2026-0001' is also the ID of records/complaint/2026/CMP-2026-0001.yaml"),
        ("id", "error", "'CMP-2026-0001' is also the ID of records/complaint/CMP-2026-0001.yaml"),
    ]


def test_pinned_content_changed_or_gone_is_reported(revision, ctx):
    rev = summary(revision, """
        id: REV-2026-0001
        type: revision
        state: approved
        content: files/revision/a.pdf
        content_sha256: abc123
        pins: {files/x.pdf: def456}
    """)
    ctx.sha256 = {"files/revision/a.pdf": "abc123", "files/x.pdf": "def456"}.get
    assert findings(check_pinned_content, [rev], ctx) == []
    ctx.sha256 = {"files/revision/a.pdf": "f" * 64}.get
    assert findings(check_pinned_content, [rev], ctx) == [
        ("pins.files/x.pdf", "error", "pinned file is not in the store"),
        ("content", "error", "'files/revision/a.pdf' changed after it was approved (SHA-256 ffffffffffff…, "
                             "pinned abc123…)"),
    ]
    ctx.sha256 = {"files/x.pdf": "0" * 64}.get  # the approved file missing is check_files' to report
    assert findings(check_pinned_content, [rev], ctx) == [
        ("pins.files/x.pdf", "error", "the file changed after it was pinned")]


def test_a_copy_number_is_unique_within_a_document_but_for_a_damaged_copys_replacement(distribution, ctx):
    def copy(n: int, number: int, document: str = "LX-CX-2026-001", replaces: str = "") -> Summary:
        return summary(distribution, f"id: DST-2026-000{n}\ntype: distribution\nstate: issued\n"
                                     f"document: {document}\ncopy_number: {number}\n"
                                     + (f"replaces: {replaces}\n" if replaces else ""))

    damaged, replacement = copy(1, 3), copy(2, 3, replaces="DST-2026-0001")
    other_document = copy(4, 3, "LX-CX-2026-002")
    assert findings(check_unique, [damaged, replacement, other_document], ctx) == []
    clash = copy(3, 3)
    assert findings(check_unique, [damaged, clash], ctx) == [
        ("copy_number", "error", "LX-CX-2026-001/3 is also held by DST-2026-0003"),
        ("copy_number", "error", "LX-CX-2026-001/3 is also held by DST-2026-0001"),
    ]
