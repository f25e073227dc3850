"""Printing records, lists and field tables for a person at a terminal (rich)."""

from __future__ import annotations

from datetime import datetime

from ..i18n import _
from ..model.declaration import FieldSpec, RecordType
from ..wording import words



def _s(value) -> str:
    """Text from a record for rich: its markup escaped, its control characters shown."""
    from rich.markup import escape

    from ..text import visible

    return escape(visible("" if value is None else str(value)))


def _console(width: int | None = None):
    import sys

    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            """The reader stopped early (`qms ... | head`): the command ends with 0, as
            every command does (cli.base.handled), not rich's 1."""
            self.quiet = True
            raise BrokenPipeError

    # Piped output has no terminal width: give tables room rather than 80 columns.
    if width is None and not sys.stdout.isatty():
        width = 160
    return _Console(highlight=False, soft_wrap=True, width=width)


def when(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        d = datetime.fromisoformat(str(iso))
    except ValueError:  # a hand-edited time qms cannot read: show it as written (validate reports it)
        return str(iso)
    if (d.hour, d.minute, d.second) == (23, 59, 59):
        return d.strftime("%Y-%m-%d") + " 24:00"
    return d.strftime("%Y-%m-%d %H:%M")


def print_record(view: dict, lang: str) -> None:
    from rich.table import Table

    w = words(lang)
    c = _console()
    final = f" {w['final']}" if view["final"] else ""
    c.print(
        f"[bold]{_s(view['id'])}[/bold]  {_s(view['type_label'])}  "
        f"{w['state']}: [bold]{_s(view['state'])}[/bold] ({_s(view['state_label'])}){final}"
    )
    c.print(f"[dim]{_s(view['path'])}[/dim]")
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="cyan", no_wrap=True)
    t.add_column()
    for f in view["fields"]:
        t.add_row(_s(f["label"]), _s(f["value"]))
    c.print()
    c.print(t)
    if view["deadlines"]:
        c.print()
        profile = f"{w['profile']}: {view['deadline_profile']}; " if view["deadline_profile"] else ""
        c.print(f"[bold]{w['deadlines']}[/bold]  [dim]({profile}{w['at']} {when(view['now'])})[/dim]")
        style = {"met": "green", "late": "yellow", "open": "", "overdue": "bold red", "stopped": "dim"}
        for d in view["deadlines"]:
            status = w[d["status"]]
            done = f"  {w['done']} {when(d['met_at'])}" if d["met_at"] else ""
            ext = f"  ({w['extended']})" if d["extended_by_plan"] else ""
            s = style[d["status"]]
            c.print(
                f"  {_s(d['label'])} \\[{_s(d['limit'])}]  {w['due']} {when(d['due'])}  "
                + (f"[{s}]{status}[/{s}]" if s else status)
                + done + ext
            )
    if view["next_moves"]:
        c.print()
        c.print(f"[bold]{w['next']}[/bold]")
        for m in view["next_moves"]:
            role = f" ({w['role']}: {_s(m['role'])})" if m["role"] else ""
            if m["missing"]:
                miss = ", ".join(
                    f["field"] if f["why"] == _("required") else f"{f['field']} {f['why']}"
                    for f in m["missing"]
                )
                c.print(f"  → {_s(m['to'])}{role}: [yellow]{w['missing']} {_s(miss)}[/yellow]")
            else:
                c.print(f"  → {_s(m['to'])}{role}: [green]{w['ready']}[/green]")
    if view["signatures"]:
        c.print()
        c.print(f"[bold]{w['signatures']}[/bold]")
        for s in view["signatures"]:
            if not isinstance(s, dict):  # a hand-broken entry: validate names it
                c.print(f"  {_s(s)}")
                continue
            move = f"{s.get('from')} → {s.get('to')}" if s.get("from") else f"→ {s.get('to')}"
            c.print(
                f"  {_s(s.get('when'))}  {_s(s.get('meaning_label') or s.get('meaning'))}  "
                f"{_s(s.get('name'))} <{_s(s.get('email'))}>  {_s(move)}"
            )


def print_table(rt: RecordType, rows: list[dict], lang: str) -> None:
    """A rich table at a terminal; tab-separated lines when piped (for a spreadsheet or
    grep, and fast for ten thousand rows)."""
    import sys

    from rich.table import Table

    w = words(lang)
    labels = {d.name: d.label[lang] for d in rt.deadlines}
    if not sys.stdout.isatty():
        from ..text import spreadsheet

        head = [w["number"], w["state"], *(rt.label_of(c, lang) for c in rt.list_columns), w["due"]]
        out = ["\t".join(head)]
        for r in rows:
            due = f"{labels.get(r['next_deadline'], r['next_deadline'])} {when(r['next_due'])}" if r["next_due"] else ""
            if r["overdue"]:
                due += f" ({w['overdue']})"
            cells = [r["id"], r["state_label"], *(r["columns"][c] for c in rt.list_columns), due]
            # one line a row, a cell a column, and text a spreadsheet shows as text
            out.append("\t".join(spreadsheet(" ".join(str(x).split())) for x in cells))
        sys.stdout.write("\n".join(out) + "\n")
        return
    c = _console()
    t = Table(title=f"{rt.label[lang]} ({len(rows)})", title_justify="left")
    t.add_column(w["number"], no_wrap=True, min_width=13)
    t.add_column(w["state"], min_width=6)
    for col in rt.list_columns:
        t.add_column(rt.label_of(col, lang), min_width=8, overflow="fold")
    t.add_column(w["due"], min_width=16)
    for r in rows:
        due = ""
        if r["next_due"]:
            due = _s(f"{labels.get(r['next_deadline'], r['next_deadline'])} {when(r['next_due'])}")
            if r["overdue"]:
                due = f"[bold red]{due} ({w['overdue']})[/bold red]"
        t.add_row(
            _s(r["id"]), _s(r["state_label"]),
            *(_s(r["columns"][c]) for c in rt.list_columns), due,
        )
    c.print(t)


def _required_in(rt: RecordType) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for state in rt.workflow.states:
        for req in rt.workflow.requirements(state):
            for f in req.fields:
                label = state if not req.when else _("{state} (when {conditions})").format(
                    state=state, conditions=", ".join(f"{k}={'/'.join(map(str, v))}" for k, v in req.when))
                out.setdefault(f, [])
                if label not in out[f]:
                    out[f].append(label)
    return out


def field_table(rt: RecordType, lang: str) -> list[dict]:
    required = _required_in(rt)
    rows: list[dict] = []

    def walk(fields: dict[str, FieldSpec], prefix: str) -> None:
        for name, spec in fields.items():
            path = prefix + name
            if spec.type == "object":
                walk(spec.fields, path + ".")
                continue
            kind = spec.type
            vals = list(spec.values)
            if spec.type == "list" and spec.items is not None:
                kind = _("list of {type}").format(type=spec.items.type)
                vals = list(spec.items.values)
            rows.append(
                {
                    "path": path,
                    "type": kind,
                    "label": spec.text(lang),
                    "values": vals,
                    "required_in": required.get(path, []),
                }
            )

    walk(rt.fields, "")
    return rows
