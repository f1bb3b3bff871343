"""``docfleet run``: PDFs and images in, per-page text and layout out, on every device."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Turn PDFs and images into per-page text with layout, on every GPU (or every CPU core).

INPUT is any mix of files, folders (searched recursively) and glob patterns. Types are
detected by content: PDF, PNG, JPEG, TIFF (every frame a page), BMP, WebP.

Writes to OUT:
  pages.jsonl            one JSON line per page (text in reading order, blocks, boxes,
                         timings, device), or an error record for a page or document
  documents/<path>.md    Markdown per document
  run.json               resolved settings, versions, per-device stats, counts

Settings cascade: flags > --config YAML > DOCFLEET_* environment variables > defaults.
Re-running with the same OUT resumes: pages already written are skipped.
"""

EPILOG = """\
examples:
  docfleet run reports/ scans/*.png -o out/
  docfleet run archive/ -o out/ --devices cuda:0,cuda:1 --page-timeout 120
  docfleet run inbox/ -o out/ --pipeline ocr --ocr always --devices cpu
  docfleet run inbox/ -o out/ --config run.yml --print-config
  docfleet run s3-mirror/ -o out/ --engine ray --ray-address auto

One run writes to OUT at a time: a second one stops at once (exit 2) naming the first, or
with --wait waits for it. Re-running resumes: pages written with the same page settings
(--pipeline, --ocr, --dpi, --max-pixels, --ocr-model, --ocr-det-side) are kept, pages of
documents changed since are redone, and other settings are refused (--no-resume starts
over). Files in a folder that are no documents (a README, a manifest) are skipped and
listed; links to folders are not followed unless --follow-links.

exit codes: 0 every page succeeded, 1 some pages failed (listed in the summary and in
run.json) or the disk filled up, 2 usage or configuration error (before anything is written),
130 stopped by Ctrl-C before every page ran (run the same command again to resume).
"""


#: The run's settings (fields of ``RunConfig``) shown as flags, by group; --help, choices and
#: limits come from the fields.
DEVICE_SETTINGS = ("engine", "ray_address", "devices", "num_gpus", "workers", "replicas",
                   "cpu_threads", "batch_size")  # fmt: skip
PAGE_SETTINGS = ("ocr", "ocr_model", "ocr_det_side", "ocr_rec_batch", "backend", "dpi",
                 "max_pixels", "password", "page_timeout", "max_attempts", "format", "resume",
                 "progress")  # fmt: skip


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "run",
        help="process PDFs and images into per-page text and layout",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="files, folders or glob patterns")
    p.add_argument("-o", "--output", metavar="OUT", help="output folder (created if missing)")
    p.add_argument("--config", metavar="YAML", help="settings file (keys as the long flags)")
    p.add_argument("--print-config", action="store_true", help="print resolved settings, exit")
    from docfleet.jobs.run.config import RunConfig
    from docfleet.settings.flags import add_flags

    add_flags(p.add_argument_group("devices and workers"), RunConfig, DEVICE_SETTINGS)
    g = p.add_argument_group("pages")
    add_flags(g, RunConfig, ["pipeline"])
    g.add_argument("--set", action="append", metavar="STAGE.OPTION=VALUE", dest="set_options",
                   help="a stage's option, e.g. ocr.min_score=0.6 (repeat for more)")  # fmt: skip
    add_flags(g, RunConfig, PAGE_SETTINGS)
    g = p.add_argument_group("inputs and output")
    g.add_argument("--follow-links", action="store_true", help="follow links to folders")
    g.add_argument(
        "--retry-failed", action="store_true", help="run again the pages an earlier run failed"
    )
    g.add_argument("--wait", action="store_true", help="if OUT is in use, wait for it")
    add_flags(g, RunConfig, ["keep_furniture"])
    return p


def run(args: argparse.Namespace) -> int:
    from docfleet.jobs.run.config import RunConfig
    from docfleet.settings.cascade import ConfigError, config_yaml, resolve_config
    from docfleet.settings.flags import flag_values

    flags = flag_values(args, RunConfig)  # unset flags are left out
    try:
        config = resolve_config(flags, config_file=args.config, environ=os.environ, model=RunConfig)
        if args.set_options:
            config = with_stage_options(config, args.set_options)
    except (ConfigError, ValueError) as exc:
        return _usage(str(exc))
    if args.print_config:
        print(config_yaml(config), end="")
        return 0
    if not args.inputs:
        return _usage("give at least one INPUT (a file, folder or glob)")
    if not args.output:
        return _usage("give an output folder with -o OUT")
    options = {
        "wait": args.wait,
        "retry_failed": args.retry_failed,
        "follow_links": args.follow_links,
        "command": _command_line(),
    }
    return _execute(args.inputs, Path(args.output), config, options)


def _execute(inputs: list[str], out: Path, config: Any, options: dict[str, Any]) -> int:
    from docfleet.cli.summary import print_summary
    from docfleet.engine.devices import DeviceError
    from docfleet.io.outdir import OutputError
    from docfleet.jobs.common.resume import ResumeError
    from docfleet.jobs.run.job import OutputFull, run_documents

    streams: list[Any] = []

    def on_interrupt(signum: int, frame: Any) -> None:
        if streams and not getattr(on_interrupt, "stopping", False):
            on_interrupt.stopping = True  # type: ignore[attr-defined]
            print("\nstopping: finishing the pages in progress (Ctrl-C again to abandon them)",
                  file=sys.stderr)  # fmt: skip
            streams[0].stop()
            return
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        report = run_documents(inputs, out, config, on_start=streams.append, **options)
    except (FileNotFoundError, DeviceError, ImportError, OutputError, ResumeError) as exc:
        return _usage(str(exc).strip("'\""))
    except OutputFull as exc:
        print(f"docfleet run: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: pages written so far are kept; run again to resume", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    print_summary(report)
    if report.not_run:
        print(f"stopped: {report.not_run} pages not run; run the same command again to do them",
              file=sys.stderr)  # fmt: skip
    return report.exit_code


def _command_line() -> str:
    """The command as typed, with a password given on it hidden."""
    words = ["docfleet", *sys.argv[1:]]
    for i, word in enumerate(words):
        if word == "--password" and i + 1 < len(words):
            words[i + 1] = "***"
        elif word.startswith("--password="):
            words[i] = "--password=***"
    return " ".join(shlex.quote(w) for w in words)


def _usage(message: str) -> int:
    print(f"docfleet run: error: {message}", file=sys.stderr)
    return 2


def with_stage_options(config: Any, sets: list[str]) -> Any:
    """``config`` with ``--set STAGE.OPTION=VALUE`` merged over its ``stages`` options."""
    from docfleet.jobs.run.pipeline_spec import parse_sets
    from docfleet.settings.cascade import validated

    merged = {k: dict(v) for k, v in config.stages.items()}
    for stage, options in parse_sets(sets).items():
        merged.setdefault(stage, {}).update(options)
    return validated(type(config), {**dict(config), "stages": merged})
