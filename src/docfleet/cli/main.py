"""Entry point of the ``docfleet`` command: one sub-command per module in ``docfleet.cli``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Sub-command name -> module with ``add_parser(subparsers)`` and ``run(args) -> int``.
COMMANDS = {
    "run": "docfleet.cli.run",
    "extract": "docfleet.cli.extract",
    "plan": "docfleet.cli.plan",
    "doctor": "docfleet.cli.doctor",
    "serve": "docfleet.cli.serve",
    "bin": "docfleet.cli.bin",
}

EPILOG = """\
examples:
  docfleet run docs/ -o out/       PDFs and images -> per-page text, layout, Markdown
  docfleet serve --devices cuda    the same as a web service, one warm worker per device
  docfleet bin photos/ -o sorted/ --bins bins.yml
                                   images into bins by OCR, layout, caption and CLIP
  docfleet doctor                  check devices, runtimes and memory
  docfleet doctor --devices cuda   exit non-zero unless every GPU is usable

Exit codes: 0 success, 1 some items failed or checks found problems, 2 usage error.
"""


def build_parser() -> argparse.ArgumentParser:
    from docfleet import __version__

    parser = argparse.ArgumentParser(
        prog="docfleet",
        description="Run document-AI models over large batches on every device of a machine.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"docfleet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = module.add_parser(subparsers)
        sub.set_defaults(_run=module.run, _name=name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
