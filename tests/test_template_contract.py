"""The template contract: unknown keys refused with a did-you-mean, every problem placed at
its line, YAML errors with file, line and column, the new keys, and the published JSON
Schema that editors check templates with."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from docproc.errors import TemplateError
from docproc.layout.template_schema import json_schema
from docproc.layout.templates import load_template

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "docs" / "template.schema.json"


def _refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(TemplateError) as caught:
        load_template(path)
    assert str(path) in str(caught.value)
    return str(caught.value)


def test_misspelled_keys_are_refused_with_what_was_meant_and_where(tmp_path: Path) -> None:
    message = _refused(tmp_path, "name: t\n"
                                 "fields:\n"
                                 "  - name: amount\n"
                                 "    box: [0.1, 0.1, 0.4, 0.2]\n"
                                 "    lenght: 3\n"
                                 "    patern: '^1'\n"
                                 "    reveiw_below: 0.9\n"
                                 "refrence: blank.png\n")
    assert "line 5, column 5: field 'amount': unknown key 'lenght' (did you mean 'length'?)" in message
    assert "line 6, column 5: field 'amount': unknown key 'patern' (did you mean 'pattern'?)" in message
    assert "line 7, column 5: field 'amount': unknown key 'reveiw_below' (did you mean 'review_below'?)" in message
    assert "line 8, column 1: unknown key 'refrence' (did you mean 'reference'?)" in message
    # The misspelled length is named, and so is what its absence means.
    assert "field 'amount': 'length' is missing" in message
    far = _refused(tmp_path, "name: t\nfields:\n  - {name: a, box: [0.1, 0.1, 0.4, 0.2], length: 3, colour: red}\n")
    assert "unknown key 'colour'; the keys are name, box, length" in far


def test_every_problem_is_listed_at_once_in_file_order(tmp_path: Path) -> None:
    message = _refused(tmp_path, "name: t\n"
                                 "fields:\n"
                                 "  - name: a\n"
                                 "    box: [10, 20, 300, 400]\n"
                                 "    length: '8'\n"
                                 "    length: 9\n"
                                 "  - name: a\n"
                                 "    box: [0.1, 0.1, 0.4, 0.2]\n"
                                 "    length: 2\n"
                                 "    type: dat\n"
                                 "    optional: maybe\n"
                                 "  - 17\n")
    lines = message.splitlines()[1:]
    assert [line.split(":")[0].strip("- ") for line in lines] == [
        "line 4, column 5", "line 6, column 5", "line 7, column 5", "line 10, column 5", "line 11, column 5",
        "line 12, column 5"]
    assert "'box' must be [left, top, right, bottom] as fractions of the page (0 to 1, not pixels)" in lines[0]
    assert "'length' is given twice; keep one" in lines[1]
    assert "the name is used twice" in lines[2]
    assert "'type' must be one of digits, amount, date, got 'dat'" in lines[3]
    assert "'optional' must be true or false, got 'maybe'" in lines[4]
    assert "field 3: must be a mapping" in lines[5]


def test_keys_that_belong_to_a_type_and_page_runs_in_order(tmp_path: Path) -> None:
    field = "name: t\nfields:\n  - {name: a, box: [0.1, 0.1, 0.4, 0.2], length: 8, %s}\n"
    assert "'decimals' is for amounts" in _refused(tmp_path, field % "decimals: 2")
    assert "'order' is for dates" in _refused(tmp_path, field % "type: amount, order: DMY")
    assert "'pages' run 3-2 ends before it starts" in _refused(tmp_path, field % "pages: '3-2'")
    assert "'pages' must be a page number from 1" in _refused(tmp_path, field % "pages: 0")
    assert "'check' must be one of luhn, mod10, mod11, mod97, got 'crc'" in _refused(tmp_path, field % "check: crc")
    assert "'review_below' must be a number from 0 to 1, got 1.5" in _refused(tmp_path, field % "review_below: 1.5")


@pytest.mark.parametrize("text, where", [
    ("name: [unclosed\n", "line 2, column 1: expected ',' or ']'"),
    ("name: t\nfields:\n  - name: a\n    box: [0.1, 0.1, 0.3, 0.2]\n   length: 3\n", "line 5, column 4: expected"),
    ("name: t\n\tfields: []\n", "line 2, column 1: found character '\\t'"),
])
def test_yaml_errors_name_the_file_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    message = _refused(tmp_path, text)
    assert "is not valid YAML: " + where in message


@pytest.mark.parametrize("text, what", [("", "is empty"), ("- a\n- b\n", "is a list")])
def test_a_template_that_is_no_mapping_says_what_it_is(tmp_path: Path, text: str, what: str) -> None:
    assert what + ": a template is a mapping with 'name' and 'fields'" in _refused(tmp_path, text)


def test_the_new_keys_and_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("name: t\n"
                    "pages: [1, '3-']\n"
                    "fields:\n"
                    "  - {name: plain, box: [0.1, 0.1, 0.4, 0.2], length: 3}\n"
                    "  - {name: amount, box: [0.1, 0.3, 0.4, 0.4], length: [1, 9], type: amount, marks: '.,',\n"
                    "     optional: true, review_below: 0.9, pages: 2}\n"
                    "  - {name: date, box: [0.1, 0.5, 0.4, 0.6], length: [6, 8], type: date, order: MDY}\n"
                    "  - {name: account, box: [0.1, 0.7, 0.4, 0.8], length: 10, check: luhn, type: amount,"
                    " decimals: 0}\n")
    plain, amount, date, account = load_template(path).fields
    assert (plain.optional, plain.review_below, plain.value_type, plain.check) == (False, None, "digits", None)
    assert plain.pages == ((1, 1), (3, None))  # the template's pages, where the field names none
    assert [plain.on_page(n) for n in (1, 2, 3, 9)] == [True, False, True, True]
    assert (amount.optional, amount.review_below, amount.pages, amount.decimals) == (True, 0.9, ((2, 2),), 2)
    assert (date.value_type, date.order) == ("date", "MDY")
    assert (account.check, account.decimals) == ("luhn", 0)
    template = load_template(path)
    assert [f.name for f in template.on_page(2).fields] == ["amount"]


def test_the_published_schema_is_the_contract_and_checks_templates_as_an_editor_would() -> None:
    assert SCHEMA.read_text() == json_schema(), "docs/template.schema.json is stale: docproc template schema > it"
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for sample in sorted((ROOT / "samples" / "templates").glob("*.yaml")):
        document = yaml.safe_load(sample.read_text())
        assert not list(validator.iter_errors(document)), sample
        load_template(sample)
    document["fields"][0]["patern"] = "^1"
    assert any("patern" in error.message for error in validator.iter_errors(document))
    document["fields"][0].pop("patern")
    document["fields"][0]["marks"] = ";"
    assert list(validator.iter_errors(document))


def test_the_example_in_the_docs_is_a_valid_template(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "templates.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yaml"
    # Its reference names an image that is not here; the rest must load as written.
    path.write_text("\n".join(line for line in example.splitlines() if not line.startswith("reference:")) + "\n")
    template = load_template(path)
    assert [f.name for f in template.fields] == ["amount", "account", "memo"]
    amount, account, memo = template.fields
    assert (amount.value_type, amount.decimals, account.check, account.pages) == ("amount", 2, "luhn", ((1, 1),))
    assert memo.optional and memo.review_below == 0.99 and memo.pages == ((1, 1), (3, None))
