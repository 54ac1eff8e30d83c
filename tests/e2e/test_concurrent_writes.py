"""Concurrent writes (`[schematic] max_in_flight`): 429 storms are waited out and never fail a change,
one company's changes go in their order (a delete before the create of the same feature, an update
chain), an unreachable API or rejected key stops the rest with the not-attempted count, and the
ledger ends up exactly crmsync's overrides. Real client, real sockets, the Schematic emulator."""

from __future__ import annotations

from dataclasses import replace

from crmsync.app import mapped_context
from crmsync.domain import Action, Change, DealId, DesiredOverride, Provenance, Source, Trigger
from crmsync.sandbox.faults import Mode
from crmsync.service.apply import ApplyReport, apply_changes
from crmsync.service.reconcile import Mode as RunMode
from crmsync.service.reconcile import Request, reconcile
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import add_seat_deals, assert_converged, carries_crmsync_note, intents_left

WRITES = "/company-overrides"


def test_a_429_storm_during_a_concurrent_apply_fails_no_change(harness: Harness) -> None:
    """Half the creates are answered 429 (Retry-After 0.05 s) at first: every one is retried after it,
    counted, and the apply succeeds with each override made once."""
    add_seat_deals(harness, 30)
    harness.sb.faults.schematic.add(
        Mode.RATE_LIMIT, method="POST", path=WRITES, probability=0.5, retry_after="0.05", times=40
    )
    with mapped_context(None, harness.settings) as (ctx, maps):
        assert ctx.schematic.max_in_flight == 8  # the default: writes do run concurrently here
        outcome = reconcile(ctx, maps, Request(Trigger.MANUAL, RunMode.APPLY))
        seen = ctx.schematic.transport.rate_limited
    assert outcome.report is not None and outcome.report.ok, outcome.report
    injected = harness.sb.faults.schematic.injected[Mode.RATE_LIMIT]
    assert injected > 0 and seen == injected  # every 429 was seen, counted and handled
    assert len(outcome.report.results) == 40
    assert_converged(harness)


def test_the_mutation_bucket_of_the_emulator_is_waited_out_without_failures(harness: Harness) -> None:
    """Against Schematic's mutation limit (here 20/s, burst 5) with no client pacing: 429s with
    Retry-After come back, every write is retried after it, none fails."""
    add_seat_deals(harness, 20)
    harness.sb.schematic.limit_writes(20, 5)
    with mapped_context(None, harness.settings) as (ctx, maps):
        outcome = reconcile(ctx, maps, Request(Trigger.MANUAL, RunMode.APPLY))
        seen = ctx.schematic.transport.rate_limited
    assert outcome.report is not None and outcome.report.ok, outcome.report
    assert harness.sb.schematic.mutation.refused == seen > 0
    assert_converged(harness)


def test_one_companys_changes_keep_their_order_while_others_run(harness: Harness) -> None:
    """A delete then the create of the same feature, then an update chain, for one company: sent one
    after the other in that order (the slow delete is not overtaken), recorded in the ledger in that
    order (the new intent never meets the deleted row), while the pool has free slots."""
    _, first = harness.apply()
    assert first.ok
    by_company: dict[str, list[str]] = {}
    for i, r in harness.sb.schematic.overrides.items():
        if carries_crmsync_note(r):
            by_company.setdefault(r["company_id"], []).append(i)
    company = max(by_company, key=lambda c: len(by_company[c]))
    assert len(by_company[company]) >= 2, by_company
    harness.sb.faults.schematic.add(Mode.LATENCY, method="DELETE", path=f"{WRITES}/*", seconds=0.3)
    with mapped_context(None, harness.settings) as (ctx, _):
        live = {o.id: o for o in ctx.schematic.list_overrides([company]) if o.id in by_company[company]}
        gone, *kept = sorted(live.values(), key=lambda o: o.feature_id)
        why = Provenance(((Source.HUBSPOT, DealId("1001")),), ())
        again = DesiredOverride(gone.company_id, gone.feature_id, gone.value, why)
        changes = [
            Change(Action.DELETE, gone.company_id, gone.feature_id, gone, None, "test: delete"),
            Change(Action.CREATE, gone.company_id, gone.feature_id, None, again, "test: create it again"),
            *(
                Change(
                    Action.UPDATE,
                    o.company_id,
                    o.feature_id,
                    o,
                    DesiredOverride(o.company_id, o.feature_id, o.value, why),
                    "test",
                )
                for o in kept
            ),
        ]
        report = ApplyReport()
        apply_changes(ctx, changes, report)
    assert report.ok and [r.action for r in report.results] == [c.action.value for c in changes], report
    sent = [
        (r.method, r.path)
        for r in harness.sb.schematic.requests
        if r.method != "GET" and r.path.startswith(WRITES) and r.status < 400
    ][-len(changes) :]
    expected = [("DELETE", f"{WRITES}/{gone.id}"), ("POST", WRITES), *(("PUT", f"{WRITES}/{o.id}") for o in kept)]
    assert sent == expected
    assert gone.id not in harness.sb.schematic.overrides
    assert_converged(harness)


def test_a_rejected_key_mid_apply_stops_the_rest_and_counts_them(harness: Harness) -> None:
    """The key is refused (401) from the 6th create on: the writes under way fail on their own, the
    rest are not attempted (counted), nothing is left as an intent, and the next apply converges."""
    add_seat_deals(harness, 30)
    harness.sb.faults.schematic.add(Mode.ERROR_BEFORE, method="POST", path=WRITES, status=401, after=5)
    run, report = harness.apply()
    total = len(run.plan.changes)
    assert report.stopped and "not attempted" in report.stopped
    assert report.not_attempted > 0
    assert len(report.results) + report.not_attempted == total
    assert report.failed and all("401" in r.message for r in report.failed)
    assert sum(1 for r in report.results if r.ok) == 5
    assert intents_left(harness) == 0  # refused or never sent: no intent stays behind
    harness.sb.faults.clear()
    _, again = harness.apply()
    assert again.ok, again.failed
    assert_converged(harness)


def test_one_at_a_time_still_applies_everything(harness: Harness) -> None:
    """`max_in_flight = 1`: the same apply, sequentially."""
    add_seat_deals(harness, 5)
    settings = harness.settings
    harness.settings = replace(settings, schematic=replace(settings.schematic, max_in_flight=1))
    _, report = harness.apply()
    assert report.ok and len(report.results) == 15
    assert_converged(harness)


def test_more_429s_than_attempts_still_succeed_within_the_deadline(harness: Harness) -> None:
    """Eight 429s in a row (attempts is 5): a refused write performed nothing, so only the deadline
    ends its retries; the create succeeds and every 429 is counted."""
    harness.sb.schematic.fail_next("POST", WRITES, 429, times=8, retry_after=0.01)
    with mapped_context(None, harness.settings) as (ctx, maps):
        assert harness.settings.schematic.attempts == 5
        outcome = reconcile(ctx, maps, Request(Trigger.MANUAL, RunMode.APPLY))
        assert ctx.schematic.transport.rate_limited == 8
    assert outcome.report is not None and outcome.report.ok, outcome.report
    assert_converged(harness)
