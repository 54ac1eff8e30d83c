"""`crmsync serve`: uvicorn + the Starlette app (web/), whose lifespan runs the intake worker and an
APScheduler 3 scheduler (in-memory job store) for the poll and resync jobs.

Everything is opened before uvicorn starts (so a bad mapping or a missing variable is one line and
exit 2) and closed inside the lifespan: on SIGTERM uvicorn stops accepting, finishes the requests in
flight, runs the lifespan's shutdown (scheduler stopped, the reconcile in flight finished, edges
closed), then re-raises the signal, so nothing after `Server.run()` may be relied on.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmsync.cli.options import Guard, MappingsOption
from crmsync.errors import ConfigError, ServiceError

if TYPE_CHECKING:
    import logging

    from rich.console import Console


def _log() -> logging.Logger:
    """serve's logger (the logging package is imported here: `crmsync --help` does without it)."""
    import logging

    return logging.getLogger("crmsync.serve")


@dataclass(frozen=True)
class ServeOptions:
    """The command's flags."""

    host: str = "127.0.0.1"
    port: int = 8080
    poll_interval: float = 60.0  # seconds
    resync_interval: float = 6 * 3600.0  # seconds; ignored when resync_cron is set
    resync_cron: str | None = None  # a crontab expression (UTC)


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
    ) -> None:
        """Run the service: webhooks, polling, scheduled resync, /healthz, /readyz, /metrics, POST /reconcile."""
        if resync_interval is not None and resync_cron is not None:
            guarded(_refuse("give --resync-interval or --resync-cron, not both"))

        def body() -> int:
            from crmsync.settings import load_settings

            tuning = load_settings().serve  # the flags win over [serve] of the config file
            cron = resync_cron if resync_interval is None else None
            options = ServeOptions(
                host,
                port,
                tuning.poll_interval if poll_interval is None else poll_interval,
                tuning.resync_interval if resync_interval is None else resync_interval,
                cron if cron is not None else (tuning.resync_cron if resync_interval is None else None),
            )
            if options.poll_interval <= 0 or options.resync_interval <= 0:
                raise ConfigError("the poll and resync intervals must be more than 0 seconds")
            return run_serve(options, mappings)

        guarded(body)


def _refuse(message: str) -> Callable[[], int]:
    def fail() -> int:
        raise ConfigError(message)

    return fail


def run_serve(options: ServeOptions, mappings: Path | None) -> int:
    """Open the edges, then serve until a signal; every resource is closed by the lifespan."""
    import logging

    import uvicorn

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "apscheduler"):  # one line per request / per scheduler tick is noise at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)
    resources = ExitStack()
    try:
        app = build_app(options, mappings, resources)
        config = uvicorn.Config(app, host=options.host, port=options.port, lifespan="on", log_level="info",
                                timeout_graceful_shutdown=10)  # fmt: skip
        uvicorn.Server(config).run()
    finally:
        resources.close()  # when uvicorn never started (the lifespan closes it otherwise)
    return 0


def build_app(options: ServeOptions, mappings: Path | None, resources: ExitStack) -> Any:
    """The app with its lifespan; the edges it needs are opened now and entered into `resources`."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    from crmsync.app import open_context
    from crmsync.mapping.loader import load_mappings
    from crmsync.metrics import SuccessTracker
    from crmsync.notify.slack import SlackWebhook
    from crmsync.serving.alerts import Alerter
    from crmsync.serving.mapping_watch import LiveMappings
    from crmsync.serving.polling import poll_action
    from crmsync.serving.resolve import Resolver
    from crmsync.serving.runs import reconcile_scope
    from crmsync.serving.schedule import PeriodicJob, prune_intake, queue_full_run
    from crmsync.serving.worker import IntakeWorker
    from crmsync.settings import load_settings
    from crmsync.store.instance import single_sqlite_instance
    from crmsync.store.intake import IntakeStore
    from crmsync.web.app import make_app
    from crmsync.web.config import WebSettings
    from crmsync.web.webhooks import Intake

    settings = load_settings()
    try:
        cron = CronTrigger.from_crontab(options.resync_cron, timezone="UTC") if options.resync_cron else None
    except ValueError as exc:
        raise ConfigError(f"--resync-cron {options.resync_cron!r}: {exc}") from exc
    folder = mappings or settings.mappings
    maps = load_mappings(folder)
    live = LiveMappings(folder)  # an edited mapping file takes effect; an invalid edit is logged and refused
    resources.enter_context(single_sqlite_instance(settings.database_url))
    ctx = resources.enter_context(open_context(settings, maps))
    intake = IntakeStore(ctx.store.engine, settings.database_url)
    tracker = SuccessTracker()
    try:  # ready as soon as Schematic answers, even when the other replicas win every job slot
        ctx.schematic.list_features()
        tracker.succeeded("schematic")
    except ServiceError as exc:  # down for now: serve anyway (not ready), the hints wait in the intake
        _log().warning("schematic not reachable at start: %s", exc)
    alerter = None
    slack_url = settings.environ.get("CRMSYNC_SLACK_WEBHOOK_URL")
    if slack_url:
        slack = SlackWebhook(slack_url)
        resources.callback(slack.close)
        alerter = Alerter(ctx.store, slack.send)
    resolver = Resolver(ctx.connectors, ctx.schematic, intake, live, tracker)
    worker = IntakeWorker(
        intake, resolver, reconcile_scope(ctx, live, tracker, alerter, lock_wait=settings.locks.wait_seconds)
    )
    polled = poll_action(ctx.store, lambda: ctx.connectors, intake, worker.wake)  # changed deals since the cursor
    poll = PeriodicJob("poll", options.poll_interval, polled)
    resync = PeriodicJob(
        "resync", 60.0 if cron else options.resync_interval, queue_full_run(intake, "resync", worker.wake)
    )
    # The poll and the full reconcile also run at start: a fresh (or restarted) serve catches up at once
    # (the first poll only sets its cursors; the resync slot is taken once per interval across replicas).
    prune = PeriodicJob("prune", 3600.0, prune_intake(intake))
    jobs: list[tuple[PeriodicJob, Any, datetime | None]] = [
        (poll, IntervalTrigger(seconds=options.poll_interval), datetime.now(UTC)),
        (resync, cron or IntervalTrigger(seconds=options.resync_interval), datetime.now(UTC)),
        (prune, IntervalTrigger(seconds=prune.seconds), None),
    ]

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        import asyncio  # here, not at the top: `crmsync --help` must not pay for asyncio

        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), name="crmsync-intake", daemon=True)
        thread.start()
        scheduler = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            timezone="UTC",
        )
        for job, trigger, first in jobs:
            extra = {"next_run_time": first} if first else {}
            scheduler.add_job(_fire(job, intake, worker.name), trigger, id=job.name, replace_existing=True, **extra)
        scheduler.start()
        _log().info("serving as %s: poll every %ss, resync %s", worker.name, options.poll_interval,
                 options.resync_cron or f"every {options.resync_interval}s")  # fmt: skip
        try:
            yield
        finally:
            _log().info("stopping: no new work; finishing the reconcile in flight")
            scheduler.shutdown(wait=False)
            stop.set()
            worker.wake()
            await asyncio.to_thread(thread.join)
            resources.close()
            _log().info("stopped cleanly")

    return make_app(Intake(intake, WebSettings.from_environ(settings.environ), wake=worker.wake), tracker,
                    lifespan=lifespan)  # fmt: skip


def _fire(job: Any, intake: Any, runner: str) -> Callable[[], Any]:
    """The coroutine APScheduler awaits: the slot claim and the action run off the event loop."""

    async def fire() -> None:
        import asyncio

        log = _log()
        try:
            await asyncio.to_thread(job.fire, intake, runner)
        except Exception:
            log.exception("%s: tick failed", job.name)

    return fire
