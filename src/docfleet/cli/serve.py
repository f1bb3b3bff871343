"""``docfleet serve``: the main job as a web service, one warm worker per device replica."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from docfleet.serve.settings import ServeConfig

DESCRIPTION = """\
Serve document conversion over HTTP: upload PDFs and images, get per-page records and Markdown.

One engine worker per device replica (as `docfleet run` places them) loads the models once at
start-up and stays warm; the HTTP process never runs a model. Jobs live under --data (default:
the user's data folder, $XDG_DATA_HOME/docfleet/serve or ~/.local/share/docfleet/serve; SQLite
for their state, pages.jsonl and Markdown for results): a server restarted mid-job goes on
where it stopped. Pages of all jobs share the workers in turn, so a large job does not hold up
a small one. With --api-key KEY1,KEY2 each key sees only its own jobs (--admin-key: all).
API and its schema: http://HOST:PORT/docs.

Settings cascade: flags > --config YAML > DOCFLEET_* environment variables (DOCFLEET_API_KEY)
> defaults.
"""

EPILOG = """\
examples:
  docfleet serve --devices cuda --data /srv/docfleet --api-key "$KEY"
  curl -H "X-Api-Key: $KEY" -F files=@report.pdf http://127.0.0.1:8000/v1/jobs
  curl -H "X-Api-Key: $KEY" http://127.0.0.1:8000/v1/jobs/ID/pages

exit codes: 0 stopped cleanly, 2 usage error (a bad setting, a missing dependency),
  3 cannot listen (the port is in use: the message names the process holding it).
"""

EXIT_CANNOT_LISTEN = 3  # the port is in use, or the address is not this machine's

#: The service's settings (fields of ``ServeConfig``) shown as flags; --help, choices and limits
#: come from the fields. Stage options go in the --config file (``stages:``); resuming, the
#: chunks' format and a progress bar are for ``docfleet run`` (the service keeps every job).
NOT_FLAGS = ("stages", "resume", "format", "progress")
SETTINGS = tuple(name for name in ServeConfig.model_fields if name not in NOT_FLAGS)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve", help="web service: jobs over HTTP on warm workers", description=DESCRIPTION,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--config", metavar="YAML", help="settings file (keys as the long flags)")
    from docfleet.settings.flags import add_flags

    add_flags(p, ServeConfig, SETTINGS)
    return p


def run(args: argparse.Namespace) -> int:
    from docfleet.serve.settings import ServeConfig
    from docfleet.settings.cascade import ConfigError, resolve_config
    from docfleet.settings.flags import flag_values

    flags = flag_values(args, ServeConfig)
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
    from docfleet.serve.data_folder import data_folder
    from docfleet.serve.listener import CannotListen, listen

    try:  # before the banner, the workers and the job store
        sock = listen(config.host, config.port)
    except CannotListen as exc:
        print(f"docfleet serve: error: {exc.strerror}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    config = config.model_copy(update={"data": str(data_folder(config.data, os.environ))})
    port = sock.getsockname()[1]
    app = create_app(config)
    where = f"http://{config.host}:{port}"
    print(f"docfleet serve: {where} (API: {where}/docs), data in {config.data}", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=port,
                                           log_level="warning", lifespan="on"))  # fmt: skip
    # uvicorn drains on SIGTERM (pages in hand finish, queued ones stay queued), then raises
    # the signal again for the handler it found: this one lets the command end with 0
    signal.signal(signal.SIGTERM, lambda *_: None)
    with sock:
        server.run(sockets=[sock])
    if not server.started:
        print(f"docfleet serve: error: could not serve on {where}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    print("docfleet serve: stopped; queued pages wait for the next start", file=sys.stderr)
    return 0
