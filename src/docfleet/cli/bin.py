"""``docfleet bin``: sort images (and PDF pages) into bins by OCR text, layout, caption and CLIP."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any

DESCRIPTION = """\
Sort images and PDF pages into bins. Each page gets its features (OCR text and its amount,
layout regions by kind, size; a caption with --caption-model; CLIP similarity to each bin's
prompts with --clip-model), then the first bin of BINS whose rule takes it:

  bins:
    - name: documents
      when: text_chars > 1500 and regions.table + regions.text >= 3
    - name: photos
      prompts: ["a photo of people", "a photo of a landscape"]
      min_similarity: 0.25
    - name: other                  # no rule: the default bin

Only the models the rules need are loaded. A rule with a typo stops the run at start, naming
the position and the valid features. OUT/bins.jsonl holds one line per page (its bin, the rule
that decided, the features); --place copy or link also puts each file into OUT/<bin>/.
Re-running resumes; a changed bins file or model redoes every page.
"""

EPILOG = """\
examples:
  docfleet bin photos/ -o sorted/ --bins bins.yml --place link
  docfleet bin scans/ -o sorted/ --bins bins.yml --clip-model ./clip --devices cuda

exit codes: 0 every page binned, 1 some failed (see status "error" lines), 2 usage error.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "bin", help="sort images into bins by OCR, layout, caption and CLIP",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="images, PDFs or folders")
    p.add_argument("-o", "--output", help="output folder")
    p.add_argument("--bins", help="the bins.yml file")
    p.add_argument("--config", metavar="YAML", help="settings file (keys as the long flags)")
    p.add_argument("--caption-model", help="folder of a BLIP-style caption model")
    p.add_argument("--clip-model", help="folder of a CLIP model (for bins with prompts)")
    p.add_argument("--place", choices=["none", "copy", "link"], help="files into OUT/<bin>/")
    p.add_argument("--dpi", type=float, help="resolution of PDF pages (150)")
    p.add_argument("--devices", help="auto, cpu, cuda or cuda:0,cuda:1")
    p.add_argument("--num-gpus", type=int, help="first N GPUs (0 = all)")
    p.add_argument("--workers", choices=["process", "thread"], help="worker kind (process)")
    p.add_argument("--replicas", type=int, help="replicas per device (1)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, help="progress bar")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, help="keep done pages")
    return p


def run(args: argparse.Namespace) -> int:
    from docfleet.io.outdir import OutputError
    from docfleet.jobs.bin.bins import BinsError
    from docfleet.jobs.bin.job import BinConfig, run_bins
    from docfleet.settings.cascade import ConfigError, resolve_config

    flags = {k: getattr(args, k) for k in BinConfig.model_fields if hasattr(args, k)}
    try:
        config = resolve_config(flags, config_file=args.config, environ=os.environ,
                                model=BinConfig)  # fmt: skip
        if not args.inputs:
            raise ConfigError("give at least one INPUT (images, PDFs or folders)")
        command = " ".join(shlex.quote(w) for w in ["docfleet", *sys.argv[1:]])
        report = run_bins(args.inputs, config, command=command)
    except (ConfigError, BinsError, FileNotFoundError, ValueError, OutputError) as exc:
        print(f"docfleet bin: error: {exc}", file=sys.stderr)
        return 2
    _summary(report)
    return report.exit_code


def _summary(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"docfleet bin -> {report.output}", show_header=False)
    table.add_row("pages", f"{report.items} ({report.items - report.failed} binned, "
                           f"{report.failed} failed)")  # fmt: skip
    if report.kept:
        table.add_row("  kept from before", f"{report.kept} (--no-resume redoes them)")
    for name, count in sorted(report.bins.items(), key=lambda kv: -kv[1]):
        table.add_row(f"  bin {name}", str(count))
    for kind, count in report.failures.most_common():
        table.add_row(f"  failed: {kind}", str(count))
    if report.skipped:
        table.add_row("skipped files", str(len(report.skipped)))
    table.add_row("time", f"{report.wall_seconds:.1f} s")
    Console(file=sys.stderr).print(table)
