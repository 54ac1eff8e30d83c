"""Run history: every plan and apply is stored with its counts, per-change results and
errors, for `crmsync status`. The reconcile use case opens the record when a run starts and
closes it here, so a run that never finished shows as `running`; while it runs, `heartbeat` marks it
alive in the database (by its clock), so a run killed on any host is closed as interrupted later.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from crmsync.domain import TIME_FORMAT, RunStatus
from crmsync.reconcile.drift import DriftAction
from crmsync.service.apply import ApplyReport
from crmsync.service.context import Context, PlanRun
from crmsync.service.reading import source_deal_counts
from crmsync.store.repository import Store


@contextlib.contextmanager
def heartbeat(store: Store, run_id: int, every: float) -> Iterator[None]:
    """Beat the run's heartbeat every `every` seconds (a thread) until the block ends. A beat that fails
    is skipped: the state database being away is the run's own error to report, not the heartbeat's."""
    if not run_id:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            with contextlib.suppress(Exception):
                store.heartbeat(run_id)

    thread = threading.Thread(target=beat, name=f"crmsync-heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def finish_run(
    ctx: Context,
    run_id: int,
    status: RunStatus,
    run: PlanRun | None,
    report: ApplyReport | None = None,
    *,
    reasons: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Close a run record with its counts, details, failures and per-change results."""
    if run is None:
        summary: dict[str, Any] = dict(extra or {})
        ctx.store.finish_run(run_id, status, summary, list(reasons))
        return
    if run.companies:  # the console searches and names companies by what the last runs read
        every = run.scope is None
        ctx.store.save_companies([(c.id, c.name, c.keys) for c in run.companies], every=every)
    details = run_details(run, applied=report is not None and report.ok) if run.reads else None
    summary = {**run_summary(run, report, details=details), **(extra or {})}
    errors = bounded_errors(list(reasons) + run_errors(run, report))
    live = report is not None and report.recorder is not None  # its changes were recorded one by one
    changes = report.results if report is not None and not live else ()
    ctx.store.finish_run(run_id, status, summary, errors, changes)


DETAIL_LIMIT = (
    100  # items kept of each list a run records (conflicts, drift, warnings, errors…): a count and the first N
)


def bounded_errors(errors: list[str], limit: int = DETAIL_LIMIT) -> list[str]:
    """The first `limit` errors, and one line counting the rest (a 10,000-override company's run stays small)."""
    return errors if len(errors) <= limit else [*errors[:limit], f"… and {len(errors) - limit} more"]


def bounded_details(details: dict[str, Any], limit: int = DETAIL_LIMIT) -> dict[str, Any]:
    """Each list of a run's details cut to its first `limit` items; `omitted` counts what was left out."""
    omitted = {k: len(v) - limit for k, v in details.items() if isinstance(v, list | dict) and len(v) > limit}
    if not omitted:
        return details
    cut = {k: dict(list(v.items())[:limit]) if isinstance(v, dict) else v[:limit] for k, v in details.items()}
    return {**details, **{k: v for k, v in cut.items() if k in omitted}, "omitted": omitted}


def run_summary(
    run: PlanRun, report: ApplyReport | None = None, *, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The counts `crmsync status` shows of a run: its changes by action; with the `details` of a
    computed plan (`run_details`), its conflicts, pending companies, deal errors and open drift,
    and the details; with an apply's report, the changes that failed or were not attempted."""
    summary: dict[str, Any] = {**run.plan.summary()}
    if run.as_of is not None:  # the next plan names the overrides that expired after it (Store.last_judged)
        summary["as_of"] = run.as_of.strftime(TIME_FORMAT)
    if details is not None:
        plan = run.plan
        summary |= {
            "conflicts": len(plan.conflicts),
            "pending": len(plan.pending),
            "errors": len(plan.problems),
            "drift": len(details["drift"]),
            "details": details,
        }
    if report is not None:
        summary |= {"failed": len(report.failed), "not_attempted": report.not_attempted}
    return summary


def run_errors(run: PlanRun, report: ApplyReport | None = None) -> list[str]:
    """A run's failures, one line each: the deal errors, the failed changes, why the rest were not
    attempted, and the companies skipped as busy or refused."""
    errors = [str(p) for p in run.plan.problems]
    if report is not None:
        errors += [r.message for r in report.failed] + ([report.stopped] if report.stopped else [])
        if report.busy:
            errors.append(f"{len(report.busy)} company(ies) busy in another process, skipped: {', '.join(report.busy)}")
        if report.refused:
            errors.append(f"{len(report.refused)} company(ies) refused after a fresh plan: {', '.join(report.refused)}")
    return errors


def run_details(run: PlanRun, *, applied: bool = False) -> dict[str, Any]:
    """What `crmsync status` shows of a run: open conflicts, pending companies, open drift (after a
    successful apply only the kept edits remain open), deals read per source, warnings, and the
    display names of the companies and features its changes touch; each list bounded (a count and the
    first DETAIL_LIMIT: the counts of the summary stay whole)."""
    plan = run.plan
    touched = {c.company_id for c in plan.changes} | {c.feature_id for c in plan.changes}
    return bounded_details(
        {
            "conflicts": [
                {
                    "company_id": c.company_id,
                    "company": plan.name(c.company_id),
                    "feature_id": c.feature_id,
                    "feature": plan.name(c.feature_id),
                    "override_id": c.live.id,
                    "live": c.live.value.describe(),
                    "desired": c.desired.value.describe(),
                }
                for c in plan.conflicts
            ],
            "pending": [
                {"company_key": str(p.company), "deals": [f"{s.value} {d}" for s, d in p.deals]} for p in plan.pending
            ],
            "drift": [
                {
                    "company_id": d.company_id,
                    "company": plan.name(d.company_id),
                    "feature_id": d.feature_id,
                    "feature": plan.name(d.feature_id),
                    "override_id": d.override_id,
                    "policy": d.policy.value,
                    "action": d.action.value,
                    "reason": d.describe(),
                }
                for d in plan.drift
                if not applied or d.action is DriftAction.KEEP
            ],
            "deals": source_deal_counts(run.reads),
            "warnings": [w.to_json() for w in plan.warnings],
            "names": {ident: plan.name(ident) for ident in sorted(touched)},
        }
    )
