"""A ledger someone filled in (an xlsx workbook or a csv file), read as rows of cells.

A ledger is untrusted input, as a store is: its size is checked before it is read (the
file, and for xlsx what its zip would unpack to), a sheet that declares more rows or
columns than an import takes is refused before its rows are read, and no formula is ever
evaluated: a cell's value is what Excel last computed and saved (openpyxl `data_only`),
or nothing. A csv may be UTF-8 (with or without BOM) or GB18030 (what Excel saves in a
Chinese Windows); a text that qms wrote with a leading ' so that no spreadsheet runs it
(reports' csv guard) gets it back as written.

Standard library, openpyxl (imported when an xlsx is read) and the pure helpers."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from ..errors import BadFile
from ..i18n import N_, _
from ..text import FORMULA_START
from .safefs import read_file

MAX_BYTES = 20 * 1024 * 1024  # the ledger file itself
MAX_UNPACKED = 200 * 1024 * 1024  # what an xlsx may unpack to (a zip bomb is refused)
MAX_ROWS = 20_000  # data rows, besides the title and header rows
MAX_COLUMNS = 200
MAX_CELL = 32_767  # what one Excel cell holds
ZIP = b"PK\x03\x04"
OLE = b"\xd0\xcf\x11\xe0"  # an Excel 97-2003 .xls workbook

Cell = Any  # str, int, float, bool, date, datetime, time or None


@dataclass(frozen=True)
class Sheet:
    """The rows of a ledger's first sheet that hold anything, each with its number as
    the spreadsheet shows it (1 for the first row), cells in column order."""

    source: str
    rows: tuple[tuple[int, tuple[Cell, ...]], ...]


def column_letter(index: int) -> str:
    """The spreadsheet's name of a column from 0: A, B, ..., Z, AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def read(path: Path, source: str | None = None) -> Sheet:
    """The ledger at `path`: an xlsx workbook (its first sheet) or a csv file, told apart by
    their content. Refused (BadFile, exit 2) when it is missing, too big, neither, or
    cannot be read."""
    source = source or str(path)
    raw = read_file(path, MAX_BYTES, source=source, what=N_("a ledger"), follow=True)
    if raw.startswith(ZIP):
        rows = _xlsx_rows(raw, source)
    elif raw.startswith(OLE):
        raise BadFile(source, _("an Excel 97-2003 workbook (.xls): save it as .xlsx (Excel workbook) or .csv"))
    elif path.suffix.lower() in (".csv", ".txt", ".tsv") or not path.suffix:
        rows = _csv_rows(raw, source)
    else:
        raise BadFile(source, _("not an xlsx workbook or a csv file"))
    kept = tuple((n, cells) for n, cells in rows if any(not _blank(c) for c in cells))
    if not kept:
        raise BadFile(source, _("the sheet is empty"))
    return Sheet(source, kept)


def _blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _too_many(source: str, rows: int | None = None, columns: int | None = None) -> BadFile:
    if rows is not None:
        return BadFile(source, _("more than {limit:,} rows; an import takes at most {limit:,} (split the ledger)").format(
            limit=MAX_ROWS))
    return BadFile(source, _("more than {limit} columns; an import takes at most {limit}").format(limit=MAX_COLUMNS))


def _xlsx_rows(raw: bytes, source: str) -> list[tuple[int, tuple[Cell, ...]]]:
    """The rows of the workbook's first sheet, values only (never a formula)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise BadFile(source, _("cannot be read as an xlsx workbook (a damaged zip)")) from None
    if sum(i.file_size for i in infos) > MAX_UNPACKED or len(infos) > 10_000:
        raise BadFile(source, _("unpacks to more than {limit} MB; not a ledger qms imports").format(
            limit=MAX_UNPACKED // (1024 * 1024)))
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds on a file that is not a workbook
        raise BadFile(source, _("cannot be read as an xlsx workbook ({error})").format(
            error=type(e).__name__)) from None
    try:
        if not wb.worksheets:
            raise BadFile(source, _("the workbook has no sheet"))
        ws = wb.worksheets[0]
        try:
            declared_rows, declared_columns = ws.max_row, ws.max_column
        except Exception:  # a dimension that cannot be read: the rows are counted instead
            declared_rows = declared_columns = None
        if declared_rows is not None and declared_rows > MAX_ROWS + 50:
            raise _too_many(source, rows=declared_rows)
        if declared_columns is not None and declared_columns > MAX_COLUMNS:
            raise _too_many(source, columns=declared_columns)
        out: list[tuple[int, tuple[Cell, ...]]] = []
        try:
            for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
                if n > MAX_ROWS + 50:
                    raise _too_many(source, rows=n)
                cells = list(row)
                while cells and _blank(cells[-1]):
                    cells.pop()
                if len(cells) > MAX_COLUMNS:
                    raise _too_many(source, columns=len(cells))
                out.append((n, tuple(_xlsx_cell(c) for c in cells)))
        except BadFile:
            raise
        except Exception as e:
            raise BadFile(source, _("cannot be read as an xlsx workbook ({error})").format(
                error=type(e).__name__)) from None
        return out
    finally:
        wb.close()


def _xlsx_cell(value: Cell) -> Cell:
    """A cell's value as the import reads it: a date-time to the second (Excel keeps
    fractions of a day, which come back a microsecond off)."""
    if isinstance(value, datetime):
        if value.microsecond >= 500_000:
            value = value + timedelta(microseconds=1_000_000 - value.microsecond)
        return value.replace(microsecond=0)
    if isinstance(value, str) and len(value) > MAX_CELL:
        return value[:MAX_CELL]
    if isinstance(value, (str, int, float, bool, date, time)) or value is None:
        return value
    return str(value)


def _csv_rows(raw: bytes, source: str) -> list[tuple[int, tuple[Cell, ...]]]:
    """The rows of a csv file (comma, semicolon or tab separated), texts as written."""
    text = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        raise BadFile(source, _("not a csv file (its text is neither UTF-8 nor GB18030)"))
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    out: list[tuple[int, tuple[Cell, ...]]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        for n, cells in enumerate(reader, start=1):
            if n > MAX_ROWS + 50:
                raise _too_many(source, rows=n)
            while cells and not cells[-1].strip():
                cells.pop()
            if len(cells) > MAX_COLUMNS:
                raise _too_many(source, columns=len(cells))
            out.append((n, tuple(unguarded(c) for c in cells)))
    except csv.Error as e:
        raise BadFile(source, _("cannot be read as csv ({error})").format(error=e)) from None
    return out


def guarded(text: str, spreadsheet_text: str) -> str:
    """A text as a csv ledger holds it, from what reports' guard made of it
    (`spreadsheet_text`): a text that already starts with a ' that `unguarded` would take
    away gets one more, so that every text reads back as written."""
    if spreadsheet_text == text and _starts_guarded(text):
        return "'" + text
    return spreadsheet_text


def unguarded(text: str) -> str:
    """A csv text as it was before the formula guard: a leading ' before what a
    spreadsheet would run (= + - @ ...) or before another ' is taken away."""
    return text[1:] if _starts_guarded(text) else text


def _starts_guarded(text: str) -> bool:
    return text.startswith("'") and text[1:].lstrip(" ").startswith((*FORMULA_START, "'"))
