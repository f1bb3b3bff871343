"""Reading extraction inputs: CSV/TSV/JSONL rows; bad input becomes error records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docfleet.llm.records.tabular import Record, RecordError, read_records


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def read(path: Path, **options: str) -> list[Record]:
    return list(read_records(path, **options))


def errors(records: list[Record]) -> list[tuple[str, str]]:
    return [(r.error_type, r.source) for r in records if r.error]


# --- CSV and TSV ------------------------------------------------------------------------------


def test_csv_quotes_and_newlines_inside_fields_stay_in_one_record(tmp_path: Path):
    data = 'id,text\nn1,"fever, ""high""\nsince Monday"\nn2,cough\n'
    records = read(write(tmp_path / "notes.csv", data), id_column="id", text_column="text")
    assert [(r.id, r.fields["text"], r.source) for r in records] == [
        ("n1", 'fever, "high"\nsince Monday', f"{tmp_path / 'notes.csv'}:2"),
        ("n2", "cough", f"{tmp_path / 'notes.csv'}:4"),
    ]
    assert not errors(records)


def test_without_an_id_column_ids_are_stem_and_data_row(tmp_path: Path):
    records = read(write(tmp_path / "notes.csv", "text\na\n\nb\n"))
    assert [(r.id, r.fields) for r in records] == [
        ("notes:1", {"text": "a"}),
        ("notes:2", {"text": "b"}),  # the blank line is neither a row nor an error
    ]


def test_tsv_uses_tabs_even_when_values_hold_commas(tmp_path: Path):
    records = read(write(tmp_path / "t.tsv", "id\ttext\n1\ta, b, c\n"), text_column="text")
    assert records[0].fields == {"id": "1", "text": "a, b, c"}


def test_csv_delimiter_is_sniffed_when_the_header_has_no_comma(tmp_path: Path):
    records = read(write(tmp_path / "eu.csv", "id;amount;text\n1;3,50;ok\n"), text_column="text")
    assert records[0].fields == {"id": "1", "amount": "3,50", "text": "ok"}


def test_wrong_field_count_is_an_error_naming_expected_and_found(tmp_path: Path):
    records = read(write(tmp_path / "a.csv", "id,text\n1,ok\n2,too,many\n3,fine\n"))
    assert [r.id for r in records] == ["a:1", "a:2", "a:3"]
    bad = records[1]
    assert bad.error_type == "MalformedRow"
    assert "expected 2 fields" in bad.error and "found 3" in bad.error
    assert bad.source.endswith("a.csv:3")
    assert records[2].fields == {"id": "3", "text": "fine"}


def test_utf8_bom_is_not_part_of_the_first_column_name(tmp_path: Path):
    path = write(tmp_path / "excel.csv", b"\xef\xbb\xbfid,text\r\n1,x\r\n")
    assert read(path, id_column="id")[0].fields == {"id": "1", "text": "x"}


def test_header_only_file_gives_no_records(tmp_path: Path):
    assert read(write(tmp_path / "h.csv", "id,text\n"), text_column="text") == []


def test_duplicate_header_names_are_one_error_record(tmp_path: Path):
    records = read(write(tmp_path / "d.csv", "id,text,text\n1,a,b\n"))
    assert [(r.error_type, r.id) for r in records] == [("BadHeader", "d")]
    assert "text" in records[0].error


# --- JSON Lines -------------------------------------------------------------------------------


def test_jsonl_values_become_strings_and_nested_values_compact_json(tmp_path: Path):
    line = {"id": 7, "text": "é", "n": 2.5, "ok": True, "none": None, "meta": {"a": [1, "x"]}}
    records = read(write(tmp_path / "r.jsonl", json.dumps(line) + "\n"), id_column="id")
    assert records[0].id == "7"
    assert records[0].fields == {
        "id": "7",
        "text": "é",
        "n": "2.5",
        "ok": "true",
        "none": "null",
        "meta": '{"a":[1,"x"]}',
    }


def test_broken_and_non_object_lines_are_error_records_in_place(tmp_path: Path):
    text = '{"text": "a"}\n\n{"text": "b",\n[1, 2]\n"just a string"\n{"text": "c"}\n'
    records = read(write(tmp_path / "r.ndjson", text), text_column="text")
    assert [r.id for r in records] == ["r:1", "r:3", "r:4", "r:5", "r:6"]  # blank line 2 skipped
    assert [r.error_type for r in records] == ["", "InvalidJSON", "NotAnObject", "NotAnObject", ""]
    assert records[1].error.startswith("invalid JSON on line 3: ")
    assert "array" in records[2].error and "string" in records[3].error
    assert records[4].fields == {"text": "c"}


def test_a_line_without_the_text_key_is_an_error_naming_its_keys(tmp_path: Path):
    path = write(tmp_path / "r.jsonl", '{"text": "a"}\n{"body": "b", "id": 2}\n')
    records = read(path, text_column="text")
    assert records[1].error_type == "MissingColumn"
    assert records[1].error == "no 'text' value; this row has: body, id"


# --- Errors that must not be lost -------------------------------------------------------------


def test_latin1_bytes_read_as_utf8_keep_earlier_rows_and_give_one_error(tmp_path: Path):
    head = "id,text\n" + "".join(f"{i},row {i}\n" for i in range(1, 5001))  # > 64 KiB
    path = write(tmp_path / "l.csv", head.encode() + "5001,caf\xe9\n5002,ok\n".encode("latin-1"))
    records = read(path, id_column="id")
    assert [r.id for r in records[:5000]] == [str(i) for i in range(1, 5001)]
    assert not errors(records[:5000])
    assert len(records) == 5001
    bad = records[-1]
    assert bad.error_type == "EncodingError"
    assert bad.id == "l:5001" and bad.source.endswith("l.csv:5002")
    assert "utf-8" in bad.error and "--encoding latin-1" in bad.error
    assert [r.fields["text"] for r in read(path, encoding="latin-1")][-2:] == ["café", "ok"]


def test_bad_bytes_in_a_quoted_multiline_field_lose_only_that_row(tmp_path: Path):
    path = write(tmp_path / "m.csv", b'id,text\n1,ok\n2,"first line\nsecond \xff line"\n3,x\n')
    records = read(path)
    assert [(r.id, r.error_type) for r in records] == [("m:1", ""), ("m:2", "EncodingError")]


@pytest.mark.parametrize("name", ["w.jsonl", "w.csv"])
def test_utf16_file_read_as_utf8_suggests_utf16(tmp_path: Path, name: str):
    content = '{"text": "a"}\n' if name.endswith(".jsonl") else "text\na\n"
    path = write(tmp_path / name, content.encode("utf-16"))
    records = read(path, text_column="text")  # the garbled header is no usage error
    assert [(r.error_type, r.id) for r in records] == [("EncodingError", "w:1")]
    assert "--encoding utf-16" in records[0].error
    assert read(path, encoding="utf-16", text_column="text")[0].fields == {"text": "a"}


def test_empty_files_are_one_error_record_each(tmp_path: Path):
    write(tmp_path / "in" / "a.csv", "")
    write(tmp_path / "in" / "b.jsonl", "\n  \n")
    records = read(tmp_path / "in")
    assert [(r.id, r.error, r.error_type) for r in records] == [
        ("a", "empty file", "EmptyFile"),
        ("b", "empty file", "EmptyFile"),
    ]


def test_empty_text_is_an_error_record(tmp_path: Path):
    path = write(tmp_path / "a.csv", "id,text\n1,   \n2,ok\n")
    records = read(path, id_column="id", text_column="text")
    assert [(r.id, r.error_type) for r in records] == [("1", "EmptyText"), ("2", "")]
    assert records[0].error == "empty text in column 'text'"


def test_later_duplicate_id_is_an_error_naming_the_first(tmp_path: Path):
    path = write(tmp_path / "a.jsonl", '{"id": "x", "t": "1"}\n{"id": "x", "t": "2"}\n')
    records = read(path, id_column="id")
    assert [r.error_type for r in records] == ["", "DuplicateId"]
    assert records[1].fields["t"] == "2"
    assert f"first at {path}:1" in records[1].error


def test_missing_text_column_is_a_usage_error_listing_the_columns(tmp_path: Path):
    path = write(tmp_path / "a.csv", "id,body\n1,x\n")
    with pytest.raises(
        RecordError, match=r"text column 'text' is not in .*a\.csv; its columns: id, body"
    ):
        read_records(path, text_column="text")  # raised at the call, before any row


def test_missing_id_column_in_jsonl_is_a_usage_error(tmp_path: Path):
    path = write(tmp_path / "a.jsonl", 'oops\n{"text": "a"}\n')
    with pytest.raises(RecordError, match=r"id column 'id'.*its columns: text"):
        read_records(path, id_column="id")


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("missing.csv", {}, "does not exist"),
        ("notes.txt", {}, "expected a .csv, .tsv, .jsonl, .ndjson file"),
        ("a.csv", {"encoding": "no-such-codec"}, "unknown encoding"),
    ],
)
def test_usage_errors(tmp_path: Path, name: str, options: dict[str, str], message: str):
    write(tmp_path / "notes.txt", "x")
    write(tmp_path / "a.csv", "text\nx\n")
    with pytest.raises(RecordError, match=message):
        read_records(tmp_path / name, **options)


def test_folder_reads_every_record_file_sorted_and_ids_stay_unique(tmp_path: Path):
    write(tmp_path / "in" / "b.jsonl", '{"text": "b"}\n')
    write(tmp_path / "in" / "a.csv", "text\na\n")
    write(tmp_path / "in" / "sub" / "a.tsv", "text\nnested\n")
    write(tmp_path / "in" / "readme.md", "not a record file")
    records = read(tmp_path / "in", text_column="text")
    assert [(r.id, r.fields["text"]) for r in records] == [
        ("a:1", "a"),
        ("b:1", "b"),
        ("sub/a:1", "nested"),
    ]


def test_a_quote_never_closed_is_an_error_and_the_rows_after_it_stay_rows(tmp_path: Path):
    records = read(write(tmp_path / "q.csv", 'id,text\n1,ok\n2,"open\n3,x\n4,y\n'))
    assert [(r.id, r.error_type, r.fields.get("text")) for r in records] == [
        ("q:1", "", "ok"), ("q:2", "MalformedRow", None), ("q:3", "", "x"), ("q:4", "", "y"),
    ]  # fmt: skip
    assert "never closed" in records[1].error and records[1].source.endswith("q.csv:3")


def test_a_quote_closed_in_a_later_row_swallows_no_row(tmp_path: Path):
    text = 'id,note\n1,ok\n2,"unterminated quote,en\n3,fine\n4,"also" fine\n5,x\n'
    records = read(write(tmp_path / "s.csv", text), id_column="id")
    assert len(records) == 5  # five rows in, five records out
    assert [(r.id, r.error_type) for r in records] == [
        ("1", ""), ("s:2", "MalformedRow"), ("3", ""), ("s:4", "MalformedRow"), ("5", ""),
    ]  # fmt: skip
    assert "line" in records[1].error and records[2].fields["note"] == "fine"


def test_last_row_without_a_newline_is_read(tmp_path: Path):
    records = read(write(tmp_path / "n.csv", 'id,text\n1,"a\nb"'))
    assert [(r.id, r.fields.get("text")) for r in records] == [("n:1", "a\nb")]
