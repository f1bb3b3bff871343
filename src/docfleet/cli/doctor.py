"""``docfleet doctor``: is this machine ready? Devices, memory, runtimes, and what to fix."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docfleet.engine.doctor import DoctorReport

DESCRIPTION = """\
Check that this machine is ready to run docfleet: Python and package versions, ONNX Runtime
providers, the torch CUDA build, OpenCV (one wheel, whose cv2 imports and satisfies what the
installed packages require), CPU cores and memory, and every visible GPU. Each GPU gets a
tiny allocation in a child process, so a GPU that is listed but unusable is caught here. With
--ray-address it also connects to that Ray cluster and lists its nodes, CPUs, GPUs and memory.
Every problem found comes with the step that fixes it.
"""

EPILOG = """\
examples:
  docfleet doctor                       readable report
  docfleet doctor --json > doctor.json  the same report as JSON
  docfleet doctor --devices cuda        exit 1 unless every visible GPU is usable
  docfleet doctor --devices cuda:0,cuda:1
  docfleet doctor --ray-address 10.0.0.5:6379   the Ray cluster whose head node is 10.0.0.5

exit codes: 0 ready (or no --devices asked), 1 the devices asked for are not usable or the
Ray cluster cannot be reached.
GPUs are those NVML or nvidia-smi lists, filtered by CUDA_VISIBLE_DEVICES as CUDA would.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``doctor`` on the ``docfleet`` command's sub-parsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "doctor",
        help="check devices, memory and runtimes, and say what to fix",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--json", action="store_true", help="print the report as JSON on stdout instead of tables"
    )
    parser.add_argument(
        "--devices",
        metavar="SPEC",
        default=None,
        help="also check that these devices are usable and exit 1 if not: auto, cpu, cuda "
        "(all GPUs) or a list such as cuda:0,cuda:2 (default: check nothing in particular)",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        default=None,
        help="also connect to this Ray cluster and describe it, exit 1 if it cannot be reached: "
        "HEAD_IP:6379, ray://HEAD_IP:10001 or auto (a cluster started on this machine)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Build the report, print it as tables or JSON, and return the exit code."""
    from docfleet.engine.doctor import build_report

    report = build_report(args.devices, ray_address=args.ray_address)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        render(report)
    return report.exit_code


def render(report: DoctorReport) -> None:
    """Print the report as rich tables on stdout."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from docfleet.engine.machine import NOT_INSTALLED, OPENCV_WHEELS

    console = Console()
    facts = Table(title=f"docfleet {report.docfleet} doctor", show_header=False)
    facts.add_column(style="bold")
    facts.add_column()
    py, cpu, ort, torch = report.python, report.cpu, report.onnxruntime, report.torch
    facts.add_row("python", escape(f"{py['version']} ({py['executable']})"))
    facts.add_row("platform", escape(py["platform"]))
    facts.add_row("cpu cores", f"{cpu['usable_cores']} usable of {cpu['logical_cores']}")
    memory = f"{_gib(cpu['memory_available_bytes'])} available of {_gib(cpu['memory_total_bytes'])}"
    if cpu["memory_limit_bytes"]:
        memory += f", limited to {_gib(cpu['memory_limit_bytes'])}"
    facts.add_row("memory", memory)
    providers = ", ".join(ort["providers"]) or ort["error"] or "no providers"
    facts.add_row("onnxruntime", escape(_installed(ort["version"], providers)))
    cuda = f"CUDA {torch['cuda']} build" if torch["cuda"] else torch["error"] or "CPU-only build"
    facts.add_row("torch", escape(_installed(torch["version"], cuda)))
    cv = report.opencv
    wheels = [w for w in OPENCV_WHEELS if report.packages.get(w, NOT_INSTALLED) != NOT_INSTALLED]
    wheels_text = " + ".join(wheels) or "no OpenCV wheel"
    facts.add_row("cv2", escape(_installed(cv["version"], cv["error"] or wheels_text)))
    if report.gpus:
        from docfleet.engine.doctor import gpu_backend

        facts.add_row("layout+OCR on GPUs", escape(gpu_backend(report)))
    for name, version in report.packages.items():
        facts.add_row(f"  {name}", version, style="dim" if version == "not installed" else None)
    console.print(facts)

    if report.gpus:
        gpus = Table(title=f"GPUs (found by {report.discovery['method']})")
        for column in ("device", "name", "memory free / total", "CUDA_VISIBLE_DEVICES", "alloc"):
            gpus.add_column(column)
        for g in report.gpus:
            alloc = f"[green]ok[/] ({g.probe.backend})" if g.probe.ok else "[red]FAILED[/]"
            mem = f"{_gib(g.free_bytes)} / {_gib(g.total_bytes)}"
            gpus.add_row(f"cuda:{g.index}", escape(g.name), mem, escape(g.visible_id), alloc)
        console.print(gpus)
    else:
        why = escape(report.discovery["reason"] or "")
        console.print(f"[bold yellow]No GPU[/]: {why}. Work runs on the CPU.")

    devices = report.devices
    if devices.requested is not None:
        state = "[green]usable[/]" if devices.usable else "[red]NOT usable[/]"
        resolved = f" -> {', '.join(devices.resolved)}" if devices.resolved else ""
        console.print(f"--devices {escape(devices.requested)}{escape(resolved)}: {state}")
    if report.ray is not None:
        render_ray(console, report.ray)

    if not report.problems:
        console.print("[green]No problems found.[/]")
        return
    problems = Table(title="Problems", show_lines=True)
    problems.add_column("#", justify="right")
    problems.add_column("problem", style="red", ratio=1)
    problems.add_column("fix", ratio=1)
    for i, p in enumerate(report.problems, 1):
        problems.add_row(str(i), escape(p.what), escape(p.fix))
    console.print(problems)


def render_ray(console: Any, ray: dict[str, Any]) -> None:
    """The Ray cluster's nodes and totals, or that it could not be reached."""
    from rich.markup import escape
    from rich.table import Table

    address = escape(str(ray["address"]))
    if not ray["connected"]:
        console.print(f"Ray cluster at {address}: [red]NOT reachable[/] (see Problems)")
        return
    how = "an existing cluster" if ray["existing_cluster"] else "started here to look"
    table = Table(title=f"Ray {escape(ray['ray_version'])} cluster at {address} ({how})")
    for column in ("node", "address", "alive", "CPUs", "GPUs", "memory"):
        table.add_column(column)
    for n in ray["nodes"]:
        name = n["node_id"][:12] + (" (head)" if n["head"] else "")
        alive = "yes" if n["alive"] else "[red]no[/]"
        cpus, gpus = f"{n['cpus']:g}", f"{n['gpus']:g}"
        table.add_row(name, escape(n["address"]), alive, cpus, gpus, _gib(n["memory_bytes"]))
    total, free = ray["total"], ray["available"]
    table.caption = f"{len(ray['nodes'])} node(s); " + ", ".join(
        f"{key}s {free.get(key, 0):g} free of {total.get(key, 0):g}" for key in ("CPU", "GPU")
    )
    console.print(table)


def _installed(version: str, detail: str) -> str:
    return version if version == "not installed" else f"{version}: {detail}"


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**30:.1f} GiB"
