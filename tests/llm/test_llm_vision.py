"""Vision-language extraction from PDF pages and images with a tiny random LLaVA (no download)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from docs_factory import invoice_scans
from PIL import Image

from docfleet import Fleet
from docfleet.llm.records.pages import read_pages
from docfleet.stages.extract import ExtractStage

OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
IMAGE_TOKENS = 16  # (32 / 8) ** 2 patches of the tiny CLIP tower, class token dropped


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return invoice_scans(tmp_path_factory.mktemp("scans"))


def test_batched_generation_matches_one_at_a_time_and_feeds_the_image(tiny_vlm: Path):
    from docfleet.llm.generation.loading import load_for_generation
    from docfleet.llm.generation.vision import VisionBatchGenerator

    model, processor = load_for_generation(tiny_vlm)
    assert hasattr(processor, "image_processor") and not model.training
    images = [Image.new("RGB", (30 + 20 * i, 50), (40 * i, 90, 200 - 30 * i)) for i in range(4)]
    chats = [[{"role": "user", "content": "scan page invoice" + " total" * i}] for i in range(5)]
    pictures = [images[0], None, images[1], images[2], images[3]]
    batched = VisionBatchGenerator(model, processor, max_new_tokens=6, batch_size=3)
    single = VisionBatchGenerator(model, processor, max_new_tokens=6, batch_size=1)
    together = batched.generate(chats, pictures)
    alone = single.generate(chats, pictures)
    assert [g.text for g in together] == [g.text for g in alone]
    assert all(g.tokens_out > 0 for g in together)
    text_only = single.generate([chats[0]], [None])[0]
    assert together[0].tokens_in == text_only.tokens_in + IMAGE_TOKENS


def _stage(vlm: Path, **options) -> ExtractStage:
    base = {"model": str(vlm), "turns": ["Read page {page} of {file}"], "parse_json": False,
            "max_new_tokens": 5, "max_repairs": 0, "dpi": 72}  # fmt: skip
    return ExtractStage(**{**base, **options})


def test_two_cpu_replicas_give_the_answers_of_one_for_pages_in_input_order(tiny_vlm, scans):
    records = [r for r in read_pages(scans) if not r.error]
    assert [r.id.removeprefix(f"{scans}/") for r in records] == [
        "a.pdf#1", "a.pdf#2", "a.pdf#3", "b.png#1", "c.jpg#1",
    ]  # fmt: skip
    stage = _stage(tiny_vlm)
    one = list(Fleet(devices="cpu", progress=False, batch_size=5).map(stage, records))
    two = list(Fleet(devices="cpu", replicas=2, progress=False, batch_size=2).map(stage, records))
    assert [r.index for r in two] == list(range(5))
    assert all(r.ok for r in one + two), [r.error for r in one + two if not r.ok]
    assert [r.value["raw"] for r in two] == [r.value["raw"] for r in one]
    assert all(r.value["tokens_in"] > IMAGE_TOKENS for r in two)


def test_multi_turn_keeps_the_image_and_sees_the_first_answer(tiny_vlm, scans):
    records = read_pages(scans / "a.pdf")
    stage = _stage(tiny_vlm, turns=["What is on page {page}?", "Given {answer_1}, the total?"])
    results = list(Fleet(devices="cpu", workers="thread", progress=False).map(stage, records))
    for result in results:
        first, second = result.value["turns"]
        assert result.ok and first and second is not None
        assert result.value["tokens_in"] > 2 * IMAGE_TOKENS  # both turns carried the page


def test_a_page_that_vanished_fails_alone(tiny_vlm, scans, tmp_path: Path):
    moved = tmp_path / "copy"
    moved.mkdir()
    for name in ("a.pdf", "b.png"):
        (moved / name).write_bytes((scans / name).read_bytes())
    records = read_pages(moved)
    (moved / "b.png").unlink()
    results = list(Fleet(devices="cpu", workers="thread", progress=False, batch_size=4)
                   .map(_stage(tiny_vlm), records))  # fmt: skip
    assert [r.ok for r in results] == [True, True, True, False]
    assert results[-1].error.type == "unreadable" and "b.png" in results[-1].error.message


def test_docfleet_extract_reads_a_folder_of_pages_with_a_vlm(cli, tiny_vlm, scans, tmp_path: Path):
    out = tmp_path / "pages.jsonl"
    proc = cli("extract", "--model", str(tiny_vlm), "--input", str(scans), "--prompt",
               "Invoice number and total of page {page}?", "--max-new-tokens", "4", "--devices",
               "cpu", "--dpi", "72", "-o", str(out), "--no-progress", env=OFFLINE)  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # d.png is not an image
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"].removeprefix(f"{scans}/") for line in lines] == [
        "a.pdf#1", "a.pdf#2", "a.pdf#3", "b.png#1", "c.jpg#1", "d.png#0",
    ]  # fmt: skip
    kinds = [line["error"]["type"] for line in lines]  # a random model never answers in JSON
    assert kinds == ["InvalidAnswer"] * 5 + ["not-a-document"]
    assert all(line["device"] == "cpu" and line["tokens_out"] > 0 for line in lines[:5])
    assert all(line["raw"] and line["repairs"] == 2 for line in lines[:5])
    assert "LlavaForConditionalGeneration" in proc.stderr and "6 (0 valid, 6 failed)" in proc.stderr


def test_pages_with_a_text_only_model_is_a_usage_error_that_names_the_fix(
    cli, tiny_llm, scans, tmp_path
):
    proc = cli("extract", "--model", str(tiny_llm), "--input", str(scans), "--prompt", "Total?",
               "--devices", "cpu", "-o", str(tmp_path / "o.jsonl"), env=OFFLINE)  # fmt: skip
    assert proc.returncode == 2
    assert "text-only model" in proc.stderr and "vision-language model" in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_plans_for_a_vlm_split_it_and_offload_it_and_offloaded_it_still_sees(tiny_vlm, tmp_path):
    from docfleet.engine.devices import Device
    from docfleet.llm.generation.loading import load_for_generation
    from docfleet.llm.generation.vision import VisionBatchGenerator
    from docfleet.llm.placement.planner import plan_placement

    whole = plan_placement(tiny_vlm, gpus=[("cuda:0", 8 << 30)], cpu_bytes=1 << 30)
    weights = whole.device_bytes["cuda:0"]
    margin = 1 << 20
    free = margin + int(weights * 0.85)
    split = plan_placement(tiny_vlm, gpus=[("cuda:0", free), ("cuda:1", free)], cpu_bytes=1 << 30,
                           split_margin=margin, single_margin=margin)  # fmt: skip
    assert split.strategy == "balanced"
    assert set(split.replicas[0].values()) == {"cuda:0", "cuda:1"}
    offload = plan_placement(tiny_vlm, gpus=[], cpu_bytes=int(weights * 0.6), single_margin=0)
    assert offload.strategy == "offload" and set(offload.replicas[0].values()) == {"cpu", "disk"}
    model, processor = load_for_generation(tiny_vlm, offload.to_dict(), 0, Device.parse("cpu"),
                                           offload_root=tmp_path)  # fmt: skip
    assert any(p.device.type == "meta" for p in model.parameters())  # part of it is on disk
    full, _ = load_for_generation(tiny_vlm, device="cpu")
    chats = [[{"role": "user", "content": "invoice total"}]] * 2
    pictures = [Image.new("RGB", (64, 48), "navy"), Image.new("RGB", (48, 64), "orange")]
    got = VisionBatchGenerator(model, processor, max_new_tokens=6, batch_size=2)
    want = VisionBatchGenerator(full, processor, max_new_tokens=6, batch_size=2)
    assert [g.text for g in got.generate(chats, pictures)] == [
        g.text for g in want.generate(chats, pictures)
    ]


def test_a_page_prompt_past_the_context_window_is_refused(tiny_vlm: Path):
    from docfleet.llm.generation.generate import PromptTooLong
    from docfleet.llm.generation.loading import load_for_generation
    from docfleet.llm.generation.vision import VisionBatchGenerator

    model, processor = load_for_generation(tiny_vlm)
    generator = VisionBatchGenerator(model, processor, max_new_tokens=8, batch_size=2)
    page = Image.new("RGB", (40, 40), "navy")
    words = "total " * 600
    with pytest.raises(PromptTooLong, match=r"passes the model's context of 512 tokens"):
        generator.generate([[{"role": "user", "content": words}]], [page])
    assert generator.generate([[{"role": "user", "content": "total?"}]], [page])[0].tokens_in > 16
