"""Model answers: the JSON inside them, checked against a JSON Schema, and the repair turn.

Models wrap JSON in prose and code fences; ``extract_json`` finds the value, ``validate``
lists what a schema dislikes about it with JSON paths (``$.items[0].price``), and
``repair_prompt`` turns those problems into the follow-up turn that asks for a fix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_JSON_FENCES = ("", "json", "jsonc", "json5")
_PAIRS = {"{": "}", "[": "]"}
_MAX_MESSAGE = 300  # characters of one problem; messages quote the offending value
_MAX_LISTED = 10  # problems quoted in a repair turn
_UNCLOSED = "the JSON is not closed: the answer may be cut off (raise --max-new-tokens)"


class AnswerError(ValueError):
    """A model answer with no usable JSON in it."""


class InvalidSchemaError(ValueError):
    """A JSON Schema that cannot be used: unreadable, not JSON, or not a valid schema."""


def extract_json(text: str) -> Any:
    """The first complete JSON value of an answer: a fenced block, else a balanced {...}/[...].

    >>> extract_json('Sure! ```json\\n{"total": 12.5}\\n``` Anything else?')
    {'total': 12.5}
    >>> extract_json('The fields are {"note": "a } in text", "ids": [1, 2]}.')
    {'note': 'a } in text', 'ids': [1, 2]}
    """
    try:
        return _loads(text.strip())
    except ValueError:
        pass
    for fence in _FENCE.finditer(text):
        if fence.group(1).lower() in _JSON_FENCES:
            try:
                return _loads(fence.group(2))
            except ValueError:
                pass
    return _first_balanced(text)


def _first_balanced(text: str) -> Any:
    """The first balanced {...} or [...] span that parses; a span that does not is skipped."""
    invalid = None
    start = _next_open(text, 0)
    while start >= 0:
        end = _closing(text, start)
        if end is None:  # mismatched brackets: try the next opening one
            start = _next_open(text, start + 1)
            continue
        if end < 0:  # everything after this point is inside a value that never closes
            if invalid is None:
                raise AnswerError(_UNCLOSED)
            break
        try:
            return _loads(text[start : end + 1])
        except ValueError as exc:
            invalid = invalid or f"invalid JSON: {_json_message(exc)}"
        start = _next_open(text, end + 1)
    raise AnswerError(invalid or "no JSON object or array in the answer")


def _next_open(text: str, start: int) -> int:
    found = [i for i in (text.find("{", start), text.find("[", start)) if i >= 0]
    return min(found, default=-1)


def _closing(text: str, start: int) -> int | None:
    """Index of the bracket closing ``text[start]``; -1 if it never closes, None if mismatched."""
    expected: list[str] = []
    in_string = escaped = False
    for i in range(start, len(text)):
        char = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in _PAIRS:
            expected.append(_PAIRS[char])
        elif char in "}]":
            if char != expected.pop():
                return None
            if not expected:
                return i
    return -1


def _loads(text: str) -> Any:
    """``json.loads`` that refuses NaN and Infinity, which are not JSON."""
    return json.loads(text, parse_constant=_not_json)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _json_message(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def validate(value: Any, schema: dict[str, Any]) -> list[str]:
    """What ``schema`` finds wrong with ``value``, one ``<JSON path>: <message>`` each; [] if valid.

    >>> validate({"total": "12"}, {"properties": {"total": {"type": "number"}}})
    ["$.total: '12' is not of type 'number'"]
    """
    cls = _validator_class(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(value), key=lambda e: (e.json_path, e.message))
    return [f"{e.json_path}: {_shorten(e.message)}" for e in errors]


def load_schema(path: str | Path) -> dict[str, Any]:
    """A JSON Schema read from a file and checked against its draft's meta-schema."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSchemaError(f"cannot read the schema file {path}: {exc}") from None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidSchemaError(
            f"the schema file {path} is not valid JSON: {_json_message(exc)}"
        ) from None
    if not isinstance(schema, dict):
        raise InvalidSchemaError(f"the schema file {path} must hold a JSON object (a JSON Schema)")
    from jsonschema.exceptions import SchemaError

    cls = _validator_class(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise InvalidSchemaError(
            f"{path} is not a valid JSON Schema: {_shorten(exc.message)} (at {exc.json_path})"
        ) from None
    return schema


def _validator_class(schema: dict[str, Any]) -> Any:
    """The validator class of the draft ``$schema`` names; Draft 2020-12 when it names none."""
    try:
        from jsonschema import Draft202012Validator
        from jsonschema.validators import validator_for
    except ImportError:
        raise ImportError(
            "JSON Schema checks need jsonschema: pip install 'docfleet[llm]'"
        ) from None
    if "$schema" not in schema:
        return Draft202012Validator
    cls = validator_for(schema, default=None)
    if cls is None:
        raise InvalidSchemaError(
            f"unknown $schema {schema['$schema']!r}; use a JSON Schema draft URI such as "
            f"{Draft202012Validator.META_SCHEMA['$id']!r}"
        )
    return cls


def _shorten(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def repair_prompt(
    original_prompt: str, answer: str, problems: list[str], schema: dict[str, Any]
) -> str:
    """The follow-up turn asking the model to fix its answer: the problems, then the schema.

    The turn follows ``original_prompt`` and ``answer`` in the conversation, so it does not
    repeat them (a second repair would otherwise nest the first).

    >>> print(repair_prompt("Total?", "{}", ["$: 'total' is a required property"], {}))
    Your answer could not be used:
    - $: 'total' is a required property
    Reply with the corrected JSON only, with no other text.
    """
    listed = [f"- {p}" for p in problems[:_MAX_LISTED]]
    if len(problems) > _MAX_LISTED:
        listed.append(f"- ... and {len(problems) - _MAX_LISTED} more")
    lines = ["Your answer could not be used:", *listed]
    if schema:
        lines += [
            "The answer must be JSON that satisfies this JSON Schema:",
            "```json",
            json.dumps(schema, indent=2, ensure_ascii=False),
            "```",
        ]
    lines.append("Reply with the corrected JSON only, with no other text.")
    return "\n".join(lines)


def check_answer(
    text: str, schema: dict[str, Any] | None = None, *, parse_json: bool = True
) -> tuple[Any | None, list[str]]:
    """The answer's value and its problems ([] when it is usable).

    With a schema, the value is the JSON in ``text`` and must satisfy the schema; without one,
    any JSON will do, or, with ``parse_json=False``, the raw text is the value.

    >>> check_answer('{"total": 3}', {"required": ["total"]})
    ({'total': 3}, [])
    >>> check_answer("no json here")
    (None, ['no JSON object or array in the answer'])
    >>> check_answer("plain text", parse_json=False)
    ('plain text', [])
    """
    if schema is None and not parse_json:
        return text, []
    try:
        value = extract_json(text)
    except AnswerError as exc:
        return None, [str(exc)]
    return value, validate(value, schema) if schema else []
