"""Model answers: finding the JSON, checking it against a schema, and the repair turn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docfleet.llm.records.answers import (
    AnswerError,
    InvalidSchemaError,
    check_answer,
    extract_json,
    load_schema,
    repair_prompt,
    validate,
)

INVOICE = {
    "type": "object",
    "required": ["total", "items"],
    "properties": {
        "total": {"type": "number"},
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"price": {"type": "number"}}},
        },
        "date": {"type": "string", "format": "date"},
    },
    "additionalProperties": False,
}


# --- Finding the JSON -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  [1, 2]\n", [1, 2]),
        ("42", 42),
        ('Here you go:\n```json\n{"a": {"b": [1]}}\n```\nDone.', {"a": {"b": [1]}}),
        ('```\n{"a": 2}\n```', {"a": 2}),
        ('```JSON\n{"a": 3}', {"a": 3}),  # a fence the answer never closed
        ('The result is {"a": 1} and also {"b": 2}.', {"a": 1}),
        ('Use {name} as key: {"name": "x"}', {"name": "x"}),  # a placeholder is skipped
        (
            'Answer (see note) says: {"n": "} ] { [", "q": "say \\"hi\\" {"}',
            {"n": "} ] { [", "q": 'say "hi" {'},
        ),
        ('{"a": [1, 2}]} oops, fixed: {"a": [1, 2]}', {"a": [1, 2]}),  # mismatched brackets
    ],
)
def test_extract_json_finds_the_first_complete_value(answer: str, value: object):
    assert extract_json(answer) == value


def test_the_first_value_may_be_an_array_in_the_prose():
    assert extract_json('See [1]: {"a": 1}') == [1]  # first complete value; a schema flags it


def test_a_fenced_json_block_wins_over_braces_in_the_prose_before_it():
    answer = 'I will fill {fields} like {"x": 0}:\n```json\n{"x": 1}\n```'
    assert extract_json(answer) == {"x": 1}


def test_a_python_fence_is_not_taken_for_json():
    answer = '```python\nprint({"x": 0})\n```\n{"x": 1}'
    assert extract_json(answer) == {"x": 0}  # found by the brace scan, not as a fence


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("I could not find any fields.", "no JSON object or array in the answer"),
        ("", "no JSON object or array in the answer"),
        ("{'total': 3}", "invalid JSON: Expecting property name enclosed in double quotes"),
        ('{"a": 1, "b": [1, 2', "the JSON is not closed: the answer may be cut off"),
        ('{"v": NaN}', "invalid JSON: NaN is not a JSON value"),
    ],
)
def test_extract_json_says_why_nothing_parses(answer: str, reason: str):
    with pytest.raises(AnswerError) as caught:
        extract_json(answer)
    assert str(caught.value).startswith(reason)


def test_a_truncated_answer_does_not_yield_an_inner_fragment():
    with pytest.raises(AnswerError, match="not closed"):
        extract_json('{"items": [{"price": 1}, {"price": 2')


def test_nan_and_infinity_are_not_json():
    for answer in ("NaN", "[Infinity]", '{"v": -Infinity}'):
        with pytest.raises(AnswerError):
            extract_json(answer)


# --- Schema validation ------------------------------------------------------------------------


def test_validate_lists_every_problem_with_its_json_path():
    value = {"total": "12", "items": [{"price": 1}, {"price": "free"}], "extra": 1}
    assert validate(value, INVOICE) == [
        "$: Additional properties are not allowed ('extra' was unexpected)",
        "$.items[1].price: 'free' is not of type 'number'",
        "$.total: '12' is not of type 'number'",
    ]


def test_missing_required_properties_are_reported_at_the_root():
    assert validate({"items": []}, INVOICE) == ["$: 'total' is a required property"]


def test_formats_are_checked():
    assert validate({"total": 1, "items": [], "date": "2024-13-45"}, INVOICE) == [
        "$.date: '2024-13-45' is not a 'date'"
    ]
    assert validate({"total": 1, "items": [], "date": "2024-02-29"}, INVOICE) == []


def test_the_draft_named_by_dollar_schema_is_used():
    # Draft 4 reads exclusiveMaximum as a boolean next to maximum; 2020-12 as a number.
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "maximum": 5,
        "exclusiveMaximum": True,
    }
    assert validate(5, draft4) == ["$: 5 is greater than or equal to the maximum of 5"]
    assert validate(5, {"exclusiveMaximum": 5}) == [
        "$: 5 is greater than or equal to the maximum of 5"
    ]
    assert validate(4, draft4) == []


def test_long_problem_messages_are_shortened():
    [problem] = validate("x" * 1000, {"type": "number"})
    assert len(problem) <= 310 and problem.endswith("...")


# --- Schema files -----------------------------------------------------------------------------


def write_schema(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "schema.json"
    path.write_text(content, encoding="utf-8")
    return path


def test_load_schema_reads_a_valid_schema(tmp_path: Path):
    assert load_schema(write_schema(tmp_path, json.dumps(INVOICE))) == INVOICE


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"type": "objekt"}',
            r"not a valid JSON Schema: .*'objekt' is not valid.* \(at \$\.type\)",
        ),
        ('{"properties": {"a": {"minimum": "3"}}}', r"\(at \$\.properties\.a\.minimum\)"),
        ('{"type": "object",}', "is not valid JSON: .* at line 1 column 19"),
        ("[1, 2]", "must hold a JSON object"),
        (
            '{"$schema": "https://example.com/my-draft"}',
            "unknown \\$schema 'https://example.com/my-draft'",
        ),
    ],
)
def test_load_schema_rejects_bad_schema_files(tmp_path: Path, content: str, message: str):
    with pytest.raises(InvalidSchemaError, match=message):
        load_schema(write_schema(tmp_path, content))


def test_load_schema_of_a_missing_file(tmp_path: Path):
    with pytest.raises(InvalidSchemaError, match="cannot read the schema file"):
        load_schema(tmp_path / "nope.json")


# --- Checking answers and asking for repairs --------------------------------------------------


def test_check_answer_with_a_schema():
    value, problems = check_answer('Sure: {"total": "3", "items": []}', INVOICE)
    assert value == {"total": "3", "items": []}
    assert problems == ["$.total: '3' is not of type 'number'"]
    assert check_answer('{"total": 3, "items": []}', INVOICE) == ({"total": 3, "items": []}, [])


def test_check_answer_without_json_has_no_value():
    assert check_answer("Total is 3.", INVOICE) == (None, ["no JSON object or array in the answer"])


def test_without_a_schema_any_json_will_do_or_the_raw_text_when_json_is_off():
    assert check_answer("[1]") == ([1], [])
    assert check_answer("just words") == (None, ["no JSON object or array in the answer"])
    assert check_answer("just words", parse_json=False) == ("just words", [])
    # a schema needs JSON, whatever parse_json says
    assert check_answer("just words", INVOICE, parse_json=False)[0] is None


def test_repair_prompt_quotes_the_problems_and_the_schema_and_asks_for_json_only():
    problems = ["$.total: '3' is not of type 'number'", "$: 'items' is a required property"]
    text = repair_prompt("Extract the invoice.", '{"total": "3"}', problems, INVOICE)
    assert "- $.total: '3' is not of type 'number'\n- $: 'items' is a required property" in text
    assert json.dumps(INVOICE, indent=2) in text
    assert text.endswith("Reply with the corrected JSON only, with no other text.")
    assert "Extract the invoice." not in text  # already in the conversation


def test_repair_prompt_lists_at_most_ten_problems():
    text = repair_prompt("p", "a", [f"$.f{i}: bad" for i in range(14)], {})
    assert "- $.f9: bad" in text and "- $.f10: bad" not in text
    assert "- ... and 4 more" in text
    assert "JSON Schema" not in text  # no schema to quote
