"""The durable intake on SQLite and PostgreSQL: dedupe, leases, per-company coalescing, schedule slots."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from crmsync.domain import Trigger
from crmsync.store.intake import Finished, IntakeStore, NewEvent, stored_trigger, utcnow
from tests.serve.databases import intake_database


@pytest.fixture(params=["sqlite", "postgres"])
def intake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IntakeStore]:
    """A fresh intake on each backend."""
    with intake_database(request.param, tmp_path) as (_store, queries):
        yield queries


def hint(n: int, key: str | None = None) -> NewEvent:
    return NewEvent("hubspot", "deal.propertyChange", str(n), key or f"k{n}")


def test_a_dedupe_key_is_stored_once(intake: IntakeStore) -> None:
    """Inserting the same dedupe key twice stores one row and says so."""
    assert intake.add_events([hint(1), hint(2)]) == 2
    assert intake.add_events([hint(1), hint(3, "k2")]) == 0
    assert intake.depth().events == 2


def test_claimed_events_are_not_claimed_again_until_the_lease_expires(intake: IntakeStore) -> None:
    """A claim hides its rows from other workers; after a crash (lease expired) they come back."""
    intake.add_events([hint(1), hint(2)])
    now = utcnow()
    first = intake.claim_events("crashed", 10, lease=30, now=now)
    assert [e.object_id for e in first] == ["1", "2"]
    assert intake.claim_events("other", 10, lease=30, now=now + timedelta(seconds=29)) == []
    again = intake.claim_events("other", 10, lease=30, now=now + timedelta(seconds=31))
    assert [(e.object_id, e.attempts) for e in again] == [("1", 2), ("2", 2)]
    assert intake.finish_events([e.id for e in again], "crashed") == 0  # the dead worker's finish is void
    assert intake.finish_events([e.id for e in again], "other") == 2
    assert intake.depth().events == 0


def test_failed_events_are_retried_later_then_given_up(intake: IntakeStore) -> None:
    """A failed resolution comes back after its delay, and is marked failed after the last attempt."""
    intake.add_events([hint(1)])
    now = utcnow()
    [e] = intake.claim_events("w", 10, 30, now=now)
    intake.retry_events([e.id], "w", "boom", delay=5, max_attempts=2, now=now)
    assert intake.claim_events("w", 10, 30, now=now + timedelta(seconds=4)) == []
    [e] = intake.claim_events("w", 10, 30, now=now + timedelta(seconds=6))
    intake.retry_events([e.id], "w", "boom", delay=5, max_attempts=2, now=now)
    assert intake.claim_events("w", 10, 30, now=now + timedelta(hours=1)) == []
    assert intake.depth().events == 0


def test_many_hints_for_a_company_make_one_run(intake: IntakeStore) -> None:
    """Queuing a company again while it waits does not add a second run."""
    for _ in range(3):
        intake.enqueue_companies(["comp_1"], Trigger.WEBHOOK)
    assert [w.company_id for w in intake.claim_companies("w", 10, 30)] == ["comp_1"]
    assert intake.claim_companies("w", 10, 30) == []


def test_a_queued_company_comes_back_with_its_trigger(intake: IntakeStore) -> None:
    """The trigger a company was queued with is claimed as the same enum member, not a string to map back."""
    intake.enqueue_companies(["comp_1"], Trigger.WEBHOOK_SALESFORCE)
    [work] = intake.claim_companies("w", 10, 30)
    assert work.trigger is Trigger.WEBHOOK_SALESFORCE


def test_a_row_queued_by_an_older_serve_reads_as_its_trigger() -> None:
    """ "resync", what serve stored for its scheduled full run before, reads as the schedule trigger."""
    assert stored_trigger("resync") is Trigger.SCHEDULE
    assert stored_trigger("webhook:hubspot") is Trigger.WEBHOOK_HUBSPOT
    with pytest.raises(ValueError):
        stored_trigger("anything else")


def test_a_hint_during_a_run_causes_exactly_one_more_run(intake: IntakeStore) -> None:
    """A company queued while it is being reconciled runs once more after, and only once."""
    intake.enqueue_companies(["comp_1"], Trigger.WEBHOOK)
    [work] = intake.claim_companies("w", 10, 30)
    intake.enqueue_companies(["comp_1"], Trigger.WEBHOOK)
    intake.enqueue_companies(["comp_1"], Trigger.WEBHOOK)
    assert intake.claim_companies("other", 10, 30) == []  # never two runs of one company at once
    intake.finish_company(work.id, "w", ok=True)
    [again] = intake.claim_companies("w", 10, 30)
    intake.finish_company(again.id, "w", ok=True)
    assert intake.claim_companies("w", 10, 30) == []
    assert intake.depth().companies == 0


def test_a_crashed_run_is_taken_over_after_its_lease(intake: IntakeStore) -> None:
    """A run whose worker stopped renewing its lease is claimed by another worker; renewal keeps it."""
    intake.enqueue_companies(["comp_1", "comp_2"], Trigger.WEBHOOK)
    now = utcnow()
    works = intake.claim_companies("crashed", 10, lease=30, now=now)
    assert intake.renew([works[0].id], "crashed", lease=30, now=now + timedelta(seconds=20)) == 1
    taken = intake.claim_companies("other", 10, lease=30, now=now + timedelta(seconds=31))
    assert [w.company_id for w in taken] == ["comp_2"]


def test_a_failed_run_is_retried_after_its_delay(intake: IntakeStore) -> None:
    """A run that failed is pending again, not before the delay."""
    intake.enqueue_companies(["comp_1"], Trigger.WEBHOOK)
    now = utcnow()
    [work] = intake.claim_companies("w", 10, 30, now=now)
    intake.finish_company(work.id, "w", ok=False, retry_delay=10, now=now)
    assert intake.claim_companies("w", 10, 30, now=now + timedelta(seconds=5)) == []
    assert [w.attempts for w in intake.claim_companies("w", 10, 30, now=now + timedelta(seconds=11))] == [2]


def test_many_runs_finish_in_one_transaction_each_as_it_would_alone(intake: IntakeStore) -> None:
    """finish_companies ends a batch in one transaction: done, dirtied (pending again), given up, and
    failed runs pending again after each its own delay, only the rows this worker holds."""
    intake.enqueue_companies(["comp_ok", "comp_dirty", "comp_gone", "comp_slow", "comp_fast"], Trigger.WEBHOOK)
    now = utcnow()
    works = {w.company_id: w for w in intake.claim_companies("w", 10, 30, now=now)}
    intake.enqueue_companies(["comp_dirty"], Trigger.WEBHOOK, now=now)  # a hint during its run
    commits: list[object] = []
    counted = commits.append  # one object: what `event.remove` is given must be what was listened
    event.listen(intake.engine, "commit", counted)
    try:
        intake.finish_companies(
            [Finished(works["comp_ok"].id, True), Finished(works["comp_dirty"].id, True),
             Finished(works["comp_gone"].id, True, 10.0),  # given up: done, its delay unused
             Finished(works["comp_slow"].id, False, 20.0), Finished(works["comp_fast"].id, False, 10.0)],
            "w", now=now,
        )  # fmt: skip
        intake.finish_companies([Finished(works["comp_ok"].id, False, 1.0)], "other", now=now)  # not its row
        intake.finish_companies([], "w", now=now)
    finally:
        event.remove(intake.engine, "commit", counted)
    assert len(commits) == 2  # one per call that had rows, whatever their number
    assert [w.company_id for w in intake.claim_companies("w", 10, 30, now=now)] == ["comp_dirty"]
    assert [w.company_id for w in intake.claim_companies("w", 10, 30, now=now + timedelta(seconds=11))] == ["comp_fast"]
    later = intake.claim_companies("w", 10, 30, now=now + timedelta(seconds=21))
    assert [(w.company_id, w.attempts) for w in later] == [("comp_slow", 2)]
    assert intake.depth().companies == 3  # dirty, fast and slow are running again; ok and gone are done


def test_each_schedule_slot_has_one_winner(intake: IntakeStore) -> None:
    """Of many replicas racing for the same (job, slot), exactly one wins; the next slot is open again."""
    slot = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    results: list[bool] = []
    lock = threading.Lock()

    def race(name: str) -> None:
        won = intake.win_slot("poll", slot, name)
        with lock:
            results.append(won)

    threads = [threading.Thread(target=race, args=(f"r{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert intake.win_slot("poll", slot + timedelta(minutes=1), "r0")
    assert intake.win_slot("resync", slot, "r0")


def test_prune_removes_only_finished_old_rows(intake: IntakeStore) -> None:
    """Finished hints and slots older than the cut-off go; pending hints stay, whatever their age."""
    old = utcnow() - timedelta(days=4)
    intake.add_events([hint(1), hint(2)], now=old)
    [first, _] = intake.claim_events("w", 10, 30, now=old)
    intake.finish_events([first.id], "w")
    intake.win_slot("poll", old, "w")
    assert intake.prune(utcnow() - timedelta(days=3)) == 2
    assert intake.depth().events == 1
    assert intake.add_events([hint(2)]) == 0  # the unfinished hint still dedupes


def test_the_hints_of_many_requests_are_stored_in_one_transaction_each_counted_once(intake: IntakeStore) -> None:
    """Group commit (web/commit.py): per request, how many of its hints were new; a key two requests
    name counts for the first, a key already stored for none; one commit for them all."""
    intake.add_events([hint(9)])
    commits: list[object] = []

    def counted(conn: object) -> None:
        commits.append(conn)

    event.listen(intake.engine, "commit", counted)
    try:
        counts = intake.add_event_groups([[hint(1), hint(2)], [hint(2), hint(3)], [hint(9)], [], [hint(4), hint(4)]])
    finally:
        event.remove(intake.engine, "commit", counted)
    assert counts == [2, 1, 0, 0, 1]
    assert len(commits) == 1
    assert intake.depth().events == 5  # 9, 1, 2, 3, 4


def test_a_deleted_deals_companies_are_found_among_the_notes_that_name_it(intake: IntakeStore) -> None:
    """`ledger_notes(mentioning=…)` returns the notes containing one of the ids (the caller reads them
    exactly); ids with LIKE's wildcards match literally."""
    from crmsync.store.tables import OwnedOverride

    table = OwnedOverride.__table__  # type: ignore[attr-defined]
    rows = [("comp_a", "Managed by crmsync from hubspot deals 1001, 1002; rule r (seats)"),
            ("comp_b", "Managed by crmsync from hubspot deal 2001; rule r (seats)"),
            ("comp_c", "Managed by crmsync from salesforce deal 006_%x; rule r (seats)")]  # fmt: skip
    with intake.engine.begin() as conn:
        for n, (company, note) in enumerate(rows):
            conn.execute(table.insert().values(token=f"t{n}", override_id=f"cmov_{n}", company_id=company,
                                               feature_id="feat_seats", sources="hubspot", status="active",
                                               note=note, created_at=utcnow(), updated_at=utcnow()))  # fmt: skip
    assert sorted(intake.ledger_notes(mentioning={"1002"})) == [rows[0]]
    assert sorted(c for c, _ in intake.ledger_notes(mentioning={"2001", "1001"})) == ["comp_a", "comp_b"]
    assert intake.ledger_notes(mentioning={"006_%x"}) == [rows[2]]
    assert intake.ledger_notes(mentioning={"006_"}) == [rows[2]]  # a substring: read exactly by the caller
    assert intake.ledger_notes(mentioning={"0062"}) == []  # `_` is not a wildcard
    assert len(intake.ledger_notes()) == 3
