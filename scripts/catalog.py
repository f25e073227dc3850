"""Keep the Chinese message catalog in step with the code (needs Babel: `pip install -e '.[test]'`).

    python scripts/catalog.py update [FRAGMENT.json ...]
        extract every _("..."), N_("...") and ngettext("...", "...", n) from qms_cli/,
        rewrite qms_cli/locale/zh/LC_MESSAGES/qms.po with them (translations kept; ones no
        longer in the code dropped; a JSON fragment {"English": "中文"} fills new ones)
        and compile qms.mo beside it.
    python scripts/catalog.py missing FRAGMENT.json FILE.py ...
        what the catalog and the fragment leave untranslated in those files.
    python scripts/catalog.py check
        list what is untranslated, stale or inconsistent; exit 1 if anything is.

The test suite runs the same check (tests/test_i18n.py)."""

from __future__ import annotations

import io
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qms_cli"
PO = PACKAGE / "locale" / "zh" / "LC_MESSAGES" / "qms.po"
MO = PO.with_suffix(".mo")
# click's and typer's own words (Usage:, Options, Error: ...), translated by hand
PARSER_PO = PO.with_name("click.po")
PARSER_MO = PARSER_PO.with_suffix(".mo")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")


def extracted() -> dict[str | tuple[str, str], list[tuple[str, int]]]:
    """Every message in the code, with where it is made."""
    found: dict = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        if isinstance(message, tuple):
            message = tuple(message[:2])
        found.setdefault(message, []).append((f"qms_cli/{filename}", lineno))
    return found


def load(path: Path = PO) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale="zh", domain=path.stem)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def problems(catalog: Catalog | None = None) -> list[str]:
    """What is wrong with the catalog, one line each (empty when it is in step)."""
    catalog = catalog or load()
    code = extracted()
    out = []
    for message, places in sorted(code.items(), key=lambda kv: str(kv[0])):
        where = "%s:%d" % places[0]
        singular = message[0] if isinstance(message, tuple) else message
        if any(p == "" or p.isdigit() for p in placeholders(singular)):
            out.append(f"{where}: placeholders must be named, not {{}} or {{0}}: {singular!r}")
        entry = catalog.get(message)
        if entry is None or not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)):
            out.append(f"{where}: no Chinese translation: {singular!r}")
            continue
        if entry.fuzzy:
            out.append(f"{where}: translation marked fuzzy: {singular!r}")
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for s in strings:
            if placeholders(s) != placeholders(singular) and not (isinstance(message, tuple) and placeholders(s) == placeholders(message[1])):
                out.append(f"{where}: placeholders differ: {singular!r} -> {s!r}")
    for entry in catalog:
        if entry.id and entry.id not in code:
            out.append(f"{PO.relative_to(ROOT)}: no longer in the code: {entry.id!r}")
    if not MO.exists() or MO.read_bytes() != compiled(catalog):
        out.append(f"{MO.relative_to(ROOT)}: not compiled from qms.po (run scripts/catalog.py update)")
    parser = load(PARSER_PO)
    for entry in parser:
        if not entry.id:
            continue
        singular = entry.id[0] if isinstance(entry.id, tuple) else entry.id
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = placeholders(entry.id[-1] if isinstance(entry.id, tuple) else entry.id)
        if not all(strings) or entry.fuzzy:
            out.append(f"{PARSER_PO.relative_to(ROOT)}: no Chinese translation: {singular!r}")
        elif any(placeholders(s) != wanted for s in strings):
            out.append(f"{PARSER_PO.relative_to(ROOT)}: placeholders differ: {singular!r}")
    if not PARSER_MO.exists() or PARSER_MO.read_bytes() != compiled(parser):
        out.append(f"{PARSER_MO.relative_to(ROOT)}: not compiled from click.po (run scripts/catalog.py update)")
    return out


def compiled(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def update(fragments: list[Path]) -> Catalog:
    old = load() if PO.exists() else Catalog(locale="zh", domain="qms")
    extra: dict[str, str] = {}
    for path in fragments:
        extra.update(json.loads(path.read_text(encoding="utf-8")))
    fixed = datetime(2026, 12, 6, tzinfo=timezone.utc)  # a header that changes with every run would change qms.mo
    new = Catalog(locale="zh", domain="qms", project="qms", version="1", fuzzy=False, charset="utf-8",
                  msgid_bugs_address="", last_translator="qms developers", language_team="qms",
                  creation_date=fixed, revision_date=fixed)
    new.header_comment = "# Chinese messages of qms.\n# Edit the msgstr lines; run scripts/catalog.py update after changing the code."
    for message, places in extracted().items():
        entry = old.get(message)
        string = entry.string if entry is not None and not entry.fuzzy else ""
        key = message[0] if isinstance(message, tuple) else message
        if key in extra and extra[key]:
            value = extra[key]
            string = (value,) if isinstance(message, tuple) else value  # Chinese has one plural form
        new.add(message, string, locations=sorted(places))
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as f:
        write_po(f, new, width=100, sort_output=True, omit_header=False, include_lineno=False)
    catalog = load()
    MO.write_bytes(compiled(catalog))
    PARSER_MO.write_bytes(compiled(load(PARSER_PO)))
    return catalog


def missing(fragment: Path, files: list[str]) -> list[str]:
    """Messages made in `files` that neither the catalog nor the JSON fragment translates,
    or whose translation has other placeholders (for translating part of the code)."""
    extra = json.loads(fragment.read_text(encoding="utf-8")) if fragment.exists() else {}
    catalog = load()
    wanted = {str((ROOT / f).resolve()) for f in files}
    out = []
    for message, places in extracted().items():
        if not any(str((ROOT / p).resolve()) in wanted for p, _ in places):
            continue
        key = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(message)
        string = extra.get(key) or (entry.string if entry is not None else "")
        string = string[0] if isinstance(string, tuple) else string
        if not string:
            out.append("%s:%d: untranslated: %r" % (places[0] + (key,)))
        elif placeholders(string) != placeholders(key):
            out.append("%s:%d: placeholders differ: %r -> %r" % (places[0] + (key, string)))
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] == "missing" and len(argv) > 2:
        found = missing(Path(argv[1]), argv[2:])
        print("\n".join(found + [f"{len(found)} problems"]))
        return 1 if found else 0
    if not argv or argv[0] not in ("update", "check"):
        print(__doc__)
        return 2
    if argv[0] == "update":
        update([Path(a) for a in argv[1:]])
    found = problems()
    for line in found:
        print(line)
    print(f"{len(extracted())} messages; {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
