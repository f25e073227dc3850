"""Charts of the tallies, declared as data under `chart:` in a report file beside `tally:`:

    chart:                     # one chart, or a list of them: the first that fits the table is drawn
      kind: pareto             # bar | pareto | trend
      value: 1                 # the measure drawn: its position among the tally's columns: (1 = the first)
      line: 3                  # pareto: the cumulative share, drawn as a line on a second axis
      rows: all                # all: the counted rows; totals: the 合计 rows (a tally with totals: true)
      top: 20                  # at most this many bars (the first rows, as the table orders them)

`bar` draws the value per row (labelled by the row's keys), or, on a table per month
(--period 2026), per month with one bar per row; `value` may list several columns of the
same kind (counts, or rates). `trend` draws the value per month, one line per row, and fits
only a table per month; `pareto` draws the rows' counts as bars, most first, with the
cumulative share, and fits only a table that is not per month. A chart that fits nothing
is not drawn; neither is one with nothing to show (a period without records).

`parse` checks a declaration against its tally before a record is read; `plot` picks what
a chart shows out of a built report; `svg` draws it with matplotlib (imported only here,
when a chart is drawn, so commands that draw none pay nothing for it) and `to_sheet` as a
native Excel chart whose series refer to the ledger's own cells (openpyxl). Imported by
reports/__init__; imports only the pure helpers and the tally."""

from __future__ import annotations

import io
import os
import stat
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import BadInput, QmsError
from ..i18n import _
from ..text import visible
from ..wording import words
from .tally import MEASURES, Percent, Tally

KINDS = ("bar", "pareto", "trend")
ROWS = ("all", "totals")
KEYS = ("kind", "value", "line", "rows", "top")
RATES = ("percent", "share", "cumulative")  # measures drawn on a 0-100% axis

# Families with the Chinese characters, the ones made for Simplified Chinese first; any
# other installed font that holds a chart's characters will do when none of these is there.
CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "Source Han Sans CN",
                "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Sarasa Gothic SC", "Microsoft YaHei",
                "PingFang SC", "Heiti SC", "Hiragino Sans GB", "SimHei", "Noto Sans CJK JP",
                "Source Han Sans", "Droid Sans Fallback", "AR PL UMing CN")
LATIN = "DejaVu Sans"  # matplotlib's own font, always there
FONT_PACKAGE = "fonts-noto-cjk"  # Debian's; fonts-wqy-microhei is the small one CI installs


@dataclass(frozen=True)
class Chart:
    """A report's chart as declared and checked: measure columns by their index in the
    report's columns (keys first)."""

    kind: str
    values: tuple[int, ...]
    line: int | None
    rows: str
    top: int | None
    keys: int  # how many key columns come before the measures
    rate: bool  # the values are rates or shares (0-1), not counts


def parse(name: str, raw: Any, tally: Tally, monthly: bool) -> Chart | None:
    """The chart of report `name` that fits its table (`monthly`: split per month), or
    None; every declared chart is checked, and a malformed one refused with what was
    expected (BadInput)."""
    if raw is None:
        return None
    declared = raw if isinstance(raw, list) else [raw]
    # a mean over a `max` is a percentage, drawn as a rate like the percent columns
    kinds = ["percent" if "mean" in m and isinstance(m["mean"], dict) and m["mean"].get("max")
             else next((k for k in MEASURES if k in m), "") for m in tally.measures]
    keys = len(tally.keys)
    charts = [_one(name, one, kinds, keys, tally.totals) for one in declared]
    for chart in charts:
        if (chart.kind == "trend") == monthly or (chart.kind == "bar"):
            return chart
    return None


def _one(name: str, raw: Any, kinds: list[str], keys: int, totals: bool) -> Chart:
    def bad(problem: str) -> BadInput:
        return BadInput(_("report '{name}': chart: {problem}").format(name=name, problem=problem))

    if not isinstance(raw, dict):
        raise bad(_("expected kind: {kinds} with value: N (or a list of such charts)").format(kinds=", ".join(KINDS)))
    for key in raw:
        if key not in KEYS:
            raise bad(_("unknown key '{key}' (expected {choices})").format(key=key, choices=", ".join(KEYS)))
    kind = raw.get("kind")
    if kind not in KINDS:
        raise bad(_("kind is {choices}, not '{kind}'").format(choices=", ".join(KINDS), kind=kind))

    def column(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= len(kinds):
            raise bad(_("{key} is the position of a column among the tally's columns, 1 to {n}; not '{value}'")
                      .format(key=key, n=len(kinds), value=value))
        return value - 1

    given = raw.get("value")
    if given is None:
        raise bad(_("{kind} needs value: N, the position of the column it draws among the tally's columns")
                  .format(kind=kind))
    picked = [column("value", v) for v in (given if isinstance(given, list) and kind != "pareto" else [given])]
    if not picked:
        raise bad(_("{kind} needs value: N, the position of the column it draws among the tally's columns")
                  .format(kind=kind))
    rates = {kinds[i] in RATES for i in picked}
    if len(rates) > 1:
        raise bad(_("the columns of one chart are all counts or all rates and shares"))
    line = None
    if kind == "pareto":
        if kinds[picked[0]] in RATES:
            raise bad(_("pareto: value is a count column, the bars"))
        if raw.get("line") is None or kinds[column("line", raw["line"])] != "cumulative":
            raise bad(_("pareto: line is the position of the cumulative column among the tally's columns"))
        line = column("line", raw["line"])
    elif raw.get("line") is not None:
        raise bad(_("line is for a pareto chart only"))
    rows = str(raw.get("rows") or "all")
    if rows not in ROWS:
        raise bad(_("rows is {choices}, not '{rows}'").format(choices=" or ".join(ROWS), rows=rows))
    if rows == "totals" and not totals:
        raise bad(_("rows: totals needs totals: true in the tally"))
    top = raw.get("top")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise bad(_("top is a whole number of rows from 1, not '{top}'").format(top=top))
    return Chart(kind=kind, values=tuple(keys + i for i in picked), line=None if line is None else keys + line,
                 rows=rows, top=top, keys=keys, rate=rates == {True})


# ------------------------------------------------------------------ what a chart shows


@dataclass
class Series:
    label: str
    values: list[float | None]
    column: int | None = None  # the report column the values come from, when they are its cells


@dataclass
class Plot:
    """What one chart shows, ready for either drawer: the categories along the x axis, a
    series per bar set or line, and where in the report's table (`_table`: header row 0,
    then the rows in order) the cells are when they are contiguous (a table not per month)."""

    kind: str
    title: str
    x_label: str
    y_label: str
    categories: list[str]
    series: list[Series]
    rate: bool
    line: Series | None = None
    total: float | None = None  # pareto: the count of every row, the left axis' 100%
    rows: tuple[int, int] | None = None  # first and last table row of the categories
    key_columns: list[int] = field(default_factory=list)  # the table columns that label them


def _number(cell: Any) -> float | None:
    """A cell as a number to draw (an amount of money, a Decimal, too); None for text."""
    from decimal import Decimal

    if isinstance(cell, bool) or not isinstance(cell, (int, float, Decimal)):
        return None
    return float(cell)


LABEL_MAX = 30  # characters of a label; a longer one is cut (the table has it whole)


def _label(cells: list[Any]) -> str:
    """A row's keys as one label: shown on one line, control characters escaped, cut to
    LABEL_MAX characters."""
    text = visible(" · ".join(str(c) for c in cells if str(c) != ""), one_line=True) or "—"
    return text if len(text) <= LABEL_MAX else text[:LABEL_MAX - 1] + "…"


def plot(report: Any) -> Plot | None:
    """The chart of `report` (reports.Report, built with a chart), or None when it has no
    chart or nothing to show."""
    chart: Chart | None = getattr(report, "chart", None)
    if chart is None or not report.groups:
        return None
    total_word = words(report.lang)["total"]
    heads = report.columns
    title = report.title + (f" · {report.period}" if report.period else "")
    y_label = " / ".join(heads[c] for c in chart.values)

    def chosen(rows: list[list[Any]]) -> list[tuple[int, list[Any]]]:
        out = []
        for i, row in enumerate(rows):
            is_total = row[0] == total_word
            if report.group_label and all(c == "" for c in row[:chart.keys]) \
                    and all(c in (0, "") for c in row[chart.keys:]):  # a month without records
                continue
            if is_total == (chart.rows == "totals"):
                out.append((i, row))
        return out

    def key_cells(row: list[Any]) -> list[Any]:
        return row[1:chart.keys] if chart.rows == "totals" else row[:chart.keys]

    key_heads = heads[1:chart.keys] if chart.rows == "totals" else heads[:chart.keys]
    if report.group_label:  # per month: the months along the x axis, a series per row
        months = [month for month, _rows in report.groups]
        found: dict[str, dict[str, float | None]] = {}
        for month, rows in report.groups:
            for _i, row in chosen(rows):
                for c in chart.values:
                    label = _label(key_cells(row)) + (f" · {heads[c]}" if len(chart.values) > 1 else "")
                    found.setdefault(label, {})[month] = _number(row[c])
        if not found:
            return None
        missing = None if chart.rate else 0.0  # a month without the row: no rate, no count
        series = [Series(label, [by_month.get(m, missing) for m in months]) for label, by_month in found.items()]
        if chart.top is not None:
            series = series[:chart.top]
        return Plot(kind=chart.kind, title=title, x_label=report.group_label, y_label=y_label, categories=months,
                    series=series, rate=chart.rate)
    (_group, rows), = report.groups[:1]
    picked = chosen(rows)
    if not picked:
        return None
    everything = [r for _i, r in picked]
    if chart.top is not None:
        picked = picked[:chart.top]
    first, last = picked[0][0], picked[-1][0]
    offset = 1 if chart.rows == "totals" else 0
    result = Plot(
        kind=chart.kind, title=title, x_label=" · ".join(key_heads), y_label=y_label,
        categories=[_label(key_cells(r)) for _i, r in picked],
        series=[Series(heads[c], [_number(r[c]) for _i, r in picked], c) for c in chart.values],
        rate=chart.rate, rows=(first + 1, last + 1),  # + 1: the header is row 0 of the table
        key_columns=list(range(offset, chart.keys)),
    )
    if chart.kind == "pareto" and chart.line is not None:
        result.line = Series(heads[chart.line], [_number(r[chart.line]) for _i, r in picked], chart.line)
        result.total = sum(_number(r[chart.values[0]]) or 0.0 for r in everything)
    return result


# ------------------------------------------------------------------ SVG, through matplotlib


def _wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def _texts(p: Plot) -> list[str]:
    return [p.title, p.x_label, p.y_label, *p.categories, *(s.label for s in p.series),
            *([p.line.label] if p.line else [])]


def _inside(path: Path, root: Path | None) -> bool:
    if root is None:
        return False
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        return True
    except ValueError:
        return False


def _usable(folder: Path, root: Path | None) -> bool:
    """Whether matplotlib may keep its font cache in `folder`: not inside the store, and
    there and writable (made as matplotlib would make it)."""
    if _inside(folder, root):
        return False
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def _config_dir(root: Path | None) -> None:
    """Give matplotlib a writable folder for its font cache that is not in the store: its
    own (~/.config and ~/.cache/matplotlib) where that works, else one of ours in the
    temporary folder. A MPLCONFIGDIR the user set is theirs."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    home = os.environ.get("HOME") or ""
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path(home or "/", ".config")) / "matplotlib"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path(home or "/", ".cache")) / "matplotlib"
    if home and _usable(config, root) and _usable(cache, root):
        return
    folder = Path(tempfile.gettempdir()) / f"qms-matplotlib-{os.getuid() if hasattr(os, 'getuid') else 0}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            raise OSError("not ours")
    except OSError:  # someone else's, or a link: a fresh one of our own
        folder = Path(tempfile.mkdtemp(prefix="qms-matplotlib-"))
    os.environ["MPLCONFIGDIR"] = str(folder)


def _covers(path: str, needed: set[str]) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        charmap = FT2Font(path).get_charmap()
    except (OSError, RuntimeError, ValueError):
        return False
    return all(ord(ch) in charmap for ch in needed)


def candidate(entry: Any) -> bool:
    """Whether a font of matplotlib's list (a FontEntry) may set a chart's Chinese text: a
    TrueType or OpenType font of the machine's, not one matplotlib ships (none has Chinese
    characters, and its Last Resort font maps every character to a box: tofu)."""
    import matplotlib

    own = os.path.realpath(matplotlib.get_data_path())
    return (not entry.fname.lower().endswith((".afm", ".pfb")) and not entry.name.startswith("Last Resort")
            and not os.path.realpath(entry.fname).startswith(own + os.sep))


def cjk_font(needed: set[str]) -> str | None:
    """The family name of an installed font that has every character of `needed`: one of
    CJK_FAMILIES first, else any; a font installed since matplotlib cached its list of
    fonts is found too. None when there is none."""
    from matplotlib import font_manager as fm

    def pick(entries: list) -> str | None:
        ranked = sorted(entries, key=lambda f: (CJK_FAMILIES.index(f.name) if f.name in CJK_FAMILIES
                                                else len(CJK_FAMILIES), f.name, f.fname))
        for entry in ranked:
            if candidate(entry) and _covers(entry.fname, needed):
                return entry.name
        return None

    found = pick([f for f in fm.fontManager.ttflist if f.name in CJK_FAMILIES]) or pick(fm.fontManager.ttflist)
    if found:
        return found
    known = {f.fname for f in fm.fontManager.ttflist}
    for path in fm.findSystemFonts():  # installed after matplotlib made its cache
        if path not in known:
            try:
                fm.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    return pick([f for f in fm.fontManager.ttflist if f.fname not in known])


def svg(report: Any, root: Path | None = None) -> bytes | None:
    """The report's chart as SVG bytes (None when it has none to draw): text kept as text,
    in a Chinese font where the chart has Chinese text (refused, naming the package to
    install, when the machine has none); the same data gives the same bytes."""
    p = plot(report)
    if p is None:
        return None
    _config_dir(root)
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    needed = {ch for text in _texts(p) for ch in text if unicodedata.east_asian_width(ch) in "WF"}
    families = [LATIN]
    if needed:
        cjk = cjk_font(needed)
        if cjk is None:
            raise QmsError(_("the chart has Chinese text and no installed font has its characters: install one "
                             "(Debian, Ubuntu: apt-get install {package} or fonts-wqy-microhei), or leave the chart "
                             "out with --no-chart").format(package=FONT_PACKAGE))
        families = [cjk, LATIN]
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # not a matplotlibrc of the store or the user: the same bytes everywhere
        matplotlib.rcParams.update({
            # text.parse_math off: a value such as "$\\frac" is text, not TeX to typeset
            "svg.fonttype": "none", "svg.hashsalt": "qms", "text.parse_math": False, "font.family": "sans-serif",
            "font.sans-serif": families, "axes.unicode_minus": False,
        })
        return _draw(p, Figure, FigureCanvasSVG, MaxNLocator, PercentFormatter)


def _draw(p: Plot, Figure, FigureCanvasSVG, MaxNLocator, PercentFormatter) -> bytes:
    n = len(p.categories)
    long = n > 6 or any(len(c) > 8 or _wide(c) and len(c) > 4 for c in p.categories)
    fig = Figure(figsize=(min(16.0, max(6.4, 0.5 * n + 3)), 4.8 + (1.2 if long else 0)), layout="constrained")
    FigureCanvasSVG(fig)
    ax = fig.add_subplot()
    ax.set_title(p.title)
    ax.set_xlabel(p.x_label)
    ax.set_ylabel(p.y_label)
    xs = list(range(n))
    nan = float("nan")
    if p.kind == "trend":
        for s in p.series:
            ax.plot(xs, [nan if v is None else v for v in s.values], marker="o", label=s.label)
    else:
        width = 0.8 / max(1, len(p.series))
        for k, s in enumerate(p.series):
            shift = (k - (len(p.series) - 1) / 2) * width
            ax.bar([x + shift for x in xs], [0.0 if v is None else v for v in s.values], width=width, label=s.label,
                   color=None if len(p.series) > 1 else "#4C72B0")
    ax.set_xticks(xs, p.categories, rotation=45 if long else 0, ha="right" if long else "center",
                  rotation_mode="anchor")
    if p.rate:
        ax.set_ylim(0, 1.05)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if p.line is not None:
        ax.set_ylim(0, p.total or 1)
        right = ax.twinx()
        right.plot(xs, [nan if v is None else v for v in p.line.values], color="#C44E52", marker="o",
                   label=p.line.label)
        right.set_ylim(0, 1.0)
        right.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        right.set_ylabel(p.line.label)
    elif len(p.series) > 1 or p.kind == "trend":
        ax.legend(loc="best", fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


# ------------------------------------------------------------------ xlsx, a native Excel chart


def to_sheet(wb: Any, ws: Any, report: Any, header: int, first_column: int, put: Callable[..., Any]) -> bool:
    """Add the report's chart to worksheet `ws` as an Excel chart, to the right of the
    table whose header row is `header` and whose report columns start at `first_column`
    (after the month column of a table per month). Its series refer to the table's own
    cells; a table per month, whose points are spread over its month blocks, gets them
    gathered on a second sheet (values, never formulas) written with `put`. False when
    the report has no chart to draw."""
    p = plot(report)
    if p is None:
        return False
    from openpyxl.chart import BarChart, LineChart, Reference, Series as XSeries
    from openpyxl.chart.data_source import AxDataSource, MultiLevelStrRef, StrRef
    from openpyxl.chart.series import SeriesLabel
    from openpyxl.utils import get_column_letter, quote_sheetname

    def axis_titles(chart, x: str, y: str) -> None:
        chart.x_axis.title, chart.y_axis.title = x, y
        chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl 3.1 hides axes unless told
        if p.rate:
            chart.y_axis.number_format = "0%"
            chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1

    chart = LineChart() if p.kind == "trend" else BarChart()
    if p.kind != "trend":
        chart.type = "col"
    chart.title = p.title
    axis_titles(chart, p.x_label, p.y_label)
    if p.rows is not None:  # the table's own cells
        top, bottom = header + p.rows[0], header + p.rows[1]
        sheet = quote_sheetname(ws.title)

        def series(s: Series) -> Any:
            col = first_column + (s.column or 0)
            one = XSeries(Reference(ws, min_col=col, min_row=top, max_row=bottom))
            one.tx = SeriesLabel(strRef=StrRef(f"{sheet}!${get_column_letter(col)}${header}"))  # the column's header
            return one

        for s in p.series:
            chart.series.append(series(s))
        cols = [first_column + c for c in p.key_columns]
        ref = f"{sheet}!${get_column_letter(cols[0])}${top}:${get_column_letter(cols[-1])}${bottom}"
        cats = AxDataSource(multiLvlStrRef=MultiLevelStrRef(f=ref)) if len(cols) > 1 else AxDataSource(strRef=StrRef(f=ref))
        for s in chart.series:
            s.cat = cats
        if p.line is not None:
            line = LineChart()
            line.series.append(series(p.line))
            line.series[-1].cat = cats
            line.y_axis.axId = 200
            line.y_axis.title = p.line.label
            line.y_axis.number_format = "0%"
            line.y_axis.scaling.min, line.y_axis.scaling.max = 0, 1
            line.y_axis.crosses = "max"
            line.y_axis.delete = False
            if p.total:
                chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, p.total
            chart += line
    else:  # per month: the points gathered, month by month, on a sheet of their own
        data = wb.create_sheet(_sheet_title(words(report.lang)["chart_data"], wb))
        put(data, 1, 1, report.group_label)
        for k, s in enumerate(p.series, start=2):
            put(data, 1, k, s.label)
        for r, month in enumerate(p.categories, start=2):
            put(data, r, 1, month)
            for k, s in enumerate(p.series, start=2):
                v = s.values[r - 2]
                if v is not None:
                    put(data, r, k, Percent(v) if p.rate else (int(v) if float(v).is_integer() else v))
        last = len(p.categories) + 1
        chart.add_data(Reference(data, min_col=2, max_col=len(p.series) + 1, min_row=1, max_row=last),
                       titles_from_data=True)
        chart.set_categories(Reference(data, min_col=1, min_row=2, max_row=last))
        data.column_dimensions["A"].width = 10
        for k in range(2, len(p.series) + 2):
            data.column_dimensions[get_column_letter(k)].width = 18
    chart.width = min(40.0, max(16.0, 1.2 * len(p.categories) + 8))
    chart.height = 9.0
    columns = len(report.columns) + (1 if report.group_label else 0)
    ws.add_chart(chart, f"{get_column_letter(columns + 2)}{header}")
    return True


def _sheet_title(title: str, wb: Any) -> str:
    taken = set(wb.sheetnames)
    name, n = title[:31], 2
    while name in taken:
        name, n = f"{title[:28]} {n}", n + 1
    return name
