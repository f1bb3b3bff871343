"""Extraction benchmark: batched vs one-at-a-time generation, and 2 replicas vs 1, on CPU.

    python benchmarks/extract.py [--quick] [--json extract.json] [--model DIR]

Without --model it builds a small randomly initialised causal LM (no download), the same kind
the tests use; a tiny random LLaVA measures batched generation over page images as well.
Figures are described in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common.machine import print_machine
from common.report import add_output_options, write_json
from common.timing import steady_seconds

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

PROMPT = "Extract the customer and the total from this note as JSON: {note}"


def notes(count: int) -> list[dict[str, str]]:
    words = ["invoice", "customer", "total", "paid", "due"]
    words += ["order", "shipped", "amount", "account", "balance"]
    return [
        {"note": " ".join(words[(i * 7 + k) % len(words)] for k in range(8 + (i * 5) % 40))}
        for i in range(count)
    ]


def generation(model_dir: Path, items: int, max_new_tokens: int) -> dict[str, Any]:
    """Tokens/s of one generate call per record vs length-sorted batches, one process."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from docfleet.llm.generation.generate import BatchGenerator

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    chats = [[{"role": "user", "content": PROMPT.format(**n)}] for n in notes(items)]
    out: dict[str, Any] = {"items": items, "max_new_tokens": max_new_tokens}
    for label, batch in (("one_at_a_time", 1), ("batched", 16)):
        gen = BatchGenerator(model, tokenizer, max_new_tokens=max_new_tokens, batch_size=batch)
        gen.generate(chats[:2])  # warm-up
        start = time.perf_counter()
        answers = gen.generate(chats)
        seconds = time.perf_counter() - start
        out[f"{label}_items_per_s"] = items / seconds
        out[f"{label}_tokens_per_s"] = sum(a.tokens_out for a in answers) / seconds
    out["batched_speedup"] = out["batched_items_per_s"] / out["one_at_a_time_items_per_s"]
    return out


def replicas(model_dir: Path, items: int, max_new_tokens: int) -> dict[str, Any]:
    """Records/s of the extraction stage through the engine with 1 and 2 CPU replicas."""
    from docfleet import Fleet
    from docfleet.llm.records.tabular import Record
    from docfleet.stages.extract import ExtractStage

    records = [Record(f"r{i}", n, f"bench:{i}") for i, n in enumerate(notes(items))]
    stage = ExtractStage(model=str(model_dir), turns=[PROMPT], parse_json=False,
                         max_new_tokens=max_new_tokens, max_repairs=0)  # fmt: skip
    out: dict[str, Any] = {"items": items}
    for count in (1, 2):
        fleet = Fleet(devices="cpu", replicas=count, batch_size=8, progress=False)
        stream = fleet.map(stage, records)
        tokens = sum(r.value["tokens_out"] for r in stream if r.ok)
        stats = stream.stats
        steady = steady_seconds(stats)
        out[f"replicas_{count}_items_per_s"] = stats.items / steady
        out[f"replicas_{count}_tokens_per_s"] = tokens / steady
        out[f"replicas_{count}_startup_s"] = stats.startup_seconds
    out["two_vs_one"] = out["replicas_2_items_per_s"] / out["replicas_1_items_per_s"]
    return out


def vision(model_dir: Path, items: int, max_new_tokens: int) -> dict[str, Any]:
    """Pages/s of a vision-language model, one image per call vs batches of 16."""
    from PIL import Image

    from docfleet.llm.generation.loading import load_for_generation
    from docfleet.llm.generation.vision import VisionBatchGenerator

    model, processor = load_for_generation(model_dir, device="cpu")
    images = [Image.new("RGB", (600 + 7 * i, 800), (i * 3 % 255, 120, 200)) for i in range(items)]
    chats = [[{"role": "user", "content": PROMPT.format(**n)}] for n in notes(items)]
    out: dict[str, Any] = {"items": items, "max_new_tokens": max_new_tokens}
    for label, batch in (("one_at_a_time", 1), ("batched", 16)):
        gen = VisionBatchGenerator(
            model, processor, max_new_tokens=max_new_tokens, batch_size=batch
        )
        gen.generate(chats[:2], images[:2])  # warm-up
        start = time.perf_counter()
        answers = gen.generate(chats, images)
        seconds = time.perf_counter() - start
        out[f"{label}_items_per_s"] = items / seconds
        out[f"{label}_tokens_per_s"] = sum(a.tokens_out for a in answers) / seconds
    out["batched_speedup"] = out["batched_items_per_s"] / out["one_at_a_time_items_per_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_options(parser, markdown=False)
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--model", type=Path, help="a model folder (default: a tiny random one)")
    args = parser.parse_args()
    machine = print_machine(12)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    items = 16 if args.quick else 64
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model
        if model_dir is None:
            from llm_factory import tiny_causal_lm

            model_dir = tiny_causal_lm(Path(tmp) / "tiny", layers=4, hidden=256, heads=4)
        figures = {
            "machine": machine,
            "model": str(args.model or "tiny random causal LM (4 layers, hidden 256)"),
            "generation": generation(model_dir, items, 32),
            "replicas": replicas(model_dir, items, 32),
        }
        if args.model is None:
            from llm_factory import tiny_vision_lm

            vlm = tiny_vision_lm(Path(tmp) / "vlm", image_size=64)
            figures["vision"] = vision(vlm, items, 32)
    g, r = figures["generation"], figures["replicas"]
    print(f"generation  one at a time {g['one_at_a_time_tokens_per_s']:8.1f} tokens/s   "
          f"batched {g['batched_tokens_per_s']:8.1f} tokens/s   "
          f"speedup {g['batched_speedup']:.2f}x")  # fmt: skip
    one, two = r["replicas_1_items_per_s"], r["replicas_2_items_per_s"]
    print(f"replicas    1: {one:.2f} records/s   2: {two:.2f} records/s   "
          f"ratio {r['two_vs_one']:.2f}x")  # fmt: skip
    if "vision" in figures:
        v = figures["vision"]
        print(f"vision      one at a time {v['one_at_a_time_items_per_s']:8.1f} pages/s    "
              f"batched {v['batched_items_per_s']:8.1f} pages/s    "
              f"speedup {v['batched_speedup']:.2f}x")  # fmt: skip
    write_json(figures, args.json)


if __name__ == "__main__":
    main()
