"""Issue 9: safe on a store you did not write. A store arrives from another plant, a
merge request or a supplier; everything in it is hostile until shown otherwise: its form
templates, its record values, its qms.yaml, its commit messages and authors, the
symbolic links, pipes and huge files git or a person can leave in it, and a writer
killed halfway.

Each test drives the real CLI against a real git store with hostile content planted
"as a merge from another plant" (committed with plain git). The contract (CLI.md): exit
0 done, 1 refused or findings, 2 bad input, never 3 nor a traceback; a refusal is one
line on stderr starting with 'qms: '; a refused command leaves HEAD, `git status` and
every file as they were."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import QE, QM, RECEIVED, git, identity_env, make_store, sets

ID = "CMP-2026-0001"
RAW_CONTROLS = ("\x00", "\x07", "\x1b", "\x85", "\x9b", "\x9d", "\u202e")
QUICK = 15  # seconds: what "refused quickly" allows (the form time limit is 30 s)


# ------------------------------------------------------------------------------- helpers


def snapshot(root: Path):
    """What a refused command must leave as it was: HEAD, git status, every file's bytes
    (outside .git and .qms; links by their target, pipes by their kind)."""
    files = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] in (".git", ".qms"):
            continue
        if p.is_symlink():
            files[rel.as_posix()] = "link -> " + os.readlink(p)
        elif p.is_file() and p.stat().st_size < 1 << 20:
            files[rel.as_posix()] = p.read_bytes()
        elif not p.is_dir():
            files[rel.as_posix()] = "special or large"
    return (git(root, "rev-parse", "HEAD"),
            git(root, "status", "--porcelain", "--untracked-files=all"), files)


def refused(r, code: int = 2) -> None:
    assert r.code == code, r.text
    assert r.err.startswith("qms: ") and "Traceback" not in r.text, r.text


def commit_all(root: Path, message: str = "merge from plant B", env: dict | None = None) -> None:
    git(root, "add", "-A")
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=root, check=True,
                   capture_output=True, env={**os.environ, **(env or {})})


def record_path(store: Path, rid: str = ID) -> Path:
    return next(store.glob(f"records/complaint/**/{rid}.yaml"))


def y(value: str) -> str:
    """`value` as a YAML double-quoted scalar, every control and break escaped."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029\u202e\u2066\ufffe":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def hand_record(rid: str = ID, **raw: str) -> str:
    """A complaint in state received as a person writes it; keyword values are raw YAML."""
    f = {"customer": "上汽大众汽车有限公司", "part": "5QD 611 701 B", "batch": "B1",
         "received_at": "2026-03-06T10:00:00+08:00", "description": "接头渗油",
         "quantity_affected": "120", **raw}
    return (f"id: {rid}\ntype: complaint\nstate: received\ncustomer:\n  name: {f['customer']}\n"
            f"product:\n  part_number: {f['part']}\nbatch: {f['batch']}\nchannel: phone\n"
            f"received_at: {f['received_at']}\noriginal: oral\ndescription: {f['description']}\n"
            f"class: general\nquantity_affected: {f['quantity_affected']}\n")


def plant(store: Path, rid: str = ID, **raw: str) -> Path:
    """Commit a hand-written record with plain git, as a merge from another plant would."""
    path = store / "records" / "complaint" / f"{rid}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(hand_record(rid, **raw), encoding="utf-8")
    commit_all(store)
    return path


def run_bytes(store: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`qms -C store ARGS` in a child process, stdout as bytes."""
    return subprocess.run([sys.executable, "-m", "qms_cli", "-C", str(store), *args],
                          check=False, capture_output=True, cwd=store, timeout=timeout)


def bounded(run, *args, timeout: float, **kw):
    try:
        return run(*args, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        pytest.fail(f"qms {' '.join(args)[:200]} still running after {timeout} s")


@pytest.fixture
def complaint(qms):
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code == 0 and r.out.strip() == ID, r.text
    return ID


# ======================================================= 1. forms in a sandbox

TEMPLATE = "templates/complaint.zh.md.j2"
ESCAPES = {
    "lipsum-popen": "{{ lipsum.__globals__.os.popen('touch PWNED').read() }}",
    "cycler-globals": "{{ cycler.__init__.__globals__.os.popen('touch PWNED') }}",
    "joiner": "{{ joiner }}",
    "mro": "{{ r.__class__.__mro__ }}",
    "subclasses": "{{ ''.__class__.__base__.__subclasses__() }}",
    "function-globals": "{{ v.__globals__ }}",
    "bound-self": "{{ r.get.__self__ }}",
    "attr-filter": "{{ (r|attr('__class__')) }}",
    "format-field": "{{ '{0.__class__.__init__.__globals__}'.format(r) }}",
    "format-filter": "{{ '%s'|format(r.__class__) }}",
    "mutate-update": "{% set x = r.update({'state': 'closed'}) %}",
    "mutate-clear": "{{ r.clear() }}",
    "mutate-append": "{{ history.append(1) }}",
    "config": "{{ config }}",
    "template-context": "{{ self._TemplateReference__context }}",
    "range-self": "{{ range.__self__ }}",
    "include-parent": "{% include '../qms.yaml' %}",
    "include-absolute": "{% include '/etc/passwd' %}",
    "import-path": "{% import '../../x' as m %}",
    "from-import": "{% from '/etc/passwd' import root %}",
    "extends-path": "{% extends '../qms.yaml' %}",
    "self-include": "{% include 'complaint.zh.md.j2' %}",
}
NO_LINE = {"self-include"}  # endless recursion: named by template, not by line


def write_template(store: Path, body: str, name: str = TEMPLATE) -> Path:
    path = store / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("# 表头\n{{ id }}\n" + body + "\n", encoding="utf-8")  # the payload on line 3
    commit_all(store)
    return path


@pytest.mark.parametrize("case", list(ESCAPES))
def test_a_store_template_cannot_leave_the_sandbox(store, qms, complaint, tmp_path, case):
    """A template from another plant gets the record's values and nothing else: no
    Python objects, no changing the record, no file outside templates/. One line names
    the template and the line; nothing is printed or written."""
    write_template(store, ESCAPES[case])
    before = snapshot(store)
    r = qms("render", ID, cwd=store)
    refused(r)
    assert (TEMPLATE if case in NO_LINE else f"{TEMPLATE}:3") in r.err and r.out == "", r.text
    assert len(r.err.strip().splitlines()) == 1, r.text
    out = tmp_path / "form.md"
    r = qms("render", ID, "-o", str(out), cwd=store)
    refused(r)
    assert not out.exists(), r.text
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()
    assert "root:" not in r.text and "lang: zh" not in r.text
    assert snapshot(store) == before


LINKED = ["template-to-passwd", "include-of-a-link", "templates-folder-is-a-link"]


@pytest.mark.parametrize("case", LINKED)
def test_a_linked_template_is_refused_naming_the_link(store, qms, complaint, tmp_path, case):
    """git carries symbolic links: a template (or what it includes, or templates/
    itself) that is a link is never followed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "complaint.zh.md.j2").write_text("root:x:0:0 OUTSIDE {{ id }}\n", encoding="utf-8")
    (store / "templates").mkdir()
    if case == "template-to-passwd":
        (store / TEMPLATE).symlink_to("/etc/passwd")
        named = TEMPLATE
    elif case == "include-of-a-link":
        (store / TEMPLATE).write_text("{{ id }}\n{% include 'x.j2' %}\n", encoding="utf-8")
        (store / "templates" / "x.j2").symlink_to(outside / "complaint.zh.md.j2")
        named = "templates/x.j2"
    else:
        (store / "templates").rmdir()
        (store / "templates").symlink_to(outside)
        named = "templates"
    commit_all(store)
    r = qms("render", ID)
    refused(r)
    assert f"{named}:" in r.err and "symbolic link" in r.err, r.text
    assert "root:" not in r.text and "OUTSIDE" not in r.text


BOMBS = {
    "string-repeat": "{{ 'x' * 10**9 }}",
    "list-repeat": "{{ [1, 2] * 10**8 }}",
    "repeat-of-a-repeat": "{{ ('ab' * 50000) * 50000 }}",
    "huge-power": "{{ 10 ** (10 ** 10) }}",
    "huge-range": "{{ range(10**9)|list }}",
    # Jinja's ** is left-associative: each step stays under the exponent guard of 100
    "chained-powers": "{{ (10 ** 100 ** 100 ** 100 ** 100) > 1 }}",
    "centre-filter": "{{ 'x'|center(10**9) }}",
    "indent-filter": "{{ 'a\\nb'|indent(10**9) }}",
    "format-filter-width": "{{ '%0999999999d'|format(1) }}",
    "percent-width": "{{ '%.999999999f' % 1 }}",
    "width-from-an-argument": "{{ '%*d' % (999999999, 1) }}",
    "str-format-width": "{{ '{:999999999}'.format(1) }}",
    "str-format-nested-width": "{{ '{0:{1}}'.format(1, 999999999) }}",
    "padding-method": "{{ 'x'.zfill(999999999) }}",
}


@pytest.mark.parametrize("payload", list(BOMBS.values()), ids=list(BOMBS))
def test_a_resource_bomb_in_a_template_is_refused_quickly(store, qms_subprocess, complaint,
                                                          tmp_path, payload):
    """A one-line template that asks for gigabytes or hours is refused before it takes
    them (exit 2, naming the template), not after the 30 s limit."""
    write_template(store, payload)
    out = tmp_path / "form.md"
    r = bounded(qms_subprocess, "render", ID, "-o", str(out), timeout=QUICK)
    refused(r)
    assert TEMPLATE in r.err and not out.exists(), r.text


def test_ordinary_formatting_in_a_template_still_works(store, qms, complaint):
    """The guards refuse sizes, not formatting: widths, powers and repeats a form uses."""
    write_template(store, "{{ '%05d' % 42 }}|{{ '{:>4}'.format(7) }}|{{ 'ab'|center(6) }}|"
                          "{{ 2 ** 10 }}|{{ '-' * 3 }}|{{ 'x'.ljust(3) }}|{{ '%.2f'|format(1.5) }}")
    r = qms("render", ID, "-o", "-")
    assert r.code == 0, r.text
    assert "00042|   7|  ab  |1024|---|x  |1.50" in r.out, r.text


def test_an_endless_template_is_stopped_by_the_time_limit(store, qms_subprocess, complaint):
    """Ten billion empty iterations: stopped at 30 s, exit 2, nothing printed."""
    write_template(store, "{% for i in range(100000) %}{% for j in range(100000) %}"
                          "{% endfor %}{% endfor %}")
    r = bounded(qms_subprocess, "render", ID, timeout=90)
    refused(r)
    assert "30 s" in r.err and TEMPLATE in r.err and r.out == "", r.text


def test_a_template_over_256_kib_is_refused(store, qms, complaint):
    """A valid template that would render fine, only too long to read."""
    write_template(store, "{# " + "x" * (256 * 1024) + " #}")
    r = qms("render", ID)
    refused(r)
    assert TEMPLATE in r.err and "262,144" in r.err and r.out == "", r.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_built_in_forms_still_render(qms, complaint, lang):
    r = qms("render", ID, "--lang", lang)
    assert r.code == 0, r.text
    assert r.out.startswith("# 测试汽车部件有限公司") and ID in r.out and "接头渗油" in r.out


# ============================================ 2. values escaped in forms

DESCRIPTIONS = {
    "script": "<script>alert(1)</script>",
    "img": "<img src=x onerror=alert(1)>",
    "js-link": "[x](javascript:alert(1))",
    "js-autolink": "see JaVaScRiPt:alert(1) or <javascript:alert(1)>",
    "data-image": "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "table-pipe": "a|b",
    "line-break": "x\n# heading\n| forged | row |",
    "line-separator": "x\u2028# heading",
    "entity": "&lt;script&gt;",
    "code-span": "`code`",
    "html-comment": "<!-- hide the rest",
}


def form_problems(form: str) -> list[str]:
    """What a Markdown form must never contain, whatever a value held."""
    problems = []
    if re.search(r"(?i)<\s*(script|img|a\b|iframe|!--)", form):
        problems.append("raw HTML tag")
    if re.search(r"(?i)(javascript|data|vbscript):", form):
        problems.append("an unescaped javascript:/data: scheme")
    for line in form.splitlines():
        if re.match(r" {0,3}#+ *(heading|Injected)", line) or line.startswith("| forged"):
            problems.append(f"injected line: {line!r}")
    for ch in RAW_CONTROLS + ("\r", "\x0b", "\x0c", "\u2028", "\u2029"):
        if ch in form:
            problems.append(f"raw {ch!r}")
    return problems


def cell_of(form: str, label: str) -> str:
    """The value cell of the table row labelled `label`; exactly one cell after it."""
    row = next(ln for ln in form.splitlines() if ln.startswith(f"| {label} |"))
    cells = re.split(r"(?<!\\)\|", row)
    assert len(cells) == 4, f"the value made extra table cells: {row!r}"
    return cells[2].strip()


@pytest.mark.parametrize("value", list(DESCRIPTIONS.values()), ids=list(DESCRIPTIONS))
def test_a_value_set_with_qms_is_escaped_in_the_form(qms, complaint, value):
    r = qms("complaint", "set", ID, f"description={value}", who=QE)
    assert r.code == 0, r.text
    for lang, label in (("zh", "投诉内容"), ("en", "Complaint")):
        form = qms("render", ID, "--lang", lang).out
        assert form_problems(form) == [], form
        cell = cell_of(form, label)
        if value == "a|b":
            assert cell == r"a\|b"
        if value.startswith("&lt;"):
            assert cell.startswith("&amp;lt;"), cell  # shows the text "&lt;", not "<"
        if value == "`code`":
            assert cell == r"\`code\`"
        if "javascript" in value.lower():
            assert re.search(r"(?i)javascript\\:", cell), cell


def test_a_hand_edited_record_is_escaped_in_the_form(store, qms):
    """Every kind of line break a YAML file can hold (CR, CRLF, VT, FF, NEL, LS, PS)
    becomes <br>, so no value starts a heading or a table row of its own."""
    breaks = "\r# heading1\r\n# heading2\x0b# heading3\x0c# heading4\x85# heading5" \
             "\u2028# heading6\u2029# heading7\n# heading8"
    plant(store, description=y("a" + breaks + "<script>x</script>|b"),
          customer=y("<img src=x onerror=alert(1)>"), part=y("[x](javascript:alert(1))"))
    for lang in ("zh", "en"):
        r = qms("render", ID, "--lang", lang)
        assert r.code == 0, r.text
        assert form_problems(r.out) == [], r.out
        assert cell_of(r.out, "投诉内容" if lang == "zh" else "Complaint").count("<br>") == 8


def test_a_company_name_with_line_breaks_injects_nothing(store, qms, complaint):
    """qms.yaml hand-edited: the company heading stays one heading on forms and ledgers."""
    cfg = (store / "qms.yaml").read_text(encoding="utf-8")
    (store / "qms.yaml").write_text(
        cfg.replace("company: 测试汽车部件有限公司",
                    'company: "ACME\\n# Injected\\r# Injected\\u2028# Injected <b>x</b>"'),
        encoding="utf-8")
    commit_all(store)
    for args in (["render", ID], ["render", ID, "--lang", "en"],
                 ["report", "complaints", "--format", "md", "-o", "-"]):
        r = qms(*args)
        assert r.code == 0, r.text
        assert r.out.startswith("# ACME") and form_problems(r.out) == [], r.out
        assert "<b>" not in r.out


# ================================================ 3. terminal control characters

CONTROLS = {
    "\x1b[2J": "U+001B (ESC)", "\x07": "U+0007 (BEL)", "\x9b31m": "U+009B (CSI)",
    "\x9d0;t": "U+009D (OSC)", "\x85": "U+0085 (next line (NEL))", "\x7f": "U+007F (DEL)",
    "\u202e": "U+202E (right-to-left override)", "\u2066": "U+2066", "\x00": "U+0000 (NUL)",
    "\x08": "U+0008 (backspace)",
}


@pytest.mark.parametrize("ch", list(CONTROLS), ids=[n.split()[0] for n in CONTROLS.values()])
def test_a_control_character_is_refused_at_write(store, qms, complaint, ch):
    """(NUL cannot be on a real command line; in-process it gets the same refusal.)"""
    before = snapshot(store)
    r = qms("complaint", "set", ID, f"description=a{ch}b", who=QE)
    refused(r)
    assert "description" in r.err and CONTROLS[ch] in r.err, r.text
    r = qms("complaint", "set", ID, "batch=B2", "--comment", f"why{ch}", who=QE)
    refused(r)
    assert "--comment" in r.err and CONTROLS[ch] in r.err, r.text
    assert snapshot(store) == before


@pytest.mark.parametrize("args", [
    ["complaint", "set", ID, "quantity_affected=" + "9" * 5000],
    ["complaint", "set", ID, "channel=" + "z" * 5000],
    ["complaint", "set", ID, "received_at=2026-03-02T" + "9" * 5000],
    ["complaint", "show", "CMP-" + "1" * 5000],
], ids=["number", "choice", "date", "id"])
def test_a_long_refused_value_makes_a_short_message(store, qms, complaint, args):
    """A refusal quotes the start of a long value and says how long it was: the field is
    named and the message stays one line, whatever was pasted."""
    before = snapshot(store)
    r = qms(*args, who=QE)
    refused(r)
    assert len(r.err) < 400 and r.err.count("\n") == 1, r.text[:600]
    assert re.search(r"…' \(5,0\d\d characters\)", r.err), r.text[:600]
    if args[1] == "set":
        assert r.err.startswith("qms: " + args[3].split("=")[0] + ": "), r.text[:600]
    assert snapshot(store) == before


@pytest.mark.parametrize("company", ["ACME\x1b[2J", "ACME\n# Injected", "ACME\r", "ACME\u202e"])
def test_init_refuses_a_company_name_with_controls(qms, tmp_path, company):
    new = tmp_path / "new-store"
    r = qms("init", str(new), "--company", company, root=False, cwd=tmp_path)
    refused(r)
    assert "--company" in r.err and "U+" in r.err, r.text
    assert not new.exists()


def test_stored_controls_are_shown_escaped(store, qms):
    """A record, a commit message and an author name with ESC, BEL, CSI, OSC and an RLO,
    committed by plain git: every command prints them as escapes (the four characters
    \\x1b, or \\u001b in JSON), never the bytes a terminal acts on; validate reports it."""
    plant(store, description=y("a\x1b[2Jb\x07c\x9b31m\x9d0;title\x07\u202eevil"),
          part=y("P\x1b]0;pwned\x07N"), batch=y("B\x1b[31m"))
    path = record_path(store)
    path.write_text(path.read_text(encoding="utf-8") + "translation: x\n", encoding="utf-8")
    commit_all(store, "merge \x1b[2J\x1b]0;title\x07 from B\n\nbody \x1b[31m red",
               env=identity_env(("Eve\x1b[2J", "eve@example.com")))
    for args in (["complaint", "show", ID], ["complaint", "list"], ["log", ID],
                 ["render", ID], ["render", ID, "--lang", "en"],
                 ["report", "complaints", "--format", "md", "-o", "-"]):
        r = qms(*args)
        assert r.code == 0, r.text
        assert not [c for c in RAW_CONTROLS if c in r.text], (args, r.text)
        assert "\\x1b" in r.out, (args, r.out)
    for args in (["complaint", "show", ID], ["complaint", "list"], ["log", ID]):
        r = qms("--json", *args)
        assert r.code == 0 and "\\u001b" in r.out, (args, r.text)
        assert not [c for c in RAW_CONTROLS if c in r.text], (args, r.text)
        json.loads(r.out)
    log = qms("log", ID).out
    assert "Eve\\x1b" in log and "body \\x1b" in log, log
    r = qms("validate")
    assert r.code == 1, r.text
    for field in ("description", "product.part_number", "batch"):
        assert re.search(rf"{re.escape(field)}: .*U\+001B", r.out), r.text
    assert not [c for c in RAW_CONTROLS if c in r.text], r.text


@pytest.mark.parametrize("ch", ["\u202e", "\u2066"], ids=["RLO", "LRI"])  # YAML itself refuses C0 and C1
def test_a_control_character_typed_raw_in_a_file_is_reported(store, qms, ch):
    """Not as a YAML escape but the character itself, in a plain value: validate
    reports it (these are the files with no backslash in them)."""
    plant(store, description=f"接头{ch}渗油")
    assert "\\" not in record_path(store).read_text(encoding="utf-8")
    r = qms("validate")
    assert r.code == 1, r.text
    assert re.search(rf"description: .*U\+{ord(ch):04X}", r.out), r.text


# ============================================================ 4. exports stay data

FORMULAS = ['=HYPERLINK("http://x","click")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1",
            "＝1+1", "＋1", "－1", "＠x", "   =1+1", " \t-1"]


def csv_rows(text: str) -> dict[str, list[str]]:
    return {row[0]: row for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if row}


def xlsx_rows(data: bytes) -> dict:
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(data)).active
    return {row[0].value: row for row in ws.iter_rows()}


def test_a_formula_stays_text_in_csv_and_xlsx(store, qms, tmp_path):
    """A customer name that a spreadsheet would run (= + - @, tab, full-width ＝ ...)
    gets a leading ' in csv, and is a string cell (never a formula) in xlsx with the
    exact text; the date and the number stay a date and a number."""
    ids = {}
    for value in FORMULAS:
        fields = [a for a in RECEIVED if not a.startswith("customer.name=")]
        r = qms("complaint", "new", *sets(*fields, f"customer.name={value}", f"batch={value}",
                                         "quantity_affected=120"), who=QE)
        assert r.code == 0, r.text
        ids[r.out.strip()] = value
    r = qms("report", "complaints", "--format", "csv", "-o", "-")
    assert r.code == 0, r.text
    rows = csv_rows(r.out)
    for rid, value in ids.items():
        assert rows[rid][2] == "'" + value and rows[rid][4] == "'" + value, rows[rid]
    xlsx = tmp_path / "ledger.xlsx"
    r = qms("report", "complaints", "--format", "xlsx", "-o", str(xlsx))
    assert r.code == 0, r.text
    rows = xlsx_rows(xlsx.read_bytes())
    for rid, value in ids.items():
        name, batch = rows[rid][2], rows[rid][4]
        assert (name.data_type, name.value) == ("s", value), (rid, name.data_type, name.value)
        assert (batch.data_type, batch.value) == ("s", value), (rid, batch.data_type, batch.value)
        assert isinstance(rows[rid][1].value, datetime) and rows[rid][1].data_type == "d"
        assert rows[rid][5].value == 120 and rows[rid][5].data_type == "n"


def test_hand_edited_formulas_and_controls_stay_text(store, qms, tmp_path):
    """Formulas in a number field and a date field, a leading CR, and characters an xlsx
    cannot hold (VT, NUL, U+FFFE), committed by hand: exported as text, escaped."""
    plant(store, quantity_affected=y('=HYPERLINK("http://x")'),
          received_at=y("@SUM(1+1)*cmd|' /C calc'!A0"),
          batch=y("\r=1+1\x0b\x00\x1b[2J\ufffe"), customer=y("\n-1+1"))
    r = qms("report", "complaints", "--format", "csv", "-o", "-")
    assert r.code == 0, r.text
    row = csv_rows(r.out)[ID]
    assert row[1].startswith("'@") and row[5].startswith("'="), row
    for cell in row:  # nothing a spreadsheet would start as a formula, no raw controls
        assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r", "\n")), row
        assert not [c for c in RAW_CONTROLS + ("\r", "\x0b") if c in cell], row
    r = run_bytes(store, "report", "complaints", "--format", "xlsx", "-o", "-")
    assert r.returncode == 0 and r.stdout.startswith(b"PK"), r.stderr.decode()
    cells = xlsx_rows(r.stdout)[ID]
    assert all(c.data_type != "f" for c in cells), [(c.value, c.data_type) for c in cells]
    assert (cells[5].data_type, cells[5].value) == ("s", '=HYPERLINK("http://x")')
    assert cells[1].data_type == "s" and cells[1].value.startswith("@SUM")
    assert cells[4].data_type == "s" and "\\x0b" in cells[4].value and "\\x00" in cells[4].value


def test_a_stores_own_report_labels_stay_text(store, qms, tmp_path):
    """A store's reports/NAME.yaml is store text too: its title and column labels."""
    spec = (Path(__file__).resolve().parent.parent / "qms_cli" / "reports" / "complaints.yaml")
    text = spec.read_text(encoding="utf-8").replace(
        "label: {zh: 客诉台账, en: Complaints ledger}", 'label: {zh: "=1+1", en: "=1+1"}')
    text += '  - {label: {zh: "=HYPERLINK(\\"http://x\\")", en: "@x"}, path: batch}\n'
    (store / "reports").mkdir()
    (store / "reports" / "evil.yaml").write_text(text, encoding="utf-8")
    plant(store)
    r = qms("report", "evil", "--format", "csv", "-o", "-")
    assert r.code == 0, r.text
    assert csv_rows(r.out)["客诉编号"][-1] == "'=HYPERLINK(\"http://x\")", r.out
    r = run_bytes(store, "report", "evil", "--format", "xlsx", "-o", "-")
    assert r.returncode == 0, r.stderr.decode()
    head = xlsx_rows(r.stdout)["客诉编号"]
    assert (head[-1].data_type, head[-1].value) == ("s", '=HYPERLINK("http://x")')


# =================================================== 5. no way out of the store


@pytest.fixture
def other(tmp_path) -> Path:
    """Another plant's store next to ours, with a record of its own."""
    root = make_store(tmp_path / "other")
    plant(root, customer=y("OTHER-PLANT-SECRET"))
    return root


def test_validate_reports_every_link_and_follows_none(store, qms_subprocess, other, tmp_path):
    plant(store)
    victim = tmp_path / "victim.yaml"
    victim.write_text("types: []\n", encoding="utf-8")
    links = {
        "records/complaint/CMP-2026-0002.yaml": "/etc/passwd",
        "records/complaint/CMP-2026-0003.yaml": str(record_path(other)),
        "records/complaint/CMP-2026-0004.yaml": "/dev/zero",
        "files/letter.pdf": "/etc/passwd",
        "types": str(other / "records"),
        "reports/x.yaml": str(victim),
        "qms-anchors.txt": "/etc/passwd",
    }
    for rel, target in links.items():
        (store / rel).parent.mkdir(parents=True, exist_ok=True)
        (store / rel).symlink_to(target)
    commit_all(store)
    r = bounded(qms_subprocess, "validate", timeout=60)
    assert r.code == 1, r.text
    for rel in links:
        assert re.search(rf"^{re.escape(rel)}: .*symbolic link", r.out, re.MULTILINE), (rel, r.text)
    assert "root:" not in r.text and "OTHER-PLANT-SECRET" not in r.text


@pytest.mark.parametrize("target", ["/etc/passwd", "other", "/dev/zero"])
def test_a_record_that_is_a_link_is_never_read(store, qms_subprocess, other, target):
    plant(store)
    link = store / "records" / "complaint" / "CMP-2026-0002.yaml"
    link.symlink_to(record_path(other) if target == "other" else target)
    commit_all(store)
    before = snapshot(store)
    two = "CMP-2026-0002"
    for args in (["complaint", "show", two], ["--json", "complaint", "show", two],
                 ["render", two], ["complaint", "set", two, "batch=X"]):
        r = bounded(qms_subprocess, *args, who=QE, timeout=60)
        refused(r)
        assert "records/complaint/CMP-2026-0002.yaml" in r.err and "symbolic link" in r.err, r.text
        assert "root:" not in r.text and "OTHER-PLANT-SECRET" not in r.text
    r = bounded(qms_subprocess, "complaint", "list", timeout=60)
    assert r.code == 0 and ID in r.out and "OTHER-PLANT-SECRET" not in r.text, r.text
    assert snapshot(store) == before


def test_a_record_folder_that_links_to_another_store(store, qms, other):
    """records/complaint -> the other plant's folder: nothing read from it, nothing
    written into it."""
    (store / "records").mkdir()
    (store / "records" / "complaint").symlink_to(other / "records" / "complaint")
    commit_all(store)
    theirs, before = snapshot(other), snapshot(store)
    r = qms("validate")
    assert r.code == 1, r.text
    assert re.search(r"^records/complaint: .*symbolic link", r.out, re.MULTILINE), r.text
    for args in (["complaint", "list"], ["report", "complaints", "-o", "-"]):
        r = qms(*args)  # an empty list, and a word on why
        assert r.code == 0 and ID not in r.out, r.text
        assert r.err.startswith("qms: records/complaint: ") and "symbolic link" in r.err, r.text
    for args in (["complaint", "show", ID], ["complaint", "set", ID, "batch=EVIL"],
                 ["complaint", "new", *sets(*RECEIVED)]):
        r = qms(*args, who=QE)
        refused(r)
        assert "records/complaint" in r.err and "OTHER-PLANT-SECRET" not in r.text, r.text
    assert snapshot(other) == theirs and snapshot(store) == before


def test_a_new_record_is_never_written_through_a_linked_folder(store, qms, other, tmp_path):
    """The numbering folder records/complaint/CMP-2026-00xx links into another plant's
    store: reading skips it, so the next ID's file would land there; the write refuses
    it by name, and neither store changes."""
    with (store / "qms.yaml").open("a", encoding="utf-8") as f:
        f.write("shard: hundred\n")
    bucket = store / "records" / "complaint" / "CMP-2026-00xx"
    bucket.parent.mkdir(parents=True)
    target = tmp_path / "elsewhere"
    target.mkdir()
    bucket.symlink_to(target)
    commit_all(store)
    theirs, before = snapshot(other), snapshot(store)
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    refused(r)
    assert r.err.startswith("qms: records/complaint/CMP-2026-00xx: ") and "symbolic link" in r.err, r.text
    assert "nothing was written" in r.err and list(target.iterdir()) == [], r.text
    assert snapshot(other) == theirs and snapshot(store) == before


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


@pytest.mark.parametrize("where", ["reports/laughs.yaml", "types/complaint.yaml"])
def test_a_declaration_of_a_billion_aliased_values_is_refused(store, qms_subprocess, where):
    """Nine lines of YAML aliases that expand to a billion values (the "billion
    laughs"), in a store's own report or record type: refused at once, naming the file."""
    path = store / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LAUGHS + "type: complaint\ncolumns: *i\n", encoding="utf-8")
    commit_all(store)
    args = ("report", "laughs") if where.startswith("reports/") else ("complaint", "list")
    r = bounded(qms_subprocess, *args, timeout=60)
    refused(r)
    assert r.err.startswith(f"qms: {where}: ") and "200,000 values" in r.err, r.text


def test_linked_reports_and_anchors_are_refused(store, qms, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("label: x\ntype: complaint\ncolumns: [id]\n", encoding="utf-8")
    (store / "reports").mkdir()
    (store / "reports" / "x.yaml").symlink_to(victim)
    (store / "qms-anchors.txt").symlink_to(victim)
    plant(store)
    before = snapshot(store)
    r = qms("report", "x")
    refused(r)
    assert "reports/x.yaml" in r.err and "symbolic link" in r.err, r.text
    r = qms("audit", "--anchor", who=QE)
    assert r.code in (1, 2) and "qms-anchors.txt" in r.text and "symbolic link" in r.text, r.text
    assert victim.read_text(encoding="utf-8").startswith("label: x\n")
    assert snapshot(store) == before


def advance_to_clarified(qms, rid: str) -> None:
    for state, fields in (
        ("acknowledged", ["contact.at=2026-03-06T10:40", "contact.by=李雷",
                          "contact.summary=已联系", "interim_countermeasure=全检"]),
        ("investigating", ["investigation.departments=质控部"]),
        ("clarified", ["investigation.result=合格", "responsibility=not_ours",
                       "clarification=已澄清"]),
    ):
        r = qms("complaint", "move", rid, state, *sets(*fields), who=QE)
        assert r.code == 0, r.text


CLOSE = ["customer_confirmation.result=accepted", "customer_confirmation.at=2026-03-10"]


@pytest.mark.parametrize("kind", ["fifo", "link-to-passwd", "link-to-dev-zero", "sparse-300-mb"])
def test_an_attached_file_that_is_not_a_plain_small_file(store, qms, qms_subprocess, complaint,
                                                          kind):
    """Named in original_file: a pipe or a link is refused when named; a link swapped
    in later, or a 300 MB file, is refused when closing pins it (by its size, unread)."""
    files = store / "files"
    files.mkdir()
    attached = files / "x.pdf"
    attached.write_bytes(b"%PDF-1.4\n")
    git(store, "add", "files")
    git(store, "commit", "-q", "-m", "the customer's letter")
    r = qms("complaint", "set", ID, "original_file=files/x.pdf", who=QE)
    assert r.code == 0, r.text
    advance_to_clarified(qms, ID)
    if kind == "sparse-300-mb":
        with open(attached, "wb") as f:
            f.truncate(300 * 1024 * 1024)
    elif kind == "fifo":
        attached.unlink()
        os.mkfifo(attached)
    elif kind.startswith("link"):
        attached.unlink()
        attached.symlink_to("/etc/passwd" if kind == "link-to-passwd" else "/dev/zero")
    before = snapshot(store)
    if kind != "sparse-300-mb":  # named again: refused at once
        r = bounded(qms_subprocess, "complaint", "set", ID, "batch=B2", "original_file=files/x.pdf",
                    who=QE, timeout=QUICK)
        refused(r)
        assert "files/x.pdf" in r.err, r.text
    r = bounded(qms_subprocess, "complaint", "move", ID, "closed", *sets(*CLOSE), who=QM,
                timeout=QUICK)
    refused(r)
    assert "files/x.pdf" in r.err and "original_file" in r.err, r.text
    if kind == "sparse-300-mb":
        assert "314,572,800" in r.err, r.text
    assert snapshot(store) == before


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "sparse-300-mb"])
def test_file_option_refuses_what_is_not_a_small_file(store, qms_subprocess, tmp_path, kind):
    path = Path("/dev/zero")
    if kind == "fifo":
        path = tmp_path / "fields.yaml"
        os.mkfifo(path)
    elif kind == "sparse-300-mb":
        path = tmp_path / "fields.yaml"
        with open(path, "wb") as f:
            f.truncate(300 * 1024 * 1024)
    before = snapshot(store)
    r = bounded(qms_subprocess, "complaint", "new", "--file", str(path), who=QE, timeout=QUICK)
    refused(r)
    assert str(path) in r.err, r.text
    assert snapshot(store) == before


OUTPUTS = ["qms.yaml", "records/x.md", "records/complaint/CMP-2026-0001.yaml", ".git/config",
           ".git/hooks/pre-commit", ".qms/x", "templates/complaint.en.md.j2", ".gitignore",
           "linkdir/x.md", "gitcfg", "dangling", "records/../qms.yaml", "OUTSIDE-LINK"]


@pytest.mark.parametrize("name", OUTPUTS)
def test_output_never_lands_on_the_store(store, qms, complaint, tmp_path, name):
    """-o names a file of the store (or a link that leads into it): refused, the file
    as it was. A hard link to qms.yaml is replaced, never written through."""
    tmpl = store / "templates" / "complaint.en.md.j2"
    tmpl.parent.mkdir()
    tmpl.write_text("{{ id }}\n", encoding="utf-8")
    commit_all(store)
    (store / "linkdir").symlink_to("records")
    (store / "gitcfg").symlink_to(".git/config")
    (store / "dangling").symlink_to(".git/hooks/pre-commit")
    (tmp_path / "OUTSIDE-LINK").symlink_to(store / "qms.yaml")
    target = tmp_path / name if name == "OUTSIDE-LINK" else store / name
    before, config = snapshot(store), (store / ".git" / "config").read_bytes()
    for args in (["render", ID], ["report", "complaints", "--format", "md"]):
        r = qms(*args, "-o", str(target) if name == "OUTSIDE-LINK" else name, cwd=store)
        refused(r)
        assert snapshot(store) == before, r.text
        assert (store / ".git" / "config").read_bytes() == config
        assert not (store / ".git" / "hooks" / "pre-commit").exists()


def test_output_outside_or_untracked_is_written(store, qms, complaint, tmp_path):
    os.link(store / "qms.yaml", store / "hard.md")
    config = (store / "qms.yaml").read_bytes()
    for out in (tmp_path / "form.md", store / "untracked.md", store / "hard.md"):
        r = qms("render", ID, "-o", str(out))
        assert r.code == 0 and ID in out.read_text(encoding="utf-8"), r.text
    assert (store / "qms.yaml").read_bytes() == config


# =============================================== 6. values every command can handle

WRITE_BOUNDS = {
    "quantity_affected": ["9" * 5000, "1" + "0" * 15, "-1" + "0" * 15, "1e308"],
    "received_at": ["9999-01-01T10:00", "0001-01-01T00:00", "10000-01-01T00:00"],
}


@pytest.mark.parametrize("field,value", [(f, v) for f, vs in WRITE_BOUNDS.items() for v in vs],
                         ids=lambda x: x if len(x) < 30 else f"{len(x)}-chars")
def test_out_of_bounds_values_are_refused_at_write(store, qms, complaint, field, value):
    before = snapshot(store)
    r = qms("complaint", "set", ID, f"{field}={value}", who=QE)
    refused(r)
    assert r.err.startswith(f"qms: {field}:"), r.text
    assert snapshot(store) == before


HAND_BOUNDS = {
    "5000-digit-int": ("quantity_affected", "9" * 5000),
    "4000-digit-int": ("quantity_affected", "9" * 4000),
    "16-digit-int": ("quantity_affected", "1" + "0" * 15),
    "infinite-float": ("quantity_affected", "1e999"),
    "nan": ("quantity_affected", ".nan"),
    "year-9999": ("received_at", "9999-01-01T10:00:00+08:00"),
    "year-1": ("received_at", "0001-01-01T00:00:00-23:59"),
}


@pytest.mark.parametrize("case", list(HAND_BOUNDS))
def test_out_of_bounds_values_by_hand_are_reported_not_crashed_on(store, qms, tmp_path, case):
    field, value = HAND_BOUNDS[case]
    plant(store, **{field: value})
    r = qms("validate")
    assert r.code == 1, r.text
    assert re.search(rf"^records/complaint/{ID}\.yaml:\d+: {field}:", r.out, re.MULTILINE), r.text
    for args in (["complaint", "show", ID], ["--json", "complaint", "show", ID],
                 ["complaint", "list"],
                 ["render", ID], ["render", ID, "--lang", "en"],
                 ["report", "complaints", "--format", "md", "-o", "-"],
                 ["report", "complaints", "--format", "csv", "-o", "-"],
                 ["report", "complaints", "--format", "xlsx", "-o", str(tmp_path / "l.xlsx")]):
        r = qms(*args)
        assert r.code in (0, 1, 2) and "Traceback" not in r.text, (args, r.text[-2000:])


def test_a_ledger_names_a_record_it_cannot_read(store, qms, tmp_path):
    """A merged record that cannot be read (5,000 digits, broken YAML) must not vanish
    from the complaints ledger without a word: it is listed or named on stderr."""
    plant(store)
    plant(store, "CMP-2026-0002", quantity_affected="9" * 5000)
    plant(store, "CMP-2026-0003", batch="[broken")
    for fmt in ("md", "csv"):
        r = qms("report", "complaints", "--format", fmt, "-o", "-")
        assert r.code in (0, 1) and ID in r.out, r.text
        for rid in ("CMP-2026-0002", "CMP-2026-0003"):
            assert rid in r.text, f"{fmt}: {rid} silently left out of the ledger\n{r.text}"


# =================================================== 7. recovery before reading

SLOW_HOOK = '#!/bin/sh\ntouch "{marker}"\nsleep 30\n'


def kill_during_commit(store: Path, *args: str) -> None:
    """Start `qms ARGS` whose commit hangs in a pre-commit hook; SIGKILL its whole
    process group (qms and its git) once the commit has started."""
    marker = store / ".git" / "hook-started"
    hook = store / ".git" / "hooks" / "pre-commit"
    hook.write_text(SLOW_HOOK.format(marker=marker), encoding="utf-8")
    hook.chmod(0o755)
    proc = subprocess.Popen([sys.executable, "-m", "qms_cli", "-C", str(store), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=store,
                            env={**os.environ, **identity_env(QE)}, start_new_session=True)
    end = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "the commit never started"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    hook.unlink()


@pytest.mark.parametrize("read", [["complaint", "show", ID], ["--json", "complaint", "show", ID],
                                  ["render", ID]], ids=["show", "json-show", "render"])
def test_a_read_after_a_killed_write_shows_the_committed_value(store, qms, complaint, read):
    """The killed `set` left its value in the file; the next command, a read, rolls it
    back first and shows what git holds, and says so."""
    r = qms("complaint", "set", ID, "batch=COMMITTED", who=QE)
    assert r.code == 0, r.text
    head = git(store, "rev-parse", "HEAD")
    kill_during_commit(store, "complaint", "set", ID, "batch=KILLED")
    assert "KILLED" in record_path(store).read_text(encoding="utf-8"), "premise: the kill left it"
    r = qms(*read)
    assert r.code == 0, r.text
    assert "COMMITTED" in r.out and "KILLED" not in r.out, r.text
    assert "rolled back" in r.err, r.text
    assert git(store, "rev-parse", "HEAD") == head
    assert git(store, "status", "--porcelain", "--untracked-files=all") == ""


# ==================================================== 8. audit in linear time


def test_audit_of_a_record_with_20000_keys_finishes(store, qms_subprocess):
    """Two hand commits of a ~400 KB record with 20,000 keys, every value changed."""
    base = hand_record()
    path = plant(store)
    for word in ("value", "changed"):
        keys = "".join(f"k{i:05d}: {word} {i}\n" for i in range(20000))
        path.write_text(base + keys, encoding="utf-8")
        commit_all(store)
    r = bounded(qms_subprocess, "audit", timeout=120)
    assert r.code in (0, 1), r.text[-2000:]
    assert "Traceback" not in r.text and "internal error" not in r.err, r.text[-2000:]
    r = bounded(qms_subprocess, "validate", timeout=120)
    assert r.code in (0, 1) and "Traceback" not in r.text, r.text[-2000:]


def test_audit_reports_a_commit_that_adds_a_link_under_records(store, qms, other):
    plant(store)
    (store / "records" / "complaint" / "CMP-2026-0002.yaml").symlink_to(record_path(other))
    (store / "records" / "document").symlink_to(other / "records" / "complaint")
    commit_all(store)
    r = qms("audit")
    assert r.code == 1, r.text
    for rel in ("records/complaint/CMP-2026-0002.yaml", "records/document"):
        assert re.search(rf"{re.escape(rel)}: .*symbolic link", r.out), (rel, r.text)
    assert "OTHER-PLANT-SECRET" not in r.text
