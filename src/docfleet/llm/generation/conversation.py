"""The conversation of one record: its turns, the answer check, and the repair turns.

Whoever produces the answers (a local model in batches, a model server one request at a time)
drives a :class:`Conversation` the same way: send ``messages``, hand the answer to
:meth:`Turns.advance`, and repeat until ``done``. An intermediate turn's answer fills
``{answer_k}`` of the next turn; the last turn's answer is checked (JSON, schema) and, while
it fails and repairs are left, a repair turn follows the conversation so far.

>>> turns = Turns(["Total of {note}?"], json_schema={"required": ["total"]}, max_repairs=1)
>>> chat = turns.open({"note": "invoice 7"})
>>> turns.advance(chat, "no idea", tokens_in=5, tokens_out=2)
>>> chat.done, chat.messages[-1]["content"].splitlines()[0]
(False, 'Your answer could not be used:')
>>> turns.advance(chat, '{"total": 7}', tokens_in=9, tokens_out=4)
>>> r = turns.result(chat, seconds=0.5)
>>> r["answer"], r["valid"], r["repairs"], r["tokens_in"], r["turns"]
({'total': 7}, True, 1, 14, ['{"total": 7}'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from docfleet.llm.generation.generate import Message


@dataclass
class Conversation:
    """Where one record's exchange with the model stands."""

    fields: dict[str, str]
    image: Any = None  # what the model sees with the first turn (a page), or None
    messages: list[Message] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    turn: int = 0
    repairs: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    value: Any = None
    problems: list[str] = field(default_factory=list)
    done: bool = False


class Turns:
    """The prompt turns of an extraction and what follows each answer."""

    def __init__(
        self,
        turns: list[str],
        *,
        system: str | None = None,
        json_schema: dict[str, Any] | None = None,
        parse_json: bool = True,
        max_repairs: int = 2,
    ) -> None:
        from docfleet.llm.records.prompts import PromptTemplate

        self.templates = [PromptTemplate(t) for t in turns]
        self.system = system
        self.json_schema = json_schema
        self.parse_json = parse_json
        self.max_repairs = max_repairs

    def open(self, fields: dict[str, str], image: Any = None) -> Conversation:
        """A conversation whose messages end with the first turn's prompt."""
        chat = Conversation(dict(fields), image)
        if self.system:
            chat.messages.append({"role": "system", "content": self.system})
        chat.messages.append({"role": "user", "content": self.templates[0].render(chat.fields)})
        return chat

    def final(self, chat: Conversation) -> bool:
        """Whether the answer asked for now is the one checked (the last turn, or a repair)."""
        return chat.turn == len(self.templates) - 1

    def advance(self, chat: Conversation, text: str, *, tokens_in: int, tokens_out: int) -> None:
        """Take the answer to the last message: the next turn, a repair turn, or done."""
        from docfleet.llm.records.answers import check_answer, repair_prompt

        chat.tokens_in += tokens_in
        chat.tokens_out += tokens_out
        chat.messages.append({"role": "assistant", "content": text})
        if not self.final(chat):  # an intermediate turn: its answer feeds the next
            chat.answers.append(text)
            chat.fields[f"answer_{chat.turn + 1}"] = text
            chat.turn += 1
            prompt = self.templates[chat.turn].render(chat.fields)
            chat.messages.append({"role": "user", "content": prompt})
            return
        schema = self.json_schema
        chat.value, chat.problems = check_answer(text, schema, parse_json=self.parse_json)
        if not chat.problems or chat.repairs >= self.max_repairs:
            chat.answers.append(text)
            chat.done = True
            return
        chat.repairs += 1
        prompt = chat.messages[-2]["content"]
        chat.messages.append(
            {"role": "user", "content": repair_prompt(prompt, text, chat.problems, schema or {})}
        )

    def result(self, chat: Conversation, seconds: float) -> dict[str, Any]:
        """The fields of a finished conversation's output line."""
        return {
            "answer": chat.value,
            "valid": not chat.problems,
            "problems": chat.problems,
            "raw": chat.answers[-1] if chat.answers else "",
            "turns": chat.answers,
            "repairs": chat.repairs,
            "tokens_in": chat.tokens_in,
            "tokens_out": chat.tokens_out,
            "seconds": round(seconds, 4),
        }


def answer_line(value: dict[str, Any]) -> dict[str, Any]:
    """A finished conversation's output line fields, with its status (and error when invalid)."""
    line = {**value, "status": "ok" if value["valid"] else "error"}
    if not value["valid"]:
        line["error"] = {"type": "InvalidAnswer", "message": "; ".join(value["problems"])}
    return line


def record_error_line(record: Any) -> dict[str, Any]:
    """The output line of a record that could not be read (a malformed row, a bad file)."""
    return {
        "id": record.id,
        "status": "error",
        "source": record.source,
        "error": {"type": record.error_type or "BadRecord", "message": record.error},
    }
