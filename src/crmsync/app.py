"""The composition root: build a run's edges from settings (the Schematic client, the connectors
the mapping files need, the state store, the clock, the lease policy), and the whole of `crmsync
serve` (`build_service`: app, intake worker, scheduled jobs, alerter, mapping watcher, metrics).
Only the sources that have mapping files need credentials. The CLI, the demo, serve, the tests and
the benchmarks build here and hand runs to the one reconcile use case (service/reconcile.py). With a
state store, the Schematic write and HubSpot search rates are budgets shared through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmsync.connectors.base import Connector
from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
from crmsync.domain import CompanyId, Feature, Source, Trigger
from crmsync.errors import ConfigError, MappingError, Problem, ServiceError
from crmsync.logs import get_logger
from crmsync.mapping.base import load_base
from crmsync.mapping.crm_schema import CrmSchema, Trait
from crmsync.mapping.loader import load_mappings, load_mappings_leniently
from crmsync.mapping.rules import Mappings
from crmsync.reconcile.notices import PlanWarning
from crmsync.schematic.client import SchematicClient
from crmsync.schematic.transport import Transport
from crmsync.service.context import Context
from crmsync.service.preflight import preflight
from crmsync.settings import Settings
from crmsync.store.budget import rate_budget
from crmsync.store.repository import Store

if TYPE_CHECKING:  # what only `serve` needs is imported when it is built (a plan does without it)
    from crmsync.metrics import SuccessTracker
    from crmsync.service.console_reads import ConsoleData
    from crmsync.serving.alerts import Alerter
    from crmsync.serving.connector_set import ConnectorSet
    from crmsync.serving.mapping_watch import LiveMappings
    from crmsync.serving.runtime import ServeOptions, Service
    from crmsync.web.console.pages import Console
    from crmsync.web.ops import OpsHooks


def schematic_client(settings: Settings, store: Store | None = None) -> SchematicClient:
    """A Schematic client from settings (needs SCHEMATIC_API_KEY); writes paced through `store` if given."""
    key = _schematic_key(settings)
    return SchematicClient(
        Transport(
            settings.schematic.url,
            key,
            timeout=settings.schematic.timeout,
            attempts=settings.schematic.attempts,
            budget=rate_budget(
                "schematic.writes", settings.schematic.writes_per_second, store.engine if store else None
            ),
            deadline=settings.schematic.deadline,
            retry_after_max=settings.schematic.retry_after_max,
            max_in_flight=settings.schematic.max_in_flight,
        ),
        metadata_max_age=settings.schematic.metadata_max_age,
    )


def _schematic_key(settings: Settings) -> str:
    return settings.require(settings.schematic.key, "SCHEMATIC_API_KEY", "your Schematic secret API key")


def connectors_for(settings: Settings, mappings: Mappings, store: Store | None = None) -> dict[Source, Connector]:
    """A connector for every CRM that at least one mapping file reads (searches paced through `store`)."""
    return {source: connector_for(settings, source, store) for source in mappings.sources()}


def connector_for(settings: Settings, source: Source, store: Store | None = None) -> Connector:
    """The connector of one CRM (its credentials are required here, naming the variable)."""
    if source is Source.SALESFORCE:
        from crmsync.connectors.salesforce import SalesforceConnector

        settings.salesforce.flow()  # the login variables are complete for one flow, or ConfigError naming them
        return SalesforceConnector(settings.salesforce)
    token = settings.require(settings.hubspot.token, "HUBSPOT_ACCESS_TOKEN", "a HubSpot private app access token")
    return HubSpotConnector(
        HubSpotSettings(
            base_url=settings.hubspot.url,
            access_token=token,
            searches_per_second=settings.hubspot.searches_per_second,
            backoff=settings.hubspot.backoff,
            deadline=settings.hubspot.deadline,
            retry_after_max=settings.hubspot.retry_after_max,
        ),
        rate_budget("hubspot.search", settings.hubspot.searches_per_second, store.engine if store else None),
    )


def crm_schema(settings: Settings, source: Source) -> CrmSchema:
    """One CRM's deal fields, pipelines and stages (`crmsync schema properties|stages`); read-only."""
    connector = connector_for(settings, source)
    try:
        return connector.deal_schema()
    finally:
        connector.close()


def schematic_catalog(settings: Settings) -> tuple[list[Feature], list[Trait]]:
    """Schematic's features and company traits (`crmsync schema features|traits`); read-only."""
    with schematic_client(settings) as schematic:
        return schematic.list_features(), schematic.list_traits()


def clock_of(settings: Settings) -> Callable[[], datetime]:
    """The run's clock: the instant CRMSYNC_NOW names when set, else the real one."""
    fixed = settings.now
    return (lambda: fixed) if fixed is not None else (lambda: datetime.now(UTC))


@contextmanager
def schematic_context(settings: Settings) -> Iterator[Context]:
    """Schematic and the state store only, no CRM (applying a saved plan, `release`); both closed on exit."""
    _schematic_key(settings)  # a missing key is reported before a state database is created
    store = Store(settings.database_url)
    try:
        with schematic_client(settings, store) as schematic:
            yield Context(
                schematic, {}, store, clock_of(settings), settings.guards, settings.locks.lease_seconds, settings.actor
            )
    finally:
        store.close()


@contextmanager
def open_context(settings: Settings, mappings: Mappings) -> Iterator[Context]:
    """Every edge a plan or apply needs; each one opened is closed on exit, whatever fails."""
    with schematic_context(settings) as ctx, ExitStack() as stack:
        connectors = connectors_for(settings, mappings, ctx.store)
        for connector in connectors.values():
            stack.callback(connector.close)
        yield replace(ctx, connectors=connectors)


@contextmanager
def mapped_context(folder: Path | None, settings: Settings) -> Iterator[tuple[Context, Mappings]]:
    """The mapping files (`--mappings` FOLDER, else CRMSYNC_MAPPINGS) and every edge they need, from
    `settings` (the entry point's, loaded once)."""
    maps = load_mappings(folder or settings.mappings)
    with open_context(settings, maps) as ctx:
        yield ctx, maps


@contextmanager
def base_context(folder: Path | None, base: str, settings: Settings) -> Iterator[tuple[Context, Mappings, Mappings]]:
    """`plan --base`: the mappings in force, the base mappings `base` names (a folder or a git ref,
    mapping/base.py), and every edge either set needs (a CRM only the base reads is read too)."""
    head_folder = Path(folder or settings.mappings)
    maps = load_mappings(head_folder)
    older = load_base(base, head_folder)
    with open_context(settings, Mappings(maps.files + older.files)) as ctx:
        yield ctx, maps, older


def check_online(settings: Settings, folder: Path) -> tuple[Mappings, tuple[PlanWarning, ...]]:
    """`validate`: load what parses and check it against Schematic and the CRMs, reporting the
    structural and the online problems together (MappingError); returns the mappings and warnings."""
    maps, structural = load_mappings_leniently(folder)
    if not maps.files:
        raise MappingError(list(structural))
    with schematic_client(settings) as schematic, ExitStack() as stack:
        connectors = connectors_for(settings, maps)
        for connector in connectors.values():
            stack.callback(connector.close)
        checked = preflight(schematic, connectors, maps, companies=schematic.list_companies(), structural=structural)
    return maps, checked.warnings


def build_service(settings: Settings, options: ServeOptions, mappings: Path | None = None) -> Service:
    """The whole of `crmsync serve` from settings and flags: the web app, the intake worker, the poll,
    resync and prune jobs, the health job, the alerter (when CRMSYNC_SLACK_WEBHOOK_URL is set), the
    mapping watcher (an edit takes effect once it passes `validate`'s online checks) and the health
    tracker behind /readyz. The edges are opened now, so a bad mapping or a missing variable fails before
    a port is bound; the app's lifespan runs the worker and the jobs and closes them all (or, when it
    never starts, `service.resources.close()` does)."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    from crmsync.metrics import SuccessTracker
    from crmsync.notify.slack import SlackWebhook
    from crmsync.service.guard_window import judge_reload
    from crmsync.serving.alerts import Alerter
    from crmsync.serving.connector_set import ConnectorSet
    from crmsync.serving.health import HealthCheck, report
    from crmsync.serving.mapping_watch import LiveMappings
    from crmsync.serving.polling import poll_action
    from crmsync.serving.resolve import Resolver
    from crmsync.serving.runs import reconcile_scope
    from crmsync.serving.runtime import Scheduled, Service, lifespan
    from crmsync.serving.schedule import PeriodicJob, prune_intake, queue_full_run
    from crmsync.serving.worker import IntakeWorker
    from crmsync.store.instance import single_sqlite_instance
    from crmsync.store.intake import IntakeStore
    from crmsync.web.app import make_app
    from crmsync.web.config import checked as checked_web
    from crmsync.web.webhooks import Ingress

    web_settings = checked_web(settings.web)  # a short CRMSYNC_OPS_TOKEN: exit 2 before anything opens
    try:
        cron = CronTrigger.from_crontab(options.resync_cron, timezone="UTC") if options.resync_cron else None
    except ValueError as exc:
        raise ConfigError(f"--resync-cron {options.resync_cron!r}: {exc}") from exc
    folder = mappings or settings.mappings
    maps = load_mappings(folder)
    resources = ExitStack()
    with ExitStack() as failing:  # everything opened so far is closed if the rest cannot be built
        failing.callback(resources.close)
        resources.enter_context(single_sqlite_instance(settings.database_url))
        ctx = replace(resources.enter_context(open_context(settings, maps)), actor="serve")  # its runs' actor
        connectors = ConnectorSet(ctx.connectors)  # a reload that adds or drops a source swaps the set
        ctx = replace(ctx, connectors=connectors)
        intake = IntakeStore(ctx.store.engine, settings.database_url)
        alerter = None
        if settings.slack_webhook_url:
            slack = SlackWebhook(settings.slack_webhook_url)
            resources.callback(slack.close)
            alerter = Alerter(ctx.store, slack.send)
        tracker = SuccessTracker(listener=alerter.listen if alerter else None)
        try:  # Schematic's state is known from the start (not ready while it is down)
            ctx.schematic.list_features()
            tracker.succeeded("schematic")
        except ServiceError as exc:  # down for now: serve anyway (not ready), the hints wait in the intake
            report(tracker, exc)
            log = get_logger("crmsync.serve")
            log.warning("serve.schematic_unreachable", error=type(exc).__name__, detail=str(exc))
        staged: dict[Source, Connector] = {}  # the connectors of the edit being judged
        check = _reload_check(settings, ctx, connectors, resources, staged)
        live = LiveMappings(  # an edit takes effect once it validates online and no guard holds it
            folder, check=check, vet=lambda fresh: judge_reload(replace(ctx, connectors=staged), fresh), tracker=tracker
        )
        resolver = Resolver(connectors, ctx.schematic, intake, live, tracker)
        scope = reconcile_scope(ctx, live, tracker, alerter, lock_wait=settings.locks.wait_seconds)
        worker = IntakeWorker(intake, resolver, scope)
        polled = poll_action(ctx.store, lambda: connectors, intake, worker.wake, tracker=tracker)
        poll = PeriodicJob("poll", options.poll_interval, polled)
        resync = PeriodicJob(
            "resync", 60.0 if cron else options.resync_interval, queue_full_run(intake, Trigger.SCHEDULE, worker.wake)
        )
        prune = PeriodicJob("prune", 3600.0, prune_intake(intake))
        # The poll and the full reconcile also run at start: a fresh (or restarted) serve catches up at once
        # (the first poll only sets its cursors; the resync slot is taken once per interval across replicas).
        now = datetime.now(UTC)
        jobs = (
            Scheduled(poll, IntervalTrigger(seconds=options.poll_interval), now),
            Scheduled(resync, cron or IntervalTrigger(seconds=options.resync_interval), now),
            Scheduled(prune, IntervalTrigger(seconds=prune.seconds), None),
        )
        retry = alerter.retry if alerter else (lambda: None)
        health = HealthCheck(tracker, intake, ctx.schematic, connectors, live, retry, options.intake_max_age)
        web = Ingress(intake, web_settings, wake=worker.wake)
        hooks = _ops_hooks(ctx, live, tracker, alerter, settings.locks.wait_seconds)
        console = _console_routes(settings, folder, ctx.store, options.host)  # /ui, when a login is configured
        app = make_app(web, tracker, lifespan=lifespan, extra=console, hooks=hooks)
        service = Service(app, worker, intake, ctx, tracker, jobs, options, resources, web_settings, live, health)
        app.state.service = service  # the lifespan starts and stops what it holds
        failing.pop_all()
    return service


def _reload_check(
    settings: Settings, ctx: Context, connectors: ConnectorSet, resources: ExitStack, staged: dict[Source, Connector]
) -> Callable[[Mappings], Callable[[], None]]:
    """serve's check of edited mappings: `validate`'s online checks against fresh CRM schemas, with a
    connector for each source the edit adds; on success the set follows the edit. A connector not in
    force (built for an edit that was held or refused, or dropped by one: a run in flight may still hold
    it) is kept as the spare of its source and reused by the next edit adding it, so months of edits
    keep at most one per source open; each is closed once, when serve stops."""
    spare: dict[Source, Connector] = {}  # never a source in force

    def check(fresh: Mappings) -> Callable[[], None]:
        wanted = set(fresh.sources())
        built: dict[Source, Connector] = {}
        try:
            for source in wanted - set(connectors) - set(spare):
                try:
                    built[source] = connector_for(settings, source, ctx.store)
                except ConfigError as exc:  # a new source without its credentials: the edit is refused
                    where = fresh.for_source(source)[0].path
                    raise MappingError([Problem(where, 1, 1, f"{source.value} is read but {exc}")]) from exc
            spare.update(built)
            candidate = {s: connectors[s] if s in connectors else spare[s] for s in wanted}
            for connector in candidate.values():
                connector.refresh_schema()
            preflight(ctx.schematic, candidate, fresh, companies=ctx.schematic.list_companies())
        except BaseException:
            for source, connector in built.items():  # built for this edit only: nothing else holds them
                spare.pop(source, None)
                connector.close()
            raise
        for connector in built.values():  # kept (in force or spare) until serve stops
            resources.callback(connector.close)
        staged.clear()
        staged.update(candidate)  # what the guards' judgement of the edit reads with (`vet`)

        def commit() -> None:
            before = dict(connectors.items())
            connectors.replace(candidate)
            for source in candidate:
                spare.pop(source, None)
            spare.update({s: c for s, c in before.items() if s not in candidate})

        return commit

    return check


def _ops_hooks(
    ctx: Context, live: LiveMappings, tracker: SuccessTracker, alerter: Alerter | None, lock_wait: float
) -> OpsHooks:
    """What serve's operators' endpoints ask: the services the mappings need, unknown companies, approval."""
    from crmsync.service.approve import approval_json, approve
    from crmsync.serving.alerts import RunFacts
    from crmsync.serving.runs import observe_run
    from crmsync.web.ops import OpsHooks

    def unknown(ids: Sequence[str]) -> list[str]:
        found = {c.id for c in ctx.schematic.list_companies([CompanyId(i) for i in ids])}
        return sorted(set(ids) - found)

    def approved(companies: list[str] | None, actor: str) -> dict[str, Any]:
        reload = companies is None and live.approve()  # a held mapping edit goes in force first
        outcome = approve(ctx, live(), actor, companies, lock_wait=lock_wait)
        observe_run(tracker, alerter, RunFacts.of(outcome, Trigger.APPROVE, full=companies is None))
        return approval_json(outcome, actor) | ({"mappings": "the held edit is in force"} if reload else {})

    return OpsHooks(needed=lambda: {"schematic", *(s.value for s in live.current.sources())},
                    unknown=unknown, approve=approved)  # fmt: skip


def build_console(settings: Settings, folder: Path, data: ConsoleData, *, host: str = "127.0.0.1") -> Console:
    """The console over `data`, with the mapping files of `folder`; explain and the actions open the
    edges per request from `settings` (`crmsync ui`, the demo, and serve's /ui)."""
    from crmsync.web.console.build import assemble_console

    return assemble_console(settings, folder, data, lambda: mapped_context(folder, settings), host=host)


def _console_routes(settings: Settings, folder: Path, store: Store, host: str) -> list[Any]:
    """serve's /ui: the console over serve's own state database, when a login for it is configured."""
    if not settings.ui.enabled:
        return []
    from crmsync.service.console_reads import ConsoleData
    from crmsync.web.console.build import mount

    return list(mount(build_console(settings, folder, ConsoleData(store), host=host)))
