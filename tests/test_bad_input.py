"""Bad input never hurts (CLI.md "Exit codes"): each case below gets a short error on
stderr starting with 'qms: ', exit 1 (refused) or 2 (bad usage or input), no Python
traceback, and leaves the store exactly as it was: same HEAD, same `git status`, same
index, same bytes in every file. Run in a child process, as a user would see it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import QE, QM, RECEIVED, git, sets

ID = "CMP-2026-0001"
BROKEN = "CMP-2026-0002"

GOOD_HEAD = f"""\
id: {BROKEN}
type: complaint
state: received
"""
GOOD_TAIL = """\
product:
  part_number: 5QD 611 701 B
channel: phone
received_at: 2026-03-06T10:00:00+08:00
original: oral
description: 接头渗油
class: general
"""


def snapshot(root: Path):
    files = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] in (".git", ".qms") or not p.is_file():
            continue
        files[rel.as_posix()] = p.read_bytes()
    if not (root / ".git").exists():
        return (None, None, None, files)
    return (
        git(root, "rev-parse", "HEAD"),
        git(root, "status", "--porcelain", "--untracked-files=all"),
        git(root, "ls-files", "-s"),
        files,
    )


@pytest.fixture
def seeded(qms, store) -> Path:
    """The store with one complaint, committed; nothing else going on."""
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code == 0 and r.out.strip() == ID, r.text
    assert git(store, "status", "--porcelain", "--untracked-files=all") == ""
    return store


def commit_record(store: Path, name: str, text: str) -> None:
    path = store / "records" / "complaint" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    git(store, "add", "-A")
    git(store, "commit", "-q", "-m", f"hand-written {name}")


def both(qms, qms_subprocess):
    """`run(*args, sub=True)` runs in a child process (the exact bytes a user sees, and
    proof there is no traceback); without `sub`, in-process (fast, same contract)."""

    def run(*args, sub=False, **kw):
        return (qms_subprocess if sub else qms)(*args, **kw)

    return run


@pytest.fixture
def cli(qms, qms_subprocess):
    return both(qms, qms_subprocess)


def short_error(r, code: int, *words: str, max_lines: int = 1) -> None:
    assert r.code == code, f"exit {r.code}, expected {code}\nstdout: {r.out}\nstderr: {r.err}"
    assert "Traceback" not in r.err and "Traceback" not in r.out, r.err
    assert r.err.startswith("qms: "), r.err
    assert "internal error" not in r.err, r.err
    lines = r.err.rstrip("\n").splitlines()
    assert 1 <= len(lines) <= max_lines, r.err
    for w in words:
        assert w in r.err, f"{w!r} not in {r.err!r}"


def unchanged(root: Path, before) -> None:
    assert snapshot(root) == before


# ------------------------------------------------------------------- unknown ID, type, move


@pytest.mark.parametrize(
    "args",
    [
        ["complaint", "show", "CMP-2026-0404"],
        ["complaint", "set", "CMP-2026-0404", "batch=x"],
        ["complaint", "move", "CMP-2026-0404", "acknowledged"],
        ["log", "CMP-2026-0404"],
        ["render", "CMP-2026-0404"],
    ],
)
def test_an_unknown_id(seeded, qms_subprocess, args):
    before = snapshot(seeded)
    r = qms_subprocess(*args, who=QE)
    short_error(r, 2, "CMP-2026-0404")
    unchanged(seeded, before)


def test_an_unknown_record_type_is_a_usage_error(seeded, qms_subprocess):
    before = snapshot(seeded)
    r = qms_subprocess("nonsense", "new", "--set", "x=1", who=QE)
    assert r.code == 2, r.text
    assert "Traceback" not in r.err
    assert "nonsense" in r.err  # the parser's own message, typer's convention
    unchanged(seeded, before)


def test_a_move_that_does_not_exist_is_refused(seeded, qms_subprocess):
    before = snapshot(seeded)
    r = qms_subprocess("complaint", "move", ID, "closed", who=QM)
    short_error(r, 1, ID, "closed", "acknowledged")
    unchanged(seeded, before)


def test_an_unknown_state_is_bad_input(seeded, qms_subprocess):
    before = snapshot(seeded)
    r = qms_subprocess("complaint", "move", ID, "archived", who=QE)
    short_error(r, 2, "archived")
    unchanged(seeded, before)


# ------------------------------------------------------------------------ unparsable values


SUBPROCESS_VALUES = {"quantity_affected=abc", "received_at=2026-13-45", "class=huge", "channel=fax"}


@pytest.mark.parametrize(
    "assignment, words",
    [
        ("quantity_affected=abc", ["quantity_affected", "abc"]),
        ("quantity_affected=-3", ["quantity_affected", "-3"]),
        ("received_at=2026-13-45", ["received_at", "2026-13-45"]),
        ("received_at=2026-03-06", ["received_at"]),  # a date is not a moment
        ("class=huge", ["class", "huge", "general"]),
        ("channel=fax", ["channel", "fax", "phone"]),
        ("major_quality_problem=perhaps", ["major_quality_problem", "perhaps"]),
        ("colour=red", ["colour"]),  # no such field
        ("customer..name=x", ["customer..name"]),
        ("customer=上汽", ["customer"]),  # a group, not a value
    ],
)
def test_an_unparsable_value_in_new(seeded, cli, assignment, words):
    before = snapshot(seeded)
    field = assignment.split("=", 1)[0]
    args = [a for a in RECEIVED if not a.startswith(field + "=")] + [assignment]
    r = cli("complaint", "new", *sets(*args), who=QE, sub=assignment in SUBPROCESS_VALUES)
    short_error(r, 2, *words)
    unchanged(seeded, before)


@pytest.mark.parametrize("verb", ["set", "move"])
@pytest.mark.parametrize(
    "assignment",
    [
        "quantity_affected=abc",
        "contact.at=2026-13-45T10:00",
        "channel=fax",
        "disposition=rework,burn",
    ],
)
def test_an_unparsable_value_in_set_and_move(seeded, qms, verb, assignment):
    before = snapshot(seeded)
    if verb == "set":
        r = qms("complaint", "set", ID, assignment, who=QE)
    else:
        r = qms("complaint", "move", ID, "acknowledged", "--set", assignment, who=QE)
    short_error(r, 2, assignment.split("=")[0])
    unchanged(seeded, before)


# ------------------------------------------------------------------------ broken records


BROKEN_RECORDS = {
    "bad indentation": GOOD_HEAD + "customer:\n    name: 上汽大众\n  phone: 021-1234\n" + GOOD_TAIL,
    "unclosed bracket": GOOD_HEAD + "customer: {name: 上汽大众, phone: 021-1234\n" + GOOD_TAIL,
    "tab indentation": GOOD_HEAD + "customer:\n\tname: 上汽大众\n" + GOOD_TAIL,
    "anchor and alias": GOOD_HEAD
    + "customer: &c\n  name: 上汽大众\n"
    + GOOD_TAIL
    + "contact: *c\n",
    "anchor alone": GOOD_HEAD + "customer: &c\n  name: 上汽大众\n" + GOOD_TAIL,
    "custom tag": GOOD_HEAD + "customer:\n  name: !python/object:builtins.object {}\n" + GOOD_TAIL,
    "python apply tag": GOOD_HEAD
    + "customer:\n  name: 上汽大众\n"
    + GOOD_TAIL
    + 'batch: !!python/object/apply:os.system ["touch PWNED"]\n',
    "duplicate keys": GOOD_HEAD + "customer:\n  name: 上汽大众\n" + GOOD_TAIL + "class: serious\n",
    "id not the file name": GOOD_HEAD.replace(f"id: {BROKEN}", "id: CMP-2026-0003")
    + "customer:\n  name: 上汽大众\n"
    + GOOD_TAIL,
    "not a mapping": "- id: CMP-2026-0002\n- state: received\n",
    "empty file": "",
    "not utf-8": (GOOD_HEAD + "customer:\n  name: 上汽大众\n" + GOOD_TAIL)
    .encode("gbk")
    .decode("latin-1"),
    "unknown state": GOOD_HEAD.replace("state: received", "state: archived")
    + "customer:\n  name: 上汽大众\n"
    + GOOD_TAIL,
    "bad timestamp": GOOD_HEAD
    + "customer:\n  name: 上汽大众\n"
    + GOOD_TAIL.replace("2026-03-06T10:00:00+08:00", "2026-13-45T10:00:00+08:00"),
}


@pytest.mark.parametrize("kind", list(BROKEN_RECORDS))
def test_a_broken_record_file(seeded, cli, kind):
    text = BROKEN_RECORDS[kind]
    path = seeded / "records" / "complaint" / f"{BROKEN}.yaml"
    if kind == "not utf-8":
        path.write_bytes(text.encode("latin-1"))
        git(seeded, "add", "-A")
        git(seeded, "commit", "-q", "-m", "gbk record")
    else:
        commit_record(seeded, BROKEN, text)
    before = snapshot(seeded)
    for sub, args in (
        (True, ["complaint", "show", BROKEN]),
        (False, ["complaint", "set", BROKEN, "batch=B2"]),
        (False, ["complaint", "move", BROKEN, "acknowledged", "--set", "contact.by=李雷"]),
    ):
        r = cli(*args, who=QE, sub=sub)
        short_error(r, 2, f"{BROKEN}.yaml")
        unchanged(seeded, before)
    assert not (seeded / "PWNED").exists()
    # the other records can still be listed; the broken one is named, not crashed on
    r = cli("complaint", "list", "--json", who=QE)
    assert "Traceback" not in r.err and f"{BROKEN}.yaml" in r.err, r.text
    assert ID in r.out
    unchanged(seeded, before)


def test_a_yaml_error_names_the_line(seeded, qms):
    commit_record(seeded, BROKEN, BROKEN_RECORDS["bad indentation"])
    r = qms("complaint", "show", BROKEN)
    short_error(r, 2, f"records/complaint/{BROKEN}.yaml:6")


def test_an_input_file_with_an_alias_or_envelope_keys_is_refused(seeded, cli, tmp_path):
    before = snapshot(seeded)
    aliased = tmp_path / "aliased.yaml"
    aliased.write_text("customer: &c {name: 上汽}\ncontact: *c\n", encoding="utf-8")
    r = cli("complaint", "new", "--file", str(aliased), *sets(*RECEIVED), who=QE, sub=True)
    short_error(r, 2, "aliased.yaml")
    enveloped = tmp_path / "enveloped.yaml"
    enveloped.write_text("state: closed\n", encoding="utf-8")
    r = cli("complaint", "new", "--file", str(enveloped), *sets(*RECEIVED), who=QE)
    short_error(r, 2, "state")
    r = cli("complaint", "new", "--file", str(tmp_path / "missing.yaml"), *sets(*RECEIVED), who=QE)
    short_error(r, 2, "missing.yaml")
    unchanged(seeded, before)


# ---------------------------------------------------------------------------- path-like IDs


@pytest.mark.parametrize(
    "bad_id",
    [
        "../x",
        "../../etc/passwd",
        "a/b",
        f"{ID}/../../x",
        "/etc/passwd",
        "..",
        ".hidden",
        "CMP 2026",
    ],
)
def test_a_path_like_id(seeded, cli, bad_id):
    before = snapshot(seeded)
    for sub, args in (
        (True, ["complaint", "show", bad_id]),
        (False, ["complaint", "set", bad_id, "batch=x"]),
        (False, ["complaint", "move", bad_id, "acknowledged"]),
        (False, ["log", bad_id]),
        (False, ["render", bad_id]),
    ):
        r = cli(*args, who=QE, sub=sub)
        short_error(r, 2, bad_id)
        unchanged(seeded, before)


# ------------------------------------------------------------------------- not a store


def test_a_folder_without_qms_yaml(seeded, qms_subprocess, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = qms_subprocess("complaint", "list", root=empty)
    short_error(r, 2, "qms.yaml")
    r = qms_subprocess("complaint", "new", *sets(*RECEIVED), root=False, cwd=empty, who=QE)
    short_error(r, 2, "qms.yaml")
    r = qms_subprocess("complaint", "list", root=tmp_path / "nowhere")
    short_error(r, 2, "nowhere")
    assert list(empty.iterdir()) == []


def test_a_folder_with_qms_yaml_that_is_not_a_git_repository(seeded, qms_subprocess, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "qms.yaml").write_bytes((seeded / "qms.yaml").read_bytes())
    before = snapshot(plain)
    for args in (["complaint", "list"], ["complaint", "new", *sets(*RECEIVED)], ["validate"]):
        r = qms_subprocess(*args, root=plain, who=QE)
        short_error(r, 2, "git")
        unchanged(plain, before)
    assert not (plain / ".git").exists()


EVERY = [
    ["complaint", "show", ID],
    ["complaint", "new", *sets(*RECEIVED)],
    ["complaint", "list", "--overdue"],
    ["validate"],
]


@pytest.mark.parametrize(
    "config, words, commands",
    [
        ("company: 测试\nroles: [unclosed\n", ["qms.yaml"], EVERY),
        ("company: 测试\n\troles: {}\n", ["qms.yaml"], EVERY),
        ("company: &a 测试\nsite: *a\n", ["qms.yaml"], EVERY),
        ("- just\n- a list\n", ["qms.yaml"], EVERY),
        ("company: 测试\ntimezone: Mars/Olympus\n", ["qms.yaml", "Mars/Olympus"], EVERY[:3]),
        # the calendar is needed to show and list deadlines
        ("company: 测试\ncalendar: {holidays: [someday]}\n", ["qms.yaml", "calendar"], EVERY[::2]),
    ],
)
def test_a_broken_qms_yaml(seeded, cli, config, words, commands):
    (seeded / "qms.yaml").write_text(config, encoding="utf-8")
    git(seeded, "commit", "-q", "-am", "broken configuration")
    before = snapshot(seeded)
    for i, args in enumerate(commands):
        r = cli(*args, who=QE, env={"QMS_NOW": "2026-03-06T11:00"}, sub=i == 0)
        if args == ["validate"]:  # validate reports it as a finding
            assert r.code in (1, 2), r.text
            assert "Traceback" not in r.err and "qms.yaml" in r.text
        else:
            short_error(r, 2, *words)
        unchanged(seeded, before)


def test_a_broken_role_holder_in_qms_yaml(seeded, qms_subprocess):
    text = (seeded / "qms.yaml").read_text("utf-8").replace("until: 2026-05-31", "until: someday")
    (seeded / "qms.yaml").write_text(text, encoding="utf-8")
    git(seeded, "commit", "-q", "-am", "broken role")
    before = snapshot(seeded)
    r = qms_subprocess("complaint", "move", ID, "cancelled", "--set", "cancel_reason=重复", who=QM)
    short_error(r, 2, "qms.yaml", "roles")
    unchanged(seeded, before)


# ------------------------------------------------------------------------------ --set misuse


@pytest.mark.parametrize(
    "args",
    [
        ["complaint", "new", *sets(*RECEIVED, "batch")],
        ["complaint", "set", ID, "batch"],
        ["complaint", "move", ID, "acknowledged", "--set", "contact.by"],
    ],
)
def test_set_without_equals(seeded, qms_subprocess, args):
    before = snapshot(seeded)
    r = qms_subprocess(*args, who=QE)
    short_error(r, 2, "batch" if "batch" in args else "contact.by", "=")
    unchanged(seeded, before)


@pytest.mark.parametrize(
    "assignment",
    [
        "state=closed",
        "id=X",
        "id=CMP-2026-0009",
        "type=document",
        "signatures=none",
        "signatures.0.email=eve@example.com",
    ],
)
@pytest.mark.parametrize("verb", ["new", "set", "move"])
def test_the_envelope_is_not_set_by_hand(seeded, cli, assignment, verb):
    before = snapshot(seeded)
    if verb == "new":
        r = cli("complaint", "new", *sets(*RECEIVED, assignment), who=QE, sub=True)
    elif verb == "set":
        r = cli("complaint", "set", ID, assignment, who=QE)
    else:
        r = cli(
            "complaint",
            "move",
            ID,
            "cancelled",
            "--set",
            "cancel_reason=x",
            "--set",
            assignment,
            who=QM,
        )
    short_error(r, 2, assignment.split("=")[0].split(".")[0])
    unchanged(seeded, before)


@pytest.mark.parametrize(
    "assignment",
    [
        "original_file=files/../secret",
        "original_file=/etc/passwd",
        "original_file=../secret.pdf",
        "original_file=files/complaint/../../secret.pdf",
        "original_file=C:\\Windows\\win.ini",
        "report.file=/etc/shadow",
        "attachments+=files/../../x",
        "attachments=files/a.pdf,/etc/passwd",
    ],
)
def test_a_file_field_pointing_outside_files(seeded, cli, assignment):
    before = snapshot(seeded)
    sub = assignment in ("original_file=files/../secret", "original_file=/etc/passwd")
    r = cli("complaint", "set", ID, assignment, who=QE, sub=sub)
    short_error(r, 2, assignment.split("=")[0].rstrip("+"), "files/")
    unchanged(seeded, before)


# ------------------------------------------------------------------------ no git identity


def test_a_missing_git_identity(seeded, qms_subprocess, monkeypatch, tmp_path):
    git(seeded, "config", "--unset", "user.name")
    git(seeded, "config", "--unset", "user.email")
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.delenv("EMAIL", raising=False)
    probe = subprocess.run(
        ["git", "var", "GIT_AUTHOR_IDENT"], cwd=seeded, capture_output=True, text=True, check=False
    )
    assert probe.returncode != 0, "the premise: git itself does not know who this is"
    before = snapshot(seeded)
    for args in (
        ["complaint", "new", *sets(*RECEIVED)],
        ["complaint", "set", ID, "batch=x"],
        ["complaint", "move", ID, "cancelled", "--set", "cancel_reason=x"],
    ):
        r = qms_subprocess(*args)
        short_error(r, 2, "git config user.email")
        unchanged(seeded, before)
    # reading needs no identity
    r = qms_subprocess("complaint", "show", ID, "--json")
    assert r.code == 0, r.text


def test_init_without_a_git_identity(qms_subprocess, monkeypatch, tmp_path):
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.delenv("EMAIL", raising=False)
    target = tmp_path / "new-store"
    r = qms_subprocess("init", str(target), root=False, cwd=tmp_path)
    short_error(r, 2, "git config user.email")
    assert not target.exists()


def test_the_error_text_is_the_same_in_process(seeded, qms):
    """The in-process runner shows the same contract (used by the faster tests)."""
    r = qms("complaint", "set", ID, "quantity_affected=abc", who=QE)
    assert r.code == 2 and r.err.startswith("qms: ") and "quantity_affected" in r.err, r.text


def test_no_change_when_a_set_is_refused_halfway(seeded, qms_subprocess):
    """Several assignments: a bad one at the end keeps the good ones from being written."""
    before = snapshot(seeded)
    r = qms_subprocess(
        "complaint", "set", ID, "batch=B2", "quantity_affected=12", "class=huge", who=QE
    )
    short_error(r, 2, "class")
    unchanged(seeded, before)


def test_a_record_hand_edited_into_an_invalid_value_refuses_further_edits(seeded, qms_subprocess):
    path = seeded / "records" / "complaint" / f"{ID}.yaml"
    path.write_text(
        path.read_text("utf-8").replace("class: general", "class: huge"), encoding="utf-8"
    )
    git(seeded, "commit", "-q", "-am", "hand edit")
    before = snapshot(seeded)
    r = qms_subprocess("complaint", "set", ID, "batch=B2", who=QE)
    assert r.code == 2, r.text
    assert "Traceback" not in r.err and r.err.startswith("qms: ") and "class" in r.err
    unchanged(seeded, before)


def test_validate_of_a_store_with_a_broken_record_does_not_crash(seeded, qms_subprocess):
    commit_record(seeded, BROKEN, textwrap.dedent(BROKEN_RECORDS["python apply tag"]))
    before = snapshot(seeded)
    r = qms_subprocess("validate")
    assert r.code == 1, r.text
    assert "Traceback" not in r.err and f"{BROKEN}.yaml" in r.out
    assert not (seeded / "PWNED").exists()
    unchanged(seeded, before)


# ------------------------------------------- cases the robustness suite found (kept as examples)


def test_a_signature_without_a_readable_time_is_shown(seeded, qms_subprocess):
    path = seeded / "records" / "complaint" / f"{ID}.yaml"
    path.write_text(path.read_text("utf-8") + "signatures:\n  - meaning: received\n    at: never\n", "utf-8")
    git(seeded, "commit", "-q", "-am", "hand edit")
    r = qms_subprocess("complaint", "show", ID)
    assert r.code == 0 and "Traceback" not in r.err, r.text
    assert "never" in r.out


def test_a_tag_its_value_cannot_take_names_the_line(seeded, cli):
    path = seeded / "records" / "complaint" / f"{ID}.yaml"
    text = path.read_text("utf-8")
    line = text.splitlines().index("channel: phone") + 1
    path.write_text(text.replace("channel: phone", "channel: !!float phone"), "utf-8")
    git(seeded, "commit", "-q", "-am", "hand edit")
    before = snapshot(seeded)
    for args in (["complaint", "set", ID, "batch=B2"], ["complaint", "show", ID]):
        r = cli(*args, who=QE, sub=True)
        short_error(r, 2, f"{ID}.yaml:{line}")
        unchanged(seeded, before)


def test_a_reused_anchor_gives_one_message_and_no_python_warning(seeded, qms_subprocess):
    path = seeded / "records" / "complaint" / f"{ID}.yaml"
    path.write_text(path.read_text("utf-8") + "a: &x [1]\nb: &x [2]\n", "utf-8")
    git(seeded, "commit", "-q", "-am", "hand edit")
    before = snapshot(seeded)
    r = qms_subprocess("complaint", "set", ID, "batch=B2", who=QE)
    short_error(r, 2, "anchors")
    unchanged(seeded, before)


def test_a_finding_stays_on_one_line(seeded, qms_subprocess):
    path = seeded / "records" / "complaint" / f"{ID}.yaml"
    path.write_text(path.read_text("utf-8") + '"odd\\nfield": 1\n', "utf-8")
    git(seeded, "commit", "-q", "-am", "hand edit")
    r = qms_subprocess("validate")
    found = [ln for ln in r.out.splitlines() if "odd" in ln]
    assert len(found) == 1 and "odd\\nfield" in found[0], r.text
    assert not any(ln.startswith("field") for ln in r.out.splitlines()), r.text


def test_a_value_typed_on_a_gbk_terminal_names_the_field(seeded, store):
    import os
    import sys

    from conftest import identity_env

    before = snapshot(seeded)
    argv = [sys.executable, "-m", "qms_cli", "-C", str(store), "complaint", "set", ID,
            "batch=".encode() + "批次".encode("gbk")]
    p = subprocess.run(argv, capture_output=True, env=dict(os.environ, **identity_env(QE), LANG="C.UTF-8"))
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 2 and err.startswith("qms: batch:") and "UTF-8" in err, err
    unchanged(seeded, before)


def test_a_value_yaml_would_change_is_refused(seeded, qms):
    before = snapshot(seeded)
    r = qms("complaint", "set", ID, "batch=B\x852", who=QE)
    short_error(r, 2, "batch", "U+0085")
    unchanged(seeded, before)


@pytest.mark.parametrize("args", [["--help"], ["complaint", "show", ID], ["complaint", "list"]])
def test_output_to_a_full_disk_is_said_in_one_line(seeded, args):
    """Standard output that cannot be written (/dev/full: no space left) is bad input,
    said in one line, not an internal error or a traceback."""
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full here")
    before = snapshot(seeded)
    with full.open("w") as out:
        p = subprocess.run([sys.executable, "-m", "qms_cli", "-C", str(seeded), *args], stdout=out,
                           stderr=subprocess.PIPE, text=True, env={**os.environ, "QMS_LANG": "en"}, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr, p.stderr
    assert "<stdout>" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    unchanged(seeded, before)


@pytest.mark.parametrize("args", [["complaint", "show", "CMP-2026-0001"], ["report", "complaints"]])
def test_output_read_in_part_ends_quietly(sample, args):
    """`qms ... | head -1`: the reader stops early; qms ends with 0 and says nothing (a
    record shown at a terminal goes through rich, whose own end would be 1)."""
    fcntl = pytest.importorskip("fcntl")
    if not hasattr(fcntl, "F_SETPIPE_SZ"):
        pytest.skip("a pipe's size is set on Linux")
    read, write = os.pipe()
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)  # the form is longer: qms waits for the reader
    p = subprocess.Popen([sys.executable, "-m", "qms_cli", "-C", str(sample), *args], stdout=write,
                         stderr=subprocess.PIPE)
    os.close(write)
    with os.fdopen(read, "rb") as out:
        assert out.read(1)
    err = p.communicate(timeout=120)[1]
    assert p.returncode == 0, err
    assert err == b"", err


@pytest.mark.parametrize("closed", [1, 2])
def test_a_closed_output_is_no_traceback(seeded, closed):
    """`qms --help >&-` (or `2>&-`): Python has no sys.stdout (sys.stderr) at all; qms ends
    as it would have with it, not with a traceback from its own end."""
    if not hasattr(os, "fork"):
        pytest.skip("a descriptor closed for the child is POSIX's")
    p = subprocess.run([sys.executable, "-m", "qms_cli", "-C", str(seeded), "--help"],
                       stdout=subprocess.PIPE if closed == 2 else None,
                       stderr=subprocess.PIPE if closed == 1 else None,
                       preexec_fn=lambda: os.close(closed), env={**os.environ, "QMS_LANG": "en"}, timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert not (p.stderr or b"").strip(), p.stderr


def test_a_store_file_that_cannot_be_written_is_not_said_to_be_the_output(seeded):
    """A record's write that fails for want of room (here: a file-size limit, EFBIG) is said
    in one line naming what could not be written, not as standard output (which is fine),
    and nothing is changed."""
    resource = pytest.importorskip("resource")
    before = snapshot(seeded)

    def small() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))

    p = subprocess.run([sys.executable, "-m", "qms_cli", "-C", str(seeded), "complaint", "set", ID, "batch=B-17"],
                       capture_output=True, text=True, preexec_fn=small, timeout=120,
                       env={**os.environ, "QMS_LANG": "en", "GIT_AUTHOR_NAME": QE[0], "GIT_AUTHOR_EMAIL": QE[1],
                            "GIT_COMMITTER_NAME": QE[0], "GIT_COMMITTER_EMAIL": QE[1]})
    assert p.returncode == 2, p.stderr
    assert "<stdout>" not in p.stderr and "internal error" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.startswith("qms: ") and "cannot write" in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr
    unchanged(seeded, before)
