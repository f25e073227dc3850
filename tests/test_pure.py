"""The pure layers on their own, on in-memory data: no store, no git, no command line."""

from __future__ import annotations

import pytest

from qms_cli.errors import Finding, Severity
from qms_cli.model import values
from qms_cli.paths import BUILTIN_TYPES
from qms_cli.files import yamlio
from qms_cli.model.declaration import RecordType


@pytest.fixture(scope="module")
def complaint() -> RecordType:
    path = BUILTIN_TYPES / "complaint.yaml"
    return RecordType.from_dict(yamlio.load_declaration(path, "complaint"), "complaint")


def test_a_finding_weighs_an_error_a_warning_or_a_note():
    warning = Finding("records/x.yaml", "f", "unknown field", severity="warning")  # as read back from a cache
    assert warning.severity is Severity.WARNING and str(warning).endswith("(warning)")
    assert warning.as_dict()["severity"] == "warning"
    assert str(Finding("HEAD", "", "not tied to a key", severity=Severity.NOTE)).endswith("(note)")
    assert not str(Finding("a.yaml", "f", "bad")).endswith(")")
    with pytest.raises(ValueError):
        Finding("a.yaml", "f", "bad", severity="catastrophic")


def test_a_field_the_type_does_not_declare_is_a_warning_and_a_wrong_value_an_error(complaint):
    data = {"class": "huge", "customer": {"name": "上汽", "shoe_size": 42}, "received_at": "yesterday"}
    found = {(p.path, p.severity) for p in values.check_fields(complaint.fields, data)}
    assert ("class", Severity.ERROR) in found
    assert ("received_at", Severity.ERROR) in found
    assert ("customer.shoe_size", Severity.WARNING) in found
    assert not [p for p in values.check_fields(complaint.fields, {"class": "general"})]


def test_walk_yields_every_filled_in_leaf_with_its_declaration(complaint):
    data = {"customer": {"name": "上汽"}, "investigation": {"departments": ["质量部", "技术部"]}, "class": None}
    walked = {path: (spec.type, value) for path, spec, value in values.walk(complaint.fields, data)}
    assert walked == {"customer.name": ("text", "上汽"),
                      "investigation.departments.0": ("text", "质量部"),
                      "investigation.departments.1": ("text", "技术部")}
