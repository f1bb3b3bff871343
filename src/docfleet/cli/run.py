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
    g = p.add_argument_group("devices and workers")
    g.add_argument("--engine", choices=["local", "ray"], help="local (default) or a Ray cluster")
    g.add_argument("--ray-address", help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT")
    g.add_argument("--devices", help="auto (default), cpu, cuda, mps, or cuda:0,cuda:2")
    g.add_argument("--num-gpus", type=int, help="use the first N GPUs (0 = all)")
    g.add_argument("--workers", choices=["process", "thread"], help="worker kind (process)")
    g.add_argument("--replicas", type=_int_or_auto, help="replicas per device (auto)")
    g.add_argument("--cpu-threads", type=int, help="intra-op threads per replica")
    g.add_argument("--batch-size", type=_int_or_auto, help="pages per batch, or auto")
    g = p.add_argument_group("pages")
    g.add_argument("--pipeline", help=f"stages joined with + ({', '.join(_stage_choices())}; "
                   "default layout+ocr); groups on their own devices: see the README")  # fmt: skip
    g.add_argument("--set", action="append", metavar="STAGE.OPTION=VALUE", dest="set_options",
                   help="a stage's option, e.g. ocr.min_score=0.6 (repeat for more)")  # fmt: skip
    g.add_argument(
        "--ocr", choices=["auto", "always", "never"], help="auto: text layer where real (auto)"
    )
    g.add_argument(
        "--ocr-model", choices=["auto", "tiny", "small", "cascade"],
        help="OCR models: cascade (tiny, unsure lines read again by small; CPU default), small "
        "(GPU default, most accurate), tiny (fastest)",
    )  # fmt: skip
    g.add_argument("--ocr-det-side", type=int, metavar="PX",
                   help="longest side of the text detector's input (1280)")  # fmt: skip
    g.add_argument("--ocr-rec-batch", type=int, metavar="N",
                   help="same-width text lines per recognition batch (8 CPU, 32 GPU)")  # fmt: skip
    g.add_argument("--backend", choices=["auto", "onnxruntime", "torch"],
                   help="runtime of the layout and OCR models: onnxruntime, or torch (the same "
                   "networks in PyTorch, pages batched); auto: torch on CUDA GPUs")  # fmt: skip
    g.add_argument("--dpi", type=float, help="PDF rendering resolution (150)")
    g.add_argument("--max-pixels", type=int, help="pixel cap per page; larger pages shrink")
    g.add_argument("--password", help="password for encrypted PDFs")
    g.add_argument("--page-timeout", type=float, help="seconds before a stuck page fails (300)")
    g.add_argument("--max-attempts", type=int, help="runs of a page whose worker dies (3)")
    g.add_argument("--format", choices=["jsonl", "parquet"],
                   help="embed's chunks: in pages.jsonl (jsonl) or OUT/chunks.parquet")  # fmt: skip
    g.add_argument("--resume", action=argparse.BooleanOptionalAction, help="skip done pages")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, help="progress bar")
    g = p.add_argument_group("inputs and output")
    g.add_argument("--follow-links", action="store_true", help="follow links to folders")
    g.add_argument(
        "--retry-failed", action="store_true", help="run again the pages an earlier run failed"
    )
    g.add_argument("--wait", action="store_true", help="if OUT is in use, wait for it")
    return p


def run(args: argparse.Namespace) -> int:
    from docfleet.jobs.run.config import RunConfig
    from docfleet.settings.cascade import ConfigError, config_yaml, resolve_config

    # every run setting has a flag of the same name; unset flags are None
    flags = {key: getattr(args, key) for key in RunConfig.model_fields if hasattr(args, key)}
    try:
        config = resolve_config(
            flags, config_file=args.config, environ=os.environ, model=RunConfig
        )
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
    from docfleet.jobs.run.job import OutputFull, run_documents
    from docfleet.jobs.run.resume import ResumeError

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
        return 130
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


def _int_or_auto(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _stage_choices() -> list[str]:
    from docfleet.jobs.run.pipeline_spec import pipeline_choices

    return pipeline_choices()


def with_stage_options(config: Any, sets: list[str]) -> Any:
    """``config`` with ``--set STAGE.OPTION=VALUE`` merged over its ``stages`` options."""
    from docfleet.jobs.run.pipeline_spec import parse_sets
    from docfleet.settings.cascade import validated

    merged = {k: dict(v) for k, v in config.stages.items()}
    for stage, options in parse_sets(sets).items():
        merged.setdefault(stage, {}).update(options)
    return validated(type(config), {**dict(config), "stages": merged})
