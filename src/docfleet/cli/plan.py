"""``docfleet plan``: where would this model go, and why? Decided without loading its weights."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docfleet.llm.placement.plan import Plan

DESCRIPTION = """\
Decide how a local Hugging Face model is placed on this machine, and explain the decision. The
size comes from the safetensors headers and config.json, or from config.json alone (parameters
counted on PyTorch's meta device) when the weights are not downloaded yet; no weights are
loaded. A model that fits each GPU with the single-GPU margin is replicated (one replica per
GPU); one that only fits all GPUs together is split across them; one that does not fit the GPUs
is offloaded to CPU memory and then disk; without a GPU it runs on the CPU in float32.
"""

EPILOG = """\
examples:
  docfleet plan --model models/qwen2.5-7b
  docfleet plan --model models/qwen2.5-7b --gpu-memory 24GiB,24GiB   plan for two 24 GiB GPUs
  docfleet plan --model models/llama-70b --dtype bfloat16 --json

exit codes: 0 planned, 2 usage error (no config.json, a strategy that cannot fit).
Sizes take binary (GiB, MiB, G) or decimal (GB, MB) units.
"""


#: The placement settings (fields of ``PlacementSettings``) shown as flags.
SETTINGS = ("model", "devices", "dtype", "strategy", "gpu_memory", "cpu_memory", "split_margin",
            "single_margin")  # fmt: skip


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``plan`` on the ``docfleet`` command's sub-parsers."""
    from docfleet.llm.placement.settings import PlacementSettings
    from docfleet.settings.flags import add_flags

    p: argparse.ArgumentParser = subparsers.add_parser(
        "plan",
        help="decide and explain how a language model is placed on the GPUs, CPU and disk",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flags(p, PlacementSettings, SETTINGS)
    p.add_argument("--json", action="store_true", help="print the plan as JSON on stdout")
    return p


def run(args: argparse.Namespace) -> int:
    """Plan, print the decision as a table or JSON, and return the exit code."""
    from docfleet.llm.placement.planner import plan_for_machine
    from docfleet.llm.placement.settings import PlacementSettings
    from docfleet.runtimes.footprint import parse_size
    from docfleet.settings.cascade import ConfigError, validated
    from docfleet.settings.flags import flag_values

    try:
        settings = validated(PlacementSettings, flag_values(args, PlacementSettings))
        gpu_memory = None
        if settings.gpu_memory is not None:
            gpu_memory = [parse_size(s) for s in settings.gpu_memory.split(",") if s.strip()]
        plan = plan_for_machine(
            settings.model, settings.devices, dtype=settings.dtype, strategy=settings.strategy,
            gpu_memory=gpu_memory,
            cpu_memory=parse_size(settings.cpu_memory) if settings.cpu_memory else None,
            split_margin=parse_size(settings.split_margin),
            single_margin=parse_size(settings.single_margin),
        )  # fmt: skip
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"docfleet plan: error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.json:
            print(json.dumps(plan_json(plan), indent=2))
        else:
            render(plan)
        sys.stdout.flush()
    except BrokenPipeError:  # `docfleet plan --json | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def plan_json(plan: Plan) -> dict:
    """The plan for people and scripts: each replica as the devices it spans and where each
    part of the model goes (``*`` for the whole model)."""
    data = plan.to_dict()
    data["replicas"] = [
        {"devices": sorted({str(d) for d in where.values()}, key=str),
         "placement": {name or "*": where[name] for name in where}}
        for where in data["replicas"]
    ]  # fmt: skip
    return data


def render(plan: Plan) -> None:
    """Print the plan as a rich table, then its explanation."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from docfleet.runtimes.footprint import format_size

    fp = plan.footprint
    console = Console()
    table = Table(title=f"placement of {escape(fp.path)}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("model", escape(f"{fp.architecture or fp.model_type}, {fp.parameters:,} params"))
    stored = f"{format_size(fp.bytes)} ({', '.join(fp.by_dtype)})"
    if not fp.files:
        stored = f"no weights in the folder; {stored} counted from config.json"
    table.add_row("checkpoint", stored)
    table.add_row("strategy", f"[green]{plan.strategy}[/] in {plan.dtype}")
    for i, device_map in enumerate(plan.replicas):
        table.add_row(f"replica {i}", escape(_describe(device_map)))
    for device, nbytes in plan.device_bytes.items():
        budget = plan.budgets.get(device)
        of = f" of {format_size(budget)} allowed" if budget is not None else ""
        table.add_row(f"  {device}", f"{format_size(nbytes)} of weights{of}")
    if plan.needs_offload_folder:
        table.add_row("offload folder", "a temporary directory, removed at exit")
    console.print(table)
    for sentence in plan.explanation:
        console.print(escape(sentence))


def _describe(device_map: dict[str, str]) -> str:
    """``cuda:0 (whole model)`` or ``cuda:0: 17 blocks; cpu: 16 blocks``."""
    if list(device_map) == [""]:
        return f"{device_map['']} (whole model)"
    counts: dict[str, int] = {}
    for device in device_map.values():
        counts[device] = counts.get(device, 0) + 1
    return "; ".join(f"{d}: {n} block{'s' if n > 1 else ''}" for d, n in counts.items())
