"""Who may sign what, changed through qms: `qms role grant|revoke` edit the roles in
qms.yaml and commit that one change, signed by the holder of the store's admin role
(`audit: {rules_signed_by: ROLE}`), so that `qms audit` can tell a granted role from one
a person wrote in for themselves; `qms rules commit` commits the other rules the same way.
A holding is never deleted: revoking ends it on a day, so that the signatures made under it
stay valid for the days it covered."""

from __future__ import annotations

import re
import subprocess
from datetime import date

from ..config import CONFIG_FILE, Config
from ..errors import BadInput, Refused
from ..files import safefs, yamlio
from ..i18n import _
from ..model.values import text_problem
from ..roles import require_admin
from ..text import quote
from ..store import git as gitops
from ..store import lock
from ..store.git import Trailer
from .check import check_comment
from .commit import message as commit_message

_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(_("{option} {value}: expected a date such as 2026-12-01").format(
            option=option, value=quote(text))) from None


def change(store, verb: str, role: str, person: str, *, name: str | None = None, start: str | None = None,
           until: str | None = None, department: str | None = None,
           comment: str = "") -> tuple[str, str, list[str]]:
    """Grant or revoke `role` for `person` (an e-mail address); one commit. Returns the
    commit, a sentence saying what was done, and what opening the store recovered."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq


    if not _EMAIL.fullmatch(person):
        raise BadInput(_("PERSON {value}: expected the person's e-mail address, as in their git identity").format(
            value=quote(person)))
    for option, text in (("PERSON", person), ("--name", name or ""), ("--department", department or "")):
        problem = text_problem(text)
        if problem:
            raise BadInput(f"{option} {problem}")  # not a sentence
    check_comment(comment)
    first, last = _day(start, "--from"), _day(until, "--until")
    if first and last and last < first:
        raise BadInput(_("--until {until}: before --from {start}").format(until=last, start=first))
    root = store.root
    gitops.actor(root)
    with lock.store_lock(root) as notes:
        actor = gitops.actor(root)
        gitops.check_committed(root, [])
        cfg = Config.load(root)
        today = actor.when.astimezone(cfg.tz).date()
        require_admin(cfg, actor.email, today, "roles")
        if role not in cfg.roles:
            raise BadInput(_("ROLE {value}: not a role of this store (expected one of {roles})").format(
                value=quote(role), roles=", ".join(cfg.roles)))
        data, style = yamlio.load_for_edit(root / CONFIG_FILE, CONFIG_FILE, root=root)
        spec = data["roles"][role]
        if spec is None:
            spec = data["roles"][role] = CommentedMap()
        holders = spec.get("holders")
        if holders is None:
            holders = spec["holders"] = CommentedSeq()
        mine = [h for h in holders if isinstance(h, dict) and str(h.get("email", "")).lower() == person.lower()]
        if verb == "grant":
            first = first or today
            for h in mine:
                h_end = _held_until(h)
                if (h_end is None or h_end >= first) and (last is None or _held_from(h) is None or _held_from(h) <= last):
                    if h_end:
                        raise Refused(_("{person} already holds '{role}' until {until}; revoke it first to change "
                                        "the term").format(person=person, role=role, until=h_end))
                    raise Refused(_("{person} already holds '{role}'; revoke it first to change the term").format(
                        person=person, role=role))
            entry = CommentedMap()
            entry["name"] = name or cfg.person_name(person) or person
            entry["email"] = person
            entry["from"] = first
            if last:
                entry["until"] = last
            if department:
                entry["department"] = department
            entry.fa.set_flow_style()
            holders.append(entry)
            # in English in the commit (history is read by auditors and tools), translated to the user
            logged = f"granted '{role}' to {person} from {first}" + (f" until {last}" if last else "")
            if last:
                said = _("granted '{role}' to {person} from {start} until {until}").format(
                    role=role, person=person, start=first, until=last)
            else:
                said = _("granted '{role}' to {person} from {start}").format(role=role, person=person, start=first)
        else:
            last = last or today
            open_ = [h for h in mine if (_held_until(h) is None or _held_until(h) > last)
                     and (_held_from(h) is None or _held_from(h) <= last)]
            if not open_:
                raise Refused(_("{person} does not hold '{role}' on {day}: nothing to revoke").format(
                    person=person, role=role, day=last))
            for h in open_:
                h["until"] = last
            logged = f"revoked '{role}' from {person}: held until {last}"
            said = _("revoked '{role}' from {person}: held until {until}").format(role=role, person=person, until=last)
        text = yamlio.dump(data, style)
        Config.parse(root, yamlio.parse(text, CONFIG_FILE))  # what is written reads back
        raw = text.encode("utf-8")
        safefs.check_writable(root, CONFIG_FILE)
        gitops.check_time(root, actor.when, store.now())
        message = commit_message(f"roles: {logged}", comment, [
            (Trailer.ACTION, f"role {verb} {role} {person}"),
            (Trailer.SIGNATURE, f"role {'granted' if verb == 'grant' else 'revoked'} by {actor.email}"),
        ])
        lock.begin(root, {CONFIG_FILE: raw}, message.splitlines()[0])
        try:
            yamlio.atomic_write(root / CONFIG_FILE, raw)
            commit = gitops.commit(root, [CONFIG_FILE], message, date=actor.when.isoformat(),
                                   sign=cfg.require_signed_commits, track=lock.git_pid_file(root))
        except BaseException:
            lock.roll_back(root)
            raise
        lock.end(root)
    return commit, said, list(notes)


def _held_from(h) -> date | None:
    v = h.get("from")
    return v if isinstance(v, date) else (date.fromisoformat(str(v)) if v else None)


def _held_until(h) -> date | None:
    v = h.get("until")
    return v if isinstance(v, date) else (date.fromisoformat(str(v)) if v else None)


RULE_FOLDERS = ("types", "reports", "templates")


def commit_rules(store, comment: str) -> tuple[str, list[str], list[str]]:
    """Commit the changed rules (qms.yaml other than its roles, the store's types/,
    reports/ and templates/) as one commit signed by a holder of the admin role, judged by
    the rules as committed before. Returns the commit, the files and the recovery notes."""


    check_comment(comment)
    if not comment.strip():
        raise BadInput(_("-m: say why the rules change (it goes into the commit message auditors read)"))
    root = store.root
    gitops.actor(root)
    with lock.store_lock(root) as notes:
        actor = gitops.actor(root)
        p = subprocess.run(["git", "-c", "core.quotepath=off", "status", "--porcelain=v1", "-z",
                            "--untracked-files=all", "--no-renames", "--", CONFIG_FILE, *RULE_FOLDERS],
                           cwd=root, stdin=subprocess.DEVNULL, capture_output=True)
        paths = gitops.status_paths(p.stdout)
        staged = {e[3:] for e in p.stdout.decode("utf-8", "replace").split("\0") if len(e) > 3 and e[0] not in " ?"}
        if not paths:
            raise Refused(_("nothing to commit: {file}, types/, reports/ and templates/ are as committed").format(
                file=CONFIG_FILE))
        head = subprocess.run(["git", "show", f"HEAD:{CONFIG_FILE}"], cwd=root, capture_output=True)
        committed = yamlio.parse(head.stdout.decode("utf-8", "replace"), f"{CONFIG_FILE} (committed)") \
            if head.returncode == 0 else {}
        before = Config.parse(root, committed if isinstance(committed, dict) else {}, as_written=True)
        today = actor.when.astimezone(before.tz).date()
        require_admin(before, actor.email, today, "rules")
        now = Config.load(root)
        if now.rule("roles") != before.rule("roles"):
            raise Refused(_("{file}: the roles changed; roles change only with `qms role grant|revoke`, "
                            "one commit each (undo the change to roles: first)").format(file=CONFIG_FILE))
        for rel in paths:
            what, _where = safefs.kind(root, rel)
            if what not in ("file", "missing"):
                raise BadInput(f"{rel}: {_(safefs.LINK if what == 'link' else safefs.SPECIAL)}")  # not a sentence
            if rel.startswith("types/") and rel.endswith(".yaml") and what == "file":
                now.record_type(rel[len("types/"):-len(".yaml")])  # a declaration qms can run, or refused
        now.roles  # noqa: B018  (what is committed reads back)
        gitops.check_time(root, actor.when, store.now())
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        message = commit_message(f"rules: {shown}", comment, [
            (Trailer.ACTION, "rules " + " ".join(paths)),
            (Trailer.SIGNATURE, f"rules changed by {actor.email}"),
        ])
        present = [rel for rel in paths if safefs.kind(root, rel)[0] == "file"]
        try:
            commit = gitops.commit(root, present, message, date=actor.when.isoformat(),
                                   sign=before.require_signed_commits,
                                   track=lock.git_pid_file(root), removed=[rel for rel in paths if rel not in present])
        except BaseException:  # the index as it was: what the person had not staged stays unstaged
            gitops.unstage(root, [rel for rel in paths if rel not in staged])
            raise
    return commit, paths, list(notes)
