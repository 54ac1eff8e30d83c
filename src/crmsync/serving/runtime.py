"""The running part of `crmsync serve`: the intake worker's thread and the APScheduler 3 scheduler that fires
the poll, resync and prune jobs (once per slot across replicas) and, on every replica, the health job and a
look at the mapping folder every 2 s; app.py (`build_service`) builds the `Service`, this module runs it.
Stopping (SIGTERM through uvicorn, or a test's server stop): the scheduler stops, the worker finishes the
reconcile in flight, then every edge the service opened (`resources`) is closed.
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
WATCH_SECONDS = 2.0  # between looks at the mapping folder (a stat of each file; a parse only after an edit)


@dataclass(frozen=True)
class ServeOptions:
    """`crmsync serve`'s flags (the CLI fills the unset ones from the config's [serve])."""

    host: str = "127.0.0.1"
    port: int = 8080
    poll_interval: float = 60.0  # seconds
    resync_interval: float = 6 * 3600.0  # seconds; ignored when resync_cron is set
    resync_cron: str | None = None  # a crontab expression (UTC)
    health_interval: float = 30.0  # seconds between the health job's checks (every replica runs it)
    intake_max_age: float = 300.0  # seconds the oldest hint may wait before the `intake` state alerts


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
    health: Callable[[], None] | None = None  # the health job (serving/health.py), run by every replica


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
    if svc.health is not None:  # not slot-claimed: each replica checks what its own /readyz reports
        from apscheduler.triggers.interval import IntervalTrigger

        every = IntervalTrigger(seconds=options.health_interval)
        scheduler.add_job(_local("health", svc.health), every, id="health", replace_existing=True)
    if svc.mappings is not None:  # an edit is judged within seconds, even while no hint arrives
        from apscheduler.triggers.interval import IntervalTrigger

        look = IntervalTrigger(seconds=WATCH_SECONDS)
        scheduler.add_job(_local("mappings", svc.mappings), look, id="mappings", replace_existing=True)
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


def _local(name: str, action: Callable[[], object]) -> Callable[[], Any]:
    """The coroutine APScheduler awaits for a job every replica runs: the action runs off the event loop."""

    async def fire() -> None:
        import asyncio

        try:
            await asyncio.to_thread(action)
        except Exception:
            log.exception("job.failed", job=name)

    return fire


def _fire(job: PeriodicJob, intake: IntakeStore, runner: str) -> Callable[[], Any]:
    """The coroutine APScheduler awaits: the slot claim and the action run off the event loop."""

    async def fire() -> None:
        import asyncio

        try:
            await asyncio.to_thread(job.fire, intake, runner)
        except Exception:
            log.exception("job.failed", job=job.name)

    return fire
