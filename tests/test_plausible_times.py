"""Times a record could not hold: a complaint received in the future, a contact before the
complaint came in, an effectiveness check before what it checks was implemented. Refused at
write and reported by validate, naming both fields."""

from __future__ import annotations

from conftest import CORRECT, INVESTIGATE, QE, QM, RECEIVED, REGISTERED, git, sets
from test_workflow import ACK, CLOSE, VERIFY, when


def _received(at: str) -> list[str]:
    return [a for a in RECEIVED if not a.startswith("received_at=")] + [f"received_at={at}"]


def test_a_receipt_in_the_future_is_refused(qms, store):
    head = git(store, "rev-parse", "HEAD")
    r = qms("complaint", "new", *sets(*_received("2027-05-06T10:00")), who=QE, env=REGISTERED)
    assert r.code == 1, r.text
    assert "received_at" in r.err and "2027-05-06 10:00" in r.err, r.err  # the signature would predate it
    assert git(store, "rev-parse", "HEAD") == head


def test_a_contact_before_the_complaint_came_in_is_refused_naming_both(qms, store, complaint):
    early = [a.replace("contact.at=2026-03-06T10:40", "contact.at=2026-02-06T10:40") for a in ACK]
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*early), who=QE, env=when("2026-03-06T10:45:00+08:00"))
    assert r.code == 1, r.text
    assert "contact.at: 2026-02-06 10:40:00+08:00 is before received_at (2026-03-06 10:00:00+08:00)" in r.err, r.err


def test_the_same_day_an_hour_earlier_is_still_earlier(qms, store, complaint):
    early = [a.replace("contact.at=2026-03-06T10:40", "contact.at=2026-03-06T09:00") for a in ACK]
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*early), who=QE, env=when("2026-03-06T10:45:00+08:00"))
    assert r.code == 1 and "contact.at" in r.err and "received_at" in r.err, r.text


def test_a_check_of_effectiveness_before_the_implementation_is_refused(qms, store, complaint):
    for target, assignments, who, at in [("acknowledged", ACK, QE, "2026-03-06T10:45:00+08:00"),
                                         ("investigating", INVESTIGATE, QE, "2026-03-06T14:00:00+08:00"),
                                         ("correcting", CORRECT, QE, "2026-03-09T09:00:00+08:00"),
                                         ("verifying", [*VERIFY, "d6.implemented_at=2026-03-10"], QE,
                                          "2026-03-10T16:30:00+08:00")]:
        assert qms("complaint", "move", complaint, target, *sets(*assignments), who=who, env=when(at)).code == 0
    early = [a.replace("effectiveness.checked_at=2026-03-12", "effectiveness.checked_at=2026-03-09") for a in CLOSE]
    r = qms("complaint", "move", complaint, "closed", *sets(*early), who=QM, env=when("2026-03-12T11:00:00+08:00"))
    assert r.code == 1, r.text
    assert "effectiveness.checked_at: 2026-03-09 is before d6.implemented_at (2026-03-10)" in r.err, r.err


def test_validate_reports_a_time_edited_by_hand(qms, store, complaint):
    p = next((store / "records" / "complaint").rglob(f"{complaint}.yaml"))
    p.write_text(p.read_text(encoding="utf-8").replace("received_at: 2026-03-06", "received_at: 2099-03-06"),
                 encoding="utf-8")
    for _ in range(2):  # and again: a time ahead of now is not kept as an answer by validate's cache
        r = qms("validate")
        assert r.code == 1 and "received_at: 2099-03-06" in r.out and "is after now" in r.out, r.text
    r = qms("validate", env={"QMS_NOW": "2099-04-01T00:00"})
    assert "is after now" not in r.out, r.text
