"""Stage 4, check: one rule set. What a write leaves is checked in memory by the very
checks `qms validate` runs (envelope, fields, text, signatures, what each state requires,
references and attached files), as of the day of the act, with the act's own requirements
(a move's `requires`); every problem is named at once and nothing is written. Before
anything is signed, the act itself is checked: its comment, and its time on paper."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ..checks import (RECORD_CHECKS, Context, Loaded, Summary, check_envelope, check_file_kinds, check_files,
                      check_references, check_schema, check_text, facts_of)
from ..errors import BadInput, Finding, Refused, Severity
from ..files import safefs
from ..i18n import _, language
from ..model import values
from ..model.declaration import RecordType
from .action import Action

# a record to be written passes validate's checks of one record (checks.RECORD_CHECKS), and
# those of validate's store-wide checks that look at one record's own facts
FACT_CHECKS = (check_references, check_files, check_file_kinds)
# findings of these mean the input itself does not fit the form, or names a file qms does
# not take (exit 2, not 1)
FORM_CHECKS = (check_envelope, check_schema, check_text, check_file_kinds)


def check_comment(comment: str) -> None:
    """A comment holds no control character (it goes into the commit message)."""
    problem = values.text_problem(comment or "")
    if problem:
        raise BadInput(_("--comment: the text {problem}").format(problem=problem))


def check_paper_time(act: Action, rt: RecordType, data: Any, whose: str) -> None:
    """A paper time is not after the act is entered and signed, nor before what the record
    already holds: the date it is numbered by (e.g. received_at) and when each earlier
    signed act happened. Signed as it happens, the signing time is not before them either."""
    tz, on, when = act.tz, act.paper, act.when
    earlier: list[tuple[str, date | datetime]] = []
    if rt.numbering_date:
        raw = values.get(data, rt.numbering_date)
        start = values.to_date(raw) if isinstance(raw, date) and not isinstance(raw, datetime) \
            else values.to_datetime(raw, tz) or values.to_date(raw)
        if start is not None:
            earlier.append((f"{rt.numbering_date} ({rt.label_of(rt.numbering_date, language())})", start))
    for sig in values.signatures(data):
        done = values.acted(sig, tz)
        if done is not None:
            what = _("the '{meaning}' signature (on paper)") if values.paper_time(sig, tz) is not None \
                else _("the '{meaning}' signature")
            earlier.append((what.format(meaning=sig.get("meaning")), done))
    if on is None:  # signed as it happens: not before what the record already holds either
        problem = values.paper_time_problem(when, None, earlier, tz)
        if problem:
            raise Refused(_("{prefix}the time of signing, {time}, {problem}: a signature "
                            "is not dated before what it signs (check the computer's clock and "
                            "GIT_COMMITTER_DATE; for an act done earlier on paper, use --on)").format(
                prefix=whose, time=values.shown_time(when, tz), problem=problem))
        return
    problem = values.paper_time_problem(on, when, earlier, tz)
    if problem:
        # later than its signing is the first thing paper_time_problem checks
        expected = (_("not after it is entered and signed") if values.later(on, when, tz)
                    else _("not before what the record already holds"))
        raise Refused(_("{prefix}--on {time} {problem} (expected when the act happened on paper: {expected})").format(
            prefix=whose, time=values.shown_time(on, tz), problem=problem, expected=expected))


class _Read:
    """The records the checks read through references, as the store holds them before this
    action (what is computed from another record, such as the next edition of a document,
    is judged against that record as the act found it); each looked up when asked, never by
    listing the store."""

    def __init__(self, act: Action):
        self.act = act

    def get(self, key: tuple[str, str], _default=None) -> Any:
        """Another record's data, None if there is no such record."""
        try:
            return self.act.store.fetch(*key)
        except BadInput:  # not an ID at all
            return None


class _Known:
    """The IDs of the store as the reference check asks for them (`id in known.get(type)`):
    the records the store holds and those this action writes (a new return named in its
    complaint by the same commit)."""

    def __init__(self, read: _Read, written: set[tuple[str, str]]):
        self.read, self.written = read, written

    def get(self, type_name: str, _default=None) -> _Known.Ids:
        """The IDs of one type."""
        return _Known.Ids(self, type_name)

    class Ids:
        """`id in ids`: whether the store holds that record, or this action writes it."""

        def __init__(self, known: _Known, type_name: str):
            self.known, self.type_name = known, type_name

        def __contains__(self, rid: object) -> bool:
            key = (self.type_name, str(rid))
            return key in self.known.written or self.known.read.get(key) is not None


def check_change(act: Action, changes: dict, head: str, requires: list[tuple[Any, list]] = ()) -> None:
    """Refuse unless every record in `changes` ({path: (data, layout)}) passes validate's
    checks, and each (data, requirements) in `requires` (a move's or a registration's own)
    is met: one refusal naming every problem, headed by `head` (what was tried). A problem
    of the input's form is BadInput (exit 2); anything else Refused (exit 1)."""
    store = act.store
    types: dict[str, RecordType] = {}
    loaded: list[Loaded] = []
    for path, (data, _layout) in changes.items():
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            types[data["type"]] = store.record_type(data["type"])
            loaded.append(Loaded(data["type"], store.rel(path), data))

    def kind(rel: str) -> str:
        """What an attached file is: one this action attaches is a file of the store."""
        return "file" if rel in act.staged else safefs.kind(store.root, rel)[0]

    read = _Read(act)
    written = {(r.type, str(r.data.get("id"))) for r in loaded}
    ctx = Context(root=store.root, types=types, store=store, by_id=read, known=_Known(read, written), file_kind=kind,
                  today=act.day, computing=True, scan=store.scan,
                  today_words=_("the day it happened on paper") if act.paper is not None else _("today"))
    found: list[tuple[Any, Finding]] = []
    for check in RECORD_CHECKS:
        found += [(check, f) for f in check(loaded, ctx)]
    summaries = [Summary(r.type, r.path, facts_of(types[r.type], r)) for r in loaded]
    for check in FACT_CHECKS:
        found += [(check, f) for f in check(summaries, ctx)]
    first = loaded[0].path if loaded else ""
    problems = [(check, f) for check, f in found if f.severity is Severity.ERROR]
    for data, requirements in requires:
        rt = store.record_type(data["type"])
        ev = ctx.evaluator(rt, data)
        seen = {f.field for _check, f in problems if f.source == first}
        for field, why in ev.unmet(requirements):
            if field.split(" [")[0] not in seen:
                problems.append((None, Finding(first, field, why)))
    if not problems:
        return
    details = []
    for _check, f in problems:
        if f.source == first:
            rt = types.get(loaded[0].type)
            label = rt.label_of(f.field.split(" [")[0], language()) if rt is not None else ""
            details.append(f"{f.field}: {f.message}" + (f" ({label})" if label and label != f.field else ""))
        else:
            details.append(f"{f.source}: {f.field}: {f.message}")
    message = _("{head}: {count} problem(s); nothing was written").format(head=head, count=len(problems))
    error = BadInput if any(check in FORM_CHECKS for check, _f in problems) else Refused
    raise error(message, details=details)
