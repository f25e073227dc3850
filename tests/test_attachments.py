"""Attachments: the customer's letter, the 8D report, photos. `--set FIELD=@PATH` and
`qms TYPE attach` copy the file under files/TYPE/ID/, pin it, and commit it with the record,
so that a clone of the store (its CI) holds what the record names."""

from __future__ import annotations

import subprocess

import pytest

from conftest import QE, RECEIVED, REGISTERED, git, sets


def _letter(tmp_path, name="客户来函.pdf", data=b"%PDF-1.4 letter"):
    p = tmp_path / "outside" / name
    p.parent.mkdir(exist_ok=True)
    p.write_bytes(data)
    return p


def _written(letter):
    return [a.replace("original=oral", "original=written") for a in RECEIVED] + [f"original_file=@{letter}"]


def test_a_letter_attached_at_registration_is_in_the_same_commit_and_in_a_clone(qms, store, tmp_path):
    letter = _letter(tmp_path)
    r = qms("complaint", "new", *sets(*_written(letter)), who=QE, env=REGISTERED)
    assert r.code == 0, r.text
    cid = r.out.strip()
    rel = f"files/complaint/{cid}/客户来函.pdf"
    assert git(store, "status", "--porcelain").strip() == ""  # nothing left untracked
    shown = git(store, "-c", "core.quotepath=off", "show", "--name-only", "--format=", "HEAD").split()
    assert rel in shown and any(p.endswith(f"{cid}.yaml") for p in shown)
    rec = qms("complaint", "show", cid, "--json")
    import hashlib
    import json

    data = json.loads(rec.out)
    assert hashlib.sha256(letter.read_bytes()).hexdigest() in json.dumps(data, ensure_ascii=False)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(store), str(clone)], check=True)
    assert (clone / rel).read_bytes() == letter.read_bytes()
    v = qms("validate", root=clone)
    assert v.code == 0, v.text


def test_an_attached_file_changed_afterwards_is_found_by_validate(qms, store, tmp_path):
    letter = _letter(tmp_path)
    cid = qms("complaint", "new", *sets(*_written(letter)), who=QE, env=REGISTERED).out.strip()
    (store / "files" / "complaint" / cid / "客户来函.pdf").write_bytes(b"%PDF-1.4 forged")
    v = qms("validate")
    assert v.code == 1 and "客户来函.pdf" in v.out + v.err, v.text


def test_the_same_name_with_other_content_never_overwrites_evidence(qms, store, tmp_path, complaint):
    first = _letter(tmp_path, "照片.jpg", b"photo one")
    assert qms("complaint", "set", complaint, f"attachments+=@{first}", who=QE).code == 0
    second = _letter(tmp_path, "照片.jpg", b"photo two")
    r = qms("complaint", "set", complaint, f"attachments+=@{second}", who=QE)
    assert r.code == 0, r.text
    folder = store / "files" / "complaint" / complaint
    assert (folder / "照片.jpg").read_bytes() == b"photo one"
    assert (folder / "照片-2.jpg").read_bytes() == b"photo two"
    r = qms("complaint", "set", complaint, f"attachments+=@{second}", who=QE)  # the same again: the same file
    assert r.code == 0
    assert sorted(p.name for p in folder.iterdir()) == ["照片-2.jpg", "照片.jpg"]


@pytest.mark.parametrize("config, size, ok", [("", 3 << 20, True), ("attachments: {max_mb: 2}\n", 3 << 20, False)])
def test_a_size_limit_that_the_store_sets(qms, store, tmp_path, complaint, config, size, ok):
    if config:
        (store / "qms.yaml").write_text((store / "qms.yaml").read_text(encoding="utf-8") + config, encoding="utf-8")
        git(store, "commit", "-q", "-am", "limit")
    big = _letter(tmp_path, "scan.pdf", b"x" * size)
    head = git(store, "rev-parse", "HEAD")
    r = qms("complaint", "set", complaint, f"attachments+=@{big}", who=QE)
    if ok:
        assert r.code == 0, r.text
    else:
        assert r.code == 1 and "at most 2 MB (qms.yaml attachments.max_mb)" in r.err, r.text
        assert git(store, "rev-parse", "HEAD") == head
        assert not (store / "files" / "complaint" / complaint).exists()
        assert git(store, "status", "--porcelain").strip() == ""


@pytest.mark.parametrize("what, says", [
    ("missing", "no such file"),
    ("folder", "is a folder"),
    ("empty", "'@' names no file"),
    ("nohome", "no home folder for '~nobody-here'"),
    ("device", "is not a regular file"),
])
def test_what_cannot_be_attached_is_refused_and_nothing_changes(qms, store, tmp_path, complaint, what, says):
    arg = {"missing": str(tmp_path / "nope.pdf"), "folder": str(tmp_path), "empty": "",
           "nohome": "~nobody-here/letter.pdf", "device": "/dev/zero"}[what]
    head = git(store, "rev-parse", "HEAD")
    r = qms("complaint", "set", complaint, f"attachments+=@{arg}", who=QE)
    assert r.code == 2 and says in r.err and "attachments" in r.err, r.text
    assert git(store, "rev-parse", "HEAD") == head and git(store, "status", "--porcelain").strip() == ""


def test_an_untracked_file_named_by_path_is_refused_with_the_way_to_attach_it(qms, store, tmp_path, complaint):
    (store / "files").mkdir(exist_ok=True)
    (store / "files" / "loose.pdf").write_bytes(b"loose")
    r = qms("complaint", "set", complaint, "attachments+=files/loose.pdf", who=QE)
    assert r.code == 1 and "not committed" in r.err and "=@PATH" in r.err, r.text


def test_the_attach_command(qms, store, tmp_path, complaint):
    a, b = _letter(tmp_path, "a.jpg", b"A"), _letter(tmp_path, "b.jpg", b"B")
    r = qms("complaint", "attach", complaint, "attachments", str(a), str(b), who=QE)
    assert r.code == 0, r.text
    assert "files/complaint/CMP-2026-0001/a.jpg" in r.out and "b.jpg" in r.out
    log = git(store, "log", "-1", "--format=%B")
    assert "QMS-Action: set attachments" in log, log
    assert git(store, "status", "--porcelain").strip() == ""
    one = _letter(tmp_path, "report.pdf", b"8D")
    r = qms("complaint", "attach", complaint, "report.file", str(one), who=QE)
    assert r.code == 0, r.text
    r = qms("complaint", "attach", complaint, "report.file", str(a), str(b), who=QE)
    assert r.code == 2 and "holds one file" in r.err, r.text
    r = qms("complaint", "attach", complaint, "description", str(a), who=QE)
    assert r.code == 2 and "not a file field" in r.err, r.text
