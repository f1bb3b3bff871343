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

Only the models the rules need are loaded. A PDF page's text comes from its text layer where
that holds real text, as in docfleet run (--ocr auto; always OCRs every page). A rule with a
typo stops the run at start, naming the position and the valid features. OUT/bins.jsonl holds
one line per page (its bin, the rule that decided, where its text came from, the features);
--place copy or link also puts each file into OUT/<bin>/. Re-running resumes; a changed bins
file, --ocr, --dpi or model redoes every page.
"""

EPILOG = """\
examples:
  docfleet bin examples/ -o sorted/ --bins examples/bins.yml --place link
  docfleet bin photos/ -o sorted/ --bins bins.yml --place link
  docfleet bin scans/ -o sorted/ --bins bins.yml --clip-model ./clip --devices cuda

exit codes: 0 every page binned, 1 some failed (see status "error" lines), 2 usage error.
"""


#: The binning settings (fields of ``BinConfig``) shown as flags; --help, choices and limits
#: come from the fields.
SETTINGS = ("output", "bins", "caption_model", "clip_model", "place", "dpi", "ocr", "devices",
            "num_gpus", "workers", "replicas", "batch_size", "engine", "ray_address",
            "max_attempts", "progress", "resume")  # fmt: skip


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "bin", help="sort images into bins by OCR, layout, caption and CLIP",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="images, PDFs or folders")
    p.add_argument("--config", metavar="YAML", help="settings file (keys as the long flags)")
    from docfleet.jobs.bin.config import BinConfig
    from docfleet.settings.flags import add_flags

    add_flags(p, BinConfig, SETTINGS)
    return p


def run(args: argparse.Namespace) -> int:
    from docfleet.io.outdir import OutputError
    from docfleet.jobs.bin.bins import BinsError
    from docfleet.jobs.bin.job import BinConfig, run_bins
    from docfleet.settings.cascade import ConfigError, resolve_config
    from docfleet.settings.flags import flag_values

    flags = flag_values(args, BinConfig)
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
