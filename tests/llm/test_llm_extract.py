"""Extraction through the engine with a tiny random causal LM built in the test (no download)."""

from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("transformers")

from docfleet import EngineError, Fleet
from docfleet.llm.records.tabular import Record
from docfleet.stages.extract import ExtractStage

SCHEMA = {
    "type": "object",
    "properties": {"customer": {"type": "string"}, "total": {"type": "number"}},
    "required": ["customer", "total"],
}


OFFLINE = {"HF_HUB_OFFLINE": "1"}


def records(count: int) -> list[Record]:
    notes = ["invoice 42 paid by Acme", "order shipped", "customer account balance is low"]
    return [Record(f"r{i}", {"note": notes[i % 3] * (1 + i % 4)}, f"t:{i}") for i in range(count)]


def test_two_cpu_replicas_give_the_answers_of_one_in_input_order(tiny_llm):
    stage = ExtractStage(model=str(tiny_llm), turns=["Summarise: {note}"], parse_json=False,
                         max_new_tokens=8, max_repairs=0)  # fmt: skip
    one = list(Fleet(devices="cpu", progress=False, batch_size=4).map(stage, records(10)))
    two = list(
        Fleet(devices="cpu", replicas=2, progress=False, batch_size=3).map(stage, records(10))
    )
    assert [r.index for r in two] == list(range(10))
    assert [r.value["raw"] for r in two] == [r.value["raw"] for r in one]
    assert all(r.ok and r.value["tokens_out"] > 0 for r in two)


def test_invalid_answer_is_repaired_then_recorded_with_its_raw_text(tiny_llm):
    stage = ExtractStage(model=str(tiny_llm), turns=["Extract from {note}"], json_schema=SCHEMA,
                         max_new_tokens=6, max_repairs=2)  # fmt: skip
    results = list(Fleet(devices="cpu", workers="thread", progress=False).map(stage, records(3)))
    for result in results:
        value = result.value
        assert result.ok and value["valid"] is False and value["repairs"] == 2
        assert value["raw"] and value["problems"]
        assert len(value["turns"]) == 1  # repairs do not count as turns


def test_multi_turn_items_see_earlier_answers(tiny_llm):
    stage = ExtractStage(model=str(tiny_llm), turns=["Who is the customer? {note}",
                                                      "Given {answer_1}, what is owed?"],
                         parse_json=False, max_new_tokens=5)  # fmt: skip
    results = list(Fleet(devices="cpu", workers="thread", progress=False).map(stage, records(4)))
    assert all(len(r.value["turns"]) == 2 for r in results)


def test_docfleet_extract_writes_one_line_per_record_in_order(cli, tiny_llm, tmp_path):
    data = tmp_path / "notes.csv"
    data.write_text('id,note\na1,"invoice 42, paid"\na2,order shipped\na3,"broken\n'
                    'a4,customer balance\n', encoding="utf-8")  # fmt: skip
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    out = tmp_path / "out.jsonl"
    proc = cli("extract", "--model", str(tiny_llm), "--input", str(data), "--id-column", "id",
               "--text-column", "note", "--prompt",
               "Extract the customer and total as JSON: {note}", "--schema", str(schema),
               "--max-new-tokens", "6", "--max-repairs", "1", "--devices", "cpu", "-o", str(out),
               "--no-progress", env={**os.environ, **OFFLINE})  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["status"] for line in lines].count("ok") == 0  # a random model never complies
    assert len(lines) >= 2 and lines[0]["id"] == "a1" and lines[1]["id"] == "a2"
    assert {line["error"]["type"] for line in lines} >= {"InvalidAnswer"}
    assert "placement:" in proc.stderr and "cpu" in proc.stderr


def test_auto_batch_size_follows_free_memory_and_sequence_length(tiny_llm):
    from transformers import AutoModelForCausalLM

    from docfleet.llm.generation.generate import auto_batch_size

    llm = AutoModelForCausalLM.from_pretrained(tiny_llm)
    cfg = llm.config
    per_token = (
        2
        * cfg.num_hidden_layers
        * cfg.num_key_value_heads
        * (cfg.hidden_size // cfg.num_attention_heads)
        * 4
    )
    per_sequence = per_token * (100 + 28) + cfg.vocab_size * 4
    size = auto_batch_size(llm, free_bytes=per_sequence * 20, prompt_tokens=100, new_tokens=28)
    assert size == 10  # half of the free memory, 20 sequences' worth
    longer = auto_batch_size(llm, free_bytes=per_sequence * 20, prompt_tokens=1000, new_tokens=28)
    assert 1 <= longer < size
    assert auto_batch_size(llm, free_bytes=1, prompt_tokens=100, new_tokens=28) == 1


def test_text_answers_are_kept_as_written_and_a_schema_needs_json(tiny_llm, tmp_path):
    from docfleet.jobs.extract.job import ExtractConfig, run_extract

    data = tmp_path / "notes.jsonl"
    data.write_text('{"note": "invoice 42 paid"}\n{"note": "order shipped"}\n', encoding="utf-8")
    settings = {"model": str(tiny_llm), "input": str(data), "output": str(tmp_path / "o.jsonl"),
                "prompt": "Summarise: {note}", "max_new_tokens": 4, "devices": "cpu",
                "workers": "thread", "progress": False, "answer_format": "text"}  # fmt: skip
    report = run_extract(ExtractConfig(**settings))
    lines = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert report.ok == 2 and report.exit_code == 0
    assert [line["answer"] for line in lines] == [line["raw"] for line in lines]
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    with pytest.raises(ValueError, match="--schema needs JSON answers"):
        run_extract(ExtractConfig(**settings, json_schema=str(schema), resume=False))


def test_a_column_named_image_is_text_for_a_text_model(tiny_llm):
    stage = ExtractStage(model=str(tiny_llm), turns=["Describe {image}"], parse_json=False,
                         max_new_tokens=3)  # fmt: skip
    rows = [Record("r0", {"image": "photo.png"}, "t:0")]
    (result,) = Fleet(devices="cpu", workers="thread", progress=False).map(stage, rows)
    assert result.ok and result.value["tokens_out"] > 0


def test_extract_takes_the_planner_margins_and_names_them_when_nothing_fits(
    cli, tiny_llm, tmp_path
):
    data = tmp_path / "notes.jsonl"
    data.write_text('{"note": "invoice 42 paid"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    config = tmp_path / "run.yml"
    config.write_text("single_margin: 100TiB\nstrategy: cpu\n", encoding="utf-8")
    args = ["extract", "--model", str(tiny_llm), "--input", str(data), "--prompt",
            "Summarise: {note}", "--devices", "cpu", "-o", str(out), "--config", str(config),
            "--answer-format", "text", "--no-progress"]  # fmt: skip
    proc = cli(*args, env={**os.environ, **OFFLINE})
    assert proc.returncode == 2, proc.stderr
    assert "100.0 TiB margin" in proc.stderr and "--strategy offload" in proc.stderr
    assert not out.exists()
    proc = cli(*args, "--single-margin", "1MiB", "--max-new-tokens", "2",
               env={**os.environ, **OFFLINE})  # fmt: skip
    assert proc.returncode == 0, proc.stderr  # the flag overrides the file
    assert "1.0 MiB margin" in proc.stderr
    assert len(out.read_text().splitlines()) == 1


def test_a_prompt_past_the_context_window_fails_alone_and_names_the_fix(tiny_llm):
    stage = ExtractStage(model=str(tiny_llm), turns=["Summarise: {note}"], parse_json=False,
                         max_new_tokens=4, max_repairs=0)  # fmt: skip
    rows = [Record("short", {"note": "paid"}, "t:0"),
            Record("long", {"note": "invoice total " * 300}, "t:1"),
            Record("also", {"note": "shipped"}, "t:2")]  # fmt: skip
    fleet = Fleet(devices="cpu", workers="thread", progress=False, batch_size=3)
    results = list(fleet.map(stage, rows))
    assert [r.ok for r in results] == [True, False, True]
    error = results[1].error
    assert error.type == "PromptTooLong" and "context of 256 tokens" in error.message
    assert "with max_new_tokens=4" in error.message  # the parameter, in Python
    assert "lower max_new_tokens" in error.message and "--" not in error.message
    no_room = ExtractStage(model=str(tiny_llm), turns=["{note}"], max_new_tokens=256)
    with pytest.raises(EngineError, match="max_new_tokens=256 leaves no room for a prompt"):
        list(Fleet(devices="cpu", workers="thread", progress=False).map(no_room, rows))


def test_the_command_names_its_flag_for_a_prompt_past_the_context_window(cli, tiny_llm,
                                                                         tmp_path):  # fmt: skip
    data = tmp_path / "notes.csv"
    data.write_text("id,note\nshort,paid\nlong," + "invoice total " * 300 + "\n", "utf-8")
    out = tmp_path / "out.jsonl"
    proc = cli("extract", "--model", str(tiny_llm), "--input", str(data), "--id-column", "id",
               "--prompt", "Summarise: {note}", "--answer-format", "text",
               "--max-new-tokens", "4", "--devices", "cpu", "--workers", "thread", "-o",
               str(out), "--no-progress", env={**os.environ, **OFFLINE})  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    lines = {line["id"]: line for line in map(json.loads, out.read_text().splitlines())}
    assert lines["short"]["status"] == "ok"
    error = lines["long"]["error"]
    assert error["type"] == "PromptTooLong" and "with --max-new-tokens 4" in error["message"]
    assert "lower --max-new-tokens" in error["message"]


def test_the_context_window_counts_rope_scaling_once():
    from transformers import LlamaConfig, Qwen2Config

    from docfleet.llm.generation.generate import context_window

    assert context_window(Qwen2Config(max_position_embeddings=32768)) == 32768
    yarn = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}
    assert context_window(Qwen2Config(max_position_embeddings=32768, rope_scaling=yarn)) == 131072
    llama3 = {"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 8192,
              "low_freq_factor": 1.0, "high_freq_factor": 4.0}  # fmt: skip
    already = LlamaConfig(max_position_embeddings=131072, rope_scaling=llama3)
    assert context_window(already) == 131072  # the config gives the scaled length itself


def test_a_margin_that_is_not_a_size_is_refused_with_the_forms_it_takes():
    from pydantic import ValidationError

    from docfleet.jobs.extract.job import ExtractConfig

    base = {"model": "m", "input": "in.csv", "output": "out.jsonl"}
    assert ExtractConfig(**base, split_margin="6GiB").split_margin == "6GiB"
    with pytest.raises(ValidationError, match=r"cannot read '4 gigs' as a size; write e\.g\."):
        ExtractConfig(**base, split_margin="4 gigs")


def test_a_usage_error_comes_before_planning_and_leaves_no_output(cli, tiny_llm, tmp_path):
    data = tmp_path / "notes.csv"
    data.write_text("id,note\n1,invoice 42 paid\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = cli("extract", "--model", str(tiny_llm), "--input", str(data), "--prompt",
               "Summarise: {text}", "--strategy", "offload", "-o", str(out), "--no-progress",
               env={**os.environ, **OFFLINE})  # fmt: skip
    assert proc.returncode == 2
    assert "uses {text}, which the records lack; available columns: id, note" in proc.stderr
    assert "placement:" not in proc.stderr  # the records were checked before the model
    assert not out.exists()
