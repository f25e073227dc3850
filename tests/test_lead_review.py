"""The lead's review of customer histories on the site, ledgers' links and histories
across merges: each test failed before its fix."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git
from test_publish import NOW, _files

HISTORY = """label: {zh: 服务履历, en: Service history}
of: customer
sections:
  - label: {zh: 服务, en: Services}
    type: service
    match: {customer: id}
    columns:
      - {path: id, label: {zh: 编号, en: No.}}
      - requested_at
"""


def _publish(qms, root: Path, site: Path) -> dict:
    r = qms("--json", "publish", str(site), root=root, env=NOW)
    assert r.code == 0, r.text
    return json.loads(r.out)


def _commit(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "-m", "by hand")


def test_a_history_that_cannot_be_made_is_neither_listed_nor_linked_and_said_once(qms, sample, tmp_path):
    """A store's own report about each customer whose declaration cannot be made (a type
    the store has not) was said once per customer, its list page said 'no customer records
    yet' from the home page, and every customer's page linked to a history never written."""
    (sample / "reports").mkdir()
    (sample / "reports/service-history.yaml").write_text(HISTORY.replace("type: service", "type: nosuch"))
    _commit(sample)
    site = tmp_path / "site"
    out = _publish(qms, sample, site)
    said = [p for p in out["problems"] if "service-history" in p]
    assert 1 <= len(said) <= 2, said  # once (in each language at most), not once per customer
    assert "nosuch" in said[0]
    for lang in ("zh", "en"):
        assert not (site / lang / "reports/service-history.html").exists()
        assert "service-history" not in (site / lang / "index.html").read_text(encoding="utf-8")
        page = (site / lang / "customer/CUS-0001.html").read_text(encoding="utf-8")
        assert "service-history/" not in page
        assert "reports/customer/CUS-0001.html" in page  # the built-in history still is
    # declared right, the histories are published and linked, as a new publish makes them
    (sample / "reports/service-history.yaml").write_text(HISTORY)
    _commit(sample)
    out = _publish(qms, sample, site)
    assert not [p for p in out["problems"] if "service-history" in p]
    page = (site / "zh/customer/CUS-0001.html").read_text(encoding="utf-8")
    assert "../reports/service-history/CUS-0001.html" in page
    assert (site / "zh/reports/service-history/CUS-0001.html").exists()
    fresh = tmp_path / "fresh"
    _publish(qms, sample, fresh)
    assert _files(fresh) == _files(site)
