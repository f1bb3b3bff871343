"""The condition language of ``bins.yml``: ``text_chars > 1500 and regions.table >= 1``.

Rules are user text, so they are never handed to ``eval``: a tokenizer and a recursive-descent
parser accept only the grammar below and build closures. Every name and every operand's type is
checked when the rule is compiled, so a typo stops a run at its start, not on image 10,000.

Grammar, loosest binding first::

    rule       := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum [("==" | "!=" | "<" | "<=" | ">" | ">=" | "contains") sum]
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | atom
    atom       := NUMBER | STRING | "true" | "false" | NAME | "(" rule ")"

Types: ``names`` maps each name to ``int``/``float`` (a number), ``str`` or ``bool``.
``+ - * /`` and ``< <= > >=`` take numbers; ``==``/``!=`` take two values of one type (strings
compare exactly); ``contains`` takes strings and ignores case; ``and``/``or``/``not`` take
conditions (write ``text_chars > 0``, not ``text_chars``), and a whole rule must be a condition.
``and``/``or`` short-circuit. Division by zero is an error when the rule runs (not a silent 0,
which would put images in the wrong bin); guard it: ``height > 0 and width / height > 2``.
Strings take ``"`` or ``'`` quotes and the escapes ``\\"``, ``\\'`` and ``\\\\``.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, NoReturn

Evaluate = Callable[[Mapping[str, Any]], Any]
KEYWORDS = frozenset({"and", "or", "not", "contains", "true", "false"})
MAX_DEPTH = 40  # nested ( / not / unary minus; far beyond real rules, well inside Python's stack
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)"
    r"|(?P<string>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
    r"|(?P<op>==|!=|<=|>=|[<>+\-*/()])"
)
_STRAY = {"=": "use '==' to compare", "!": "use '!=' or 'not'", "&": "use and", "|": "use or"}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "contains": lambda text, part: part.casefold() in text.casefold(),
}
_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_KINDS = {bool: "boolean", int: "number", float: "number", str: "string"}


class RuleError(ValueError):
    """A rule does not parse, names an unknown feature, mixes types, or fails as it runs.

    The message names the rule, the 1-based column of the problem, and what was expected.
    """

    def __init__(self, rule: str, column: int, problem: str) -> None:
        super().__init__(f"rule {rule!r}, column {column}: {problem}")
        self.rule, self.column, self.problem = rule, column, problem


@dataclass(frozen=True)
class Rule:
    """A compiled rule: call it with an image's features (flat dotted keys) for True or False.

    >>> names = {"width": int, "caption": str}
    >>> rule = compile_rule("width > 1000 and caption contains 'CAT'", names)
    >>> rule({"width": 1200, "caption": "a cat on a mat"})
    True
    >>> sorted(rule.names)
    ['caption', 'width']
    """

    text: str
    names: frozenset[str]
    _evaluate: Evaluate = field(repr=False, compare=False)
    _types: Mapping[str, type] = field(repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as the text and names, compiled again on load: closures do not pickle."""
        return compile_rule, (self.text, dict(self._types))

    def __call__(self, features: Mapping[str, Any]) -> bool:
        """Whether the rule holds; features must hold every name in :attr:`names`."""
        return bool(self._evaluate(features))


def compile_rule(text: str, names: Mapping[str, type]) -> Rule:
    """Parse and check ``text`` against the known feature ``names`` (name -> int/float/str/bool).

    Raises :class:`RuleError` for any syntax, name or type problem.
    """
    for name, kind in names.items():
        if kind not in _KINDS:
            raise TypeError(f"feature {name!r} has type {kind!r}; use int, float, str or bool")
    text = text.strip()
    parser = _Parser(text, {name: _KINDS[kind] for name, kind in names.items()})
    evaluate = parser.parse()  # first: parsing collects the names used
    return Rule(text, frozenset(parser.used), evaluate, dict(names))


@dataclass(frozen=True)
class _Token:
    kind: str  # number, name, string, op, end
    text: str
    pos: int  # 0-based offset into the rule


@dataclass(frozen=True)
class _Expr:
    kind: str  # number, string, boolean
    evaluate: Evaluate
    start: int
    end: int


class _Parser:
    """One rule's tokens and the names it uses; each method parses one line of the grammar."""

    def __init__(self, text: str, kinds: Mapping[str, str]) -> None:
        self.text, self.kinds = text, kinds
        self.used: set[str] = set()
        self.tokens = self._tokenize()
        self.at = 0
        self.depth = 0

    def parse(self) -> Evaluate:
        if self._peek().kind == "end":
            self._fail(0, "the rule is empty; expected a condition such as text_chars > 0")
        expr = self._or()
        tok = self._peek()
        if tok.kind != "end":
            self._fail(tok.pos, f"unexpected {tok.text!r}; expected an operator or the end")
        self._need(expr, "boolean", "a rule", expr.start)
        return expr.evaluate

    def _fail(self, pos: int, problem: str) -> NoReturn:
        raise RuleError(self.text, pos + 1, problem)

    def _tokenize(self) -> list[_Token]:
        tokens, pos = [], 0
        while pos < len(self.text):
            match = _TOKEN.match(self.text, pos)
            if match is None:
                char = self.text[pos]
                if char in "\"'":
                    self._fail(pos, f"the string opened here has no closing {char}")
                hint = _STRAY.get(char, "rules hold names, numbers, quoted strings and operators")
                self._fail(pos, f"unexpected {char!r}; {hint}")
            kind = match.lastgroup or ""
            if kind != "space":
                tokens.append(_Token(kind, match.group(), pos))
            pos = match.end()
        return [*tokens, _Token("end", "the end of the rule", len(self.text))]

    def _peek(self) -> _Token:
        return self.tokens[self.at]

    def _accept(self, *words: str) -> _Token | None:
        """The next token if it is one of ``words`` (any token when none are given)."""
        tok = self._peek()
        if words and (tok.kind not in ("op", "name") or tok.text not in words):
            return None
        self.at += 1
        return tok

    def _need(self, expr: _Expr, kind: str, user: str, pos: int) -> None:
        if expr.kind == kind:
            return
        source = self._source(expr)
        examples = {"number": f"{source} > 0", "string": f'{source} != ""'}
        hint = f"; compare it, e.g. {examples[expr.kind]}" if kind == "boolean" else ""
        self._fail(pos, f"{user} needs a {kind}, but {source} is a {expr.kind}{hint}")

    def _source(self, expr: _Expr) -> str:
        return self.text[expr.start : expr.end]

    def _nested(self, tok: _Token, parse: Callable[[], _Expr]) -> _Expr:
        """``parse()`` one level deeper, refusing rules deep enough to exhaust the stack."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self._fail(tok.pos, f"the rule nests deeper than {MAX_DEPTH} levels; simplify it")
        inner = parse()
        self.depth -= 1
        return inner

    def _or(self) -> _Expr:
        return self._logic("or", self._and)

    def _and(self) -> _Expr:
        return self._logic("and", self._not)

    def _logic(self, op: str, operand: Callable[[], _Expr]) -> _Expr:
        """An n-ary and/or: a loop, not nested closures, so long chains cannot overflow."""
        parts = [operand()]
        while tok := self._accept(op):
            parts.append(operand())
            for part in parts[-2:]:
                self._need(part, "boolean", repr(op), tok.pos)
        if len(parts) == 1:
            return parts[0]
        fns, short = [p.evaluate for p in parts], any if op == "or" else all

        def evaluate(features: Mapping[str, Any]) -> bool:
            return short(f(features) for f in fns)  # stops at the first operand that decides

        return _Expr("boolean", evaluate, parts[0].start, parts[-1].end)

    def _not(self) -> _Expr:
        return self._prefix("not", "boolean", self._not, operator.not_) or self._comparison()

    def _unary(self) -> _Expr:
        return self._prefix("-", "number", self._unary, operator.neg) or self._atom()

    def _prefix(
        self, op: str, kind: str, operand: Callable[[], _Expr], apply: Callable[[Any], Any]
    ) -> _Expr | None:
        """``not x`` or ``-x``; None when the next token is not ``op``."""
        tok = self._accept(op)
        if tok is None:
            return None
        inner = self._nested(tok, operand)
        self._need(inner, kind, repr(op), tok.pos)
        fn = inner.evaluate
        return _Expr(kind, lambda features: apply(fn(features)), tok.pos, inner.end)

    def _comparison(self) -> _Expr:
        left = self._sum()
        tok = self._accept(*_COMPARE)
        if tok is None:
            return left
        right = self._sum()
        if again := self._accept(*_COMPARE):
            self._fail(again.pos, "comparisons cannot be chained; join them: a < b and b < c")
        if tok.text in ("==", "!=") and left.kind != right.kind:
            pair = f"{self._source(left)} is a {left.kind}, {self._source(right)} a {right.kind}"
            self._fail(tok.pos, f"{tok.text!r} compares values of one type, but {pair}")
        if tok.text not in ("==", "!="):
            kind = "string" if tok.text == "contains" else "number"
            self._need(left, kind, repr(tok.text), tok.pos)
            self._need(right, kind, repr(tok.text), tok.pos)
        lf, rf, compare = left.evaluate, right.evaluate, _COMPARE[tok.text]

        def evaluate(features: Mapping[str, Any]) -> bool:
            return compare(lf(features), rf(features))

        return _Expr("boolean", evaluate, left.start, right.end)

    def _sum(self) -> _Expr:
        return self._arithmetic(self._product, ("+", "-"))

    def _product(self) -> _Expr:
        return self._arithmetic(self._unary, ("*", "/"))

    def _arithmetic(self, operand: Callable[[], _Expr], ops: tuple[str, ...]) -> _Expr:
        first = operand()
        steps: list[tuple[_Token, Evaluate, str]] = []
        end = first.end
        while tok := self._accept(*ops):
            right = operand()
            if not steps:
                self._need(first, "number", repr(tok.text), tok.pos)
            self._need(right, "number", repr(tok.text), tok.pos)
            steps.append((tok, right.evaluate, self._source(right)))
            end = right.end
        if not steps:
            return first
        start_fn, text = first.evaluate, self.text

        def evaluate(features: Mapping[str, Any]) -> float:
            value = start_fn(features)
            for tok, fn, source in steps:
                right = fn(features)
                if tok.text == "/" and right == 0:
                    guard = f"guard it: {source} != 0 and ..."
                    raise RuleError(text, tok.pos + 1, f"division by zero ({source} is 0); {guard}")
                value = _ARITHMETIC[tok.text](value, right)
            return value

        return _Expr("number", evaluate, first.start, end)

    def _atom(self) -> _Expr:
        tok = self._accept()
        assert tok is not None  # with no words, _accept always takes the next token
        end = tok.pos + len(tok.text)
        if tok.kind == "number":
            value = float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
            return _Expr("number", lambda _: value, tok.pos, end)
        if tok.kind == "string":
            text = self._unescape(tok)
            return _Expr("string", lambda _: text, tok.pos, end)
        if tok.text in ("true", "false"):
            flag = tok.text == "true"
            return _Expr("boolean", lambda _: flag, tok.pos, end)
        if tok.text == "(":
            inner = self._nested(tok, self._or)
            if self._accept(")") is None:
                self._fail(
                    self._peek().pos, f"expected ')' to close the '(' at column {tok.pos + 1}"
                )
            return _Expr(inner.kind, inner.evaluate, tok.pos, self.tokens[self.at - 1].pos + 1)
        if tok.kind == "name" and tok.text not in KEYWORDS:
            return self._name(tok)
        found = "the end of the rule" if tok.kind == "end" else repr(tok.text)
        self._fail(tok.pos, f"expected a number, string, name or '(', found {found}")

    def _name(self, tok: _Token) -> _Expr:
        name = tok.text
        kind = self.kinds.get(name)
        if kind is None:
            valid = ", ".join(sorted(self.kinds))
            self._fail(tok.pos, f"unknown name {name!r}{self._hint(name)}; valid names: {valid}")
        self.used.add(name)
        text, column = self.text, tok.pos + 1

        def evaluate(features: Mapping[str, Any]) -> Any:
            return _read(features, name, kind, text, column)

        return _Expr(kind, evaluate, tok.pos, tok.pos + len(name))

    def _hint(self, name: str) -> str:
        if any(valid.startswith(f"{name}-") for valid in self.kinds):
            return " (a '-' reads as minus, so a bin named with '-' cannot be used in a rule)"
        close = difflib.get_close_matches(name, [*self.kinds, *KEYWORDS], n=1)
        return f" (did you mean {close[0]}?)" if close else ""

    def _unescape(self, tok: _Token) -> str:
        for match in re.finditer(r"\\(.)", tok.text[1:-1]):
            if match.group(1) not in "\"'\\":
                self._fail(tok.pos + 1 + match.start(), "unknown escape; use \\\" \\' or \\\\")
        return re.sub(r"\\(.)", r"\1", tok.text[1:-1])


def _read(features: Mapping[str, Any], name: str, kind: str, rule: str, column: int) -> Any:
    """A feature's value, checked against the type the rule was compiled for."""
    try:
        value = features[name]
    except KeyError:
        raise RuleError(rule, column, f"no value for feature {name!r} was given") from None
    if kind == "number" and isinstance(value, Real) and not isinstance(value, bool):
        return value if isinstance(value, (int, float)) else float(value)  # numpy scalars too
    if (kind == "string" and isinstance(value, str)) or (
        kind == "boolean" and isinstance(value, bool)
    ):
        return value
    raise RuleError(rule, column, f"feature {name!r} should be a {kind}, got {value!r}")
