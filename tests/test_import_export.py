"""Excel ledgers in and out (issue 13): `qms export TYPE` writes a record type's ledger as
xlsx or csv, `qms import TYPE LEDGER` registers a ledger's rows as records in one commit,
all or nothing (or with --skip-bad), every refused row named by its row number, no row
registered twice.

Every test drives the real `qms` command line against temporary git stores (conftest):
the records are made with `complaint new`, exported, and imported into an empty store with
the same qms.yaml; what is compared is the record files themselves."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import QE, git, make_store, new_complaint
from openpyxl import Workbook, load_workbook

LATER = {"GIT_AUTHOR_DATE": "2026-03-20T09:00:00+08:00", "GIT_COMMITTER_DATE": "2026-03-20T09:00:00+08:00"}
FORMULA = '=HYPERLINK("http://x","click")'


def records(root: Path) -> dict[str, str]:
    """Every record file of a store, by its path under records/."""
    base = root / "records"
    return {p.relative_to(base).as_posix(): p.read_text(encoding="utf-8") for p in sorted(base.rglob("*.yaml"))} \
        if base.is_dir() else {}


def state_of(root: Path) -> tuple[str, str, dict[str, str]]:
    """What an import that changes nothing leaves exactly as it was."""
    return git(root, "rev-parse", "HEAD"), git(root, "status", "--porcelain", "--untracked-files=all"), records(root)


@pytest.fixture
def three(qms):
    """Three complaints: plain, with a part number Excel would run and typed values, and one
    with a list and an English customer; returns their IDs."""
    a = new_complaint(qms, "customer.name=上汽大众汽车有限公司", "quantity_affected=120", "major_quality_problem=yes")
    b = new_complaint(qms, "customer.name=比亚迪", f"product.part_number={FORMULA}", "channel=email",
                      "received_at=2026-03-06T09:30", "description=-5 mm 偏差", "batch=@B2")
    c = new_complaint(qms, "customer.name=ACME Auto", "received_at=2026-03-05T08:00",
                      "investigation.departments=质控部,技术中心", "class=serious", "reply_needed=no")
    return [a, b, c]


@pytest.fixture
def empty(tmp_path, store):
    """A second, empty store with the same qms.yaml."""
    root = make_store(tmp_path / "empty", (store / "qms.yaml").read_text(encoding="utf-8"))
    return root


def export(qms, tmp_path, fmt: str = "xlsx", *extra: str) -> Path:
    out = tmp_path / f"ledger.{fmt}"
    r = qms(*extra, "export", "complaint", "--format", fmt, "-o", str(out))
    assert r.code == 0, r.text
    return out


# ------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_export_then_import_into_an_empty_store_gives_the_same_records(qms, tmp_path, store, empty, three,
                                                                       fmt, lang):
    """Chinese or English headings, xlsx or csv: the records come back byte for byte, under
    the IDs the ledger gives (free in the empty store)."""
    ledger = export(qms, tmp_path, fmt, "--lang", lang)
    r = qms("import", "complaint", str(ledger), root=empty, who=QE, env=LATER)
    assert r.code == 0, r.text
    assert sorted(r.out.split()) == sorted(three)
    assert records(empty) == records(store)


def test_the_import_is_one_commit_that_audit_passes(qms, tmp_path, empty, three):
    ledger = export(qms, tmp_path)
    before = git(empty, "rev-list", "--count", "HEAD")
    assert qms("import", "complaint", str(ledger), root=empty, who=QE, env=LATER).code == 0
    assert int(git(empty, "rev-list", "--count", "HEAD")) == int(before) + 1
    body = git(empty, "log", "-1", "--format=%B")
    assert "QMS-Action: import" in body
    assert {f"QMS-Record: complaint/{i}" for i in three} <= set(body.splitlines())
    assert git(empty, "status", "--porcelain") == ""
    audit = qms("audit", root=empty)
    assert audit.code == 0, audit.text
    assert qms("validate", root=empty).code == 0


def test_xlsx_cells_are_typed_and_a_formula_stays_text(qms, tmp_path, store, empty, three):
    """Dates are date cells, numbers numbers, and a value Excel would run is a text cell;
    imported again it is the same text."""
    ws = load_workbook(export(qms, tmp_path)).active
    header = next(row for row in ws.iter_rows() if row[0].value == "客诉编号")
    col = {c.value: c.column for c in header}
    rows = {ws.cell(row=n, column=1).value: n for n in range(header[0].row + 1, ws.max_row + 1)}
    part = ws.cell(row=rows[three[1]], column=col["零件号"])
    assert (part.data_type, part.value) == ("s", FORMULA)
    assert ws.cell(row=rows[three[0]], column=col["受理时间"]).is_date
    assert ws.cell(row=rows[three[0]], column=col["涉及数量"]).value == 120
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert qms("import", "complaint", str(tmp_path / "ledger.xlsx"), root=empty, who=QE, env=LATER).code == 0
    assert f"part_number: {FORMULA}\n" in records(empty)[f"complaint/{three[1]}.yaml"]


def test_csv_guards_formulas_and_reads_them_back(qms, tmp_path, empty, three):
    text = export(qms, tmp_path, "csv").read_text(encoding="utf-8-sig")
    assert f"'{FORMULA}".replace('"', '""') in text and "'-5 mm" in text and "'@B2" in text
    assert qms("import", "complaint", str(tmp_path / "ledger.csv"), root=empty, who=QE, env=LATER).code == 0
    imported = records(empty)[f"complaint/{three[1]}.yaml"]
    assert "description: -5 mm 偏差" in imported and "batch: '@B2'" in imported


# ----------------------------------------------------------------------- hand-made ledgers


def write_csv(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


GOOD_AND_BAD = """\
    Customer name,Part number,Channel,Received at,Written or oral,Complaint,Class
    ACME,P1,phone,2026-03-06 10:00,oral,leak,general
    ACME,P2,fax,2026-03-06 10:00,oral,leak,general
    ACME,P3,phone,2026-13-06 10:00,oral,leak,general
    ACME,,phone,2026-03-06 11:00,oral,leak,general
    ACME,P5,电话,2026-03-06 12:00,口头,leak,一般投诉
    """


def test_a_ledger_with_bad_rows_changes_nothing_and_names_every_bad_row(qms, store, tmp_path, three):
    ledger = write_csv(tmp_path / "bad.csv", GOOD_AND_BAD)
    before = state_of(store)
    r = qms("import", "complaint", str(ledger), who=QE, env=LATER)
    assert r.code == 1, r.text
    assert state_of(store) == before
    assert "row 3: channel: 'fax': expected one of phone" in r.err
    assert "row 4: received_at: '2026-13-06 10:00': expected a date and time" in r.err
    assert "row 5: product.part_number: required in state 'received'" in r.err
    assert "row 2" not in r.err and "row 6" not in r.err
    assert "3 rows could not be imported; nothing was written" in r.err


def test_skip_bad_imports_the_good_rows_and_exits_1(qms, store, tmp_path):
    ledger = write_csv(tmp_path / "bad.csv", GOOD_AND_BAD)
    r = qms("import", "complaint", str(ledger), "--skip-bad", who=QE, env=LATER)
    assert r.code == 1, r.text
    assert r.out.split() == ["CMP-2026-0001", "CMP-2026-0002"]
    assert "row 3:" in r.err and "row 4:" in r.err and "row 5:" in r.err
    assert "3 rows refused and left out" in r.err
    made = records(store)
    assert "part_number: P5" in made["complaint/CMP-2026-0002.yaml"]  # numbered without a gap
    assert qms("audit").code == 0


def test_importing_the_same_ledger_twice_creates_no_duplicate(qms, store, tmp_path):
    ledger = write_csv(tmp_path / "l.csv", """\
        顾客名称,零件号,投诉方式,受理时间,投诉形式,投诉内容,投诉类别
        上汽大众,P1,电话,2026-03-06 10:00,口头,渗油,一般投诉
        上汽大众,P1,电话,2026-03-06T10:00,口头,又一次,一般投诉
        上汽大众,P2,电话,2026-03-06 10:00,口头,渗油,一般投诉
        """)
    first = qms("import", "complaint", str(ledger), who=QE, env=LATER)
    assert first.code == 0, first.text
    assert first.out.split() == ["CMP-2026-0001", "CMP-2026-0002"]
    assert "row 3: the same as row 2; skipped" in first.err  # the same key, an earlier row
    head = git(store, "rev-parse", "HEAD")
    again = qms("import", "complaint", str(ledger), who=QE, env=LATER)
    assert again.code == 0, again.text
    assert again.out == "" and git(store, "rev-parse", "HEAD") == head
    assert "row 2: already in the store as complaint CMP-2026-0001; skipped" in again.err
    assert len(records(store)) == 2


def test_a_ledger_id_is_kept_when_free_and_renumbered_when_taken(qms, store, tmp_path):
    taken = new_complaint(qms)  # CMP-2026-0001
    ledger = write_csv(tmp_path / "ids.csv", """\
        客诉编号,顾客名称,零件号,投诉方式,受理时间,投诉形式,投诉内容,投诉类别
        CMP-2026-0001,比亚迪,P9,电话,2026-03-07 10:00,口头,异响,一般投诉
        CMP-2026-0007,比亚迪,P8,电话,2026-03-07 10:00,口头,异响,一般投诉
        KS-2019-001,比亚迪,P7,电话,2026-03-07 10:00,口头,异响,一般投诉
        """)
    r = qms("import", "complaint", str(ledger), who=QE, env=LATER)
    assert r.code == 0, r.text
    lines = r.out.splitlines()
    assert lines[0].startswith("CMP-2026-0008") and "'CMP-2026-0001' is taken" in lines[0]
    assert lines[1] == "CMP-2026-0007"
    assert lines[2].startswith("CMP-2026-0009")
    assert taken == "CMP-2026-0001"


def test_a_state_after_the_first_is_refused(qms, tmp_path):
    ledger = write_csv(tmp_path / "s.csv", """\
        状态,顾客名称,零件号,投诉方式,受理时间,投诉形式,投诉内容,投诉类别
        已结案,比亚迪,P9,电话,2026-03-07 10:00,口头,异响,一般投诉
        """)
    r = qms("import", "complaint", str(ledger), who=QE, env=LATER)
    assert r.code == 1
    assert "row 2: state: '已结案': an import registers a record in its first state" in r.err


def test_a_mapping_file_names_other_headings(qms, store, tmp_path):
    ledger = write_csv(tmp_path / "m.csv", """\
        序号,客户,图号,方式,日期,形式,问题,类别,备注
        1,比亚迪,P9,电话,2026-03-07 10:00,口头,异响,一般投诉,无
        """)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("客户: customer.name\n图号: product.part_number\n方式: channel\n日期: received_at\n"
                       "形式: original\n问题: description\n类别: class\n备注: null\n", encoding="utf-8")
    r = qms("import", "complaint", str(ledger), "--map", str(mapping), who=QE, env=LATER)
    assert r.code == 0, r.text
    assert "customer:\n  name: 比亚迪" in records(store)["complaint/CMP-2026-0001.yaml"]
    assert "column A '序号': left out" in r.err and "column I '备注': left out" in r.err
    mapping.write_text("客户: ../../etc/passwd\n", encoding="utf-8")
    r = qms("import", "complaint", str(ledger), "--map", str(mapping), who=QE, env=LATER)
    assert r.code == 2 and "is not a field of complaint" in r.err


# ------------------------------------------------------------------------------ bad input


def test_unknown_headings_are_named_with_the_closest(qms, store, tmp_path):
    ledger = write_csv(tmp_path / "u.csv", "客户名,零件,投诉方式,foo\na,b,电话,d\n")
    before = state_of(store)
    r = qms("import", "complaint", str(ledger), who=QE, env=LATER)
    assert r.code == 2, r.text
    assert "column B '零件': not a field of complaint; did you mean '零件号'?" in r.err
    assert "column D 'foo': not a field of complaint" in r.err
    assert "Traceback" not in r.text and state_of(store) == before


@pytest.mark.parametrize("name, content, expected", [
    ("missing.xlsx", None, "no such file"),
    ("empty.csv", b"", "the sheet is empty"),
    ("blank.csv", b" , ,\n\n", "the sheet is empty"),
    ("fake.xlsx", b"PK\x03\x04not a zip", "cannot be read as an xlsx workbook"),
    ("binary.xlsx", bytes(range(256)) * 8, "not an xlsx workbook or a csv file"),
    ("old.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 600, "save it as .xlsx"),
    ("headings.csv", "顾客名称,零件号\n".encode(), "no rows under the headings in row 1"),
])
def test_a_ledger_that_cannot_be_read_is_one_line_and_exit_2(qms, store, tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    r = qms("import", "complaint", str(path), who=QE, env=LATER)
    assert r.code == 2, r.text
    assert expected in r.err and "Traceback" not in r.text


def test_an_empty_workbook_and_an_oversized_sheet_are_refused(qms, tmp_path):
    wb = Workbook()
    wb.save(tmp_path / "empty.xlsx")
    r = qms("import", "complaint", str(tmp_path / "empty.xlsx"), who=QE, env=LATER)
    assert r.code == 2 and "the sheet is empty" in r.err
    wb = Workbook()
    wb.active.cell(row=1, column=1, value="顾客名称")
    wb.active.cell(row=30_000, column=1, value="x")  # the sheet says how big it is: refused before reading
    wb.save(tmp_path / "big.xlsx")
    r = qms("import", "complaint", str(tmp_path / "big.xlsx"), who=QE, env=LATER)
    assert r.code == 2 and "rows; an import takes at most 20,000" in r.err


def test_a_ledger_does_not_attach_files_or_carry_control_characters(qms, store, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("x", encoding="utf-8")
    ledger = write_csv(tmp_path / "f.csv", f"""\
        顾客名称,零件号,投诉方式,受理时间,投诉形式,投诉内容,投诉类别,附件
        比亚迪,P9,电话,2026-03-07 10:00,口头,异响,一般投诉,@{secret}
        比亚迪,P8,电话,2026-03-07 10:00,口头,"a\x1b[2Jb",一般投诉,
        """)
    before = state_of(store)
    r = qms("import", "complaint", str(ledger), who=QE, env=LATER)
    assert r.code == 1, r.text
    assert "row 2: attachments: a ledger does not attach files" in r.err
    assert "row 3: description: the value contains the control character U+001B" in r.err
    assert state_of(store) == before


def test_export_needs_a_file_for_xlsx_and_knows_its_formats(qms):
    assert qms("export", "complaint").code == 2
    assert qms("export", "complaint", "--format", "pdf", "-o", "x.pdf").code == 2
    assert qms("export", "nosuchtype", "--format", "csv").code == 2
    r = qms("export", "complaint", "--format", "csv")
    assert r.code == 0 and r.out.lstrip("\ufeff").startswith("客诉编号,状态,顾客名称")


def test_a_row_whose_registration_changes_another_record_is_left_to_new(qms, store, tmp_path):
    """A return named in its complaint is listed there when registered; an import only adds
    records, so such a row is refused (registered with `qms return new`), and one that
    names no complaint is imported."""
    complaint = new_complaint(qms)
    with open(store / "qms.yaml", "a", encoding="utf-8") as f:
        f.write("  warehouse:\n    label: {zh: 仓库, en: Warehouse}\n    holders:\n"
                "      - {name: 李雷, email: li.lei@example.com}\n")
    git(store, "commit", "-qam", "warehouse")
    ledger = tmp_path / "returns.csv"
    ledger.write_text(
        "origin,complaint,customer.name,reason,received_at,received_by,items\n"
        f"complaint,{complaint},上汽大众,渗油,2026-03-07 09:00,李雷,\"{{part_number: A1, quantity: 5}}\"\n"
        "unannounced,,比亚迪,破损,2026-03-07 10:00,李雷,\"{part_number: B2, quantity: 3}\"\n", encoding="utf-8")
    head = git(store, "rev-parse", "HEAD")
    r = qms("import", "return", str(ledger), who=QE, env={"GIT_COMMITTER_DATE": "2026-03-08T09:00:00+08:00",
                                                           "GIT_AUTHOR_DATE": "2026-03-08T09:00:00+08:00"})
    assert r.code == 1 and "row 2" in r.out + r.err and "qms return new" in r.out + r.err, r.text
    assert git(store, "rev-parse", "HEAD") == head
    r = qms("import", "return", str(ledger), "--skip-bad", who=QE,
            env={"GIT_COMMITTER_DATE": "2026-03-08T09:00:00+08:00", "GIT_AUTHOR_DATE": "2026-03-08T09:00:00+08:00"})
    assert r.code == 1 and "RET-2026-0001" in r.out, r.text
    assert qms("audit").code == 0
