"""Model placement: sizes from safetensors headers, decisions under pretend memory, real loading.

The model is a tiny randomly initialised Llama written by ``llm_factory``; GPUs are pretended
through the planner's inputs, and offloading really runs on the CPU with weights on disk.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from llm_factory import tiny_causal_lm

from docfleet.engine.devices import Device
from docfleet.llm.placement.planner import Plan, PlanError, plan_placement
from docfleet.runtimes.footprint import ModelFilesError, model_footprint

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

MiB = 2**20
GiB = 2**30
OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
PROMPTS = ["Extract the total from the invoice 1234", "the note says the blood pressure is normal"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_causal_lm(tmp_path_factory.mktemp("llm") / "tiny", layers=4)


@pytest.fixture(scope="module")
def weights(model_dir: Path) -> int:
    """Bytes the planner measures for the whole model in float32 (weights and buffers): a GPU
    far too small makes it split, which takes the exact sizes."""
    plan = plan_placement(
        model_dir, gpus=[("cuda:0", 64 * 1024)], cpu_bytes=8 * GiB, split_margin=0,
        single_margin=0,
    )  # fmt: skip
    assert plan.strategy == "offload"
    return sum(plan.device_bytes.values())


def _gpus(*free: int) -> list[tuple[str, int]]:
    return [(f"cuda:{i}", b) for i, b in enumerate(free)]


def _generate(model, tokenizer) -> torch.Tensor:
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
        )
        for p in PROMPTS
    ]
    enc = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        return model.generate(**enc, do_sample=False, max_new_tokens=8)


def test_footprint_is_the_sum_of_the_loaded_tensors(model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    fp = model_footprint(model_dir)
    state = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).state_dict()
    assert fp.parameters == sum(t.numel() for t in state.values())
    assert fp.bytes == sum(t.numel() * t.element_size() for t in state.values())
    assert fp.bytes_at("float16") == fp.bytes_at("bfloat16") == fp.bytes // 2
    assert (fp.architecture, fp.layers, fp.hidden_size) == ("LlamaForCausalLM", 4, 64)
    assert fp.checkpoint_dtype == "float32"
    assert list(fp.by_dtype) == ["F32"]


def test_footprint_of_a_sharded_checkpoint(model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.save_pretrained(tmp_path, max_shard_size="200KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    sharded = model_footprint(tmp_path)
    assert len(sharded.files) > 1
    assert sharded.by_dtype == model_footprint(model_dir).by_dtype


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFilesError, match=r"no config\.json"):
        model_footprint(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelFilesError, match=r"no \*\.safetensors"):
        model_footprint(tmp_path)


def test_replicates_on_every_gpu_that_holds_a_copy(model_dir: Path) -> None:
    plan = plan_placement(model_dir, gpus=_gpus(8 * GiB, 8 * GiB), cpu_bytes=8 * GiB)
    assert plan.strategy == "replicate"
    assert plan.replicas == ({"": "cuda:0"}, {"": "cuda:1"})
    assert plan.devices == ("cuda:0", "cuda:1")
    assert plan.dtype == "float32"  # the checkpoint's dtype on GPUs
    assert not plan.needs_offload_folder
    assert any("data parallelism" in s for s in plan.explanation)


def test_a_gpu_listed_twice_must_hold_two_copies(model_dir: Path, weights: int) -> None:
    room = weights + 1 * MiB
    two = plan_placement(
        model_dir, gpus=[("cuda:0", 2 * room), ("cuda:0", 2 * room)], cpu_bytes=GiB,
        single_margin=1 * MiB,
    )  # fmt: skip
    assert two.replicas == ({"": "cuda:0"}, {"": "cuda:0"})
    too_small = plan_placement(
        model_dir, gpus=[("cuda:0", room), ("cuda:0", room)], cpu_bytes=GiB, single_margin=1 * MiB
    )
    assert too_small.strategy == "offload"


def test_extract_runs_one_worker_per_planned_replica(model_dir: Path, weights: int) -> None:
    from docfleet.jobs.extract.job import ExtractConfig, engine_options

    config = ExtractConfig(model=str(model_dir), input="in.csv", output="out.jsonl")
    room = weights + 2 * MiB
    plan = plan_placement(
        model_dir, gpus=_gpus(room, weights // 2, room), cpu_bytes=GiB, single_margin=1 * MiB
    )
    assert plan.strategy == "replicate"
    options = engine_options(config, plan)  # the GPU too small for a copy gets no worker
    assert (options.devices, options.num_gpus, options.workers) == (
        "cuda:0,cuda:2",
        None,
        "process",
    )
    part = 1 * MiB + int(weights * 0.85)
    split = plan_placement(
        model_dir, gpus=_gpus(part, part), cpu_bytes=GiB, split_margin=1 * MiB,
        single_margin=1 * MiB,
    )  # fmt: skip
    assert split.strategy == "balanced"
    assert (engine_options(config, split).devices, engine_options(config, split).workers) == (
        "cpu", "thread",
    )  # fmt: skip
    forced = plan_placement(model_dir, gpus=_gpus(room), cpu_bytes=4 * GiB, strategy="cpu")
    assert engine_options(config, forced).devices == "cpu"  # no worker on the idle GPU


def test_balanced_when_one_gpu_is_too_small_but_two_fit(model_dir: Path, weights: int) -> None:
    margin = 1 * MiB
    free = margin + int(weights * 0.85)
    plan = plan_placement(
        model_dir, gpus=_gpus(free, free), cpu_bytes=GiB, split_margin=margin, single_margin=margin
    )
    assert plan.strategy == "balanced"
    (device_map,) = plan.replicas
    assert set(device_map.values()) == {"cuda:0", "cuda:1"}
    assert sum(plan.device_bytes.values()) == weights
    for gpu in ("cuda:0", "cuda:1"):
        assert plan.device_bytes[gpu] <= free - margin  # the split margin is left free


def test_offload_when_the_gpus_cannot_hold_it(model_dir: Path, weights: int) -> None:
    margin = 1 * MiB
    free = margin + weights // 3
    plan = plan_placement(
        model_dir, gpus=_gpus(free, free), cpu_bytes=GiB, split_margin=margin, single_margin=margin
    )
    assert plan.strategy == "offload"
    (device_map,) = plan.replicas
    assert "cpu" in device_map.values()
    assert plan.devices == ("cuda:0",)
    assert sum(plan.device_bytes.values()) == weights
    starved = plan_placement(
        model_dir,
        gpus=_gpus(free),
        cpu_bytes=weights // 2,
        split_margin=margin,
        single_margin=margin,
    )
    assert starved.strategy == "offload"
    assert "disk" in starved.replicas[0].values()
    assert starved.needs_offload_folder


def test_cpu_in_float32_without_a_gpu(model_dir: Path) -> None:
    plan = plan_placement(model_dir, gpus=[], cpu_bytes=8 * GiB)
    assert (plan.strategy, plan.dtype, plan.replicas) == ("cpu", "float32", ({"": "cpu"},))
    mps = plan_placement(model_dir, gpus=[], cpu_bytes=8 * GiB, mps=True)
    assert (mps.strategy, mps.replicas) == ("mps", ({"": "mps"},))
    half = plan_placement(model_dir, gpus=[], cpu_bytes=8 * GiB, dtype="bfloat16")
    assert half.dtype == "bfloat16"
    assert half.device_bytes["cpu"] < plan.device_bytes["cpu"]


def test_margins_are_honoured(model_dir: Path, weights: int) -> None:
    margin = 3 * MiB
    exact = plan_placement(
        model_dir, gpus=_gpus(weights + margin), cpu_bytes=GiB, single_margin=margin
    )
    assert exact.strategy == "replicate"
    short = plan_placement(
        model_dir, gpus=_gpus(weights + margin - 1), cpu_bytes=GiB, single_margin=margin
    )
    assert short.strategy != "replicate"  # it fits the GPU, but not with the margin
    no_margin = plan_placement(model_dir, gpus=_gpus(weights), cpu_bytes=GiB, single_margin=0)
    assert no_margin.strategy == "replicate"


def test_a_plain_fit_is_planned_from_the_checkpoint_without_pytorch(
    model_dir: Path, weights: int
) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys
        from docfleet.llm.placement.planner import plan_placement

        cpu = plan_placement({str(model_dir)!r}, cpu_bytes={8 * GiB})
        gpus = plan_placement({str(model_dir)!r}, gpus=[("cuda:0", {8 * GiB}),
                              ("cuda:1", {8 * GiB})], cpu_bytes={GiB})
        print(json.dumps([cpu.to_dict(), gpus.to_dict(), "torch" in sys.modules]))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=OFFLINE, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    cpu, gpus, imported = json.loads(proc.stdout)
    assert not imported  # no meta model was built
    assert (cpu["strategy"], cpu["replicas"]) == ("cpu", [{"": "cpu"}])
    assert (gpus["strategy"], gpus["devices"]) == ("replicate", ["cuda:0", "cuda:1"])
    estimate = cpu["device_bytes"]["cpu"]
    assert estimate == model_footprint(model_dir).bytes_at("float32")
    assert weights * 0.95 <= estimate <= weights  # within the slack of the measured size


def test_a_close_fit_is_measured(model_dir: Path, weights: int) -> None:
    plan = plan_placement(model_dir, gpus=[], cpu_bytes=weights + 1, single_margin=0)
    assert plan.strategy == "cpu"
    assert plan.device_bytes["cpu"] == weights  # the exact size, buffers included
    fits_exactly = plan_placement(
        model_dir, gpus=_gpus(weights + 2 * MiB, 8 * GiB), cpu_bytes=GiB, single_margin=2 * MiB
    )
    assert fits_exactly.device_bytes == {"cuda:0": weights, "cuda:1": weights}


def test_forced_strategies(model_dir: Path, weights: int) -> None:
    with pytest.raises(PlanError, match="needs at least one GPU"):
        plan_placement(model_dir, gpus=[], cpu_bytes=GiB, strategy="balanced")
    on_cpu = plan_placement(model_dir, gpus=_gpus(8 * GiB), cpu_bytes=8 * GiB, strategy="cpu")
    assert (on_cpu.strategy, on_cpu.dtype) == ("cpu", "float32")
    with pytest.raises(PlanError, match="strategy offload"):
        plan_placement(model_dir, gpus=[], cpu_bytes=weights // 2, single_margin=0, strategy="cpu")


def test_plan_survives_json(model_dir: Path, weights: int) -> None:
    plan = plan_placement(model_dir, gpus=[], cpu_bytes=weights // 2, single_margin=0)
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_offload_really_generates_with_weights_on_disk(
    model_dir: Path, weights: int, tmp_path: Path
) -> None:
    from docfleet.llm.generation.loading import load_for_generation

    plan = plan_placement(model_dir, gpus=[], cpu_bytes=int(weights * 0.75), single_margin=0)
    assert plan.strategy == "offload"
    assert set(plan.replicas[0].values()) == {"cpu", "disk"}
    offloaded, tokenizer = load_for_generation(
        model_dir, plan.to_dict(), 0, Device.parse("cpu"), offload_root=tmp_path
    )
    assert set(offloaded.hf_device_map.values()) == {"cpu", "disk"}
    assert any(p.device.type == "meta" for p in offloaded.parameters())  # not in memory
    whole, _ = load_for_generation(model_dir, device="cpu")
    assert tokenizer.padding_side == "left"
    assert torch.equal(_generate(offloaded, tokenizer), _generate(whole, tokenizer))


def test_offload_folder_is_removed_at_exit(model_dir: Path, weights: int, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os
        from docfleet.llm.generation.loading import load_for_generation
        from docfleet.llm.placement.planner import plan_placement

        plan = plan_placement({str(model_dir)!r}, cpu_bytes={weights // 2}, single_margin=0)
        model, tokenizer = load_for_generation(
            {str(model_dir)!r}, plan, device="cpu", offload_root={str(tmp_path)!r}
        )
        print(os.listdir({str(tmp_path)!r}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=OFFLINE, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "docfleet-offload-" in proc.stdout  # it existed while the model was loaded
    assert list(tmp_path.iterdir()) == []


def test_plan_command_json(cli, model_dir: Path, tmp_path: Path) -> None:
    args = ["plan", "--model", str(model_dir), "--gpu-memory", "8GiB,8GiB", "--json"]
    proc = cli(*args, env=OFFLINE, timeout=120)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["strategy"] == "replicate"
    assert plan["replicas"] == [
        {"devices": ["cuda:0"], "placement": {"*": "cuda:0"}},
        {"devices": ["cuda:1"], "placement": {"*": "cuda:1"}},
    ]
    assert plan["footprint"]["parameters"] == model_footprint(model_dir).parameters
    assert plan["explanation"]
    head = subprocess.run(
        f"{shlex.join(cli.argv(*args))} | head -n 1", shell=True, capture_output=True, text=True,
        env=OFFLINE, timeout=120,
    )  # fmt: skip
    assert head.stdout.strip() == "{" and "Traceback" not in head.stderr, head.stderr


def test_plan_command_without_a_model_exits_2(tmp_path: Path, capsys) -> None:
    from docfleet.cli.main import main

    assert main(["plan", "--model", str(tmp_path), "--cpu-memory", "1GiB"]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_plan_from_config_json_alone_counts_the_parameters(
    model_dir: Path, tmp_path: Path, capsys
) -> None:
    from docfleet.cli.main import main

    only = tmp_path / "config-only"
    only.mkdir()
    (only / "config.json").write_bytes((model_dir / "config.json").read_bytes())
    checkpoint = model_footprint(model_dir)
    plan = plan_placement(only, gpus=_gpus(8 * GiB), cpu_bytes=64 * GiB)
    assert plan.strategy == "replicate" and plan.footprint.files == ()
    assert plan.footprint.parameters == checkpoint.parameters  # counted on the meta device
    assert "counted from config.json" in plan.explanation[0]
    assert main(["plan", "--model", str(only), "--gpu-memory", "8GiB", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["strategy"] == "replicate"
    assert printed["footprint"]["parameters"] == checkpoint.parameters
    assert main(["plan", "--model", str(only), "--cpu-memory", "4GiB"]) == 0
    assert "no weights in the folder" in capsys.readouterr().out


def test_extract_still_needs_the_weights_plan_does_without(model_dir: Path, tmp_path: Path) -> None:
    from docfleet.jobs.extract.job import ExtractConfig, plan_extraction

    only = tmp_path / "config-only"
    only.mkdir()
    (only / "config.json").write_bytes((model_dir / "config.json").read_bytes())
    config = ExtractConfig(model=str(only), input="x.csv", output=str(tmp_path / "o.jsonl"),
                           prompt="{x}", devices="cpu")  # fmt: skip
    with pytest.raises(ModelFilesError, match=r"no \*\.safetensors"):
        plan_extraction(config)
