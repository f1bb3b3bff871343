"""Prompt templates and multi-turn prompt files: syntax, variables, and checks before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from docfleet.llm.records.prompts import PromptError, PromptTemplate, load_prompts, validate_columns


def test_variables_are_filled_and_doubled_braces_are_literal():
    template = PromptTemplate('Note: {note}\nReturn {{"age": <int>}} for {patient id}.')
    assert template.variables == {"note", "patient id"}
    rendered = template.render({"note": "85 y/o, {fever}", "patient id": "p7", "extra": "x"})
    assert rendered == 'Note: 85 y/o, {fever}\nReturn {"age": <int>} for p7.'


def test_a_variable_used_twice_is_filled_twice():
    assert PromptTemplate("{a}-{a}").render({"a": "x"}) == "x-x"


def test_missing_variables_are_named_with_the_available_columns():
    template = PromptTemplate("{note} {age} {sex}")
    with pytest.raises(PromptError) as caught:
        template.render({"note": "n", "id": "1"})
    assert str(caught.value) == (
        "the prompt uses {age}, {sex}, which this record lacks; available columns: id, note"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Fields: {}", "positional fields are not allowed"),
        ("Fields: {0}", "positional fields are not allowed"),
        ("{note.upper}", "attribute and index access are not allowed"),
        ("{rows[0]}", "attribute and index access are not allowed"),
        ('Return {"age": 3}', "not a column variable; write {{ and }}"),
        ("{note!r}", "not a column variable"),
        ("{note:>10}", "not a column variable"),
        ("Return {note", "bad braces in the prompt"),
        ("Return note}", "bad braces in the prompt"),
    ],
)
def test_template_syntax_errors_say_what_to_do(text: str, message: str):
    with pytest.raises(PromptError, match=message.replace("{", r"\{").replace("}", r"\}")):
        PromptTemplate(text)


def test_inline_prompt_is_one_turn_without_system():
    [template] = load_prompts("Extract from {text}", None)
    assert (template.text, template.system) == ("Extract from {text}", None)


def test_plain_text_prompt_file_is_one_turn(tmp_path: Path):
    path = tmp_path / "prompt.txt"
    path.write_text("\nList the drugs in {note}.\nturns: not YAML here\n", encoding="utf-8")
    assert [t.text for t in load_prompts(None, path)] == [
        "List the drugs in {note}.\nturns: not YAML here"
    ]


def test_yaml_prompt_file_has_turns_and_a_system_message(tmp_path: Path):
    path = tmp_path / "prompt.yaml"
    path.write_text(
        "system: You extract data.\n"
        "turns:\n"
        "  - 'Find the invoice total in {text}.'\n"
        "  - 'You said {answer_1}. Return {{\"total\": number}} for {id}.'\n",
        encoding="utf-8",
    )
    first, second = load_prompts(prompt_file=str(path))
    assert first.system == "You extract data." and second.system is None
    assert second.variables == {"answer_1", "id"}
    validate_columns([first, second], {"id", "text"})
    assert (
        second.render({"answer_1": "12", "id": "7"})
        == 'You said 12. Return {"total": number} for 7.'
    )


def test_a_turn_may_not_use_its_own_or_a_later_answer():
    templates = [PromptTemplate("{text} {answer_1}"), PromptTemplate("{answer_2}")]
    with pytest.raises(PromptError) as caught:
        validate_columns(templates, ["text"])
    message = str(caught.value)
    assert "turn 1 uses {answer_1} before that answer exists (turn 1 may use no answer)" in message
    assert "turn 2 uses {answer_2} before that answer exists (turn 2 may use {answer_1})" in message


def test_validate_columns_names_unknown_variables_per_turn():
    templates = [PromptTemplate("{text}"), PromptTemplate("{answer_1} {amount}")]
    with pytest.raises(PromptError, match=r"turn 2 uses \{amount\}, which the records lack; "):
        validate_columns(templates, {"id", "text"})
    validate_columns(templates, {"text", "amount"})  # every variable known: no error


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("turns: [a, b]\nsytem: x\n", "unknown keys in .*: sytem; valid keys: turns, system"),
        ("system: x\n", "must be a mapping with 'turns:'"),
        ("turns: one prompt\n", "'turns' in .* must be a list of prompt texts"),
        ("turns: []\n", "'turns' in .* is empty"),
        ("turns: ['a', '  ']\n", "a prompt is empty"),
        ("turns: [a\n", "not valid YAML"),
    ],
)
def test_bad_yaml_prompt_files_are_rejected(tmp_path: Path, content: str, message: str):
    path = tmp_path / "p.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PromptError, match=message):
        load_prompts(None, path)


def test_exactly_one_of_prompt_and_prompt_file(tmp_path: Path):
    with pytest.raises(PromptError, match="either a prompt"):
        load_prompts(None, None)
    with pytest.raises(PromptError, match="either a prompt"):
        load_prompts("x", tmp_path / "p.txt")
    with pytest.raises(PromptError, match="cannot read the prompt file"):
        load_prompts(None, tmp_path / "missing.txt")
