"""`qms publish DIR` given a store from elsewhere (another plant, a merge request, a
supplier) and used carelessly: every finding of a review, through the real CLI on real
git stores."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import QE, git

NOW = {"QMS_NOW": "2026-03-10T09:00"}


def _commit(root: Path, message: str = "by hand") -> None:
    git(root, "-c", "core.quotepath=off", "add", "-A")
    git(root, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "-m", message)


@pytest.mark.parametrize("where", [b"records/complaint/\xff\xfe.yaml", b"records/complaint/\xe6/CMP-2026-0001.yaml"])
def test_a_record_file_whose_name_is_not_utf8_is_named_and_the_rest_published(qms, sample, tmp_path, where):
    path = os.fsencode(sample) + b"/" + where
    os.makedirs(os.path.dirname(path), exist_ok=True)
    shutil.copyfile(sample / "records" / "complaint" / "CMP-2026-0001.yaml", path)
    _commit(sample)
    shown = where.decode("utf-8", "backslashreplace").rsplit("/", 1)[0] if b"\xe6/" in where \
        else where.decode("utf-8", "backslashreplace")
    site = tmp_path / "site"
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert f"{shown}: its name is not UTF-8 text" in r.err
    assert (site / "zh" / "complaint" / "CMP-2026-0001.html").is_file()
    r = qms("validate", root=sample, env=NOW)
    assert r.code == 1 and f"{shown}: its name is not UTF-8 text" in r.out, r.text
    r = qms("complaint", "list", root=sample, env=NOW)
    assert r.code == 0 and "CMP-2026-0001" in r.out and shown in r.err, r.text
    r = qms("audit", root=sample, env=NOW)
    assert r.code == 1 and "internal error" not in r.text, r.text


def test_a_template_whose_name_is_not_utf8_does_not_stop_a_publish(qms, sample, tmp_path):
    (sample / "templates").mkdir()
    open(os.fsencode(sample / "templates") + b"/\xff.md.j2", "wb").write(b"x")
    _commit(sample)
    r = qms("publish", str(tmp_path / "site"), root=sample, env=NOW)
    assert r.code == 0, r.text


def test_a_first_publish_that_stopped_half_way_is_finished_by_the_next(qms, sample, tmp_path, monkeypatch):
    from qms_cli import publish
    from qms_cli.errors import QmsError

    def stop(*_args):
        raise QmsError("stopped half way")

    site = tmp_path / "site"
    with monkeypatch.context() as m:
        m.setattr(publish._Site, "indexes", stop)
        r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code != 0 and "stopped half way" in r.err
    assert (site / "zh" / "complaint" / "CMP-2026-0001.html").is_file()  # pages were written
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert (site / "zh" / "index.html").is_file()


def test_a_link_in_the_site_folder_takes_no_page_out_of_it(qms, sample, tmp_path):
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mine.txt").write_text("mine", encoding="utf-8")
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    shutil.rmtree(site / "zh" / "complaint")
    (site / "zh" / "complaint").symlink_to(elsewhere)
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 2 and "symbolic link" in r.err, r.text
    assert sorted(p.name for p in elsewhere.iterdir()) == ["mine.txt"]


def test_a_link_or_a_pipe_where_a_page_goes_is_replaced_not_written_through(qms, sample, tmp_path):
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere.html"
    elsewhere.write_text("mine", encoding="utf-8")
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    page = site / "en" / "complaint" / "CMP-2026-0001.html"
    made = page.read_bytes()
    page.unlink()
    page.symlink_to(elsewhere)
    pipe = site / "zh" / "complaint" / "CMP-2026-0001.html"
    pipe.unlink()
    os.mkfifo(pipe)  # a reader of the page would wait for ever
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert elsewhere.read_text(encoding="utf-8") == "mine"
    assert not page.is_symlink() and page.read_bytes() == made
    assert pipe.is_file() and not pipe.is_symlink()


def _forge(site: Path, files: dict) -> None:
    import json

    manifest = json.loads((site / ".qms-publish.json").read_text(encoding="utf-8"))
    manifest["files"].update(files)
    (site / ".qms-publish.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_a_forged_manifest_removes_nothing_publish_did_not_write(qms, sample, tmp_path):
    import hashlib

    site, outside = tmp_path / "site", tmp_path / "outside.txt"
    outside.write_text("outside", encoding="utf-8")
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    (site / "notes.txt").write_text("mine", encoding="utf-8")
    (site / "zh" / "link").symlink_to(tmp_path)
    digest = hashlib.sha256(b"outside").hexdigest()
    _forge(site, {"notes.txt": hashlib.sha256(b"other").hexdigest(), "../outside.txt": digest,
                  "zh/link/outside.txt": digest, str(outside): digest, ".qms-publish.lock": "x",
                  "a\u0000b": "x", "": "x", "zh/../../outside.txt": digest})
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert outside.read_text(encoding="utf-8") == "outside"
    assert (site / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (site / ".qms-publish.lock").exists()
    assert "0 removed" in r.out


def test_a_page_no_longer_made_is_removed_as_before(qms, sample, tmp_path):
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    git(sample, "rm", "-q", "records/complaint/CMP-2026-0001.yaml")
    _commit(sample, "gone")
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert not (site / "zh" / "complaint" / "CMP-2026-0001.html").exists()


@pytest.mark.parametrize("damage", [
    lambda c: c["records"].update({k: {"blob": v["blob"], "id": 7, "refs": 1} for k, v in c["records"].items()}),
    lambda c: c["records"].update({k: {**v, "pages": 5, "history": None} for k, v in c["records"].items()}),
    lambda c: c.update(search={"zh": {"shards": 3}, "en": []}, stats=[], blobs={"x": 1}),
    lambda c: c.update(parts={"complaint": {"token": 1, "fields": 2}}, rows={"token": [], "x": 1}, reports=[]),
])
def test_a_damaged_cache_in_the_site_folder_is_set_aside_and_the_site_made_whole(qms, sample, tmp_path, damage):
    import json

    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    whole = {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()
             and not p.name.startswith(".qms-")}
    r = qms("complaint", "set", "CMP-2026-0013", "description=渗油 again", who=QE, root=sample)
    assert r.code == 0, r.text
    cache = json.loads((site / ".qms-publish-cache.json").read_bytes())
    damage(cache)
    (site / ".qms-publish-cache.json").write_text(json.dumps(cache), encoding="utf-8")
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    now = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file() and not p.name.startswith(".qms-")}
    assert now == set(whole)
    r = qms("publish", str(site), root=sample, env=NOW)  # and the cache it left is sound
    assert r.code == 0 and "0 written" in r.out, r.text


def test_a_language_named_twice_is_published_once(qms, sample, tmp_path):
    r = qms("publish", str(tmp_path / "once"), "--lang", "zh", root=sample, env=NOW)
    assert r.code == 0, r.text
    r2 = qms("publish", str(tmp_path / "twice"), "--lang", "zh,zh", root=sample, env=NOW)
    assert r2.code == 0, r2.text
    assert r2.out == r.out  # the same files, counted once
    r3 = qms("publish", str(tmp_path / "once"), "--lang", "zh,zh", root=sample, env=NOW)
    assert r3.code == 0 and "0 written" in r3.out, r3.text  # the same site: nothing made again


def test_a_record_the_site_cannot_show_is_named_not_silently_left_out(qms, sample, tmp_path):
    text = (sample / "records" / "complaint" / "CMP-2026-0001.yaml").read_text(encoding="utf-8")
    for rid in ("CMP 2026 0101", "中文-0001"):
        (sample / "records" / "complaint" / f"{rid}.yaml").write_text(
            text.replace("id: CMP-2026-0001", f"id: {rid}", 1), encoding="utf-8")
    (sample / "records" / "widget").mkdir()
    (sample / "records" / "widget" / "W-1.yaml").write_text("id: W-1\n", encoding="utf-8")
    _commit(sample)
    r = qms("publish", str(tmp_path / "site"), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert "records/complaint/CMP 2026 0101.yaml: ID 'CMP 2026 0101' cannot name a page" in r.err
    assert "records/complaint/中文-0001.yaml: ID '中文-0001' cannot name a page" in r.err
    assert "records/widget/ is not a record type's folder (not published)" in r.err


def test_a_pipe_in_place_of_a_file_publish_keeps_does_not_keep_it_waiting(qms_subprocess, sample, tmp_path):
    site = tmp_path / "site"
    assert qms_subprocess("publish", str(site), root=sample, env=NOW).code == 0
    r = qms_subprocess("complaint", "set", "CMP-2026-0013", "description=渗油 again", who=QE, root=sample)
    assert r.code == 0, r.text
    kept = sorted(p for p in site.iterdir() if p.name.startswith((".qms-publish-part.", ".qms-publish-rows")))
    assert kept
    for path in kept:
        path.unlink()
        os.mkfifo(path)
    for _again in range(2):  # and so does the publish after it, which the pipes left behind are no use to
        r = qms_subprocess("publish", str(site), root=sample, env=NOW, timeout=60)  # it waited for ever
        assert r.code == 0, r.text


def test_a_type_declaration_whose_name_is_not_utf8_is_a_finding_not_a_type(qms, sample, tmp_path):
    (sample / "types").mkdir()
    open(os.fsencode(sample / "types") + b"/\xff.yaml", "wb").write(b"label: {zh: x, en: x}\n")
    _commit(sample)
    r = qms("validate", root=sample, env=NOW)
    assert r.code == 1 and "types/\\xff.yaml: its name is not UTF-8 text" in r.out, r.text
    assert "\\udcff" not in r.text
    r = qms("publish", str(tmp_path / "site"), root=sample, env=NOW)
    assert r.code == 0, r.text
