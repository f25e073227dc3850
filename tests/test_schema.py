"""qms schema export: valid JSON Schema from the declarations, accepting every sample
record and rejecting broken ones; records name their schema for editors."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from conftest import QE, RECEIVED, REPO, sets

from qms_cli.files import yamlio
from qms_cli.store import Store
from qms_cli.views import plain


@pytest.fixture(scope="module")
def schemas(tmp_path_factory):
    from qms_cli.schema import export

    folder = tmp_path_factory.mktemp("schemas")
    return {p.name.split(".")[0]: json.loads(p.read_text(encoding="utf-8")) for p in export(Store(REPO), folder)}


def sample_records():
    store = Store(REPO)
    out = []
    for tname, path in store.record_files():
        out.append((tname, path.name, plain(yamlio.load(path, path.name))))
    assert out, "the sample store has records"
    return out


def test_every_schema_is_valid_json_schema(schemas):
    assert {"complaint", "document", "revision", "distribution", "destruction", "loan"} <= set(schemas)
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_sample_record_is_accepted(schemas):
    for tname, name, data in sample_records():
        errors = list(jsonschema.Draft202012Validator(schemas[tname]).iter_errors(data))
        assert not errors, (name, [e.message for e in errors])


@pytest.mark.parametrize("breakage", ["bad enum", "unknown field", "wrong type", "bad state", "wrong type name"])
def test_broken_records_are_rejected(schemas, breakage):
    tname, name, data = next(r for r in sample_records() if r[0] == "complaint")
    data = copy.deepcopy(data)
    if breakage == "bad enum":
        data["class"] = "huge"
    elif breakage == "unknown field":
        data["colour"] = "red"
    elif breakage == "wrong type":
        data["quantity_affected"] = "many"
    elif breakage == "bad state":
        data["state"] = "done"
    else:
        data["type"] = "document"
    assert list(jsonschema.Draft202012Validator(schemas[tname]).iter_errors(data)), breakage


def test_store_extensions_are_in_the_schema(qms, store):
    cfg = store / "qms.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8")
                   + "types:\n  complaint:\n    fields:\n      sales_order: {type: text}\n", encoding="utf-8")
    r = qms("schema", "export")
    assert r.code == 0, r.text
    schema = json.loads((store / "schemas" / "complaint.schema.json").read_text(encoding="utf-8"))
    assert "sales_order" in schema["properties"]


def test_records_name_their_schema_once_exported(qms, store):
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    first = (store / "records/complaint" / f"{r.out.strip()}.yaml").read_text(encoding="utf-8")
    assert not first.startswith("# yaml-language-server")
    assert qms("schema", "export").code == 0
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    second = (store / "records/complaint" / f"{r.out.strip()}.yaml").read_text(encoding="utf-8")
    assert second.startswith("# yaml-language-server: $schema=../../schemas/complaint.schema.json\n")
    assert qms("validate").code == 0


def test_init_exports_the_schemas(qms, tmp_path):
    r = qms("init", str(tmp_path / "new"), root=False, who=QE)
    assert r.code == 0, r.text
    assert (tmp_path / "new" / "schemas" / "complaint.schema.json").is_file()
