"""Git for the store, through GitPython's `repo.git` (the git CLI), so hooks, signing and
.gitattributes apply. One action is one commit holding only that record's files; a
person's own staged or unstaged changes elsewhere are left exactly as they were."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import BadInput, NotAStore, QmsError, Refused
from ..i18n import _
from ..model.values import day_out_of_bounds, text_problem


@dataclass(frozen=True)
class Actor:
    """The git identity that acts, and the time its commit will carry."""

    name: str
    email: str
    when: datetime  # the commit time git will use (honours GIT_COMMITTER_DATE in any format)


def _repo(root: Path):
    import git

    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise NotAStore(
            _("{path}: not a git repository (a store is a git repository; run 'git init' "
              "there, or create a store with 'qms init')").format(path=root)
        ) from None


def _git_error(e: Exception) -> str:
    """What git said when a GitPython call failed."""
    stderr = (getattr(e, "stderr", "") or "").strip().replace("stderr: ", "").strip("'\n ")
    return stderr or str(e)


def actor(root: Path) -> Actor:
    """The git identity that acts: user.name and user.email, as git itself resolves them."""
    import git

    try:  # works inside a repository (its own config counts) and outside one
        ident = git.Git(str(root)).var("GIT_AUTHOR_IDENT")
    except git.GitCommandError:
        ident = ""
    # "Name <email> 1700000000 +0800"
    if "<" not in ident or ">" not in ident:
        raise BadInput(
            _("git does not know who you are: set your identity with "
              "'git config user.name \"Li Lei\"' and 'git config user.email li.lei@example.com'")
        )
    name, rest = ident.split("<", 1)
    email = rest.split(">", 1)[0].strip()
    if not email:
        raise BadInput(_("git user.email is empty: set it with 'git config user.email you@example.com'"))
    for what, text in (("user.name", name), ("user.email", email)):
        problem = text_problem(text)
        if problem:
            raise BadInput(f"git {what} {problem}")  # not a sentence
    try:
        committer = git.Git(str(root)).var("GIT_COMMITTER_IDENT")
    except git.GitCommandError as e:
        raise QmsError(_("git refused to tell the commit time (check GIT_COMMITTER_DATE): {error}").format(
            error=_git_error(e))) from None
    when = _ident_time(committer)
    if day_out_of_bounds(when):
        raise BadInput(_("the commit time git gives, {time}, is not from 1900 to 2999 "
                         "(check GIT_COMMITTER_DATE)").format(time=when.isoformat()))
    return Actor(name=name.strip(), email=email, when=when)


def _ident_time(ident: str) -> datetime:
    """'Name <email> 1772765100 +0800' -> that moment, in that offset."""
    try:
        stamp, offset = ident.rsplit(">", 1)[1].split()
        sign = -1 if offset.startswith("-") else 1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
        return datetime.fromtimestamp(int(stamp), tz)
    except (ValueError, IndexError, OverflowError, OSError):
        return datetime.now(timezone.utc).replace(microsecond=0)


def config_value(root: Path, key: str) -> str | None:
    """A git configuration value as git resolves it for the store (its own .git/config
    first), None when unset."""
    import subprocess

    p = subprocess.run(["git", "config", "--get", key], cwd=root, capture_output=True, stdin=subprocess.DEVNULL)
    value = p.stdout.decode("utf-8", "replace").strip()
    return value if p.returncode == 0 and value else None


def blob_id(data: bytes) -> str:
    """The id git gives a file with this content (to tell whether HEAD already holds it)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def head_blob(root: Path, rel: str) -> str | None:
    """The blob id HEAD holds for `rel`, None if HEAD does not hold it."""
    import git

    with _repo(root) as repo:
        try:
            return repo.git.rev_parse(f"HEAD:{rel}")
        except git.GitCommandError:
            return None


def process_start(pid: int) -> str:
    """When process `pid` started (Linux: clock ticks since boot), to tell it from a later
    process given the same number; '' where that cannot be known."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def _run(root: Path, args: list[str], env: dict | None, track: Path | None) -> str:
    """Run one git command that takes the index lock. With `track`, the git process's id
    is written there while it runs, so that if qms and its git are killed, the next qms
    can prove that the index.lock left behind is its own (store/lock.py)."""
    import subprocess

    full = dict(os.environ, **(env or {}))
    try:
        p = subprocess.Popen(["git", *args], cwd=root, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full)
    except OSError as e:
        raise QmsError(_("git cannot be run ({reason}); install git and put it on PATH").format(
            reason=e.strerror)) from None
    if track is not None:
        try:
            track.write_text(f"{p.pid} {process_start(p.pid)}\n", encoding="utf-8")
        except OSError:
            pass  # without it, a lock left behind is only named, not cleared
    out, err = p.communicate()
    if track is not None and p.returncode is not None:
        try:
            track.unlink()
        except OSError:
            pass
    if p.returncode != 0:
        text = err.decode("utf-8", "replace").strip() or out.decode("utf-8", "replace").strip()
        said = text or _("exit {code}").format(code=p.returncode)
        refusal = QmsError(_("git refused to {command}: {error}").format(command=args[0], error=said))
        refusal.git_command, refusal.git_said = args[0], said  # for commit() to say it for signed commits
        raise refusal
    return out.decode("utf-8", "replace")


def commit(root: Path, paths: list[str], message: str, *, date: str | None = None, sign: bool = False,
           track: Path | None = None, removed: list[str] = (), author: Actor | None = None) -> str:
    """Commit exactly `paths` (relative to the store root) with `message`; return the id.
    With `sign`, the commit is signed (GPG or SSH, as git is configured) and must verify,
    or it is taken back and nothing is committed. `track`: see _run. `author`: who acts and
    when, given explicitly (the demo, an import) instead of git's identity and clock; it is
    the commit's author and committer."""
    env = {}
    if date:
        env["GIT_AUTHOR_DATE"] = date
        env["GIT_COMMITTER_DATE"] = os.environ.get("GIT_COMMITTER_DATE", date)
    if author is not None:
        stamp = date or author.when.isoformat()
        env.update(GIT_AUTHOR_NAME=author.name, GIT_AUTHOR_EMAIL=author.email, GIT_COMMITTER_NAME=author.name,
                   GIT_COMMITTER_EMAIL=author.email, GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    try:
        if paths:
            _run(root, ["add", "--", *paths], None, track)
        if removed:  # files the commit deletes (the rules: a store's own type taken out)
            _run(root, ["rm", "-q", "--cached", "--ignore-unmatch", "--", *removed], None, track)
        _run(root, ["commit", "--only", "--no-edit", "-q", *(["-S"] if sign else []), "-m", message, "--",
                    *paths, *removed], env, track)
    except QmsError as e:
        if sign and getattr(e, "git_command", None) == "commit":
            raise QmsError(_("git refused to commit (this store requires signed commits: check "
                             "user.signingkey): {error}").format(error=e.git_said)) from None
        raise
    if sign:
        try:
            _run(root, ["verify-commit", "HEAD"], None, None)
        except QmsError as e:
            _run(root, ["reset", "-q", "--soft", "HEAD~1"], None, None)
            if getattr(e, "git_command", None) != "verify-commit":
                raise QmsError(e.message) from None
            raise QmsError(_("git refused to accept the commit: its signature cannot be verified (this store "
                             "requires signed commits; for SSH keys set gpg.ssh.allowedSignersFile): {error}").format(
                error=e.git_said)) from None
    return _run(root, ["rev-parse", "HEAD"], None, None).strip()


CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of this computer's clock a commit may be dated


class Checks:
    """check_time and check_committed's questions to git, asked at once and in the
    background while the caller prepares the write: a write waits for the slower one only."""

    def __init__(self, root: Path, attachments: list[str]):
        import subprocess

        self.root = root
        # a file a record names is a path, never a pathspec pattern; and these questions
        # never take the index lock (git status would, to refresh the index): cancelled
        # half-way, they would leave index.lock behind and the write's `git add` refused
        opts = dict(cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                    env=dict(os.environ, GIT_LITERAL_PATHSPECS="1", GIT_OPTIONAL_LOCKS="0"))
        self.head = subprocess.Popen(["git", "log", "-1", "--format=%cI", "HEAD"], **opts)
        self.status = subprocess.Popen(["git", "-c", "core.quotepath=off", "status", "--porcelain=v1", "-z",
                                        "--untracked-files=all", "--ignored=matching", "--", *RULE_FILES,
                                        *attachments], **opts)

    def finish(self, when: datetime, now: datetime | None) -> None:
        """Wait for both answers, then refuse as check_time and check_committed do: a commit time
        out of order, or rules or attachments with changes not committed."""
        head = self.head.communicate()[0]
        status = self.status.communicate()[0]
        check_time(self.root, when, now, head=(self.head.returncode, head.decode("utf-8", "replace")))
        check_committed(self.root, [], status=(self.status.returncode, status))

    def cancel(self) -> None:
        """Stop what is still running (a refusal came first); reap both."""
        for p in (self.head, self.status):
            if p.returncode is None:
                p.kill()
                p.communicate()


def check_time(root: Path, when: datetime, now: datetime | None = None, *, head: tuple | None = None) -> None:
    """Time in a store runs forward: a commit is not dated before the last commit, nor
    later than now (this computer's clock, or QMS_NOW where that is later; give or take
    CLOCK_SKEW). Backdating is what `--on` is for."""
    import subprocess

    if head is None:
        p = subprocess.run(["git", "log", "-1", "--format=%cI", "HEAD"], cwd=root, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True)
        head = (p.returncode, p.stdout)
    code, head = head[0], head[1].strip()
    if code == 0 and head:
        last = datetime.fromisoformat(head)
        if when < last:
            raise Refused(_("the time of this commit, {time}, is before the store's last commit "
                            "({last}): time in a store only runs forward (check the computer's clock "
                            "and GIT_COMMITTER_DATE; to record an act done earlier on paper, use --on)").format(
                time=when.isoformat(), last=last.isoformat()))
    now = max(now, datetime.now(timezone.utc)) if now else datetime.now(timezone.utc)
    if when > now + CLOCK_SKEW:
        raise Refused(_("the time of this commit, {time}, is later than now "
                        "({now}): check the computer's clock and GIT_COMMITTER_DATE").format(
            time=when.isoformat(), now=now.astimezone(when.tzinfo).isoformat(timespec="seconds")))


RULE_FILES = ("qms.yaml", "types")


def status_paths(raw: bytes) -> list[str]:
    """The paths `git status --porcelain=v1 -z` names ("XY PATH", a rename or copy followed
    by its original path, which is named too)."""
    parts = raw.decode("utf-8", "replace").split("\0")
    names, i = set(), 0
    while i < len(parts):
        entry = parts[i]
        if len(entry) > 3:
            names.add(entry[3:])
            if entry[0] in "RC" and i + 1 < len(parts) and parts[i + 1]:
                names.add(parts[i + 1])
                i += 1
        i += 1
    return sorted(names)


def check_committed(root: Path, attachments: list[str], *, status: tuple | None = None) -> None:
    """A signature is made against rules and evidence that history shows: refuse while
    qms.yaml, types/ or an attached file has changes that are not committed."""
    import subprocess

    if status is None:
        p = subprocess.run(["git", "-c", "core.quotepath=off", "status", "--porcelain=v1", "-z",
                            "--untracked-files=all", "--ignored=matching", "--", *RULE_FILES, *attachments],
                           cwd=root, stdin=subprocess.DEVNULL, capture_output=True,
                           env=dict(os.environ, GIT_LITERAL_PATHSPECS="1"))
        status = (p.returncode, p.stdout)
    if status[0] != 0:
        return  # not a state git can tell; the commit itself will say what is wrong
    names = status_paths(status[1])
    if names:
        shown = ", ".join(names[:5])
        if len(names) > 5:
            shown = _("{files} and {count} more").format(files=shown, count=len(names) - 5)
        rules = [n for n in names if n == "qms.yaml" or n.startswith("types/")]
        if rules:
            how = _("the rules go in with `qms rules commit -m WHY` (by the admin role), roles with `qms role`")
        else:
            how = _("attach files with `--set FIELD=@PATH` or `qms TYPE attach ID FIELD PATH`, which commit them "
                    "with the record, or commit the file first (git add {path} && git commit)").format(path=names[0])
        raise Refused(_("{files}: not committed; qms signs only against rules and evidence that the history "
                        "shows: {how}, or undo the change (git restore {path})").format(
            files=shown, how=how, path=names[0]))


def unstage(root: Path, paths: list[str]) -> None:
    """Put the index entries of `paths` back as HEAD has them (after a failed commit)."""
    import git

    with _repo(root) as repo:
        for p in paths:
            try:
                repo.git.reset("-q", "HEAD", "--", p)
            except git.GitCommandError:
                try:
                    repo.git.rm("-q", "--cached", "--ignore-unmatch", "--", p)
                except git.GitCommandError:
                    pass


@dataclass(frozen=True)
class LogEntry:
    """One commit of a record's history, as `qms log` shows it: commit, date, author,
    subject, body and QMS trailers."""

    commit: str
    date: str
    author: str
    email: str
    subject: str
    body: str
    trailers: dict[str, list[str]]

    def as_dict(self) -> dict:
        """The entry as plain data, for JSON."""
        return {
            "commit": self.commit,
            "date": self.date,
            "author": self.author,
            "email": self.email,
            "subject": self.subject,
            "body": self.body,
            "trailers": self.trailers,
        }


class Trailer:
    """The keys of the trailers qms writes into every commit message: what auditors, `qms
    log` and `qms audit` read back (the history's contract; never translated)."""

    RECORD = "QMS-Record"  # type/ID of each record the commit changes by intent
    ACTION = "QMS-Action"  # new, set FIELD..., move STATE, role ..., rules ..., import, init
    SIGNATURE = "QMS-Signature"  # MEANING by EMAIL
    ON = "QMS-On"  # when the act happened on paper (补录)
    EFFECT = "QMS-Effect"  # type/ID: what a declared effect changed in another record
    SYNCED = "QMS-Synced"  # ORIGINAL-COMMIT-TIME ORIGINAL-ID: replayed by qms sync onto the remote's commits
    RENUMBERED = "QMS-Renumbered"  # OLD -> NEW: qms sync renumbered a record the remote had taken the ID of


_TRAILER = re.compile(r"^(QMS-[^\n]*?): ([^\n]*)$", re.MULTILINE)


def trailers_of(message: str) -> dict[str, list[str]]:
    """The `QMS-Key: value` lines of a commit message, by key, in order."""
    out: dict[str, list[str]] = {}
    if "QMS-" in message:
        for key, value in _TRAILER.findall(message):
            out.setdefault(key, []).append(value.strip())
    return out


def version() -> tuple[int, ...]:
    """The version of the git on PATH as numbers, (2, 39, 5); () when it cannot be told."""
    import subprocess

    try:
        out = subprocess.run(["git", "version"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(n) for n in m.groups() if n is not None) if m else ()


def log_marker() -> str:
    """A marker made afresh for each reading of the history, which no commit message can
    hold: the fields of `git log` are split on it, so a message cannot forge another
    commit, its files or its author (a fixed separator such as \\x1e could be typed into one)."""
    import secrets

    return "qms-" + secrets.token_hex(16)


def log_format(mark: str) -> str:
    """The `git log --format` that `logged` reads: each commit starts with MARKc and its
    message ends with MARKe (what follows, e.g. --raw lines, is the caller's)."""
    return f"{mark}c%n%H%n%P%n%an%n%ae%n%aI%n%ce%n%cI%n%B{mark}e"


class Logged(NamedTuple):
    """One commit as `git log --format=log_format(mark)` gives it, split into its fields
    (a named tuple: made once for each commit of a history, at a third of a frozen
    dataclass's cost)."""

    sha: str
    parents: list[str]
    author: str
    email: str
    date: str  # author date, ISO 8601
    committer_email: str
    committer_date: str
    message: str
    rest: str  # what git wrote after the message (--raw lines)


def logged(chunk: str, mark: str) -> Logged:
    """One commit of `git log --format=log_format(mark)`, split on MARKc beforehand."""
    head, _sep, rest = chunk.partition(mark + "e")
    lines = head.split("\n", 7)
    if len(lines) < 8:
        lines += [""] * (8 - len(lines))
    sha, parents, author, email, date, cemail, cdate, message = lines
    return Logged(sha, parents.split(), author, email, date, cemail, cdate, message, rest)


def ensure_commit_graph(root: Path) -> None:
    """Write git's commit graph with changed-path filters if the repository has none, so
    that the history of one file in 10,000 commits is read without opening every commit's
    trees (what `git maintenance` and `git gc` keep up to date afterwards). Best effort:
    a repository qms cannot write to is read the slow way."""
    import subprocess

    objects = root / ".git" / "objects"
    if not objects.is_dir():
        return  # a worktree or a submodule: left to git
    info = objects / "info"
    if (info / "commit-graph").exists() or (info / "commit-graphs").exists():
        return
    try:
        subprocess.run(["git", "commit-graph", "write", "--reachable", "--changed-paths"], cwd=root,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError):
        pass


# A record's history: every commit that changed its file, on whichever site's line it was
# made (--full-history: git's default follows, at a merge, one side alone where the file is
# as that side left it, and would hide the other side's acts), merges left out (a merge only
# combines what the sides did: `qms audit` refuses one that writes a value of its own). So a
# file's history is a property of its own commits, read alike for one file, for several at
# once or for the whole store, and after a merge by the commits added since.
HISTORY = ("--full-history", "--no-merges")


def log(root: Path, rel: str) -> list[LogEntry]:
    """The commits that touched `rel`, oldest first, with their trailers parsed. Plain
    `git log` (no GitPython: this is a single-record command and must start fast)."""
    ensure_commit_graph(root)
    mark = log_marker()
    out = _history(root, mark, [*HISTORY, "--", rel])
    return [_entry(logged(chunk, mark)) for chunk in out.split(f"{mark}c\n") if chunk] if out else []


def _history(root: Path, mark: str, args: list[str]) -> str | None:
    """`git log --reverse` of the store in the log format split by `mark`, decoded; None
    before the first commit. Not a git repository, or git missing or refusing, is said
    in one line (NotAStore, QmsError)."""
    import subprocess

    try:
        p = subprocess.run(["git", "-c", "core.quotepath=off", "log", f"--format={log_format(mark)}", "--reverse",
                            *args], cwd=root, stdin=subprocess.DEVNULL, capture_output=True)
    except OSError as e:
        raise QmsError(_("git cannot be run ({reason}); install git and put it on PATH").format(
            reason=e.strerror)) from None
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip()
        if "not a git repository" in err:
            raise NotAStore(_("{path}: not a git repository (a store is a git repository; run 'git init' there)").format(
                path=root))
        if "does not have any commits" in err:
            return None
        raise QmsError(_("git refused to read the history: {error}").format(error=err))
    return p.stdout.decode("utf-8", "replace")


def _entry(c: Logged) -> LogEntry:
    subject, _sep, body = c.message.strip("\n").partition("\n\n")
    body = body.strip()
    text = _TRAILER.sub("", body) if "QMS-" in body else body
    return LogEntry(c.sha, c.date, c.author, c.email, " ".join(subject.split("\n")), text.strip(), trailers_of(body))


def log_all(root: Path, under: str = "records", files: list[str] | None = None) -> dict[str, list[LogEntry]]:
    """The history of every file under `under` (or of the files `files` only), read with
    one `git log --name-only`: each file's path (relative to the store) -> the commits that
    touched it, oldest first, as `log` gives them for one file (for a whole store: one git
    process, not one per record)."""
    mark = log_marker()
    paths = [f":(literal){f}" for f in files] if files is not None else [under]
    # --relative: the names relative to the store, also where it is a folder of its repository
    out = _history(root, mark, [*HISTORY, "--name-only", "--relative", "--no-renames", "-z", "--", *paths])
    if out is None:
        return {}
    found: dict[str, list[LogEntry]] = {}
    for chunk in out.split(f"{mark}c\n"):
        chunk = chunk.lstrip("\0")
        if not chunk:
            continue
        c = logged(chunk, mark)
        entry = _entry(c)
        for name in c.rest.split("\0"):
            name = name.strip("\n")
            if name:
                found.setdefault(name, []).append(entry)
    return found


def touched_since(root: Path, old: object, under: str = "records") -> tuple[str | None, set[str] | None]:
    """(HEAD, the files under `under` that the commits since `old` touched): what a reader
    that knew the history as of commit `old` must read again: those the commits added since
    changed (merges too bring in commits, the other site's, each of which names its files;
    see HISTORY). The files are None (read it all again) when `old` is not a commit HEAD
    descends from (history rewritten, another branch) or it cannot be told; HEAD is None
    before the first commit."""
    import subprocess

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-c", "core.quotepath=off", *args], cwd=root, stdin=subprocess.DEVNULL,
                              capture_output=True, env=dict(os.environ, GIT_OPTIONAL_LOCKS="0"))

    try:
        got = git("rev-parse", "--verify", "-q", "HEAD^{commit}")
        head = got.stdout.decode("ascii", "replace").strip() if got.returncode == 0 else None
        if head is None or not isinstance(old, str) or not re.fullmatch(r"[0-9a-f]{40}", old):
            return head, None
        if old == head:
            return head, set()
        if git("merge-base", "--is-ancestor", old, head).returncode != 0:
            return head, None
        got = git("log", *HISTORY, "--format=", "--name-only", "--relative", "--no-renames", "-z", f"{old}..{head}",
                  "--", under)
    except OSError:
        return None, None
    if got.returncode != 0:
        return head, None
    return head, {name.strip("\n") for name in got.stdout.decode("utf-8", "replace").split("\0") if name.strip("\n")}
