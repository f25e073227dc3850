"""The model on its own (qms_cli/model/declaration.py and values.py): declarations read
from YAML text into RecordType, and field values read, reached, walked and checked in
memory. No store, no git."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pure_support import builtin, declaration, declaration_data, dedent, record

from qms_cli.errors import BadFile, BadInput, Severity
from qms_cli.model import values
from qms_cli.model.declaration import FieldSpec, RecordType, declared_prefix

TZ = ZoneInfo("Asia/Shanghai")

# A small type of its own, so that what is tested is what the test declares.
WIDGET = dedent("""
    type: widget
    label: {zh: 样件, en: Sample part}
    numbering: "WDG-{year}-{seq:04}"
    title_field: name
    fields:
      name: {type: text, label: {zh: 名称, en: Name}}
      size: {type: int, min: 1, max: 10}
      weight: {type: number, min: 0}
      kind:
        type: enum
        values:
          small: {zh: 小件, en: Small part}
          large: {zh: 大件, en: Large part}
      ok: {type: bool}
      made_on: {type: date}
      checked_at: {type: datetime}
      owner: {type: email}
      drawing: {type: file, pin: drawing_sha}
      drawing_sha: {type: text, kept: true}
      edition: {type: edition}
      tags: {type: list}
      parts:
        type: list
        items:
          type: object
          fields:
            no: {type: int}
            note: {type: text}
      maker:
        type: object
        kept: true
        fields:
          name: {type: text}
          site: {type: text}
    workflow:
      initial: draft
      create: {role: engineer, sign: drafted}
      states:
        draft:
          requires: [name]
        released:
          includes: draft
          requires: [size, {field: kind, in: [small, large]}]
        scrapped: {final: true, includes: released, requires: [{field: ok, in: [false]}]}
      moves:
        - {from: draft, to: released, role: engineer, sign: released}
        - {from: [draft, released], to: scrapped, role: [engineer, manager]}
    meanings:
      drafted: {zh: 起草, en: Drafted}
      released: {zh: 发布, en: Released}
      scrapped: {zh: 报废, en: Scrapped}
""")


@pytest.fixture(scope="module")
def widget() -> RecordType:
    return declaration(WIDGET, "types/widget.yaml")


def broken(replace: str, by: str) -> str:
    assert replace in WIDGET, replace  # the test breaks what is there
    return WIDGET.replace(replace, by)


# -- declarations -----------------------------------------------------------------------------

def test_a_minimal_declaration_is_a_record_type_with_defaults():
    rt = declaration("""
        type: note
        numbering: "N-{seq:03}"
        workflow: {initial: open, states: {open: }}
    """)
    assert rt.name == "note" and rt.label == {"zh": "note", "en": "note"}
    assert rt.numbering == {"": "N-{seq:03}"} and rt.scheme({}) == "N-{seq:03}"
    assert rt.fields == {} and rt.workflow.moves == () and rt.workflow.initial == "open"
    assert rt.workflow.requirements("open") == [] and rt.deadlines == () and rt.effects == {}


def test_a_declaration_reads_its_fields_labels_and_enum_values(widget):
    assert widget.label == {"zh": "样件", "en": "Sample part"}
    assert widget.field("size").type == "int" and (widget.field("size").min, widget.field("size").max) == (1, 10)
    assert widget.field("tags").items.type == "text"  # a list's items are text unless declared
    assert widget.field("parts.0.no").type == "int" and widget.field("parts.*.note").type == "text"
    assert widget.field("parts.x") is None and widget.field("no_such") is None
    assert widget.field("kind").value_label("small", "zh") == "小件"
    assert widget.field("kind").value_label("huge", "en") == "huge"
    assert widget.label_of("maker.site", "en") == "site" and widget.label_of("name", "zh") == "名称"
    assert widget.label_of("undeclared.path", "en") == "undeclared.path"


def test_kept_fields_and_the_fields_in_a_kept_group_are_qms_own(widget):
    assert widget.kept("drawing_sha") and widget.kept("maker.name")
    assert not widget.kept("name") and not widget.kept("parts.0.note")


def test_a_move_from_several_states_is_one_move_from_each(widget):
    wf = widget.workflow
    assert [m.target for m in wf.moves_from("draft")] == ["released", "scrapped"]
    assert [m.target for m in wf.moves_from("released")] == ["scrapped"]
    assert wf.moves_from("scrapped") == []
    scrap = wf.move("released", "scrapped")
    assert scrap.role == ("engineer", "manager") and scrap.sign == "scrapped"  # the target when unsigned
    assert wf.move("draft", "released").role == "engineer"
    assert wf.move("scrapped", "draft") is None
    assert wf.reachable() == {"draft", "released", "scrapped"}
    assert wf.create.role == "engineer" and wf.create.sign == "drafted"


def test_requirements_follow_includes_once(widget):
    names = [r.fields for r in widget.workflow.requirements("scrapped")]
    assert names == [("ok",), ("size",), ("kind",), ("name",)]
    assert widget.workflow.requirements("no_such_state") == []
    looped = declaration("""
        type: loop
        numbering: "L-{seq}"
        fields: {a: {type: text}, b: {type: text}}
        workflow:
          initial: x
          states:
            x: {includes: y, requires: [a]}
            y: {includes: x, requires: [b]}
    """)
    assert [r.fields for r in looped.workflow.requirements("x")] == [("a",), ("b",)]


def test_a_requirement_is_a_path_or_a_mapping_of_known_keys(widget):
    rel = widget.workflow.states["released"].requires
    assert rel[0].fields == ("size",) and rel[0].needs_value
    assert rel[1].allowed == ("small", "large") and rel[1].refused is None
    scrapped = widget.workflow.states["scrapped"].requires[0]
    assert scrapped.allowed == (False,)


def test_numbering_by_category_picks_the_scheme_and_refuses_a_record_without_one():
    document = builtin("document")
    assert document.scheme({"category": "procedure"}) == "LX-CX-{year}-{seq:03}"
    with pytest.raises(BadInput, match=r"category: required to number a new document \(expected one of manual, "):
        document.scheme({"category": "memo"})
    assert document.number_of({"id": "RE-01", "external_number": "GB/T 27922-2011"}) == "GB/T 27922-2011"
    assert document.number_of({"id": "RE-02", "external_number": "  "}) == "RE-02"


@pytest.mark.parametrize("replace, by, message", [
    ("to: released, role: engineer", "to: published, role: engineer",
     "types/widget.yaml: workflow: state 'published' is used but not declared"),
    ("initial: draft", "initial: new", "workflow: state 'new' is used but not declared"),
    ("includes: draft", "includes: drafted", "workflow: state 'released' includes unknown 'drafted'"),
    ("size: {type: int, min: 1, max: 10}", "size: {type: integer}",
     "types/widget.yaml: field 'size': unknown type 'integer' (expected one of bool, date, datetime, "),
    ("name: {type: text, label: {zh: 名称, en: Name}}", "state: {type: text}",
     "field 'state' is reserved for the record envelope"),
    ('numbering: "WDG-{year}-{seq:04}"', 'numbering: "WDG {month}"',
     "numbering: 'WDG {month}' must be letters, digits and '-' with only {year}, {site}, {seq} placeholders"),
    ("requires: [name]", "requires: [nmae]", "'nmae' is named in the declaration but not declared as a field"),
    ("requires: [name]", "requires: [{field: name, within: [a]}]", "requirement: unknown key(s) within"),
    ("requires: [name]", "requires: [{in: [a]}]", "a requirement needs 'field' or 'fields'"),
    ("requires: [name]", "requires: [[name]]", "a requirement is a field path or a mapping"),
    ("ok: {type: bool}", "ok: {type: enum}", "enum field 'ok' needs 'values'"),
    ("owner: {type: email}", "owner: {type: ref}", "reference field 'owner' needs 'to' (a record type)"),
    ("ok: {type: bool}", "ok: bool", "field 'ok' must be a mapping with a 'type'"),
    ("type: widget", "type: Widget", "type: expected a lower-case name such as 'complaint'"),
    ("  released: {zh: 发布, en: Released}\n", "", "meanings: no label for the signature 'released'"),
])
def test_a_declaration_not_well_formed_is_refused_naming_the_place(replace, by, message):
    with pytest.raises(BadInput) as e:
        declaration(broken(replace, by), "types/widget.yaml")
    assert message in str(e.value)
    assert str(e.value).startswith("types/widget.yaml: ")


def test_a_state_or_field_declared_twice_is_refused_with_its_line():
    with pytest.raises(BadFile, match=r'^types/widget.yaml:\d+: found duplicate key "draft"'):
        declaration(broken("    released:\n", "    draft: {}\n    released:\n"), "types/widget.yaml")
    with pytest.raises(BadFile, match=r'duplicate key "size"'):
        declaration(broken("  weight:", "  size: {type: int}\n  weight:"), "types/widget.yaml")


def test_effects_name_a_state_one_kind_and_something_to_do():
    rt = declaration(WIDGET + dedent("""
        effects:
          scrapped:
            - update_all: widget
              where: {maker.name: "{maker.name}"}
              except_self: true
              set: {ok: "false"}
    """))
    (effect,) = rt.effects["scrapped"]
    assert (effect.kind, effect.target, effect.where, effect.except_self) == (
        "update_all", "widget", (("maker.name", "{maker.name}"),), True)
    assert effect.set == (("ok", "false"),) and effect.move is None
    for extra, message in [
        ("effects: {gone: [{update_all: widget, set: {ok: x}}]}", "effects: no state 'gone'"),
        ("effects: {scrapped: [{set: {ok: x}}]}", "effects: each needs one of update, update_each, update_all"),
        ("effects: {scrapped: [{update: maker, update_all: widget, set: {ok: x}}]}", "each needs one of"),
        ("effects: {scrapped: [{update_all: widget}]}", "effects: each needs 'set' or 'move'"),
    ]:
        with pytest.raises(BadInput, match=message):
            declaration(WIDGET + extra + "\n", "types/widget.yaml")


def test_a_deadline_or_computed_value_must_name_declared_fields():
    for extra in ["deadlines: {items: {x: {from: started_at, limit: 2wd}}}",
                  "deadlines: {items: {x: {from: made_on, met_by: done_on}}}",
                  "deadlines: {key: class, items: {}}",
                  "compute: {size: {fn: copy_number, args: [nothing.here]}}"]:
        with pytest.raises(BadInput, match="is named in the declaration but not declared as a field"):
            declaration(WIDGET + extra + "\n", "types/widget.yaml")
    rt = declaration(WIDGET + "deadlines: {items: {check: {from: [made_on, checked_at], met_by: 'moved:released', "
                              "limit: 5wd}}}\n")
    (d,) = rt.deadlines
    assert d.start == ("made_on", "checked_at") and d.met_by == "moved:released" and d.limit_unit == "d"


def test_a_path_through_a_reference_or_over_a_list_counts_as_declared():
    distribution = builtin("distribution")
    assert declared_prefix(distribution, "document.state")  # the state of the document it names
    assert declared_prefix(distribution, "holder.department")
    assert not declared_prefix(distribution, "holder.department.head")
    assert declared_prefix(distribution, "id") and declared_prefix(distribution, "state")
    destruction = builtin("destruction")
    assert declared_prefix(destruction, "copies.*.destroyed_by")


def test_a_move_without_from_is_refused_as_bad_input():
    data = declaration_data(WIDGET)
    del data["workflow"]["moves"][0]["from"]
    with pytest.raises(BadInput, match="types/widget.yaml"):
        RecordType.from_dict(data, "types/widget.yaml")


def test_builtin_types_all_declare_well():
    from qms_cli.paths import builtin_type_names

    for name in builtin_type_names():
        rt = builtin(name)
        assert rt.name == name and rt.workflow.initial in rt.workflow.states
        assert rt.workflow.reachable() == set(rt.workflow.states), name


# -- reading a command-line VALUE as the field's type ---------------------------------------

@pytest.mark.parametrize("field, raw, expected", [
    ("size", " 7 ", 7),
    ("size", "+３", 3),  # full-width digits, as a Chinese input method types them
    ("weight", "2.5", 2.5),
    ("weight", "1e3", 1000.0),
    ("weight", "12", 12),
    ("ok", "是", True), ("ok", "YES", True), ("ok", "off", False), ("ok", "否", False),
    ("kind", "small", "small"), ("kind", "大件", "large"), ("kind", "LARGE PART", "large"),
    ("made_on", "2026-03-06", date(2026, 3, 6)),
    ("edition", "b/3", "B/3"),
    ("name", "  kept as typed ", "  kept as typed "),
    ("owner", "li.lei@example.com", "li.lei@example.com"),
    ("drawing", "files/widget/d.pdf", "files/widget/d.pdf"),
    ("size", "", None), ("made_on", "  ", None),
])
def test_coerce_reads_a_value_as_its_declared_type(widget, field, raw, expected):
    value = values.coerce(widget.field(field), raw, TZ)
    assert value == expected and type(value) is type(expected)


def test_coerce_reads_a_naive_time_in_the_stores_zone_and_keeps_a_given_offset(widget):
    spec = widget.field("checked_at")
    assert values.coerce(spec, "2026-03-06 10:00", TZ) == datetime(2026, 3, 6, 10, 0, tzinfo=TZ)
    assert values.coerce(spec, "2026-03-06T10:00", TZ).tzinfo is TZ
    assert values.coerce(spec, "2026-03-06T10:00", timezone.utc) == datetime(2026, 3, 6, 18, 0, tzinfo=TZ)
    utc = values.coerce(spec, "2026-03-06T02:00Z", TZ)
    assert utc == datetime(2026, 3, 6, 10, 0, tzinfo=TZ) and utc.utcoffset() == timedelta(0)
    fine = values.coerce(spec, "2026-03-06T10:00:30.75+01:00", TZ)
    assert fine.microsecond == 0 and fine.second == 30 and fine.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize("field, raw, message", [
    ("checked_at", "2026-03-06", "expected a date and time such as 2026-03-02T09:15, not only a date"),
    ("checked_at", "yesterday", "expected a date and time such as 2026-03-02T09:15"),
    ("checked_at", "3000-01-01T00:00", "expected a date from 1900 to 2999"),
    ("made_on", "2026-02-30", "expected a date such as 2026-03-02"),
    ("made_on", "2026-03-06T10:00", "expected a date such as 2026-03-02"),
    ("made_on", "1899-12-31", "expected a date from 1900 to 2999"),
    ("size", "1.5", "expected a whole number"),
    ("size", "0", "expected at least 1"),
    ("size", "11", "expected at most 10"),
    ("size", "1000000000000000", "expected a whole number of at most 15 digits (up to 999,999,999,999,999)"),
    ("weight", "-0.1", "expected at least 0"),
    ("weight", "nan", "expected a number"),
    ("weight", "1e309", "expected a number below 10^15 (not infinity or NaN)"),
    ("weight", "1" * 41, "expected a number"),
    ("ok", "maybe", "expected yes or no (true/false)"),
    ("kind", "smal", "expected one of small, large; did you mean 'small'?"),
    ("kind", "xyz", "expected one of small, large"),
    ("edition", "A0", "expected an edition such as A/0"),
    ("owner", "li lei", "expected an e-mail address"),
    ("drawing", "../etc/passwd", "expected a path under files/"),
    ("drawing", "files/../qms.yaml", "expected a path under files/"),
    ("drawing", "files/widget/", "expected a path under files/"),
    ("parts", "a", "a list is set field by field (e.g. parts.<field>=...)"),
    ("maker", "a", "is set field by field (e.g. maker.<field>=...)"),
])
def test_coerce_refuses_a_bad_value_saying_what_was_expected(widget, field, raw, message):
    with pytest.raises(ValueError) as e:
        values.coerce(widget.field(field), raw, TZ)
    assert message in str(e.value)


def test_coerce_says_nothing_close_when_no_value_is_close(widget):
    with pytest.raises(ValueError) as e:
        values.coerce(widget.field("kind"), "xyz", TZ)
    assert "did you mean" not in str(e.value)


def test_a_bare_date_in_basic_form_is_not_a_moment(widget):
    with pytest.raises(ValueError, match="not only a date"):
        values.coerce(widget.field("checked_at"), "20260306", TZ)


# -- paths into a record -----------------------------------------------------------------------

def test_get_follows_keys_and_list_indexes_and_falls_back_to_the_default():
    data = record("""
        customer: {name: 上汽}
        parts:
          - {no: 1}
          - {no: 2, note: 毛刺}
    """)
    assert values.get(data, "customer.name") == "上汽"
    assert values.get(data, "parts.1.note") == "毛刺"
    assert values.get(data, "parts.0.note", "none") == "none"
    assert values.get(data, "parts.7.no", "none") == "none"
    assert values.get(data, "parts.first") is None
    assert values.get(data, "customer.name.first", "x") == "x"


def test_put_creates_groups_on_the_way_and_appends_to_lists():
    data: dict = {"d4": None}
    values.put(data, "d4.root_cause", "模具磨损")
    values.put(data, "investigation.departments", "质量部", append=True)
    values.put(data, "investigation.departments", "技术部", append=True)
    values.put(data, "investigation.departments.0", "质控部")
    assert data == {"d4": {"root_cause": "模具磨损"}, "investigation": {"departments": ["质控部", "技术部"]}}


@pytest.mark.parametrize("path, append, message", [
    ("d4.root_cause.detail", False, "d4.root_cause: holds a value, not a group of fields"),
    ("tags.2", False, "tags.2: the list has only 2 items"),
    ("parts.5.no", False, "parts.5: the list has only 1 items"),
    ("d4.root_cause", True, "d4.root_cause: '+=' appends to a list, but the field holds a single value"),
])
def test_put_refuses_what_the_record_cannot_hold(path, append, message):
    data = {"d4": {"root_cause": "wear"}, "tags": ["a", "b"], "parts": [{"no": 1}]}
    with pytest.raises(BadInput) as e:
        values.put(data, path, "v", append=append)
    assert str(e.value) == message


@pytest.mark.parametrize("path, ok", [
    ("customer.name", True), ("d4.root_cause", True), ("parts.0.no", True), ("_x", True),
    ("0x", False), ("a..b", False), ("a.b-c", False), ("客户", False), ("a.", False), ("", False),
])
def test_check_path_takes_only_dotted_field_paths(path, ok):
    if ok:
        values.check_path(path)
    else:
        with pytest.raises(BadInput, match="expected a field path such as customer.name"):
            values.check_path(path)


def test_walk_yields_leaves_of_objects_and_lists_with_their_declaration(widget):
    data = record("""
        name: 支架
        size: 3
        tags: [a, b]
        parts:
          - {no: 1, note: 毛刺}
          - {no: 2}
        maker: {name: 一厂}
        undeclared: ignored
        made_on:
    """)
    walked = [(path, spec.type, value) for path, spec, value in values.walk(widget.fields, data)]
    assert walked == [("name", "text", "支架"), ("size", "int", 3),
                      ("tags.0", "text", "a"), ("tags.1", "text", "b"),
                      ("parts.0.no", "int", 1), ("parts.0.note", "text", "毛刺"), ("parts.1.no", "int", 2),
                      ("maker.name", "text", "一厂")]
    assert list(values.walk(widget.fields, ["not", "a", "record"])) == []


# -- checking stored values ----------------------------------------------------------------------

def test_a_record_that_fits_its_declaration_has_no_problem(widget):
    data = record("""
        id: WDG-2026-0001
        type: widget
        state: draft
        signatures: []
        name: 支架
        size: 10
        weight: 0
        kind: small
        ok: false
        made_on: 2026-03-06
        checked_at: 2026-03-06T10:00:00+08:00
        owner: a@b.c
        drawing: files/widget/d.pdf
        edition: A/0
        tags: [a, 12]
        parts: [{no: 1, note: ok}]
        maker: {name: 一厂}
    """)
    assert list(values.check_fields(widget.fields, data, envelope=True)) == []


@pytest.mark.parametrize("line, path, message", [
    ("size: 11", "size", "expected at most 10"),
    ("size: 1.5", "size", "expected a whole number"),
    ("size: true", "size", "expected a whole number"),
    ("size: 1000000000000000", "size", "expected a whole number of at most 15 digits"),
    ("weight: -1", "weight", "expected at least 0"),
    ("weight: .inf", "weight", "expected a number below 10^15 (not infinity or NaN)"),
    ("weight: '3'", "weight", "expected a number"),
    ("kind: huge", "kind", "'huge' is not one of small, large"),
    ("ok: 'yes'", "ok", "expected true or false"),
    ("made_on: 2026-03-06T10:00:00", "made_on", "expected a date such as 2026-03-02"),
    ("made_on: 1899-12-31", "made_on", "expected a date from 1900 to 2999"),
    ("checked_at: 2026-03-06", "checked_at", "not only a date"),
    ("checked_at: soon", "checked_at", "expected a date and time such as 2026-03-02T09:15"),
    ("checked_at: 3000-01-01T00:00:00", "checked_at", "expected a date from 1900 to 2999"),
    ("name: [a, b]", "name", "expected text"),
    ("name: true", "name", "expected text"),
    ("drawing: /etc/passwd", "drawing", "expected a path under files/"),
    ("drawing: 12", "drawing", "expected a file path under files/"),
    ("edition: A-0", "edition", "'A-0' is not an edition such as A/0"),
    ("tags: a", "tags", "expected a list"),
    ("tags: [a, [b]]", "tags.1", "expected text"),
    ("parts: [{no: x}]", "parts.0.no", "expected a whole number"),
    ("maker: 一厂", "maker", "expected a group of fields"),
])
def test_a_value_that_does_not_fit_is_an_error_at_its_path(widget, line, path, message):
    found = list(values.check_fields(widget.fields, record(line)))
    assert [(p.path, p.severity) for p in found] == [(path, Severity.ERROR)]
    assert message in found[0].message


def test_an_undeclared_field_is_a_warning_and_the_envelope_is_skipped_only_when_asked(widget):
    data = record("""
        id: WDG-2026-0001
        state: draft
        colour: red
        maker: {name: 一厂, shoe_size: 42}
    """)
    found = {(p.path, p.severity) for p in values.check_fields(widget.fields, data, envelope=True)}
    assert found == {("colour", Severity.WARNING), ("maker.shoe_size", Severity.WARNING)}
    assert all(p.message == "unknown field (not declared for this record type)"
               for p in values.check_fields(widget.fields, data, envelope=True))
    unskipped = {p.path for p in values.check_fields(widget.fields, data)}
    assert {"id", "state"} <= unskipped


def test_an_empty_value_fits_any_declaration(widget):
    data = {name: None for name in widget.fields}
    assert list(values.check_fields(widget.fields, data)) == []


# -- text a record may hold ------------------------------------------------------------------------

def test_text_problem_names_the_control_character_and_its_position():
    assert values.text_problem("渗油\t接头\n第二行") is None  # tabs and line breaks are text
    assert values.text_problem("渗油\x1b[2J") == (
        "contains the control character U+001B (ESC) at position 3; remove it "
        "(only text, tabs and line breaks are kept)")
    assert "U+202E (right-to-left override) at position 2" in values.text_problem("a\u202eb")
    assert "U+000D (carriage return (CR))" in values.text_problem("line\r\n")
    assert "U+009B (CSI)" in values.text_problem("\x9b31m")


def test_text_problems_walks_values_keys_and_list_items():
    data = {"a": "fine", "b": ["ok", "bell\x07"], "c": {"key\x1b": "v", "d": {"e": "x\x00"}}, "n": 5}
    found = dict(values.text_problems(data))
    assert set(found) == {"b.1", "c.key\x1b", "c.d.e"}
    assert found["c.key\x1b"].startswith("the field name contains the control character U+001B (ESC)")
    assert "U+0000 (NUL) at position 2" in found["c.d.e"]
    assert list(values.text_problems("\x1b")) == [("(record)", values.text_problem("\x1b"))]


# -- when a signed act happened (paper time, 补录) ----------------------------------------------------

@pytest.mark.parametrize("typed, expected", [
    ("2026-10-15", date(2026, 10, 15)),
    (" 2026-10-15 ", date(2026, 10, 15)),
    ("2026-10-15T14:30", datetime(2026, 10, 15, 14, 30, tzinfo=TZ)),
    ("2026-10-15 14:30:59.9", datetime(2026, 10, 15, 14, 30, 59, tzinfo=TZ)),
    ("2026-10-15T06:30Z", datetime(2026, 10, 15, 14, 30, tzinfo=TZ)),  # shown in the store's zone
])
def test_a_paper_time_is_a_whole_day_or_a_moment_in_the_stores_zone(typed, expected):
    value = values.parse_paper_time(typed, TZ)
    assert value == expected and type(value) is type(expected)
    if isinstance(value, datetime):
        assert value.tzinfo is TZ and value.microsecond == 0


@pytest.mark.parametrize("typed", ["15/10/2026", "2026-10-15x", "2026-10-15T25:00", "yesterday", "20261015"])
def test_a_paper_time_that_is_neither_a_date_nor_a_moment_is_refused(typed):
    with pytest.raises(ValueError, match=r"^expected a date such as 2026-10-15, or a date and time such as "):
        values.parse_paper_time(typed, TZ)


def test_a_paper_time_outside_1900_to_2999_is_refused():
    with pytest.raises(ValueError, match="expected a date from 1900 to 2999"):
        values.parse_paper_time("3000-01-01", TZ)


def test_when_a_signed_act_happened_is_its_paper_time_else_its_signing_time():
    back = {"meaning": "verified", "at": "2026-10-16T09:00:00+08:00", "on": date(2026, 10, 15)}
    assert values.paper_time(back, TZ) == date(2026, 10, 15)
    assert values.acted(back, TZ) == date(2026, 10, 15)
    assert values.acted_at(back, TZ) == datetime(2026, 10, 15, 0, 0, tzinfo=TZ)  # the start of that day
    live = {"meaning": "verified", "at": datetime(2026, 10, 15, 17, 0, tzinfo=timezone.utc)}
    assert values.paper_time(live, TZ) is None
    assert values.acted_on(live, TZ) == date(2026, 10, 16)  # 01:00 on the 16th in Shanghai
    assert values.paper_time({"on": "2026-10-15"}, TZ) is None  # not a date: validate reports it
    assert values.paper_time({"on": date(3001, 1, 1)}, TZ) is None
    assert values.acted("not a signature", TZ) is None


def test_a_date_alone_is_that_whole_day_when_compared():
    evening = datetime(2026, 10, 15, 23, 0, tzinfo=TZ)
    assert not values.later(date(2026, 10, 15), evening, TZ) and not values.later(evening, date(2026, 10, 15), TZ)
    assert values.later(date(2026, 10, 16), evening, TZ)
    assert values.later(evening, datetime(2026, 10, 15, 22, 59, tzinfo=TZ), TZ)
    # 16:30 UTC is already the 16th in Shanghai
    assert not values.later(datetime(2026, 10, 15, 16, 30, tzinfo=timezone.utc), date(2026, 10, 16), TZ)


def test_paper_time_problem_says_whether_it_is_after_signing_or_before_an_earlier_act():
    signed = datetime(2026, 10, 16, 9, 0, tzinfo=TZ)
    assert values.paper_time_problem(date(2026, 10, 17), signed, [], TZ) == (
        "is later than its signing time, 2026-10-16 09:00")
    assert values.paper_time_problem(date(2026, 10, 16), signed, [], TZ) is None  # the day it was signed
    assert values.paper_time_problem(datetime(2026, 10, 16, 9, 30, tzinfo=TZ), signed, [], TZ) is not None
    earlier = [("the date it was received", datetime(2026, 10, 14, 8, 0, tzinfo=TZ)),
               ("the 'acknowledged' signature", datetime(2026, 10, 15, 8, 0, tzinfo=TZ)),
               ("a day before", date(2026, 10, 1))]
    assert values.paper_time_problem(date(2026, 10, 13), signed, earlier, TZ) == (
        "is before the 'acknowledged' signature, 2026-10-15 08:00")  # the latest one it is before
    assert values.paper_time_problem(date(2026, 10, 15), signed, earlier, TZ) is None


def test_stored_times_are_read_as_aware_moments_and_days_within_bounds():
    assert values.to_datetime("2026-03-06T10:00", TZ) == datetime(2026, 3, 6, 10, tzinfo=TZ)
    assert values.to_datetime(date(2026, 3, 6), TZ) == datetime(2026, 3, 6, tzinfo=TZ)
    assert values.to_datetime(datetime(2026, 3, 6, 10), TZ).tzinfo is TZ
    assert values.to_datetime("soon", TZ) is None and values.to_datetime(datetime(3000, 1, 1), TZ) is None
    assert values.to_date(datetime(2026, 3, 6, 23, 0)) == date(2026, 3, 6)
    assert values.to_date("2026-03-06") == date(2026, 3, 6)
    assert values.to_date(20260306) is None and values.to_date(date(1899, 12, 31)) is None
    assert values.shown_time(datetime(2026, 10, 15, 6, 30, tzinfo=timezone.utc), TZ) == "2026-10-15 14:30"
    assert values.shown_time(date(2026, 10, 15), TZ) == "2026-10-15" and values.shown_time(None, TZ) == ""


def test_what_counts_as_not_filled_in_and_as_a_signature():
    assert all(values.is_empty(v) for v in (None, "", [], {}))
    assert not any(values.is_empty(v) for v in (0, False, " ", [None]))
    assert values.signatures({"signatures": [{"meaning": "x"}, "broken", None]}) == [{"meaning": "x"}]
    assert values.signatures({"signatures": "broken"}) == [] and values.signatures(["x"]) == []


def test_record_title_is_one_line_cut_to_width(widget):
    assert values.record_title(widget, {"name": "支架\n  左侧"}) == "支架 左侧"
    assert values.record_title(widget, {"name": "x" * 70}, width=10) == "x" * 9 + "…"
    assert values.record_title(widget, {}) == ""


def test_spec_from_dict_reads_list_enum_values_as_unlabelled():
    spec = FieldSpec.from_dict("grade", {"type": "enum", "values": ["a", "b"]}, "w")
    assert spec.values == {"a": {"zh": "a", "en": "a"}, "b": {"zh": "b", "en": "b"}}
    assert spec.text("zh") == "grade"


# ------------------------------------------------------------------------------- money


@pytest.mark.parametrize("value, expected", [
    ("1234.50", "1234.50"), (1234.5, "1234.50"), (800, "800.00"), ("0.1", "0.10"), (0.1, "0.10"),
    ("-12.3", "-12.30"),
])
def test_money_is_an_exact_decimal_with_two_places(value, expected):
    from decimal import Decimal

    assert values.money(value) == Decimal(expected) and str(values.money(value)) == expected


@pytest.mark.parametrize("value", ["12.345", "1e3", "abc", True, None, [1], 1.005, "12345678901234"])
def test_money_refuses_what_is_not_an_amount(value):
    assert values.money(value) is None


def test_money_read_from_the_command_line_is_written_as_exact_text():
    spec = FieldSpec("amount", "money", {"zh": "金额", "en": "Amount"}, min=0)
    assert values.coerce(spec, "￥12,345.6", TZ) == "12345.60"
    assert values.coerce(spec, "800", TZ) == "800.00"
    with pytest.raises(ValueError, match="at most two decimal places"):
        values.coerce(spec, "12.345", TZ)
    with pytest.raises(ValueError, match="at least 0"):
        values.coerce(spec, "-1", TZ)
    assert [p.message for p in values.check_value(spec, 0.125, "amount")] == [
        "expected an amount such as 1234.50 (at most two decimal places)"]
    assert list(values.check_value(spec, "99.90", "amount")) == []
