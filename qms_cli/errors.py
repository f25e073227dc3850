"""Errors and findings: what the library raises and returns; the CLI turns them into
messages and exit codes. Imports only the pure text helpers and i18n (standard library),
so anything may import it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .i18n import N_, _
from .text import visible

# Exit codes of the command contract (CLI.md); 0 when the command did what was asked.
EXIT_REFUSED = 1  # illegal move, missing evidence, not authorised; findings
EXIT_BAD_INPUT = 2  # bad usage, unknown ID, unparsable value or file


class QmsError(Exception):
    """Something the user asked for cannot be done. `exit_code` says which kind."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []

    def __str__(self) -> str:
        return "\n".join([self.message, *("  " + d for d in self.details)])


class BadInput(QmsError):
    """An unknown ID or type, an unparsable value, a malformed file, a path-like ID."""

    exit_code = EXIT_BAD_INPUT


class BadFile(BadInput):
    """A file that cannot be read as a record: names the file and, where known, the line."""

    def __init__(self, source: str, problem: str, line: int | None = None):
        super().__init__(f"{source}{f':{line}' if line else ''}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


class NotAStore(BadInput):
    """The folder is not a store (no qms.yaml) or not a git repository."""


class Refused(QmsError):
    """A legal request the rules do not allow now: illegal move, missing fields, wrong signer."""

    exit_code = EXIT_REFUSED


class NotAuthorised(Refused):
    """The actor does not hold the role the action needs."""


class Busy(QmsError):
    """Another qms process held the store's lock for longer than we wait."""

    exit_code = EXIT_REFUSED


def _one_line(text: str) -> str:
    """A name written into a finding stays on its line (one finding, one line), and a
    control character in it is shown, not acted on by the terminal."""
    return visible(text, one_line=True)


class Severity(str, Enum):
    """How much a finding weighs. An error fails `validate` and `audit` (exit 1); a warning
    fails them only with --strict; a note is said and never fails (audit's "this is not
    proven", e.g. a signature made before keys were listed)."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"

    def __str__(self) -> str:
        return self.value


# the word a finding's tag shows for its severity (an error has no tag)
SEVERITY_WORDS = {Severity.WARNING: N_("warning"), Severity.NOTE: N_("note")}


@dataclass(frozen=True)
class Finding:
    """One problem found in a record or the store: `source` is a path relative to the
    store (or a commit), `field` a dotted path, `line` 1-based where known."""

    source: str
    field: str
    message: str
    line: int | None = None
    severity: Severity = Severity.ERROR

    def __post_init__(self) -> None:
        object.__setattr__(self, "severity", Severity(self.severity))  # "warning" read back from a cache

    def __str__(self) -> str:
        where = self.source + (f":{self.line}" if self.line else "")
        field = f" {self.field}:" if self.field else ""
        tag = "" if self.severity is Severity.ERROR else f" ({_(SEVERITY_WORDS[self.severity])})"
        return _one_line(f"{where}:{field} {self.message}{tag}")

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "line": self.line,
            "field": self.field,
            "message": self.message,
            "severity": self.severity.value,
        }


class SendFailed(QmsError):
    """A reminder could not be sent: the server refused it, did not answer in time, or
    answered with an error. Nothing is recorded as sent."""

    exit_code = EXIT_REFUSED
