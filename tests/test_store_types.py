"""A record type declared only in a store's own types/ gets the same verbs as a built-in
one: new, show, list, set, move, fields, and validation and a schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import QE, QM, identity_env

VISIT = """\
type: tour
label: {zh: 顾客拜访, en: Customer visit}
form: {zh: 顾客拜访记录, en: Customer visit record}
numbering: "VIS-{year}-{seq:04}"
title_field: summary
list_columns: [customer, visited_on]

fields:
  customer: {type: text, label: {zh: 顾客名称, en: Customer}}
  visited_on: {type: date, label: {zh: 拜访日期, en: Visited on}}
  summary: {type: text, label: {zh: 拜访纪要, en: Summary}}
  approved_on: {type: date, label: {zh: 批准日期, en: Approved on}}

workflow:
  initial: planned
  edit: {role: quality_engineer}
  create:
    role: quality_engineer
    requires: [customer, visited_on]
  states:
    planned:
      label: {zh: 计划中, en: Planned}
      requires: [customer, visited_on]
    reported:
      label: {zh: 已报告, en: Reported}
      includes: planned
      requires: [summary]
    approved:
      label: {zh: 已批准, en: Approved}
      final: true
      includes: reported
      requires: [approved_on]
  moves:
    - {from: planned, to: reported, role: quality_engineer, sign: reported}
    - {from: reported, to: approved, role: quality_manager, sign: approved}

meanings:
  reported: {zh: 报告, en: Reported}
  approved: {zh: 批准, en: Approved}
"""


def run(store, *args, who=QE, when="2026-03-10T10:00:00+08:00"):
    env = {k: v for k, v in os.environ.items()}
    env.update(identity_env(who), GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when, QMS_LANG="en")
    return subprocess.run([sys.executable, "-m", "qms_cli", "-C", str(store), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def with_visit(store):
    (store / "types").mkdir(exist_ok=True)
    (store / "types" / "tour.yaml").write_text(VISIT, encoding="utf-8")
    subprocess.run(["git", "add", "types"], cwd=store, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "rules: a customer-visit record type"], cwd=store, check=True,
                   env={**os.environ, **identity_env(QM),
                        "GIT_AUTHOR_DATE": "2026-03-10T09:00:00+08:00", "GIT_COMMITTER_DATE": "2026-03-10T09:00:00+08:00"})
    return store


def test_a_store_type_is_listed_with_its_label_in_help(store):
    with_visit(store)
    r = run(store, "--help")
    assert r.returncode == 0
    assert "Customer visit records (tour)" in r.stdout
    elsewhere = store.parent / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([sys.executable, "-m", "qms_cli", "--help"], cwd=elsewhere, capture_output=True, text=True,
                       env={**os.environ, "QMS_LANG": "en"})
    assert "complaint" in r.stdout and "tour" not in r.stdout


def test_a_store_type_goes_from_new_to_its_final_state_and_validates(store):
    with_visit(store)
    r = run(store, "tour", "new", "--set", "customer=上汽大众", "--set", "visited_on=2026-03-09")
    assert r.returncode == 0, r.stderr
    vid = r.stdout.strip()
    assert vid == "VIS-2026-0001"
    refused = run(store, "tour", "move", vid, "reported", when="2026-03-10T10:05:00+08:00")
    assert refused.returncode == 1 and "summary" in refused.stderr
    assert run(store, "tour", "set", vid, "summary=现场确认包装改进", when="2026-03-10T10:10:00+08:00").returncode == 0
    assert run(store, "tour", "move", vid, "已报告", when="2026-03-10T10:15:00+08:00").returncode == 0
    wrong = run(store, "tour", "move", vid, "approved", "--set", "approved_on=2026-03-10", when="2026-03-10T10:20:00+08:00")
    assert wrong.returncode == 1 and "quality_manager" in wrong.stderr
    ok = run(store, "tour", "move", vid, "approved", "--set", "approved_on=2026-03-10", who=QM,
             when="2026-03-10T10:25:00+08:00")
    assert ok.returncode == 0, ok.stderr
    shown = json.loads(run(store, "--json", "tour", "show", vid, when="2026-03-10T10:30:00+08:00").stdout)
    assert shown["state"] == "approved" and shown["type_label"] in ("顾客拜访", "Customer visit")
    listed = run(store, "tour", "list", "--where", "customer~上汽", when="2026-03-10T10:30:00+08:00")
    assert vid in listed.stdout
    assert "visited_on" in run(store, "tour", "fields").stdout
    assert run(store, "validate").returncode == 0
    assert run(store, "schema", "export", str(store / "out")).returncode == 0
    assert "visited_on" in (store / "out" / "tour.schema.json").read_text(encoding="utf-8")
    assert run(store, "audit").returncode == 0, run(store, "audit").stdout
    log = subprocess.run(["git", "log", "--format=%s"], cwd=store, capture_output=True, text=True).stdout
    assert log.count(vid) >= 3


def test_a_store_type_cannot_take_the_place_of_a_command(store):
    (store / "types").mkdir(exist_ok=True)
    (store / "types" / "init.yaml").write_text(VISIT.replace("type: tour", "type: init"), encoding="utf-8")
    r = run(store, "init", "--help")
    assert r.returncode == 0 and "A new store" in r.stdout


def test_a_store_types_label_cannot_act_on_the_terminal(store):
    (store / "types").mkdir(exist_ok=True)
    # raw escape sequences in the file: help reads the label line without parsing YAML
    hostile = VISIT.replace("label: {zh: 顾客拜访, en: Customer visit}", "label: {zh: \x1b[2J拜访, en: \x1b]0;pwned\x07Visit}")
    (store / "types" / "tour.yaml").write_text(hostile, encoding="utf-8")
    r = run(store, "--help")
    assert r.returncode == 0 and "\x1b" not in r.stdout and "tour records (tour)" in r.stdout, r.stdout


def test_a_store_type_naming_a_computed_value_qms_does_not_have_is_refused_by_name(store):
    (store / "types").mkdir(exist_ok=True)
    (store / "types" / "gauge.yaml").write_text(VISIT.replace("type: tour", "type: gauge").replace(
        "title_field: summary", "title_field: summary\ncompute:\n  summary: {fn: next_serial}"), encoding="utf-8")
    r = run(store, "gauge", "new", "--set", "customer=上汽大众", "--set", "visited_on=2026-03-09")
    assert r.returncode == 2, r.stderr
    assert "types/gauge.yaml: compute.summary: no computed value named 'next_serial'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
