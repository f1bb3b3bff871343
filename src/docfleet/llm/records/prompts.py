"""Prompt templates with ``{column}`` variables, and the turns of a multi-turn extraction.

A template is ``str.format`` text restricted to plain names: ``{note}`` is the record's
``note`` column and ``{{``/``}}`` are literal braces. Turn ``k`` of a conversation may also
use ``{answer_1}`` .. ``{answer_<k-1>}``, the model's earlier answers.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

_ANSWER = re.compile(r"answer_([0-9]+)")
_PROMPT_FILE_KEYS = ("turns", "system")
_BRACE_HINT = "write {{ and }} for literal braces (as in JSON examples)"


class PromptError(ValueError):
    """A prompt that cannot be used: bad syntax, or variables the records do not have."""


@dataclass(frozen=True)
class PromptTemplate:
    """One turn's prompt; ``system`` is the system message sent before it (first turn only).

    >>> t = PromptTemplate("Patient {name}: return {{\\"age\\": int}}")
    >>> sorted(t.variables), t.render({"name": "Ann"})
    (['name'], 'Patient Ann: return {"age": int}')
    """

    text: str
    system: str | None = None
    variables: frozenset[str] = field(init=False, repr=False, compare=False)
    _parts: tuple[tuple[str, str | None], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = _parse(self.text)
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "variables", frozenset(n for _, n in parts if n is not None))

    def render(self, fields: Mapping[str, str]) -> str:
        """The prompt with each ``{name}`` replaced by ``fields[name]``."""
        missing = sorted(self.variables - set(fields))
        if missing:
            raise PromptError(
                f"the prompt uses {_braced(missing)}, which this record lacks; "
                f"available columns: {', '.join(sorted(fields)) or '(none)'}"
            )
        return "".join(
            text + (fields[name] if name is not None else "") for text, name in self._parts
        )


def load_prompts(
    prompt: str | None = None, prompt_file: str | Path | None = None
) -> list[PromptTemplate]:
    """The turns of an extraction from a prompt, or a prompt file (text, or YAML with turns).

    A ``.yaml``/``.yml`` file holds ``turns:`` (a list of templates) and an optional
    ``system:`` message; any other file is one template, its surrounding whitespace dropped.

    >>> [t.text for t in load_prompts("Summarise {note}")]
    ['Summarise {note}']
    """
    if prompt is not None and prompt_file is None:
        turns, system = [prompt], None
    elif prompt_file is not None and prompt is None:
        turns, system = _read_prompt_file(Path(prompt_file))
    else:
        raise PromptError("give either a prompt (--prompt) or a prompt file (--prompt-file)")
    if not turns:
        raise PromptError(f"'turns' in {prompt_file} is empty; give at least one prompt")
    if any(not t.strip() for t in turns):
        raise PromptError("a prompt is empty; every turn needs text")
    return [PromptTemplate(t, system if k == 0 else None) for k, t in enumerate(turns)]


def validate_columns(templates: Sequence[PromptTemplate], columns: Collection[str]) -> None:
    """Check every variable of every turn is a column or an earlier answer; raise if not.

    >>> validate_columns(load_prompts("{note}"), {"id", "note"})
    """
    problems = []
    for k, template in enumerate(templates, start=1):
        missing = sorted(template.variables - set(columns) - set(_answers(k)))
        later = [n for n in missing if _answer_number(n) >= k]
        if later:
            earlier = _braced(_answers(k)) or "no answer"
            problems.append(
                f"turn {k} uses {_braced(later)} before that answer exists "
                f"(turn {k} may use {earlier})"
            )
        if unknown := [n for n in missing if n not in later]:
            problems.append(f"turn {k} uses {_braced(unknown)}, which the records lack")
    if problems:
        raise PromptError(
            f"{'; '.join(problems)}; available columns: {', '.join(sorted(columns)) or '(none)'}"
        )


def _parse(text: str) -> tuple[tuple[str, str | None], ...]:
    """(literal text, variable or None) pairs of a template, checked."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise PromptError(f"bad braces in the prompt ({exc}); {_BRACE_HINT}") from None
    parts = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None))
            continue
        shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        shown += "}"
        if not name.strip() or name.isdigit():
            raise PromptError(
                f"{shown}: positional fields are not allowed; name a column, as in {{note}}"
            )
        if "." in name or "[" in name:
            raise PromptError(
                f"{shown}: attribute and index access are not allowed; "
                f"use plain column names, or {_BRACE_HINT}"
            )
        if spec or conversion or name != name.strip() or '"' in name or "'" in name:
            raise PromptError(f"{shown} is not a column variable; {_BRACE_HINT}")
        parts.append((literal, name))
    return tuple(parts)


def _read_prompt_file(path: Path) -> tuple[list[str], str | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptError(f"cannot read the prompt file {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() not in (".yaml", ".yml"):
        return [text.strip()], None
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PromptError(f"the prompt file {path} is not valid YAML: {exc}") from None
    if not isinstance(spec, dict) or "turns" not in spec:
        raise PromptError(
            f"the prompt file {path} must be a mapping with 'turns:' (a list of "
            f"prompts) and optionally 'system:'"
        )
    unknown = sorted(set(map(str, spec)) - set(_PROMPT_FILE_KEYS))
    if unknown:
        raise PromptError(
            f"unknown keys in {path}: {', '.join(unknown)}; "
            f"valid keys: {', '.join(_PROMPT_FILE_KEYS)}"
        )
    turns, system = spec["turns"], spec.get("system")
    if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
        raise PromptError(f"'turns' in {path} must be a list of prompt texts")
    if system is not None and not isinstance(system, str):
        raise PromptError(f"'system' in {path} must be text")
    return [t.strip() for t in turns], system.strip() if system else None


def _answer_number(name: str) -> int:
    match = _ANSWER.fullmatch(name)
    return int(match.group(1)) if match else 0


def _answers(turn: int) -> list[str]:
    """The answer variables turn ``turn`` (1-based) may use."""
    return [f"answer_{j}" for j in range(1, turn)]


def _braced(names: Sequence[str]) -> str:
    return ", ".join("{" + n + "}" for n in names)
