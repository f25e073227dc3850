"""A quality engineer types the words on the form: states and choices by their Chinese (or
English) labels, and the full-width punctuation a Chinese keyboard gives."""

from __future__ import annotations

import pytest

from conftest import QE, RECEIVED, REGISTERED, git, sets
from test_workflow import ACK, load, when


def test_choices_by_their_labels_are_stored_as_their_values(qms, store):
    given = [a for a in RECEIVED if not a.startswith(("channel=", "class="))] + ["channel=电话", "class=严重投诉"]
    r = qms("complaint", "new", *sets(*given), who=QE, env=REGISTERED)
    assert r.code == 0, r.text
    rec = load(store, r.out.strip())
    assert (rec["channel"], rec["class"]) == ("phone", "serious")
    r = qms("complaint", "set", r.out.strip(), "class=General complaint", who=QE)
    assert r.code == 0, r.text


def test_a_move_by_the_states_label(qms, store, complaint):
    r = qms("complaint", "move", complaint, "已联系顾客", *sets(*ACK), who=QE,
            env=when("2026-03-06T10:45:00+08:00"))
    assert r.code == 0, r.text
    rec = load(store, complaint)
    assert rec["state"] == "acknowledged"
    assert "QMS-Action: move acknowledged" in git(store, "log", "-1", "--format=%B")


def test_full_width_separators_act_as_ascii_ones(qms, store, complaint):
    _ = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE, env=when("2026-03-06T10:45:00+08:00"))
    r = qms("complaint", "move", complaint, "investigating", "--set", "investigation.departments＝质量部，技术部、生产部",
            who=QE, env=when("2026-03-06T14:00:00+08:00"))
    assert r.code == 0, r.text
    assert load(store, complaint)["investigation"]["departments"] == ["质量部", "技术部", "生产部"]


@pytest.mark.parametrize("args, says", [
    (["move", "CMP-2026-0001", "已关毕"], "is not a state of complaint"),
    (["move", "CMP-2026-0001", "acknowledgd"], "did you mean 'acknowledged'?"),
    (["set", "CMP-2026-0001", "class=serios"], "did you mean 'serious'?"),
    (["set", "CMP-2026-0001", "class=严重"], "expected one of general, requirement, serious"),
])
def test_unknown_words_are_refused_with_what_was_meant(qms, store, complaint, args, says):
    head = git(store, "rev-parse", "HEAD")
    r = qms("complaint", *args, who=QE)
    assert r.code == 2 and says in r.err, r.text
    assert git(store, "rev-parse", "HEAD") == head
