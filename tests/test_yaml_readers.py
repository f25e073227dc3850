"""The two record readers agree: the round-trip reader used to edit one record (ruamel)
and the bulk reader used by validate, lists and reports (libyaml with YAML 1.2 scalars)."""

from __future__ import annotations

import pytest
from conftest import REPO

from qms_cli.files import yamlio
from qms_cli.store import Store
from qms_cli.views import plain

SCALARS = [
    "012", "0o12", "0x1F", "0b101", "1_000", "+12", "-0", "1e3", ".5", "1.", "0.", "-.5e-3", "1e",
    "yes", "no", "on", "off", "Yes", "y", "n", "true", "True", "TRUE", "false", "~", "null", "Null",
    "", ".inf", "-.inf", "12:30", "190:20:30", "2026-03-02", "2026-03-02 09:15:00+08:00",
    "2026-03-02T09:15:00+08:00", "2026-03-02T09:15", "08", "'<<'", "A/0", "a=b", "'='", "5QD 611 701 B", "是",
]


@pytest.mark.parametrize("scalar", SCALARS)
def test_scalars_read_the_same(scalar):
    text = f"id: X\nvalue: {scalar}\nitems: [{scalar or 'x'}]\n"
    assert plain(yamlio.parse(text, "t.yaml", "safe")) == plain(yamlio.parse(text, "t.yaml", "rt"))


def test_every_sample_record_reads_the_same():
    store = Store(REPO)
    n = 0
    for _, path in store.record_files():
        text = path.read_text(encoding="utf-8")
        assert plain(yamlio.parse(text, path.name, "safe")) == plain(yamlio.parse(text, path.name, "rt")), path
        n += 1
    assert n > 100


@pytest.mark.parametrize("text, message", [
    ("a: 1\na: 2\n", "duplicate key"),
    ("a: &x 1\nb: *x\n", "anchors and aliases"),
    ("a: &x 1\n", "anchors and aliases"),
    ("a: !!python/object/apply:os.system [x]\n", "tag"),
    ("a: !foo 1\n", "tag"),
    ("a: [\n", "not valid YAML"),
    ("a: =\n", "value marker"),
    ("a: <<\n", "merge keys"),
    ("a: [x, =]\n", "value marker"),
    ("- 1\n", "expected a mapping"),
    ("a: " + "[" * 80 + "]" * 80 + "\n", "nested"),
])
def test_both_readers_refuse_the_same_files(text, message):
    for kind in ("safe", "rt"):
        with pytest.raises(yamlio.BadInput) as e:
            yamlio.parse(text, "t.yaml", kind)
        assert message in str(e.value), (kind, str(e.value))


def test_merge_keys_are_refused_by_both_readers():
    for kind in ("safe", "rt"):
        with pytest.raises(yamlio.BadInput) as e:
            yamlio.parse("a: 1\n<<: {b: 2}\n", "t.yaml", kind)
        assert "merge keys" in str(e.value)


def test_declarations_read_by_libyaml_are_what_the_full_reader_reads():
    """Declarations are read by libyaml when they hold only plain values (anchors too):
    every declaration, ledger and time-limit profile of the package reads the same both
    ways; merge keys and other tags go to the full reader; an alias bomb is still refused."""
    from pathlib import Path

    from qms_cli.errors import BadFile
    from qms_cli.files import yamlio
    from qms_cli.paths import PACKAGE_DIR

    files = [*sorted((PACKAGE_DIR / "types").glob("*.yaml")), *sorted((PACKAGE_DIR / "reports").glob("*.yaml")),
             PACKAGE_DIR / "time_limits.yaml"]
    assert len(files) > 10
    for path in files:
        raw = path.read_bytes()
        fast = yamlio._declaration_fast(raw)
        assert fast is not None and fast == yamlio.yaml_for("safe").load(raw), path
    merged = b"base: &b {type: text}\nfields:\n  a: {<<: *b, label: A}\n"
    assert yamlio._declaration_fast(merged) is None
    assert yamlio.load_declaration(None, "types/x.yaml", root=Path("."), raw=merged)["fields"]["a"] == {
        "type": "text", "label": "A"}
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9))
    with pytest.raises(BadFile, match="200,000"):
        yamlio.load_declaration(None, "types/x.yaml", root=Path("."), raw=bomb.encode())


@pytest.fixture
def kept_in(tmp_path, monkeypatch):
    """Declarations kept in a folder of this test's own (paths.private_cache)."""
    from qms_cli import paths

    folder = tmp_path / "kept"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(paths, "_PRIVATE", [folder])
    parsed: list[bytes] = []
    real = yamlio._declaration_fast
    monkeypatch.setattr(yamlio, "_declaration_fast", lambda raw: parsed.append(raw) or real(raw))
    return folder, parsed


def test_a_declaration_is_parsed_once_and_kept(kept_in):
    folder, parsed = kept_in
    raw = (REPO / "qms_cli" / "types" / "complaint.yaml").read_bytes()
    first = yamlio.load_declaration(None, "complaint", raw=raw)
    assert len(parsed) == 1 and len(list(folder.glob("declaration-*.json"))) == 1
    second = yamlio.load_declaration(None, "complaint", raw=raw)
    assert len(parsed) == 1 and second == first and second is not first
    second["label"]["zh"] = "changed by its reader"  # each reader gets its own
    assert yamlio.load_declaration(None, "complaint", raw=raw) == first


def test_a_damaged_kept_declaration_is_parsed_again(kept_in):
    folder, parsed = kept_in
    raw = b"type: thing\nlabel: {zh: \xe7\x89\xa9, en: Thing}\nfields: {a: {type: text}}\n"
    want = yamlio.load_declaration(None, "thing", raw=raw)
    for damage in (b"{not json", b"[1, 2]", b""):
        next(folder.glob("declaration-*.json")).write_bytes(damage)
        assert yamlio.load_declaration(None, "thing", raw=raw) == want
    assert len(parsed) == 4


@pytest.mark.parametrize("text", ["type: x\nsince: 2026-03-02\n", "type: x\n1: one\n", "type: x\nn: 123456789012345678901234\n"])
def test_a_declaration_json_cannot_give_back_is_not_kept(kept_in, text):
    folder, parsed = kept_in
    first = yamlio.load_declaration(None, "x", raw=text.encode())
    assert yamlio.load_declaration(None, "x", raw=text.encode()) == first
    assert len(parsed) == 2 and not list(folder.glob("declaration-*.json"))


def test_nothing_is_kept_in_a_folder_others_may_write(tmp_path, monkeypatch):
    import os
    import tempfile

    from qms_cli import paths

    if not hasattr(os, "getuid"):
        pytest.skip("user IDs are POSIX's")
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    folder = tmp_path / f"qms-cache-{os.getuid()}"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setattr(paths, "_PRIVATE", [])
    assert paths.private_cache() is None
    folder.rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    folder.symlink_to(tmp_path / "elsewhere")
    monkeypatch.setattr(paths, "_PRIVATE", [])
    assert paths.private_cache() is None
    folder.unlink()
    monkeypatch.setattr(paths, "_PRIVATE", [])
    assert paths.private_cache() == folder and (folder.stat().st_mode & 0o777) == 0o700


def test_a_declaration_orjson_cannot_write_is_not_kept(kept_in, monkeypatch):
    """Where PyYAML has no libyaml (fastyaml falls back to its pure-Python reader), a
    declaration may hold a lone surrogate ("\\ud800", which libyaml refuses): orjson cannot
    write it, so it is not kept, and it reads as it does without keeping."""
    import yaml

    from qms_cli.files import fastyaml

    class Pure(yaml.SafeLoader):
        yaml_implicit_resolvers = fastyaml.Loader12.yaml_implicit_resolvers
        yaml_constructors = fastyaml.Loader12.yaml_constructors

    monkeypatch.setattr(fastyaml, "compose", lambda text: yaml.compose(text, Loader=Pure))
    folder, parsed = kept_in
    raw = b'type: x\nlabel: {zh: "\\ud800", en: X}\n'
    assert yamlio.load_declaration(None, "x", raw=raw) == {"type": "x", "label": {"zh": "\ud800", "en": "X"}}
    assert len(parsed) == 1 and not list(folder.glob("declaration-*.json"))
