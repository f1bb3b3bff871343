"""Text-layer code the fonts do not tell (a grammar set in roman and italic) and a frame's
corner glyphs: typed and shown as a reader expects, every character kept in the text."""

from __future__ import annotations

from docfleet.page.layout import text_layer_blocks
from docfleet.page.markdown import page_markdown, page_text
from docfleet.page.types import TextLine

H = 20.0


def line(text: str, x0: float, y0: float, x1: float) -> TextLine:
    return TextLine(text, (x0, y0, x1, y0 + H), font_size=H)


def test_grammar_productions_are_code_and_prose_naming_a_rule_is_not():
    rules = [
        line("decl ::= function-decl ;", 240, 100, 520),
        line("| constant-decl ;", 330, 124, 500),
        line("| struct-decl ;", 330, 148, 480),
        line("file ::= {decl}", 250, 172, 420),
    ]
    words = "An IDL file is a sequence of declarations and each one ends with a semicolon here"
    prose = [
        line("The rule file ::= {decl} says that " + words, 100, 230, 1000),
        line(words + " and so on until the end of it.", 100, 254, 900),
    ]
    blocks = text_layer_blocks([*rules, *prose], 1200, 1600)
    assert [(b.type, len(b.lines)) for b in blocks] == [("code", 4), ("text", 2)]
    markdown = page_markdown(blocks)
    assert markdown.startswith("```\ndecl ::= function-decl ;\n        | constant-decl ;\n")


def test_a_frame_s_corner_glyphs_stay_in_the_text_but_not_in_the_markdown():
    lines = [
        line("\u261b \u271f", 100, 100, 1000),  # Texinfo's cartouche: corners top left, right
        line("Input file form without row labels:", 140, 150, 600),
        line("\u2721 \u2720", 100, 200, 1000),
    ]
    blocks = text_layer_blocks(lines, 1200, 1600)
    assert page_markdown(blocks) == "Input file form without row labels:"
    assert "\u261b" in page_text(blocks) and "\u2720" in page_text(blocks)
