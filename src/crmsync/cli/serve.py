"""`crmsync serve`: parse the flags, build the service (app.py `build_service`: the web app, whose
lifespan runs the intake worker and the scheduled jobs, serving/runtime.py) and run it under uvicorn.

Everything is opened before uvicorn starts (so a bad mapping or a missing variable is one line and
exit 2) and closed inside the lifespan: on SIGTERM uvicorn stops accepting, finishes the requests in
flight, runs the lifespan's shutdown (scheduler stopped, the reconcile in flight finished, edges
closed). Uvicorn would then re-raise the signal (exit 130 or 143); `cli/uvicorn_server.py` keeps it from
doing so, so a serve that stopped cleanly after SIGTERM or Ctrl-C exits 0, as documented.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crmsync.cli.options import Guard, MappingsOption
from crmsync.errors import ConfigError
from crmsync.serving.runtime import ServeOptions

SWITCH_INTERVAL = 0.0005  # seconds a thread may hold the GIL while another waits (Python's default: 0.005)

if TYPE_CHECKING:
    from rich.console import Console

    from crmsync.settings import Settings


def register(app: typer.Typer, guarded: Guard, out: Console) -> None:
    """Add `serve` to the app."""

    @app.command()
    def serve(
        mappings: MappingsOption = None,
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
        poll_interval: Annotated[
            float | None, typer.Option(help="Seconds between polls of the CRMs (default 60, or [serve] in the config).")
        ] = None,
        resync_interval: Annotated[
            float | None, typer.Option(help="Seconds between full reconciles (default 6 h, or [serve]).")
        ] = None,
        resync_cron: Annotated[
            str | None, typer.Option(help="Crontab expression (UTC) for full reconciles, instead of an interval.")
        ] = None,
        intake_max_age: Annotated[
            float, typer.Option(help="Seconds a hint may wait before the `intake` state alerts.")
        ] = 300.0,
    ) -> None:
        """Run the service: webhooks, polling, scheduled resync, /healthz, /readyz, /metrics, POST /reconcile."""
        if resync_interval is not None and resync_cron is not None:
            guarded(_refuse("give --resync-interval or --resync-cron, not both"))

        def body() -> int:
            from crmsync.cli import session

            settings = session.settings()  # once per serve: the tuning below and every edge come from it
            tuning = settings.serve  # the flags win over [serve] of the config file
            cron = resync_cron if resync_interval is None else None
            options = ServeOptions(
                host,
                port,
                tuning.poll_interval if poll_interval is None else poll_interval,
                tuning.resync_interval if resync_interval is None else resync_interval,
                cron if cron is not None else (tuning.resync_cron if resync_interval is None else None),
                intake_max_age=intake_max_age,
            )
            if options.poll_interval <= 0 or options.resync_interval <= 0 or options.intake_max_age <= 0:
                raise ConfigError("the poll and resync intervals and --intake-max-age must be more than 0 seconds")
            return run_serve(options, mappings, settings)

        guarded(body)


def _refuse(message: str) -> Callable[[], int]:
    def fail() -> int:
        raise ConfigError(message)

    return fail


def run_serve(options: ServeOptions, mappings: Path | None, settings: Settings) -> int:
    """Build the service (app.py), then serve until a signal; its lifespan closes every resource.

    Logging was set up once by the CLI callback (logs.configure_logging): `log_config=None` keeps
    uvicorn's loggers on it (one stream, one format, stderr), and its access log is off because the
    app logs `http.request` itself (web/access.py)."""

    from crmsync.app import build_service
    from crmsync.cli.uvicorn_server import clean_server
    from crmsync.web.limits import server_config

    service = build_service(settings, options, mappings)
    # The webhook endpoints share the interpreter with the intake worker's reconciles: a shorter
    # switch interval hands the event loop the GIL sooner (ack p95 under a 200/s burst: 248 → 116 ms).
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        # Connection caps, keep-alive and header deadlines, and throttled loggers: web/limits.py.
        config = server_config(service.app, service.web, host=options.host, port=options.port, lifespan="on",
                               log_config=None, access_log=False, timeout_graceful_shutdown=10)  # fmt: skip
        clean_server(config).run()
    finally:
        service.resources.close()  # when uvicorn never started (the lifespan closes it otherwise)
    return 0
