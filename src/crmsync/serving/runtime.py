"""The running part of `crmsync serve`: the intake worker's thread and the APScheduler 3 scheduler (in-memory
job store) that fires the poll, resync and prune jobs, started and stopped by the web app's lifespan.

app.py (`build_service`) builds a `Service` from settings and `ServeOptions`; this module only runs it.
Stopping (SIGTERM through uvicorn, or a test's server stop): the scheduler stops, the worker finishes
the reconcile in flight, then every edge the service opened (`resources`) is closed.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmsync.logs import get_logger

if TYPE_CHECKING:  # the CLI imports ServeOptions for `crmsync --help`: the rest is loaded when serving
    from crmsync.metrics import SuccessTracker
    from crmsync.service.context import Context
    from crmsync.serving.mapping_watch import LiveMappings
    from crmsync.serving.schedule import PeriodicJob
    from crmsync.serving.worker import IntakeWorker
    from crmsync.store.intake import IntakeStore

log = get_logger("crmsync.serve")


@dataclass(frozen=True)
class ServeOptions:
    """`crmsync serve`'s flags (the CLI fills the unset ones from the config's [serve])."""

    host: str = "127.0.0.1"
    port: int = 8080
    poll_interval: float = 60.0  # seconds
    resync_interval: float = 6 * 3600.0  # seconds; ignored when resync_cron is set
    resync_cron: str | None = None  # a crontab expression (UTC)


@dataclass(frozen=True)
class Scheduled:
    """A periodic job with its APScheduler trigger and first run (None: at the trigger's first time)."""

    job: PeriodicJob
    trigger: Any  # an APScheduler trigger (interval or cron)
    first: datetime | None


@dataclass
class Service:
    """The whole of `crmsync serve`: `app` is the ASGI app whose lifespan runs `worker` and the jobs, and
    closes `resources` (every edge opened for it) when it stops."""

    app: Any
    worker: IntakeWorker
    intake: IntakeStore
    context: Context
    tracker: SuccessTracker
    jobs: tuple[Scheduled, ...]
    options: ServeOptions
    resources: ExitStack
    web: Any = None  # web.config.WebSettings (serving knows nothing of web): uvicorn's caps come from it
    mappings: LiveMappings | None = None  # the mappings in force; `.held` a reload waiting for approval


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The app's lifespan: start the worker thread and the scheduler of the `Service` in `app.state.service`;
    at the end stop both, finishing the reconcile in flight, and close the service's edges."""
    import asyncio  # here, not at the top: `crmsync --help` must not pay for asyncio

    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    svc: Service = app.state.service
    worker, options = svc.worker, svc.options
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="crmsync-intake", daemon=True)
    thread.start()
    scheduler = AsyncIOScheduler(
        jobstores={"default": MemoryJobStore()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        timezone="UTC",
    )
    for entry in svc.jobs:
        extra = {"next_run_time": entry.first} if entry.first else {}
        fire = _fire(entry.job, svc.intake, worker.name)
        scheduler.add_job(fire, entry.trigger, id=entry.job.name, replace_existing=True, **extra)
    scheduler.start()
    resync = options.resync_cron or f"every {options.resync_interval}s"
    log.info("serve.started", worker=worker.name, poll_interval_s=options.poll_interval, resync=resync)
    try:
        yield
    finally:
        log.info("serve.stopping", detail="no new work; finishing the reconcile in flight")
        scheduler.shutdown(wait=False)
        stop.set()
        worker.wake()
        await asyncio.to_thread(thread.join)
        svc.resources.close()
        log.info("serve.stopped", detail="stopped cleanly")


def _fire(job: PeriodicJob, intake: IntakeStore, runner: str) -> Callable[[], Any]:
    """The coroutine APScheduler awaits: the slot claim and the action run off the event loop."""

    async def fire() -> None:
        import asyncio

        try:
            await asyncio.to_thread(job.fire, intake, runner)
        except Exception:
            log.exception("job.failed", job=job.name)

    return fire
