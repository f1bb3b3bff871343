"""``docfleet extract``: structured fields from records with a local LLM on every device, or
with model servers (OpenAI-compatible endpoints)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any

DESCRIPTION = """\
Extract structured fields from CSV/JSONL records with a local Hugging Face model, or from
PDF pages and images with a local vision-language model (VLM). With --endpoint instead of
--model, the same extraction runs against OpenAI-compatible servers (vLLM, TGI, llama.cpp,
transformers serve, hosted APIs).

Each record's columns fill the prompt's {column} variables; a page fills {file}, {page} and
{pages}, and the VLM sees the page image with the first turn (or, with --image-column, the
image or PDF page a record's column names, relative to its CSV/JSONL file). A prompt file
may hold several turns (turn k sees {answer_1}..{answer_k-1}). With --schema the answer
must be JSON meeting the schema; an invalid answer gets a repair turn (--max-repairs), then
is recorded as an error with its raw text. One output line per input record, in input order.

Placement (see `docfleet plan`): the model is replicated on every GPU it fits on, split
across GPUs when it fits none alone, offloaded to CPU and disk when it fits nowhere, and run
on the CPU in float32 when there is no GPU. With --engine ray, every Ray actor holds a
whole copy (one per GPU of the cluster, else one per CPU).

Re-running with the same -o resumes: records already written are kept, the rest are done
(with other settings the run stops; --no-resume starts over). --retry-failed also redoes
the records that ended as errors, and leaves the file in input order. --limit 20 tries the
prompt on the first 20 records; the same command without it then does the rest.

Model servers: --endpoint URL (repeatable; the base URL, as in http://gpu0:8000/v1) and
--served-model NAME. Every server pulls records from one queue, --concurrency requests at a
time each; 429 and 5xx answers, timeouts and dropped connections are retried with backoff
(Retry-After honoured), a server failing again and again is rested a while, and a record
whose attempts all failed is an error line. --requests-per-minute and --tokens-per-minute
cap all servers together. The API key is read from the environment variable that
--api-key-env names, never from a flag or the --config file. Resume, --retry-failed and
--limit work as with --model; the fingerprint holds the served model name, not the URLs, so
a run may be resumed against other servers.

Settings cascade: flags > --config YAML > DOCFLEET_* environment variables > defaults.
"""

EPILOG = """\
examples:
  docfleet extract --model ./qwen --input notes.csv --text-column note \\
      --prompt "Extract the diagnosis from: {note}" --schema dx.json -o out.jsonl
  docfleet extract --model ./llm --input invoices/ --prompt-file turns.yml -o fields.jsonl
  docfleet extract --model ./vlm --input scans/ --prompt "Invoice number and total?" \\
      --schema invoice.json -o pages.jsonl
  docfleet extract --endpoint http://gpu0:8000/v1 --endpoint http://gpu1:8000/v1 \\
      --served-model qwen --api-key-env OPENAI_API_KEY --input notes.csv \\
      --prompt "Extract the diagnosis from: {note}" --schema dx.json -o out.jsonl

exit codes: 0 every record valid, 1 some failed (see status "error" lines), 2 usage error.
"""

#: The extraction settings (fields of ``ExtractConfig``) shown as flags, by group; --help,
#: choices and limits come from the fields.
SETTINGS = ("output", "model", "input", "input_kind", "prompt", "prompt_file", "json_schema",
            "answer_format", "text_column", "id_column", "image_column", "encoding", "dpi",
            "password", "devices", "num_gpus", "strategy", "split_margin", "single_margin",
            "batch_size", "max_new_tokens", "max_repairs", "limit", "dtype", "workers", "engine",
            "ray_address", "max_attempts", "progress", "resume", "retry_failed")  # fmt: skip
SERVER_SETTINGS = ("endpoint", "served_model", "api_key_env", "concurrency",
                   "requests_per_minute", "tokens_per_minute", "request_timeout",
                   "request_attempts", "cool_down", "give_up_after")  # fmt: skip


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from docfleet.jobs.extract.config import ExtractConfig
    from docfleet.settings.flags import add_flags

    p = subparsers.add_parser(
        "extract", help="structured extraction with a local LLM or model servers",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--config", metavar="YAML", help="settings file (keys as the long flags)")
    add_flags(p, ExtractConfig, SETTINGS)
    servers = p.add_argument_group("model servers (instead of --model)")
    add_flags(servers, ExtractConfig, SERVER_SETTINGS)
    servers.add_argument("--api-key", nargs="?", action=_NoKeyOnTheCommandLine,
                         help=argparse.SUPPRESS)  # fmt: skip
    p.add_argument("--wait", action="store_true", help="if OUTPUT is in use, wait for it")
    return p


class _NoKeyOnTheCommandLine(argparse.Action):
    """``--api-key``: refused without repeating the value (argparse would echo it)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        parser.error(
            "--api-key is not taken: a key on the command line shows in the process list and "
            "the shell history; put it in an environment variable and pass --api-key-env NAME"
        )


def run(args: argparse.Namespace) -> int:
    from docfleet.io.outdir import OutputError
    from docfleet.jobs.extract.job import ExtractConfig, run_extract
    from docfleet.llm.endpoints.extract import api_key
    from docfleet.llm.endpoints.state import ServersDown
    from docfleet.settings.cascade import ConfigError, resolve_config
    from docfleet.settings.flags import flag_values

    flags = flag_values(args, ExtractConfig)
    try:
        config = resolve_config(
            flags, config_file=args.config, environ=os.environ, model=ExtractConfig
        )
        key = api_key(config.api_key_env, os.environ) if config.endpoint else None

        report = run_extract(
            config, command=_command_line(), wait=args.wait, on_plan=_say_placement, api_key=key
        )
    except (ConfigError, FileNotFoundError, ValueError, ImportError, OutputError) as exc:
        print(f"docfleet extract: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: lines written so far are kept; run again to resume", file=sys.stderr)
        return 130
    except ServersDown as exc:
        print(f"docfleet extract: stopped: {exc}; the lines written are kept: start a server "
              "and run the same command again to resume", file=sys.stderr)  # fmt: skip
        return 1
    _summary(report)
    return report.exit_code


def _command_line() -> str:
    from docfleet.llm.endpoints.chat_types import shown_url

    words = [shown_url(w) if "://" in w else w for w in ["docfleet", *sys.argv[1:]]]
    return " ".join(shlex.quote(w) for w in words)  # a URL's user:password@ left out


def _say_placement(plan: Any) -> None:
    if plan is None:
        print("placement: a whole copy of the model in each Ray actor (one per GPU of the "
              "cluster, else one per CPU in float32)", file=sys.stderr)  # fmt: skip
    else:
        print("placement: " + " ".join(plan.explanation), file=sys.stderr)


def _summary(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"docfleet extract -> {report.output}", show_header=False)
    wall = max(report.wall_seconds, 1e-9)
    table.add_row("records", f"{report.items} ({report.ok} valid, {report.failed} failed)")
    if report.input_lines is not None:
        table.add_row("  input", f"{report.input_lines} data lines became {report.items} records"
                      " (a quoted field may span lines)")  # fmt: skip
    if report.kept:
        table.add_row("  kept from before", f"{report.kept} (--no-resume redoes them)")
    done, generated = report.items - report.kept, report.tokens_out - report.kept_tokens_out
    rate = f" ({done / wall:.2f} records/s)" if done else ""  # kept lines are no work of this run
    table.add_row("time", f"{report.wall_seconds:.1f} s{rate}")
    speed = f" ({generated / wall:.1f} generated/s in this run)" if done else ""
    table.add_row("tokens", f"{report.tokens_in} in, {report.tokens_out} out{speed}")
    for dev in report.stats.per_device():
        table.add_row(f"  {dev.device} x{dev.replicas}", f"{dev.items} records, "
                      f"utilisation {dev.utilisation:.0%}")  # fmt: skip
    for url, stats in report.endpoints.items():
        _endpoint_rows(table, url, stats, wall)
    for kind, count in report.failures.most_common():
        table.add_row(f"  failed: {kind}", str(count))
    if report.failed:
        table.add_row("  to redo them", "the same command with --retry-failed")
    Console(file=sys.stderr).print(table)


def _endpoint_rows(table: Any, url: str, stats: dict[str, Any], wall: float) -> None:
    """A server's share: requests, their outcome and rate, retries, and rests it was given."""
    tokens = stats["tokens_in"] + stats["tokens_out"]
    table.add_row(f"  {url}", f"{stats['requests']} requests ({stats['ok']} ok, "
                  f"{stats['failed']} failed), {stats['requests'] / wall:.2f} requests/s, "
                  f"{tokens / wall:.1f} tokens/s")  # fmt: skip
    retries = ", ".join(f"{reason} {n}" for reason, n in stats["retries"].items() if n)
    if retries:
        table.add_row("    retries", retries)
    if stats["out_of_rotation"]:
        rested = f"{stats['out_of_rotation_seconds']:.1f} s in all (it kept failing)"
        table.add_row("    out of rotation", f"{stats['out_of_rotation']} time(s), {rested}")
    if stats["no_response_format"]:
        table.add_row("    response_format", "refused: asked without it (repair turns remain)")
