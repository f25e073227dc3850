"""Did you mean ...? The known word closest to a mistyped one (a field path, a state,
an enum value or its label), for messages. Pure, standard library only (and i18n, which is
too); anything may import it."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from difflib import get_close_matches

from .i18n import _

CUTOFF = 0.6  # difflib's own default: close enough that the hint is rarely a wrong one


def fold(word: str) -> str:
    """A word as it is compared: full-width letters, digits and brackets as their ASCII
    forms (NFKC) and case ignored, so that `ＣＬＯＳＥＤ` and `Closed` are `closed`."""
    return unicodedata.normalize("NFKC", word).casefold().strip()


def choice(word: str, choices: dict) -> str | None:
    """The name of the state or enum value `word` names, by its name or by its label in any
    language ({name: {zh: ..., en: ...}}; case and full-width letters ignored); None if none."""
    if word in choices:
        return word
    folded = fold(word)
    for name, label in choices.items():
        texts = label.values() if isinstance(label, dict) else ()
        if folded == fold(str(name)) or any(folded == fold(str(text)) for text in texts):
            return name
    return None


def closest(word: str, known: Iterable[str], cutoff: float = CUTOFF) -> str | None:
    """The known word most like `word` (compared folded), as it is spelt in `known`; None
    when none is close enough."""
    spelt: dict[str, str] = {}
    for k in known:
        spelt.setdefault(fold(k), k)
    hits = get_close_matches(fold(word), list(spelt), n=1, cutoff=cutoff)
    return spelt[hits[0]] if hits else None


def did_you_mean(word: str, known: Iterable[str], cutoff: float = CUTOFF) -> str:
    """`; did you mean 'X'?` to append to a message, or "" when nothing is close."""
    hit = closest(word, known, cutoff)
    return _("; did you mean '{word}'?").format(word=hit) if hit is not None else ""
