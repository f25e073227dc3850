"""qms.yaml is checked when a store is opened: a key qms does not know is refused with the
closest one, never silently without effect."""

from __future__ import annotations

import subprocess

import pytest


def _status(store) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=store, capture_output=True, text=True).stdout


@pytest.mark.parametrize("edit, says", [
    (lambda t: t.replace("company:", "compnay:"), "qms.yaml: compnay: not a setting of qms.yaml; did you mean 'company'?"),
    (lambda t: t + "require_signed_commit: true\n", "require_signed_commit: not a setting of qms.yaml; did you mean 'require_signed_commits'?"),
    (lambda t: t + "audit: {rules_signed_bye: quality_manager}\n", "audit.rules_signed_bye: not a setting of qms.yaml; did you mean 'rules_signed_by'?"),
    (lambda t: t + "attachments: 50\n", "qms.yaml: attachments: expected settings (max_mb:), not '50'"),
    (lambda t: t.replace("calendar:\n", "calendar:\n  holiday: [2026-08-14]\n"), "calendar.holiday: not a setting of qms.yaml; did you mean 'holidays'?"),
])
def test_an_unknown_setting_is_refused_with_the_closest_one(qms, store, complaint, edit, says):
    config = store / "qms.yaml"
    config.write_text(edit(config.read_text(encoding="utf-8")), encoding="utf-8")
    before = (config.read_bytes(), _status(store))
    for args in (["complaint", "show", complaint], ["complaint", "set", complaint, "description=x"]):
        r = qms(*args)
        assert r.code == 2, (args, r.text)
        assert says in r.err, r.err
    r = qms("validate")  # one finding, exit 1, as CI reads it
    assert r.code == 1 and says.removeprefix("qms.yaml: ") in r.out
    assert "qms.yaml: qms.yaml:" not in r.out
    assert (config.read_bytes(), _status(store)) == before


def test_every_setting_the_readme_shows_is_known(qms, store):
    config = store / "qms.yaml"
    config.write_text(config.read_text(encoding="utf-8") + (
        "shard: none\nnumbering: {complaint: \"CMP-{year}-{seq:04}\"}\nattachments: {max_mb: 50}\n"
        "require_signed_commits: false\naudit: {back_entry_days: 30}\napprovals: {}\ntypes: {}\n"), encoding="utf-8")
    r = qms("validate")
    assert r.code == 0, r.text
