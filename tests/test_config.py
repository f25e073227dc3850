"""qms.yaml is checked when a store is opened: a key qms does not know is refused with the
closest one, never silently without effect."""

from __future__ import annotations

import subprocess

import pytest
from test_roles import ADMIN, guarded, hand_commit


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


def test_a_holders_mistyped_key_is_refused_with_the_closest_one(qms, store, complaint):
    """`untill:` would otherwise leave the holding open for ever."""
    config = store / "qms.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("until: 2026-05-31", "untill: 2026-05-31"),
                      encoding="utf-8")
    r = qms("complaint", "show", complaint)
    assert r.code == 2, r.text
    assert ("qms.yaml: roles.quality_engineer.holders.2.untill: not a setting of qms.yaml; did you mean 'until'?"
            in r.err), r.err
    r = qms("validate")
    assert r.code == 1 and "did you mean 'until'?" in r.out, r.text


@pytest.mark.parametrize("edit, says", [
    (lambda t: t + "require_signed_commits: \"yes\"\n", "qms.yaml: require_signed_commits: expected true or false, not 'yes'"),
    (lambda t: t + "shard: weekly\n", "qms.yaml: shard: expected none, year or hundred, not 'weekly'"),
    (lambda t: t + "types:\n  complaint:\n    requires: {acknowledged: sales_order}\n",
     "qms.yaml: types.complaint.requires.acknowledged: expected a list of requirements, such as [sales_order], "
     "not 'sales_order'"),
])
def test_a_bad_value_is_refused_by_every_command(qms, store, complaint, edit, says):
    """A value qms cannot run on is refused when the store is opened, whichever command
    asks (not only the one that happens to read it), and is validate's one finding."""
    config = store / "qms.yaml"
    config.write_text(edit(config.read_text(encoding="utf-8")), encoding="utf-8")
    before = (config.read_bytes(), _status(store))
    for args in (["complaint", "show", complaint], ["complaint", "list"], ["role", "list"]):
        r = qms(*args)
        assert r.code == 2, (args, r.text)
        assert says in r.err, r.err
    r = qms("validate")
    assert r.code == 1 and says.removeprefix("qms.yaml: ") in r.out, r.text
    assert (config.read_bytes(), _status(store)) == before


def test_audit_reads_each_commits_qms_yaml_as_it_was_written(qms, store):
    """A key qms does not know (an older qms's) in a commit's qms.yaml is no finding; roles
    that cannot be read are one (the rules before it still apply), and audit runs on."""
    guarded(store)
    config = store / "qms.yaml"
    good = config.read_text(encoding="utf-8")
    config.write_text(good + "legacy_setting: 1\n", encoding="utf-8")
    hand_commit(store, "an older qms's setting", ADMIN)
    config.write_text(good.replace("until: 2026-05-31", "until: someday"), encoding="utf-8")
    hand_commit(store, "broken", ADMIN)
    config.write_text(good, encoding="utf-8")
    hand_commit(store, "fixed", ADMIN)
    r = qms("audit")
    assert r.code == 1, r.text
    found = [line for line in r.out.splitlines() if "qms.yaml" in line]
    assert len(found) == 1 and "qms.yaml: cannot be read after this commit (the rules before it still apply)" in found[0], r.out


def test_the_admin_commits_the_fix_of_a_setting_committed_broken(qms, store):
    """The rules a change is judged by are qms.yaml as committed, read as written: a bad
    value there does not keep its fix from being committed."""
    guarded(store)
    config = store / "qms.yaml"
    good = config.read_text(encoding="utf-8")
    config.write_text(good + "shard: weekly\n", encoding="utf-8")
    hand_commit(store, "oops", ADMIN)
    assert qms("complaint", "list").code == 2
    config.write_text(good + "shard: year\n", encoding="utf-8")
    r = qms("rules", "commit", "-m", "按年份归档", who=ADMIN)
    assert r.code == 0, r.text
    assert qms("complaint", "list").code == 0


# -- the typed model, read from qms.yaml's text ----------------------------------------------

FULL = """\
company: 测试汽车部件有限公司
site: 7
lang: en
timezone: Europe/Berlin
shard: hundred
time_limits: {profile: iatf16949, complaint: {report: {serious: 4wd}}}
calendar:
  workdays: [2026-05-09]
  holidays: [2026-08-14, "2026-08-15"]
numbering:
  complaint: "CMP-{site}-{year}-{seq:04}"
roles:
  quality_engineer:
    label: {zh: 质量工程师, en: Quality engineer}
    holders:
      - {name: 李雷, email: li.lei@example.com, from: 2024-03-01, key: "ssh-ed25519 AAAA li"}
      - zhou.jie@example.com
  department_head:
    holders:
      - {name: 王强, email: wang.qiang@example.com, department: 质量部, until: "2026-12-31"}
types:
  complaint:
    fields:
      sales_order: {type: text, label: {zh: 销售订单号, en: Sales order}}
    requires:
      acknowledged: [sales_order]
approvals:
  procedure: {review: quality_engineer, approve: department_head}
attachments: {max_mb: 2}
require_signed_commits: true
audit: {rules_signed_by: quality_engineer, back_entry_days: 10}
"""


def _config(text: str, tmp_path, **how):
    from qms_cli.config import Config
    from qms_cli.files import yamlio

    return Config.parse(tmp_path, yamlio.parse(text, "qms.yaml"), **how)


def test_qms_yaml_is_read_into_typed_settings(tmp_path):
    from datetime import date
    from zoneinfo import ZoneInfo

    from qms_cli.config import AuditSettings, Calendar, Holding

    cfg = _config(FULL, tmp_path)
    s = cfg.settings
    assert (s.company, s.site, s.lang, s.shard) == ("测试汽车部件有限公司", "7", "en", "hundred")
    assert cfg.tz == ZoneInfo("Europe/Berlin") == s.timezone
    assert s.calendar == Calendar(workdays=frozenset({date(2026, 5, 9)}),
                                  holidays=frozenset({date(2026, 8, 14), date(2026, 8, 15)}))
    assert cfg.calendar.is_workday(date(2026, 5, 9)) and not cfg.calendar.is_workday(date(2026, 8, 14))
    assert cfg.time_limit_profile[0] == "iatf16949"
    assert cfg.time_limit("complaint", "report", "serious") == "4wd"
    assert cfg.time_limit("complaint", "report", "general") == "2wd"  # the profile's, where not overridden
    qe = cfg.roles["quality_engineer"]
    assert qe.label == {"zh": "质量工程师", "en": "Quality engineer"}
    assert qe.holders == (
        Holding("li.lei@example.com", "李雷", date(2024, 3, 1), None, None, ("ssh-ed25519 AAAA li",)),
        Holding("zhou.jie@example.com", "zhou.jie@example.com", None, None),
    )
    head = cfg.roles["department_head"]
    assert head.label == {"zh": "department_head", "en": "department_head"}
    assert head.holders[0].end == date(2026, 12, 31) and head.holders[0].department == "质量部"
    assert cfg.person_name("LI.LEI@example.com") == "李雷"
    assert cfg.approvals == {"procedure": {"review": "quality_engineer", "approve": "department_head"}}
    assert cfg.attachment_limit == 2 << 20
    assert cfg.require_signed_commits is True
    assert cfg.audit == AuditSettings(rules_signed_by="quality_engineer", back_entry_days=10)
    assert cfg.audit.guard == "quality_engineer"
    complaint = cfg.record_type("complaint")
    assert "sales_order" in complaint.fields
    assert complaint.numbering == {"": "CMP-{site}-{year}-{seq:04}"}
    assert cfg.text_problems == ()


def test_what_qms_yaml_leaves_out_has_its_default(tmp_path):
    from zoneinfo import ZoneInfo

    from qms_cli.config import AuditSettings

    cfg = _config("company: ACME\n", tmp_path)
    assert (cfg.site, cfg.lang, cfg.shard, cfg.roles, cfg.approvals) == ("", "zh", "none", {}, {})
    assert cfg.tz == ZoneInfo("Asia/Shanghai")
    assert cfg.time_limit_profile[0] == "iatf16949"
    assert cfg.attachment_limit == 20 << 20
    assert cfg.require_signed_commits is False
    assert cfg.audit == AuditSettings() and cfg.audit.guard is None


@pytest.mark.parametrize("text, says", [
    # what check_keys refuses: unknown keys, with the closest known one, anywhere qms knows them
    ("compnay: ACME\n", "qms.yaml: compnay: not a setting of qms.yaml; did you mean 'company'?"),
    ("audit: {back_entry_day: 3}\n", "qms.yaml: audit.back_entry_day: not a setting of qms.yaml; "
                                     "did you mean 'back_entry_days'?"),
    ("roles: {qe: {lable: {zh: 质量}}}\n", "qms.yaml: roles.qe.lable: not a setting of qms.yaml; did you mean 'label'?"),
    ("roles: {qe: {holders: [{email: a@example.com, form: 2026-01-01}]}}\n",
     "qms.yaml: roles.qe.holders.0.form: not a setting of qms.yaml; did you mean 'from'?"),
    ("calendar: [2026-01-01]\n", "qms.yaml: calendar: expected settings (workdays:, holidays:), not "),
    # each value: the key path and what was expected
    ("company: {name: ACME}\n", "qms.yaml: company: expected one line of text, not "),
    ("lang: fr\n", "qms.yaml: lang: expected zh or en, not 'fr'"),
    ("timezone: Mars/Olympus\n", "qms.yaml: timezone: unknown time zone 'Mars/Olympus' (e.g. Asia/Shanghai)"),
    ("shard: [year]\n", "qms.yaml: shard: expected none, year or hundred, not '['year']'"),
    ("time_limits: iso9001\n", "qms.yaml: time_limits: unknown profile 'iso9001' (expected one of iatf16949, "),
    ("time_limits: {complaint: 5wd}\n", "qms.yaml: time_limits.complaint: expected time limits by name, such as "
                                        "{report: 5wd}, not '5wd'"),
    ("time_limits: {complaint: {report: soon}}\n", "qms.yaml: time_limits.complaint.report: 'soon': expected a time "
                                                   "limit such as"),
    ("calendar: {holidays: 2026-08-14}\n", "qms.yaml: calendar.holidays: expected a list of dates such as "
                                           "[2026-05-09], not '2026-08-14'"),
    ("calendar: {workdays: [someday]}\n", "qms.yaml: calendar.workdays.0: expected a date such as 2026-01-01"),
    ("numbering: CMP-{seq:04}\n", "qms.yaml: numbering: expected a scheme by record type, such as "
                                  "complaint: CMP-{year}-{seq:04}, not 'CMP-{seq:04}'"),
    ("numbering: {complaint: [CMP]}\n", "qms.yaml: numbering.complaint: expected a scheme such as "
                                        "CMP-{year}-{seq:04}, or schemes by category, not "),
    ("roles: [qe]\n", "qms.yaml: roles: expected a mapping of role names"),
    ("roles: {qe: someone}\n", "qms.yaml: roles.qe: expected label: and holders:"),
    ("roles: {qe: {holders: a@example.com}}\n", "qms.yaml: roles.qe.holders: expected a list of holders, such as "
                                                "[{name: 李雷, email: li.lei@example.com}]"),
    ("roles: {qe: {label: QE}}\n", "qms.yaml: roles.qe.label: expected a label by language, such as "
                                   "{zh: 质量工程师, en: Quality engineer}"),
    ("roles: {qe: {holders: [{name: 李雷}]}}\n", "qms.yaml: roles.qe.holders.0: expected an email"),
    ("roles: {qe: {holders: [{email: a@example.com, until: soon}]}}\n",
     "qms.yaml: roles.qe.holders.0.until: expected a date such as 2026-01-01"),
    ("roles: {qe: {holders: [{email: a@example.com, key: {ssh: x}}]}}\n",
     "qms.yaml: roles.qe.holders.0.key: expected a signing key (an SSH public key or a GPG fingerprint), "
     "or a list of them"),
    ("roles: {qe: {holders: [{email: a@example.com, department: [a, b]}]}}\n",
     "qms.yaml: roles.qe.holders.0.department: expected one line of text, not "),
    ("types: [complaint]\n", "qms.yaml: types: expected changes by record type, such as "
                             "complaint: {fields: ..., requires: ...}, not "),
    ("types: {complaint: [fields]}\n", "qms.yaml: types.complaint: expected fields: and requires:"),
    ("types: {complaint: {field: {}}}\n", "qms.yaml: types.complaint: unknown key(s) field "
                                          "(expected fields:, requires:, moves:, approvals: or checks:)"),
    ("types: {complaint: {fields: [sales_order]}}\n", "qms.yaml: types.complaint.fields: expected fields by name, "
                                                      "such as sales_order: {type: text}, not "),
    ("types: {complaint: {requires: [sales_order]}}\n", "qms.yaml: types.complaint.requires: expected requirements "
                                                        "by state, such as acknowledged: [sales_order], not "),
    ("types: {complaint: {moves: [received->acknowledged]}}\n", "qms.yaml: types.complaint.moves: expected changes "
                                                                "by move, such as received->acknowledged: "
                                                                "{role: sales}, not "),
    ("types: {complaint: {moves: {received->acknowledged: sales}}}\n",
     "qms.yaml: types.complaint.moves.received->acknowledged: expected role: and/or requires:"),
    ("types: {distribution: {approvals: {key: x}}}\n", "qms.yaml: types.distribution.approvals: expected "
                                                       "{department: FIELD}"),
    ("approvals: [procedure]\n", "qms.yaml: approvals: expected roles by document category, such as procedure: "
                                 "{review: quality_manager, approve: management_representative}, not "),
    ("approvals: {procedure: quality_manager}\n", "qms.yaml: approvals.procedure: expected roles by step, such as "
                                                  "{review: quality_manager, approve: management_representative}, "
                                                  "not 'quality_manager'"),
    ("approvals: {procedure: {review: [a, b]}}\n", "qms.yaml: approvals.procedure.review: expected the name of a "
                                                   "role, not "),
    ("attachments: {max_mb: 0}\n", "qms.yaml: attachments.max_mb: expected a number of megabytes from 1 to 256"),
    ("attachments: {max_mb: lots}\n", "qms.yaml: attachments.max_mb: expected a number of megabytes from 1 to 256"),
    ("require_signed_commits: 1\n", "qms.yaml: require_signed_commits: expected true or false, not '1'"),
    ("audit: {back_entry_days: -1}\n", "qms.yaml: audit.back_entry_days: expected a whole number of days, "
                                       "0 or more, not '-1'"),
    ("audit: {back_entry_days: 1.5}\n", "qms.yaml: audit.back_entry_days: expected a whole number of days, "
                                        "0 or more, not '1.5'"),
    ("audit: {rules_signed_by: [a, b]}\n", "qms.yaml: audit.rules_signed_by: expected the name of a role, not "),
])
def test_a_bad_setting_is_refused_naming_the_key_and_what_was_expected(tmp_path, text, says):
    from qms_cli.errors import BadInput

    with pytest.raises(BadInput) as e:
        _config(text, tmp_path)
    assert e.value.message.startswith(says), e.value.message


def test_settings_that_are_not_a_mapping_are_refused(tmp_path):
    from qms_cli.config import Config
    from qms_cli.errors import BadInput

    for as_written in (False, True):
        with pytest.raises(BadInput, match=r"^qms.yaml: expected settings \(company:, roles: ...\), not a list$"):
            Config.parse(tmp_path, ["company"], as_written=as_written)


def test_a_declaration_qms_yaml_changes_wrongly_is_refused_when_the_type_is_read(tmp_path):
    """What only the declaration can tell (a move or state it does not have) is refused
    when the type is read, naming qms.yaml."""
    from qms_cli.errors import BadInput

    cfg = _config("types: {complaint: {requires: {nowhere: [x]}}}\n", tmp_path)
    with pytest.raises(BadInput, match=r"^qms.yaml: types.complaint.requires: no state 'nowhere'$"):
        cfg.record_type("complaint")


def test_a_commits_qms_yaml_is_taken_as_it_was_written(tmp_path):
    """Audit and `qms rules commit` read a committed qms.yaml as it was written: a key an
    older qms knew is no error, and a setting that cannot be read is refused only when it
    is asked for."""
    from qms_cli.errors import BadInput

    text = FULL.replace("lang: en", "lang: fr").replace("back_entry_days: 10", "back_entry_days: soon")
    text += "official_calendar: true\n"  # a key qms does not know
    with pytest.raises(BadInput):
        _config(text, tmp_path)
    cfg = _config(text, tmp_path, as_written=True)
    assert cfg.problem("lang") == "qms.yaml: lang: expected zh or en, not 'fr'"
    with pytest.raises(BadInput, match="lang: expected zh or en"):
        cfg.lang  # noqa: B018
    assert cfg.problem("roles") is None and cfg.roles["quality_engineer"].holders[0].name == "李雷"
    assert cfg.audit.back_entry_days is None  # audit's own default, as before
    assert cfg.audit.guard == "quality_engineer"


def test_the_rules_of_two_configurations_compare_by_what_qms_reads(tmp_path):
    before = _config(FULL, tmp_path)
    assert before.rule("roles") == _config(FULL.replace("from: 2024-03-01", "from: '2024-03-01'"), tmp_path).rule("roles")
    assert before.rule("roles") != _config(FULL.replace("AAAA li", "BBBB li"), tmp_path).rule("roles")
    assert before.rule("time_limits") != _config(FULL.replace("4wd", "3wd"), tmp_path).rule("time_limits")
    assert before.rule("types") != _config(FULL.replace("[sales_order]", "[]"), tmp_path).rule("types")
    # a setting that cannot be read compares by what was written
    broken = [_config(FULL.replace("until: \"2026-12-31\"", f"until: {day}"), tmp_path, as_written=True)
              for day in ("soon", "later", "later")]
    assert broken[0].problem("roles") and broken[0].rule("roles") != before.rule("roles")
    assert broken[0].rule("roles") != broken[1].rule("roles") and broken[1].rule("roles") == broken[2].rule("roles")


def test_text_a_form_cannot_print_is_named(tmp_path):
    cfg = _config("company: \"ACME\\nLtd\"\nsite: \"H\\u202eZ\"\n", tmp_path)
    assert [path for path, _problem in cfg.text_problems] == ["site", "company"]
