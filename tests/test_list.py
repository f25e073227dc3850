"""`qms TYPE list`: finding records with --state and --where (=, ~, >=, <=, labels for
states and enum values, full-width operators), ordering them with --sort / --desc, and
refusing (exit 2, with "did you mean") a state, field or value the record type does not
have, instead of printing an empty list."""

from __future__ import annotations

import json

import pytest
from conftest import QE, RECEIVED, sets

ACK = [
    "contact.at=2026-03-06T10:40",
    "contact.by=李雷",
    "contact.summary=已电话联系孙工，确认渗油 12 件",
    "interim_countermeasure=客户处在库品 100% 气密检测",
]


def when(iso: str) -> dict[str, str]:
    return {"GIT_COMMITTER_DATE": iso, "GIT_AUTHOR_DATE": iso}


def replaced(**fields: str) -> list[str]:
    """RECEIVED with some fields given other values."""
    out = [a for a in RECEIVED if a.split("=", 1)[0] not in fields]
    return out + [f"{k}={v}" for k, v in fields.items()]


@pytest.fixture
def three(qms) -> dict[str, str]:
    """Three complaints, each registered after it was received:
    saic   上汽大众, general, 12 parts, received 2026-03-06 10:00, acknowledged;
    geely  吉利, serious, 500 parts, received 2026-03-10 00:30 Beijing time (still
           2026-03-09 in UTC), channel e-mail, disposition by return and scrap;
    byd    比亚迪, customer requirement, no quantity, received 2026-04-01 09:00."""
    made = {}
    for name, fields, at in [
        ("saic", replaced(quantity_affected="12"), "2026-03-06T10:05:00+08:00"),
        ("geely", replaced(**{"customer.name": "浙江吉利汽车有限公司", "class": "serious",
                               "quantity_affected": "500", "channel": "email",
                               "received_at": "2026-03-10T00:30", "disposition": "return,scrap"}),
         "2026-03-10T09:00:00+08:00"),
        ("byd", replaced(**{"customer.name": "比亚迪汽车有限公司（西安）", "class": "requirement",
                             "received_at": "2026-04-01T09:00"}), "2026-04-01T10:00:00+08:00"),
    ]:
        r = qms("complaint", "new", *sets(*fields), who=QE, env=when(at))
        assert r.code == 0, r.text
        made[name] = r.out.strip()
    r = qms("complaint", "move", made["saic"], "acknowledged", *sets(*ACK), who=QE,
            env=when("2026-04-01T10:10:00+08:00"))
    assert r.code == 0, r.text
    return made


def ids(qms, *args: str) -> list[str]:
    r = qms("complaint", "list", *args, "--json")
    assert r.code == 0, r.text
    return [row["id"] for row in json.loads(r.out)]


def refused(r, *words: str) -> str:
    """Exit 2, one short line on stderr naming each of `words`, nothing listed."""
    assert r.code == 2, f"exit {r.code}\nstdout: {r.out}\nstderr: {r.err}"
    assert r.out == "", r.out
    assert r.err.startswith("qms: ") and "Traceback" not in r.err and "internal error" not in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1, r.err
    for w in words:
        assert w in r.err, f"{w!r} not in {r.err!r}"
    return r.err


# ------------------------------------------------------------------------ refused input


@pytest.mark.parametrize(
    "args, words",
    [
        (["--state", "closd"], ["--state", "'closd'", "did you mean 'closed'?", "cancelled"]),
        (["--state", "已关闭"], ["--state", "'已关闭'", "closed (已结案)"]),
        (["--where", "state=clsoed"], ["--where", "'clsoed'", "did you mean 'closed'?"]),
        (["--where", "custmer.name=上汽"], ["--where", "'custmer.name'", "did you mean 'customer.name'?"]),
        (["--where", "custmer.name~上汽"], ["'custmer.name'", "did you mean 'customer.name'?"]),
        (["--where", "class=严重"], ["class", "'严重'", "did you mean '严重投诉' (serious)?", "general (一般投诉)"]),
        (["--where", "class=serius"], ["class", "'serius'", "did you mean 'serious'?"]),
        (["--where", "disposition=burn"], ["disposition", "'burn'", "rework"]),
        (["--where", "received_at>=2026-3-1"], ["received_at", "'2026-3-1'", "2026-03-01"]),
        (["--where", "received_at<=yesterday"], ["received_at", "'yesterday'", "2026-03-01"]),
        (["--where", "quantity_affected>=many"], ["quantity_affected", "'many'", "a whole number"]),
        (["--where", "description>=a"], ["description", "dates, times and numbers"]),
        (["--where", "quantity_affected>5"], ["FIELD>=VALUE"]),
        (["--where", "description"], ["FIELD=VALUE"]),
        (["--where", "../etc=x"], ["'../etc'", "field path"]),
        (["--where", "customer..name=x"], ["'customer..name'", "field path"]),
        (["--where", "顾客名称=上汽"], ["'顾客名称'", "did you mean 'customer.name'?"]),
        (["--sort", "recieved_at"], ["--sort", "'recieved_at'", "did you mean 'received_at'?"]),
        (["--sort", "-received_at"], ["--sort", "--desc"]),
        (["--sort", "customer"], ["--sort", "customer.name"]),
        (["--sort", "../x"], ["--sort", "'../x'"]),
    ],
)
def test_an_unknown_state_field_or_value_is_refused_with_the_closest(qms, store, args, words):
    refused(qms("complaint", "list", *args), *words)
    refused(qms("complaint", "list", *args, "--json"), *words)


def test_no_hint_when_nothing_is_close(qms, store):
    err = refused(qms("complaint", "list", "--where", "zzzz=1"), "'zzzz'")
    assert "did you mean" not in err


def test_an_unknown_state_is_refused_where_records_are_listed(qms, three):
    # not an empty list: what was typed is not a state at all
    refused(qms("complaint", "list", "--state", "closd"), "did you mean 'closed'?")
    refused(qms("complaint", "list", "--where", "class=严重"), "did you mean '严重投诉' (serious)?")


# ------------------------------------------------------------------ states and enum labels


def test_states_by_name_and_by_chinese_and_english_label(qms, three):
    received = [three["geely"], three["byd"]]
    assert ids(qms, "--state", "received") == received
    assert ids(qms, "--state", "已受理") == received
    assert ids(qms, "--state", "Received") == received
    assert ids(qms, "--state", "已联系顾客") == [three["saic"]]
    assert ids(qms, "--where", "state=已联系顾客") == [three["saic"]]
    assert ids(qms, "--state", "已结案") == []  # a known state nobody is in: empty, not an error


def test_enum_values_by_chinese_and_english_label(qms, three):
    assert ids(qms, "--where", "class=严重投诉") == [three["geely"]]
    assert ids(qms, "--where", "class=Serious complaint") == [three["geely"]]
    assert ids(qms, "--where", "class=serious") == [three["geely"]]
    assert ids(qms, "--where", "channel=邮件") == [three["geely"]]
    # a list of enum values holds it as one of its items
    assert ids(qms, "--where", "disposition=报废") == [three["geely"]]
    assert ids(qms, "--where", "disposition=rework") == []


# ------------------------------------------------------------------------------ contains


def test_contains_a_partial_chinese_customer_name(qms, three):
    assert ids(qms, "--where", "customer.name=上汽") == []  # = is the exact name
    assert ids(qms, "--where", "customer.name~上汽") == [three["saic"]]
    assert ids(qms, "--where", "customer.name~汽车有限公司") == [three["saic"], three["geely"], three["byd"]]
    assert ids(qms, "--where", "customer.name~(西安)") == [three["byd"]]  # full-width brackets in the name
    assert ids(qms, "--where", "customer.name~丰田") == []


def test_contains_ignores_case_searches_list_items_and_enum_labels(qms, three):
    assert ids(qms, "--where", "product.part_number~5qd 611") == [three["saic"], three["geely"], three["byd"]]
    assert ids(qms, "--where", "disposition~scr") == [three["geely"]]
    assert ids(qms, "--where", "class~严重") == [three["geely"]]
    assert ids(qms, "--where", "state~已联系") == [three["saic"]]


def test_full_width_operators_act_as_ascii_ones(qms, three):
    assert ids(qms, "--where", "class＝严重投诉") == [three["geely"]]
    assert ids(qms, "--where", "customer.name～吉利") == [three["geely"]]
    assert ids(qms, "--where", "quantity_affected＞＝100") == [three["geely"]]
    assert ids(qms, "--where", "received_at＜＝2026-03-09") == [three["saic"]]


# ------------------------------------------------------------------------------- bounds


def test_bounds_on_a_datetime_field_by_day_in_the_store_time_zone(qms, three):
    # geely was received 2026-03-10 00:30 Beijing time: 2026-03-09 in UTC, the 10th here
    assert ids(qms, "--where", "received_at>=2026-03-10") == [three["geely"], three["byd"]]
    assert ids(qms, "--where", "received_at<=2026-03-09") == [three["saic"]]
    assert ids(qms, "--where", "received_at>=2026-03-07", "--where", "received_at<=2026-03-31") == [three["geely"]]
    # a day bound takes in the whole of that day
    assert ids(qms, "--where", "received_at<=2026-03-06") == [three["saic"]]
    assert ids(qms, "--where", "received_at>=2026-04-01") == [three["byd"]]


def test_bounds_on_a_datetime_field_by_moment(qms, three):
    assert ids(qms, "--where", "received_at<=2026-03-06T10:00") == [three["saic"]]
    assert ids(qms, "--where", "received_at<=2026-03-06T09:59") == []
    assert ids(qms, "--where", "received_at>=2026-03-10T00:30") == [three["geely"], three["byd"]]
    assert ids(qms, "--where", "received_at>=2026-03-10T00:31") == [three["byd"]]
    # with an offset: 2026-03-09T16:30Z is geely's moment
    assert ids(qms, "--where", "received_at<=2026-03-09T16:30Z") == [three["saic"], three["geely"]]


def test_bounds_on_a_number_leave_out_records_without_it(qms, three):
    assert ids(qms, "--where", "quantity_affected>=12") == [three["saic"], three["geely"]]
    assert ids(qms, "--where", "quantity_affected>=13") == [three["geely"]]
    assert ids(qms, "--where", "quantity_affected<=12") == [three["saic"]]
    assert ids(qms, "--where", "quantity_affected<=0") == []


def test_greater_or_equal_is_not_equal_to_a_value_starting_with_a_bracket(qms, three):
    assert ids(qms, "--where", "quantity_affected>=500") == [three["geely"]]
    # and what follows = is the value, whatever it holds
    r = qms("complaint", "set", three["byd"], "description=压力>=5 bar 时渗油", who=QE,
            env=when("2026-04-01T10:20:00+08:00"))
    assert r.code == 0, r.text
    assert ids(qms, "--where", "description=压力>=5 bar 时渗油") == [three["byd"]]
    assert ids(qms, "--where", "description~>=5 bar") == [three["byd"]]


# -------------------------------------------------------------------------------- sorting


def test_sort_by_number_ascending_and_descending_with_the_missing_last(qms, three):
    assert ids(qms, "--sort", "quantity_affected") == [three["saic"], three["geely"], three["byd"]]
    assert ids(qms, "--sort", "quantity_affected", "--desc") == [three["geely"], three["saic"], three["byd"]]


def test_sort_by_datetime_enum_and_text(qms, three):
    assert ids(qms, "--sort", "received_at", "--desc") == [three["byd"], three["geely"], three["saic"]]
    # enum values in their declared order: general, requirement, serious
    assert ids(qms, "--sort", "class") == [three["saic"], three["byd"], three["geely"]]
    assert ids(qms, "--sort", "class", "--desc") == [three["geely"], three["byd"], three["saic"]]
    # states in the workflow's order: received before acknowledged
    assert ids(qms, "--sort", "state") == [three["geely"], three["byd"], three["saic"]]


def test_default_order_is_by_id_and_desc_alone_reverses_it(qms, three):
    in_order = sorted(three.values())
    assert ids(qms) == in_order
    assert ids(qms, "--desc") == in_order[::-1]


def test_sort_and_filter_together_in_the_table(qms, three):
    r = qms("complaint", "list", "--where", "customer.name~汽车", "--sort", "quantity_affected", "--desc")
    assert r.code == 0, r.text
    lines = [ln.split("\t")[0] for ln in r.out.splitlines()[1:]]
    assert lines == [three["geely"], three["saic"], three["byd"]]


# ----------------------------------------------------------------------------------- JSON


def test_json_rows_are_unchanged_in_shape(qms, three):
    r = qms("--json", "complaint", "list", "--state", "已受理", "--where", "class=严重投诉", "--sort", "received_at")
    assert r.code == 0, r.text
    rows = json.loads(r.out)
    assert [row["id"] for row in rows] == [three["geely"]]
    row = rows[0]
    assert set(row) == {"id", "state", "state_label", "title", "columns", "overdue", "next_due", "next_deadline"}
    assert row["state"] == "received" and row["state_label"] == "已受理"
    assert row["columns"]["class"] == "严重投诉"
