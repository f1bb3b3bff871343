"""A text layer's characters come whole (``documents/pdf/chars.py``): a character outside the
Basic Multilingual Plane is one character, not two U+FFFD; PDFium's line-end hyphen mark joins
the word it cuts; a control character is a glyph with no text. Checked on every real page
against PDFium's own text (``documents/pdf/damage.py``)."""

from __future__ import annotations

import json
import re
from collections import Counter

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from docs_factory import one_page_pdf

from docfleet.documents.pdf import pdf_page_count, pdf_text_lines, text_layer_quality
from docfleet.documents.pdf.chars import HYPHEN, NO_TEXT, page_chars, whole_chars
from docfleet.documents.pdf.damage import page_damage

CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ALPHA, OMEGA, PI, N = "\U0001d6fc", "\U0001d714", "\U0001d70b", "\U0001d45b"  # math italic


def never(index: int) -> bool:
    return False


def test_a_surrogate_pair_is_one_character_at_its_first_index():
    assert whole_chars([0xD835, 0xDEFC, 0x20, 0xD835, 0xDF14], never) == [ALPHA, "", " ", OMEGA, ""]


def test_a_lone_surrogate_or_no_character_is_a_replacement_character():
    assert whole_chars([0xDC00, 0x61, 0xD835, 0x62, 0xFFFF], never) == ["\ufffd", "a", "\ufffd",
                                                                        "b", "\ufffd"]  # fmt: skip


def test_pdfium_hyphen_marks_are_the_hyphen_and_other_controls_no_text():
    hyphens = {1, 3}.__contains__  # FPDFText_IsHyphen: PDFium's mark is U+0002 or U+FFFE
    codes = [0x61, 0x02, 0x62, 0xFFFE, 0x02, 0xFFFE, 0x00, 0x01, 0x1B, 0x7F, 0x93, 0x09, 0x0D, 0x0A]
    controls = [NO_TEXT] * 7  # PDFium's other marks, then C0 and C1 controls
    assert whole_chars(codes, hyphens) == ["a", HYPHEN, "b", HYPHEN, *controls, "\t", "\r", "\n"]


def test_a_glyph_with_no_text_is_a_word_break_not_a_control_character(tmp_path):
    """Helvetica has no glyph named for code 27 (a Type 3 font's ff ligature, say): PDFium gives
    U+001B. The glyph's character is left out and the word broken there, where pdftotext's text
    breaks it too ("di^[erence"); its letters, and the words around it, stay."""
    show = b"BT /F1 12 Tf 72 700 Td (The di\\033erence between the two arms is small.) Tj ET\n"
    (line,) = pdf_text_lines(one_page_pdf(tmp_path / "unmapped.pdf", show), 1)
    assert line.text == "The di erence between the two arms is small."


def test_a_page_of_glyphs_with_no_text_stays_garbage(tmp_path):
    show = b"BT /F1 12 Tf 72 %d Td (The di\\033erence is signi\\034cant \\020here\\021.) Tj ET\n"
    pdf = one_page_pdf(tmp_path / "unmapped.pdf", b"".join(show % (700 - 20 * i) for i in range(3)))
    lines = pdf_text_lines(pdf, 1)
    assert [line.text.count("\ufffd") for line in lines] == [4, 4, 4]  # more than 10%: OCR
    usable, why = text_layer_quality(lines, image_cover=0.0)
    assert not usable and "garbage" in why


def test_math_letters_outside_the_bmp_come_whole_and_cut_words_join(real_pdfs):
    text = "\n".join(line.text for line in pdf_text_lines(real_pdfs / "math-italic-letters.pdf", 1))
    assert f"structures, from {ALPHA} to {OMEGA}," in text
    assert f"{N}→∞" in text and f"{PI}+2" in text
    assert "\ufffd" not in text and "\x02" not in text and HYPHEN not in text
    for word in ("submitted.", "environment", "horizontal", "numbered;", "displaymath"):
        assert re.search(rf"(?<!\w){word}", text), word


def test_docfleet_run_writes_the_math_letters_whole(cli, real_pdfs, tmp_path):
    out = tmp_path / "out"
    proc = cli("run", str(real_pdfs / "math-italic-letters.pdf"), "-o", str(out),
               "--devices", "cpu", "--no-progress", timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (line,) = (out / "pages.jsonl").read_text(encoding="utf-8").splitlines()
    markdown = (out / "documents" / "math-italic-letters.pdf.md").read_text(encoding="utf-8")
    for text in (json.loads(line)["text"], markdown):
        assert f"from {ALPHA} to {OMEGA}" in text
        assert not re.search("[\ufffd\ufffe\x02]", text)
        assert "has been submitted." in text


def test_no_real_page_has_a_damaged_character_pdfium_does_not(real_pdfs):
    pdfs = sorted(real_pdfs.glob("*.pdf"))
    assert len(pdfs) >= 19
    damaged, controls = {}, {}
    for pdf in pdfs:
        for page in range(1, pdf_page_count(pdf) + 1):
            if damage := page_damage(pdf, page):
                damaged[f"{pdf.name}:{page}"] = damage
            text = "".join(line.text for line in pdf_text_lines(pdf, page))
            if found := Counter(CONTROLS.findall(text)):
                controls[f"{pdf.name}:{page}"] = found
    assert damaged == {}
    assert controls == {}


@pytest.mark.parametrize("name", ["math-italic-letters.pdf", "hyphenated-lines.pdf"])
def test_the_text_range_and_one_call_per_character_read_the_same(real_pdfs, name):
    """The text range (one code unit per character here) and ``FPDFText_GetUnicode`` (which
    PDFium falls back to on pages where its text leaves characters out) agree."""
    pdf = pdfium.PdfDocument(real_pdfs / name)
    try:
        textpage = pdf[0].get_textpage()
        raw = textpage.raw
        codes = [pdfium_c.FPDFText_GetUnicode(raw, i) for i in range(textpage.count_chars())]
        assert 0x02 in codes  # PDFium's line-end hyphens, as this call gives them
        per_char = whole_chars(codes, lambda i: bool(pdfium_c.FPDFText_IsHyphen(raw, i)))
        assert page_chars(textpage) == per_char
        assert per_char.count(HYPHEN) == codes.count(0x02)
        textpage.close()
    finally:
        pdf.close()
