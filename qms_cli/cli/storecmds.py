"""Store-wide commands: init, demo, validate, log, render, report, audit, schema. Each is
named, with its help, in registry.COMMANDS, which imports this module only to run one."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import Severity
from ..i18n import _
from ..wording import words
from .base import emit_json, err, handled, lang_of, open_store, options


@handled
def init(
    path: Path = typer.Argument(..., help=_("Folder for the new store (created if missing), or for the clone.")),
    company: str = typer.Option("", "--company", help=_("Company name on forms.")),
    site: str = typer.Option("", "--site", help=_("Site code, usable in record numbers (e.g. HZ).")),
    lang: str = typer.Option("zh", "--lang", help=_("zh or en: default language of forms.")),
    department: Optional[str] = typer.Option(
        None, "--department", metavar="NAME",
        help=_("Your department: you hold department_head for it (issue copies, approve loans there). "
               "Default: 质量部 with --lang zh, Quality with --lang en."),
    ),
    prefix: Optional[str] = typer.Option(
        None, "--prefix", metavar="CODE",
        help=_("1 to 10 letters and digits that start document numbers (HZ-CX-2026-001). Default: the "
               "--site code; else the initials of the --company name's ASCII words (ACME Auto Parts: AAP; "
               "one word: its first 4 letters); else QMS."),
    ),
    clone: Optional[str] = typer.Option(
        None, "--clone", metavar="URL",
        help=_("Instead of a new store: clone the store on a git server into PATH, to work on it with the "
               "other sites through qms sync (--site names this clone's own site code)."),
    ),
    pages: bool = typer.Option(
        False, "--pages",
        help=_("Also write a CI job that publishes the store as a web site (qms publish) to GitLab Pages "
               "and GitHub Pages, from the default branch."),
    ),
) -> None:
    from ..store.create import clone_store, init_store

    if clone is not None:
        root = clone_store(clone, path, site)
        typer.echo(_("cloned the store from {url} into {path}").format(url=clone, path=root))
        if site:
            typer.echo(_("this clone's site code is {site} (git config qms.site): with site_in_numbers: true in "
                         "qms.yaml, the records registered here are numbered with it").format(site=site))
        typer.echo(_("next: cd {path}; work with qms as usual, and run qms sync to exchange changes with the "
                     "server").format(path=root))
        return

    new = init_store(path, company, site, lang, department=department, prefix=prefix, pages=pages)
    root = new.root
    typer.echo(_("new store at {path}").format(path=root))
    typer.echo(_("documents are numbered {first} ... (prefix {prefix} from {source}); "
                 "you are department head of {department}").format(
        first=new.first_document, prefix=new.prefix, source=_(new.prefix_from), department=new.department))
    ci = [f for f in (".github/workflows/qms.yml", ".gitlab-ci.yml") if f in new.written]
    if ci and not new.install.reachable:
        files = _("{first} and {second}").format(first=ci[0], second=ci[1]) if len(ci) == 2 else ci[0]
        err(_("note: qms was installed here from {source}, which CI cannot reach: set QMS_INSTALL "
              "in {files} (now {spec})").format(source=_(new.install.source), files=files, spec=new.install.spec))
    typer.echo(_("next: cd {path} && qms complaint new --set customer.name=... (see qms complaint fields)")
               .format(path=root))


@handled
def demo(
    path: Optional[Path] = typer.Argument(None, help=_("Empty or new folder (default: a new temporary folder).")),
) -> None:
    from ..demo import play

    res = play(path)
    if options().json:
        emit_json(
            {"store": str(res.path), "record": res.record_id, "steps": res.steps,
             "forms": [str(f) for f in res.forms], "findings": res.findings}
        )
        return
    typer.echo(_("sample store copied to {path}").format(path=res.path))
    for i, s in enumerate(res.steps, 1):
        typer.echo(f"  {i}. {s}")
    typer.echo(_("qms validate: clean") if not res.findings
               else _("qms validate: {n} finding(s)").format(n=res.findings))
    typer.echo("")
    typer.echo(_("Open:"))
    typer.echo(f"  qms -C {res.path} complaint show {res.record_id}")  # not a sentence
    typer.echo(f"  qms -C {res.path} log {res.record_id}")  # not a sentence
    typer.echo(f"  qms -C {res.path} complaint list --overdue")  # not a sentence
    if res.document_id:
        typer.echo(f"  qms -C {res.path} document show {res.document_id}")  # not a sentence
        typer.echo(f"  qms -C {res.path} report recall")  # not a sentence
    # the sample store's other ledgers: returns and CAPA, after-sales service, satisfaction
    for rest in ("report returns", "report capa", "report service-monthly --period 2026-11",
                 "report satisfaction", "report customer --of CUS-0002"):
        typer.echo(f"  qms -C {res.path} {rest}")  # not a sentence
    for f in res.forms:
        typer.echo(f"  {f}")
    typer.echo(f"  git -C {res.path} log --stat -15")  # not a sentence


@handled
def validate(
    targets: Optional[List[str]] = typer.Argument(None, help=_("Record IDs or paths (default: the whole store)."), metavar="[ID|PATH]..."),
    strict: bool = typer.Option(False, "--strict", help=_("Warnings (e.g. unknown fields) count as findings too.")),
    json: bool = typer.Option(False, "--json", help=_("Print the findings as JSON.")),
    no_cache: bool = typer.Option(
        False, "--no-cache", help=_("Read and check every record afresh (what was kept in .qms/cache/ is rebuilt).")
    ),
) -> None:
    from ..validation import run

    store = open_store()
    result = run(store, list(targets or []), strict=strict, cache=not no_cache)
    findings = result.findings
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if json or options().json:
        emit_json({"findings": [f.as_dict() for f in findings], "errors": len(errors),
                   "records": result.records, "read": result.examined})
    else:
        for f in findings:
            typer.echo(str(f))
        warnings = len(findings) - len(errors)
        if warnings:
            err(_("{records} records, {findings} finding(s), {warnings} warning(s)").format(
                records=result.records, findings=len(errors), warnings=warnings))
        else:
            err(_("{records} records, {findings} finding(s)").format(records=result.records, findings=len(errors)))
    raise typer.Exit(1 if errors else 0)


@handled
def log(
    record_id: str = typer.Argument(..., metavar="ID"),
    json: bool = typer.Option(False, "--json", help=_("Print as JSON.")),
) -> None:
    from ..store import git as gitops
    from ..store.git import Trailer

    store = open_store()
    _type, path = store.locate(record_id)
    entries = gitops.log(store.root, store.rel(path))
    if json or options().json:
        emit_json([dict(e.as_dict(), on=_paper_time(e), entered_afterwards=_paper_time(e) is not None)
                   for e in entries])
        return
    from ..text import visible

    lang = lang_of(store)
    for e in entries:
        action = (e.trailers.get(Trailer.ACTION) or [_("(edited without qms)")])[0]
        sig = e.trailers.get(Trailer.SIGNATURE)
        entered = _in_store_time(e.date, store.config.tz)
        line = f"{entered}  {e.author} <{e.email}>  {action}"
        if sig:
            line += f"  [{'; '.join(sig)}]"
        on = _paper_time(e)
        if on is not None:  # done on paper earlier, entered (and signed) at the commit's time
            line += "  " + words(lang)["entered"].format(on=on.replace("T", " ")[:16], at=entered)
        # a commit message is anyone's text: shown, never acted on by the terminal
        typer.echo(visible(line, one_line=True))
        if e.body:
            for b in e.body.splitlines():
                typer.echo(f"    {visible(b)}")


def _in_store_time(stamp: str, tz) -> str:
    """A commit's time as the store's clock reads it (a commit made elsewhere may carry
    another offset), to the minute."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(stamp).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp[:16].replace("T", " ")


def _paper_time(entry) -> str | None:
    """When the act of a commit happened on paper (its QMS-On trailer), as written there."""
    from ..store.git import Trailer

    found = entry.trailers.get(Trailer.ON)
    return found[0] if found else None


@handled
def render(
    record_id: str = typer.Argument(..., metavar="ID"),
    lang: Optional[str] = typer.Option(None, "--lang", help=_("zh or en (default: the store's language).")),
    form: Optional[str] = typer.Option(None, "--form", help=_("Another form of the record, where its type has more "
                                                              "than one (a service's report or acceptance)."),
                                       metavar="NAME"),
    fmt: str = typer.Option("md", "--format", help=_("md, or pdf (needs the pdf extra, and -o FILE.pdf or -o -)."),
                            metavar="md|pdf"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help=_("Write to FILE instead of stdout."), metavar="FILE"),
) -> None:
    from ..errors import BadInput

    if fmt not in ("md", "pdf"):
        raise BadInput(_("--format '{format}': expected md or pdf").format(format=fmt))
    if fmt == "pdf":
        if output is None:
            raise BadInput(_("--format pdf writes a file: give -o FILE.pdf (or -o - for standard output)"))
        from ..pdf import pdf

        store = open_store()
        made = pdf(store, record_id, lang_of(store, lang), form=form)
        write_out(store, "", output, writer=lambda: made)
        return
    from ..render import render as run

    store = open_store()
    write_out(store, run(store, record_id, lang_of(store, lang), form=form), output)


def write_out(store, text: str, output: Path | None, rows: int | None = None, writer=None) -> None:
    """Print `text`, or write it (or the bytes `writer` makes) to `output` and say so (with
    the number of `rows` when given). `-o -` is standard output. Nothing of the store is
    overwritten (files.output)."""
    import sys

    from ..files import output as out

    if output is None or str(output) == "-":
        if writer is not None:
            sys.stdout.buffer.write(writer())
            sys.stdout.buffer.flush()
        else:
            typer.echo(text, nl=False)
        return
    path = out.target(store.root, output)
    out.write(path, writer() if writer is not None else text.encode("utf-8"), str(output))
    if rows is None:
        err(_("wrote {path}").format(path=output))
    else:
        err(_("wrote {path} ({rows} rows)").format(path=output, rows=rows))


@handled
def report(
    name: str = typer.Argument(..., help=_("controlled-documents, documents-in-use, recall, complaints, on-time, failures, "
                                           "returns, capa, satisfaction, service-monthly, visits, customer (or a "
                                           "store's own reports/NAME.yaml).")),
    period: Optional[str] = typer.Option(None, "--period", help=_("YYYY, YYYY-Qn or YYYY-MM, for reports over a period."), metavar="PERIOD"),
    by: Optional[str] = typer.Option(None, "--by", help=_("What the rows are by, or another view: on-time by class (default) or "
                                                           "customer; failures by part (default) or mode; returns by "
                                                           "disposition (default), customer, part or on-time; capa "
                                                           "effectiveness; satisfaction by customer (default) or "
                                                           "period, or below-target."), metavar="NAME"),
    of: Optional[str] = typer.Option(None, "--of", help=_("The record a report is about: the customer of "
                                                          "`report customer`."), metavar="ID"),
    fmt: str = typer.Option("md", "--format", help=_("md, csv or xlsx."), metavar="md|csv|xlsx"),
    where: List[str] = typer.Option([], "--where", "-w", help=_("A filter on the report's records, as for list (repeat to narrow): FIELD=VALUE, FIELD~TEXT, "
                                 "FIELD>=VALUE, FIELD<=VALUE; e.g. department=质量部."), metavar="COND"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help=_("Write to FILE (xlsx needs it)."), metavar="FILE"),
    no_chart: bool = typer.Option(False, "--no-chart", help=_("Leave out the report's chart (the SVG beside -o FILE.md, "
                                                              "the chart in the xlsx).")),
) -> None:
    from ..errors import BadInput
    from ..reports import FORMATS, build, text_of, to_csv, to_markdown, to_xlsx

    if fmt not in FORMATS:
        raise BadInput(_("--format '{format}': expected md, csv or xlsx").format(format=fmt))
    store = open_store()
    lang = lang_of(store)
    rep = build(store, name, lang, period, list(where), by, of)
    for p in rep.problems:  # left out of the ledger: said, as `list` says it
        err(_("{problem} (left out of the report)").format(problem=p))
    if options().json:
        def table(r) -> dict:
            return {"title": r.title, "columns": r.columns,
                    "groups": [{"group": g, "rows": [[text_of(c) for c in row] for row in rows]} for g, rows in r.groups],
                    "count": r.count, **({"counted": r.counted} if r.counted is not None else {})}

        body = {"sections": [table(s) for s in rep.sections], "count": rep.count} if rep.sections else table(rep)
        emit_json({"report": rep.name, **body, "title": rep.title, "left_out": rep.problems})
        return
    if fmt == "xlsx":
        if output is None:
            raise BadInput(_("--format xlsx writes a file: give -o FILE.xlsx (or -o - for standard output)"))
        write_out(store, "", output, rep.count, writer=lambda: to_xlsx(rep, chart=not no_chart))
        return
    if fmt == "csv":
        write_out(store, to_csv(rep), output, rep.count)
        return
    link = None if no_chart or rep.chart is None else write_chart(store, rep, output)
    parts = {} if no_chart else {i: found for i, section in enumerate(rep.sections) if section.chart is not None
                                 and (found := write_chart(store, section, output, i + 1)) is not None}
    write_out(store, to_markdown(rep, store.config.company, lang, store.now().strftime("%Y-%m-%d %H:%M"), link,
                                 parts), output, rep.count)


def write_chart(store, rep, output: Path | None, part: int | None = None) -> str | None:
    """Write the chart of report `rep` as FILE.svg beside the Markdown `-o FILE.md` (the
    chart of a report's table `part`, counted from 1, as FILE-PART.svg), before the Markdown,
    and return its address for the Markdown; None (nothing written) when the Markdown goes
    to standard output or a device, or the report has nothing to draw."""
    import os
    import stat
    from urllib.parse import quote

    from ..errors import BadInput
    from ..files import output as out
    from ..reports.chart import svg

    if output is None or str(output) == "-":
        return None
    md = out.target(store.root, output)
    try:
        if not stat.S_ISREG(os.stat(md).st_mode):
            return None
    except OSError:
        pass  # a new file
    beside = output.with_suffix(".svg") if part is None else output.with_name(f"{output.stem}-{part}.svg")
    if os.path.realpath(beside) == os.path.realpath(output):
        raise BadInput(_("{path}: the Markdown's chart is written beside it as FILE.svg; give -o FILE.md").format(
            path=output))
    target = out.target(store.root, beside)
    data = svg(rep, store.root)
    if data is None:
        return None
    out.write(target, data, str(beside))
    err(_("wrote {path}").format(path=beside))
    return quote(beside.name)


@handled
def audit(
    since: Optional[str] = typer.Option(None, "--since", help=_("Only the commits after REV."), metavar="REV"),
    anchor: bool = typer.Option(False, "--anchor", help=_("After a clean audit, record the current head in qms-anchors.txt (one commit) and as a tag, pushed where there is a remote.")),
    anchors_from: Optional[str] = typer.Option(None, "--anchors-from", help=_("Also check the anchors kept outside this clone: a remote's anchor tags (e.g. origin) or an anchors file kept by CI."), metavar="REMOTE|FILE"),
    json: bool = typer.Option(False, "--json", help=_("Print the findings as JSON.")),
) -> None:
    from ..audit import anchor as do_anchor
    from ..audit import audit as run

    store = open_store()
    findings = run(store, since, anchors_from)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if json or options().json:
        emit_json({"findings": [f.as_dict() for f in findings], "errors": len(errors)})
    else:
        for f in findings:
            typer.echo(str(f))
        if len(findings) > len(errors):
            err(_("{findings} finding(s), {notes} note(s)").format(findings=len(errors), notes=len(findings) - len(errors)))
        else:
            err(_("{findings} finding(s)").format(findings=len(errors)))
    if errors:
        raise typer.Exit(1)
    if anchor:
        _head, done = do_anchor(store)
        for line in done:
            err(line)


schema_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)  # `qms schema`: its help in registry.COMMANDS


@schema_app.command("export", help=_(
    "One JSON Schema per record type, from the declarations (store extensions included). "
    "Records written by qms then name their schema for the editor (yaml-language-server)."))
@handled
def schema_export(
    folder: Path = typer.Argument(Path("schemas"), help=_("Where to write <type>.schema.json (default: schemas/ in the store).")),
) -> None:
    from ..schema import export

    store = open_store()
    target = folder if folder.is_absolute() else store.root / folder
    for p in export(store, target):
        typer.echo(str(p))
