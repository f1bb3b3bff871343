"""The bins.yml rule language and bins file: parsing, checking at compile time, assignment."""

from __future__ import annotations

import builtins
import pickle
from pathlib import Path

import numpy as np
import pytest

from docfleet.jobs.bin.bins import BinsError, BinSpec, load_bins, parse_bins
from docfleet.jobs.bin.rules import MAX_DEPTH, RuleError, compile_rule

NAMES: dict[str, type] = {
    "a": bool,
    "b": bool,
    "c": bool,
    "text_chars": int,
    "ocr_score": float,
    "width": int,
    "height": int,
    "text": str,
    "caption": str,
    "regions.table": int,
}
EXAMPLE = """\
bins:                                   # tried in order; the first that matches wins
  - name: documents
    when: text_chars > 1500 and regions.table + regions.text >= 3
  - name: screenshots
    when: text_chars > 0 and regions.figure == 0
  - name: invoices
    when: caption contains "invoice" or text contains "total due"
  - name: photos
    prompts: ["a photo of people", "a photo of a landscape"]
    min_similarity: 0.25
  - name: other                         # no rule: the default bin
"""


def run(rule: str, **features: object) -> bool:
    return compile_rule(rule, NAMES)(features)


def error(rule: str, names: dict[str, type] = NAMES) -> RuleError:
    with pytest.raises(RuleError) as caught:
        compile_rule(rule, names)
    return caught.value


def features(**overrides: object) -> dict[str, object]:
    """An image that no rule of EXAMPLE takes and CLIP finds unlike the photos prompts."""
    base = {"text_chars": 0, "text": "", "caption": "", "clip.photos": 0.1}
    base |= {f"regions.{kind}": 0 for kind in ("table", "text", "figure")}
    return base | {k.replace("__", "."): v for k, v in overrides.items()}


# --- the language ---------------------------------------------------------------------------


def test_and_binds_tighter_than_or():
    assert run("a or b and c", a=True, b=False, c=False)  # a or (b and c)
    assert not run("(a or b) and c", a=True, b=False, c=False)


def test_not_binds_tighter_than_and_but_looser_than_comparisons():
    assert not run("not a and b", a=False, b=False)  # (not a) and b, not: not (a and b)
    assert run("not text_chars > 3", text_chars=2)  # not (text_chars > 3)
    assert run("not not a", a=True)


def test_and_or_short_circuit():
    assert not run("height > 0 and width / height > 2", width=10, height=0)
    assert run("height == 0 or width / height > 2", width=10, height=0)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("1 + 2 * 3 == 7", True),
        ("(1 + 2) * 3 == 9", True),
        ("10 - 4 - 3 == 3", True),  # left to right
        ("8 / 4 / 2 == 1", True),
        ("-2 * -3 == 6", True),
        ("7 / 2 == 3.5", True),  # true division
        ("1.5e2 == 150", True),
        ("width / height > 1.5", True),
        ("width - height * 2 < 0", False),
    ],
)
def test_arithmetic(rule, expected):
    assert run(rule, width=300, height=100) is expected


def test_division_by_zero_fails_at_run_time_naming_the_divisor():
    rule = compile_rule("width / height > 1", NAMES)
    with pytest.raises(RuleError, match=r"column 7: division by zero \(height is 0\)"):
        rule({"width": 1, "height": 0})


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("text_chars == 5", True),
        ("text_chars != 5", False),
        ("text_chars < 5", False),
        ("text_chars <= 5", True),
        ("text_chars > 4", True),
        ("text_chars >= 6", False),
        ("ocr_score >= 0.5", True),
        ("text == 'Total Due'", True),
        ("text != 'total due'", True),  # == on strings is exact
        ("a == true", True),
        ("a != false", True),
    ],
)
def test_every_comparison(rule, expected):
    assert run(rule, text_chars=5, ocr_score=0.5, text="Total Due", a=True) is expected


def test_contains_ignores_case():
    assert run('caption contains "INVOICE"', caption="An invoice, paid")
    assert run("text contains 'total due'", text="TOTAL DUE: $3")
    assert not run("caption contains 'receipt'", caption="An invoice")


@pytest.mark.parametrize(
    ("rule", "caption"),
    [
        (r'caption == "say \"hi\""', 'say "hi"'),
        (r"caption == 'it\'s'", "it's"),
        (r"caption == 'back\\slash'", "back\\slash"),
        ("caption == 'double \" inside single'", 'double " inside single'),
        ('caption == ""', ""),
    ],
)
def test_quoted_strings_and_escapes(rule, caption):
    assert run(rule, caption=caption)


def test_rule_reports_the_names_it_uses_and_its_text():
    rule = compile_rule("  text_chars > 0 and regions.table >= 1 ", NAMES)
    assert rule.names == frozenset({"text_chars", "regions.table"})
    assert rule.text == "text_chars > 0 and regions.table >= 1"


def test_rules_pickle_for_worker_processes():
    rule = pickle.loads(pickle.dumps(compile_rule("text_chars > 2", NAMES)))
    assert rule({"text_chars": 3}) and not rule({"text_chars": 2})
    assert rule.names == frozenset({"text_chars"})


def test_numpy_scalars_are_numbers():
    assert run(
        "ocr_score > 0.5 and text_chars == 3", ocr_score=np.float32(0.9), text_chars=np.int64(3)
    )


def test_long_flat_chains_do_not_overflow():
    assert run(" + ".join(["1"] * 5000) + " == 5000")
    assert run(" and ".join(["a"] * 5000), a=True)


# --- errors ---------------------------------------------------------------------------------


def test_unknown_name_suggests_the_closest_and_lists_the_valid_ones():
    err = error("text_char > 3")
    assert err.column == 1
    assert "unknown name 'text_char' (did you mean text_chars?)" in str(err)
    assert "valid names: a, b, c, caption, height, ocr_score, regions.table" in str(err)
    later = error("text_chars > 0 and regions.tabel >= 1")
    assert later.column == 20 and "did you mean regions.table?" in str(later)
    assert "did you mean true?" in str(error("a == True"))


@pytest.mark.parametrize(
    ("rule", "column", "expected"),
    [
        ("text_chars >", 13, "expected a number, string, name or '(', found the end"),
        ("(a", 3, "expected ')' to close the '(' at column 1"),
        ("3 3", 3, "unexpected '3'; expected an operator"),
        ("text_chars = 3", 12, "use '==' to compare"),
        ("a ! b", 3, "use '!=' or 'not'"),
        ("a && b", 3, "use and"),
        ("a < b < c", 7, "comparisons cannot be chained"),
        ("'open", 1, "no closing '"),
        (r'caption == "C:\temp"', 15, "unknown escape"),
        ("", 1, "the rule is empty"),
        ("a and", 6, "found the end of the rule"),
        ("a or or b", 6, "found 'or'"),
    ],
)
def test_syntax_errors_name_the_column(rule, column, expected):
    err = error(rule)
    assert err.column == column, str(err)
    assert expected in str(err)
    assert f"rule {rule.strip()!r}, column {column}: " in str(err)


@pytest.mark.parametrize(
    ("rule", "column", "expected"),
    [
        ("text > 3", 6, "'>' needs a number, but text is a string"),
        ("caption + 1", 9, "'+' needs a number, but caption is a string"),
        ("-caption == 1", 1, "'-' needs a number"),
        ("text_chars contains 'x'", 12, "'contains' needs a string, but text_chars is a number"),
        ("text == 3", 6, "'==' compares values of one type, but text is a string, 3 a number"),
        ("text_chars", 1, "a rule needs a boolean, but text_chars is a number; compare it"),
        ("caption and a", 9, 'compare it, e.g. caption != ""'),
        ("not width", 1, "'not' needs a boolean"),
        ("a + 1 > 0", 3, "'+' needs a number, but a is a boolean"),
    ],
)
def test_type_errors_are_caught_at_compile_time(rule, column, expected):
    err = error(rule)
    assert (err.column, expected in str(err)) == (column, True), str(err)


@pytest.mark.parametrize(
    "rule",
    [
        "__import__('os').system('x')",
        "text_chars.__class__",
        "text.__class__.__mro__ == 1",
        "[]",
        "lambda: 1",
        "(lambda: True)()",
        "open('/etc/passwd')",
        "text_chars > 0; import os",
        "a if b else c",
        "{}",
        "f'{a}'",
        "text[0] == 'x'",
    ],
)
def test_python_is_not_accepted(rule):
    error(rule)


def test_rules_never_reach_python_eval(monkeypatch):
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the rule language must not call eval, exec or compile")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, refuse)
    assert run("width * 2 > 100 and caption contains 'x'", width=60, caption="X")


def test_deep_nesting_is_a_rule_error_not_a_crash():
    assert "nests deeper" in str(error("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1)))
    assert "nests deeper" in str(error("not " * 500 + "a"))
    assert "nests deeper" in str(error("-" * 500 + "1 > 0"))
    assert run("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH, a=True)


def test_features_missing_or_of_the_wrong_type_fail_at_run_time():
    rule = compile_rule("text_chars > 0", NAMES)
    with pytest.raises(RuleError, match="no value for feature 'text_chars'"):
        rule({})
    with pytest.raises(RuleError, match="'text_chars' should be a number, got '12'"):
        rule({"text_chars": "12"})


def test_names_must_map_to_known_types():
    with pytest.raises(TypeError, match="use int, float, str or bool"):
        compile_rule("x > 0", {"x": list})


# --- the bins file --------------------------------------------------------------------------


@pytest.fixture
def example(tmp_path: Path) -> Path:
    path = tmp_path / "bins.yml"
    path.write_text(EXAMPLE)
    return path


def test_example_file_assigns_in_order(example):
    bins = load_bins(example)
    assert [spec.name for spec in bins.specs][:2] == ["documents", "screenshots"]
    rule = "text_chars > 1500 and regions.table + regions.text >= 3"
    both = features(text_chars=2000, regions__table=1, regions__text=2)  # documents, screenshots
    assert bins.assign(both) == ("documents", f"when: {rule}")
    shot = features(text_chars=20)
    assert bins.assign(shot) == ("screenshots", "when: text_chars > 0 and regions.figure == 0")
    invoice = features(text_chars=20, regions__figure=1, text="TOTAL DUE 3")
    assert bins.assign(invoice)[0] == "invoices"
    photo = features(regions__figure=1, clip__photos=0.31)
    assert bins.assign(photo) == ("photos", "clip.photos = 0.310 >= 0.25, the highest")
    assert bins.assign(features(clip__photos=0.24)) == ("other", "default")
    assert pickle.loads(pickle.dumps(bins)).assign(both)[0] == "documents"


def prompt_bins(*extra: dict[str, object], default: bool = True) -> list[dict[str, object]]:
    bins = [
        {"name": "people", "prompts": ["a photo of people"], "min_similarity": 0.25},
        {"name": "cats", "prompts": ["a photo of a cat"], "min_similarity": 0.25},
        *extra,
    ]
    return [*bins, {"name": "other"}] if default else bins


def test_a_prompt_bin_needs_the_highest_similarity_and_its_minimum():
    bins = parse_bins({"bins": prompt_bins()})
    assert bins.assign({"clip.people": 0.30, "clip.cats": 0.40})[0] == "cats"  # people: not best
    assert bins.assign({"clip.people": 0.30, "clip.cats": 0.20})[0] == "people"
    assert bins.assign({"clip.people": 0.24, "clip.cats": 0.20}) == ("other", "default")
    assert bins.assign({"clip.people": 0.30, "clip.cats": 0.30})[0] == "people"  # tie: first


def test_a_bin_with_when_and_prompts_needs_both():
    spec = {"name": "scans", "when": "text_chars > 0", "prompts": ["a scan"], "min_similarity": 0.2}
    bins = parse_bins({"bins": [spec, {"name": "other"}]})
    assert bins.assign({"text_chars": 5, "clip.scans": 0.3}) == (
        "scans",
        "when: text_chars > 0; clip.scans = 0.300 >= 0.2, the highest",
    )
    assert bins.assign({"text_chars": 0, "clip.scans": 0.9})[0] == "other"
    assert bins.assign({"text_chars": 5, "clip.scans": 0.1})[0] == "other"


def test_without_a_default_bin_an_unmatched_image_is_unsorted():
    bins = parse_bins({"bins": prompt_bins(default=False)})
    assert bins.assign({"clip.people": 0.1, "clip.cats": 0.1}) == ("unsorted", "no rule matched")


def test_rules_may_use_clip_scores_of_prompt_bins_only():
    bins = parse_bins({"bins": prompt_bins({"name": "catty", "when": "clip.cats > 0.1"})})
    assert bins.assign({"clip.people": 0.0, "clip.cats": 0.15}) == (
        "catty",
        "when: clip.cats > 0.1",
    )
    with pytest.raises(BinsError, match=r"bin 1 \('x'\): when: .*unknown name 'clip.other'"):
        parse_bins({"bins": [{"name": "x", "when": "clip.other > 0"}, {"name": "other"}]})


def test_missing_clip_scores_are_an_error_naming_the_feature():
    bins = parse_bins({"bins": prompt_bins()})
    with pytest.raises(BinsError, match=r"features need clip\.cats"):
        bins.assign({"clip.people": 0.3})


def test_prompts_and_features_needed():
    bins = parse_bins({"bins": prompt_bins()})
    assert bins.prompts() == {"people": ["a photo of people"], "cats": ["a photo of a cat"]}
    assert bins.features_needed() == {"clip"}
    caption = parse_bins({"bins": [{"name": "c", "when": "caption contains 'x'"}]})
    assert caption.features_needed() == {"caption"}
    assert caption.prompts() == {}
    many = "text_lines > 1 or regions.table > 0 or width > 10 or ocr_score > 0.5"
    assert parse_bins({"bins": [{"name": "m", "when": many}]}).features_needed() == {
        "ocr",
        "layout",
    }
    size_only = parse_bins({"bins": [{"name": "big", "when": "width * height > 1e6"}]})
    assert size_only.features_needed() == set()


def test_region_kinds_come_from_the_caller():
    bins = parse_bins({"bins": [{"name": "charts", "when": "regions.chart > 0"}]}, ["chart"])
    assert bins.assign({"regions.chart": 1}) == ("charts", "when: regions.chart > 0")
    with pytest.raises(BinsError, match=r"unknown name 'regions\.table'"):
        parse_bins({"bins": [{"name": "t", "when": "regions.table > 0"}]}, ["chart"])


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bins.yml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "bins:\n  - name: a\n    when: width > 0\n  - name: a\n",
            r"bin 2 \('a'\) has the name of bin 1; bin names must be unique",
        ),
        (
            "bins:\n  - name: other\n  - name: b\n    when: width > 0\n",
            r"bin 1 \('other'\) is the default bin .* move it to the end",
        ),
        (
            "bins:\n  - name: one\n  - name: two\n",
            r"bin 1 \('one'\) and bin 2 \('two'\) .* only one default bin",
        ),
        ("bins:\n  - name: my bin\n", r"bin 1 \('my bin'\): name: .*e\.g\. 'my_bin'"),
        ("bins:\n  - name: ..\n", r"bin 1 \('\.\.'\): name: .*not \. or \.\."),
        (
            "bins:\n  - name: a\n    prompt: [x]\n",
            r"unknown key 'prompt' \(did you mean prompts\?\)",
        ),
        ("bins:\n  - name: a\n    min_similarity: 0.3\n", "min_similarity applies only with"),
        ("bins:\n  - name: a\n    prompts: [x]\n    min_similarity: 2\n", "min_similarity"),
        ("bins:\n  - name: a\n    when: '  '\n", "when is empty"),
        ("bins:\n  - when: width > 0\n", r"bin 1: missing key 'name'"),
        ("bins:\n  - photos\n", "a bin must be a mapping"),
        ("bins: []\n", "bins is empty"),
        ("bin:\n  - name: a\n", r"unknown key 'bin' \(did you mean bins\?\)"),
        ("- name: a\n", "must hold a mapping with the key bins"),
        ("bins: [name: a\n", "is not valid YAML"),
        (
            "bins:\n  - name: a\n    when: width > 0\n  - name: shots\n    when: text_char > 0\n",
            r"bin 2 \('shots'\): when: rule 'text_char > 0', column 1: .*did you mean text_chars",
        ),
        (
            "bins:\n  - name: a\n    when: width >\n",
            r"bin 1 \('a'\): when: rule 'width >', column 8",
        ),
    ],
)
def test_bad_bins_files_are_refused_naming_the_file_and_bin(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(BinsError, match=expected) as caught:
        load_bins(path)
    assert str(path) in str(caught.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(BinsError, match=r"cannot read bins file .*nope\.yml"):
        load_bins(tmp_path / "nope.yml")


def test_bin_specs_are_frozen_and_strict():
    spec = BinSpec(name="a", when="width > 0")
    assert spec.min_similarity == 0.2 and spec.prompts == []
    with pytest.raises(ValueError, match="frozen"):
        spec.name = "b"  # type: ignore[misc]
    with pytest.raises(ValueError, match="Extra inputs"):
        BinSpec(name="a", colour="red")  # type: ignore[call-arg]
