"""Character error rate and the text normalisation it relies on."""

from __future__ import annotations

import random

import pytest

from docfleet.page.metrics import cer, edit_distance, normalize_text


def reference_distance(a: str, b: str) -> int:
    """Textbook Levenshtein: the full dynamic programme, one row at a time."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def test_identical_text_has_no_errors() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    assert cer(text, text) == 0.0
    assert edit_distance(text, text) == 0


@pytest.mark.parametrize(
    ("hypothesis", "distance"),
    [
        ("abXde", 1),  # substitution
        ("abcXde", 1),  # insertion
        ("abde", 1),  # deletion
        ("bacde", 2),  # a swap is two edits
        ("", 5),
        ("vwxyz", 5),
    ],
)
def test_each_edit_counts_once(hypothesis: str, distance: int) -> None:
    assert edit_distance("abcde", hypothesis) == distance
    assert edit_distance(hypothesis, "abcde") == distance
    if hypothesis:
        assert cer("abcde", hypothesis) == pytest.approx(distance / 5)


def test_cer_divides_by_the_reference_length_and_is_not_capped() -> None:
    assert cer("ab", "abcdef") == pytest.approx(2.0)
    assert cer("abcdef", "ab") == pytest.approx(4 / 6)


def test_whitespace_differences_are_not_errors() -> None:
    reference = "First line of text.\nSecond line."
    assert cer(reference, "First  line of text. Second line.") == 0.0
    assert cer(reference, "\n\tFirst line\u00a0of text.\r\n\r\nSecond line.  ") == 0.0
    # Whitespace removed entirely is an error: words ran together.
    assert cer(reference, "First line of text.Second line.") == pytest.approx(1 / 32)


def test_nfkc_folds_compatibility_forms() -> None:
    assert normalize_text("ﬁnal ﬂow") == "final flow"  # ligatures
    assert normalize_text("\uff21\uff22\uff23\uff11\uff12\uff13") == "ABC123"  # full-width forms
    assert normalize_text("x\u00b2") == "x2"
    assert cer("office", "oﬃce") == 0.0
    # Canonical composition: e + combining acute is the same character as é.
    assert cer("caf\u00e9", "cafe\u0301") == 0.0


def test_normalize_collapses_and_strips() -> None:
    assert normalize_text("  a \n\n b\t\tc  ") == "a b c"
    assert normalize_text("\n \t") == ""


def test_empty_reference() -> None:
    assert cer("", "") == 0.0
    assert cer("  \n", "") == 0.0
    assert cer("", "x") == 1.0
    assert cer(" ", "a long hypothesis") == 1.0
    assert cer("abc", "") == 1.0


def test_unicode_beyond_ascii() -> None:
    assert edit_distance("naïve café", "naive cafe") == 2
    assert edit_distance("日本語のテキスト", "日本語テキスト") == 1


def test_small_random_strings_match_the_textbook_algorithm() -> None:
    rng = random.Random(7)
    for _ in range(500):
        a = "".join(rng.choices("ab c", k=rng.randint(0, 24)))
        b = "".join(rng.choices("abc d", k=rng.randint(0, 24)))
        assert edit_distance(a, b) == reference_distance(a, b), (a, b)


def test_page_sized_text_matches_the_textbook_algorithm() -> None:
    rng = random.Random(2024)
    words = ["document", "page", "fleet", "model", "layout", "text", "the", "of", "a", "is"]
    reference = " ".join(rng.choice(words) for _ in range(500))[:2000]
    assert len(reference) == 2000
    noisy = list(reference)
    for _ in range(60):
        position = rng.randrange(len(noisy))
        kind = rng.randrange(3)
        if kind == 0:
            noisy[position] = rng.choice("xyz01")
        elif kind == 1:
            del noisy[position]
        else:
            noisy.insert(position, rng.choice("xyz01"))
    hypothesis = "".join(noisy)
    expected = reference_distance(reference, hypothesis)
    assert 0 < expected <= 60
    assert edit_distance(reference, hypothesis) == expected
    # Deleting a one-letter word leaves two spaces, which normalisation folds: compare the same.
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    assert cer(reference, hypothesis) == pytest.approx(reference_distance(ref, hyp) / len(ref))
    unrelated = " ".join(rng.choice(words) for _ in range(300))[:1800]
    assert edit_distance(reference, unrelated) == reference_distance(reference, unrelated)
