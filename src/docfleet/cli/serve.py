"""``docfleet serve``: the main job as a web service, one warm worker per device replica."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

DESCRIPTION = """\
Serve document conversion over HTTP: upload PDFs and images, get per-page records and Markdown.

One engine worker per device replica (as `docfleet run` places them) loads the models once at
start-up and stays warm; the HTTP process never runs a model. Jobs live under --data (SQLite
for their state, pages.jsonl and Markdown for results): a server restarted mid-job goes on
where it stopped. Pages of all jobs share the workers in turn, so a large job does not hold up
a small one. API and its schema: http://HOST:PORT/docs.

Settings cascade: flags > --config YAML > DOCFLEET_* environment variables (DOCFLEET_API_KEY)
> defaults.
"""

EPILOG = """\
examples:
  docfleet serve --devices cuda --data /srv/docfleet --api-key "$KEY"
  curl -H "X-Api-Key: $KEY" -F files=@report.pdf http://127.0.0.1:8000/v1/jobs
  curl -H "X-Api-Key: $KEY" http://127.0.0.1:8000/v1/jobs/ID/pages

exit codes: 0 stopped cleanly, 2 usage error (a bad setting, the port in use).
"""

FLAGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--host", {"help": "address to listen on (127.0.0.1; 0.0.0.0 for every one)"}),
    ("--port", {"type": int, "help": "port (8000)"}),
    ("--data", {"help": "folder for jobs and results (docfleet-data)"}),
    ("--api-key", {"help": "key every request but /healthz must carry (or DOCFLEET_API_KEY)"}),
    ("--max-upload-mb", {"type": float, "help": "largest request body in MB (100)"}),
    ("--max-pages", {"type": int, "help": "most pages per job (2000)"}),
    ("--max-queue", {"type": int, "help": "most pages waiting before 429 (20000)"}),
    ("--keep-hours", {"type": float, "help": "hours finished jobs are kept (168)"}),
    ("--convert-timeout", {"type": float, "help": "seconds /v1/convert waits (30)"}),
    ("--devices", {"help": "auto (default), cpu, cuda, or cuda:0,cuda:2"}),
    ("--num-gpus", {"type": int, "help": "use the first N GPUs (0 = all)"}),
    ("--replicas", {"help": "replicas per device, or auto"}),
    ("--workers", {"choices": ["process", "thread"], "help": "worker kind (process)"}),
    ("--pipeline", {"help": "default stages joined with + (layout+ocr)"}),
    ("--ocr", {"choices": ["auto", "always", "never"], "help": "default text source (auto)"}),
    ("--dpi", {"type": float, "help": "default PDF rendering resolution (150)"}),
    ("--ocr-model", {"choices": ["auto", "tiny", "small", "cascade"], "help": "OCR models"}),
    (
        "--backend",
        {
            "choices": ["auto", "onnxruntime", "torch"],
            "help": "runtime of the layout and OCR models (auto: torch on CUDA GPUs)",
        },
    ),
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve", help="web service: jobs over HTTP on warm workers", description=DESCRIPTION,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--config", metavar="YAML", help="settings file (keys as the long flags)")
    for flag, options in FLAGS:
        p.add_argument(flag, **options)
    return p


def run(args: argparse.Namespace) -> int:
    from docfleet.serve.settings import ServeConfig
    from docfleet.settings.cascade import ConfigError, resolve_config

    flags = {k: getattr(args, k) for k in ServeConfig.model_fields if hasattr(args, k)}
    if isinstance(flags.get("replicas"), str) and flags["replicas"].isdigit():
        flags["replicas"] = int(flags["replicas"])
    try:
        config = resolve_config(
            flags, config_file=args.config, environ=os.environ, model=ServeConfig
        )
    except ConfigError as exc:
        print(f"docfleet serve: error: {exc}", file=sys.stderr)
        return 2
    try:
        import uvicorn

        from docfleet.serve.app import create_app
    except ImportError as exc:
        print(f"docfleet serve: error: {exc.name} is missing; install the service's "
              "dependencies with pip install 'docfleet[serve]'", file=sys.stderr)  # fmt: skip
        return 2
    app = create_app(config)
    where = f"http://{config.host}:{config.port}"
    print(f"docfleet serve: {where} (API: {where}/docs), data in {config.data}", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port,
                                           log_level="warning", lifespan="on"))  # fmt: skip
    # uvicorn drains on SIGTERM (pages in hand finish, queued ones stay queued), then raises
    # the signal again for the handler it found: this one lets the command end with 0
    signal.signal(signal.SIGTERM, lambda *_: None)
    server.run()
    if not server.started:
        print(f"docfleet serve: error: could not listen on {config.host}:{config.port} (in use?)",
              file=sys.stderr)  # fmt: skip
        return 2
    print("docfleet serve: stopped; queued pages wait for the next start", file=sys.stderr)
    return 0
