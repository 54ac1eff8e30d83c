"""The console's reads and recorded actions on SQLite and PostgreSQL: keyset pages that visit every
row once in order, filters applied in SQL, and an action's record committed with its change or not
at all."""

from __future__ import annotations

import pytest

from crmsync.domain import LedgerState, RunStatus
from crmsync.service.console_reads import companies_page, ledger_page, runs_page
from crmsync.store.repository import ChangeResult, Store


def walk(fetch: object) -> list[object]:
    """Every row of every page, following the `next` cursors."""
    rows: list[object] = []
    cursor = ""
    while True:
        page = fetch(cursor)  # type: ignore[operator]
        rows += page.rows
        if page.next is None:
            return rows
        cursor = page.next


def test_runs_are_paged_newest_first_and_filtered_by_actor(store: Store) -> None:
    """120 runs by two people: the pages visit each once, newest first; the filter keeps one person's."""
    for i in range(120):
        run = store.start_run("apply", "manual", actor="alice" if i % 3 else "bob")
        store.finish_run(run, RunStatus.OK, {"create": 1}, [])
    rows = walk(lambda c: runs_page(store, before=c))
    ids = [r.id for r in rows]  # type: ignore[attr-defined]
    assert len(ids) == 120 and ids == sorted(ids, reverse=True)
    bobs = walk(lambda c: runs_page(store, before=c, actor="bob"))
    assert len(bobs) == 40 and {r.actor for r in bobs} == {"bob"}  # type: ignore[attr-defined]


def test_the_ledger_is_paged_and_filtered_by_company_name_and_feature(store: Store) -> None:
    """Rows are joined to the companies' names; a name filter matches in part, case aside."""
    store.save_companies([(f"comp_{i}", f"Company {i:03}", {"hubspot_company_id": str(5000 + i)}) for i in range(60)],
                         every=True)  # fmt: skip
    for i in range(60):
        for feature in ("feat_seats", "feat_sso"):
            store.adopt(f"cmov_{i}_{feature}", f"comp_{i}", feature, ["hubspot"], {"value_type": "boolean"})
    everything = walk(lambda c: ledger_page(store, after=c))
    assert len(everything) == 120 and len({r.override_id for r in everything}) == 120  # type: ignore[attr-defined]
    seats = walk(lambda c: ledger_page(store, after=c, feature="seats"))
    assert len(seats) == 60
    named = walk(lambda c: ledger_page(store, after=c, company="company 00"))
    assert {r.company for r in named} == {f"Company 00{i}" for i in range(10)}  # type: ignore[attr-defined]


def test_companies_are_found_by_name_id_or_key(store: Store) -> None:
    """A page of companies by name; a key value finds its company; the pages cover all."""
    store.save_companies([(f"comp_{i}", f"Firm {i:03}", {"hubspot_company_id": str(7000 + i)}) for i in range(75)],
                         every=True)  # fmt: skip
    assert len(walk(lambda c: companies_page(store, after=c))) == 75
    assert [c.id for c in companies_page(store, text="7042").rows] == ["comp_42"]
    assert [c.id for c in companies_page(store, text="comp_7").rows] == ["comp_7"]


def test_a_full_run_forgets_companies_gone_from_schematic(store: Store) -> None:
    """`every=True` replaces the known companies; a scoped run only updates its own."""
    store.save_companies([("a", "A", {}), ("b", "B", {})], every=True)
    store.save_companies([("a", "A renamed", {})], every=False)
    assert [(c.id, c.name) for c in companies_page(store).rows] == [("a", "A renamed"), ("b", "B")]
    store.save_companies([("b", "B", {})], every=True)
    assert [c.id for c in companies_page(store).rows] == ["b"]


def test_an_action_and_its_record_commit_together_or_not_at_all(store: Store) -> None:
    """A failure inside `audited()` rolls back the ledger change too; a success records the actor."""
    store.adopt("cmov_1", "comp_1", "feat_1", ["hubspot"], {})
    with pytest.raises(RuntimeError), store.audited("release", "console", "otto"):
        store.release(["cmov_1"])
        raise RuntimeError("the process failed before the record was written")
    assert [o.status for o in store.owned()] == [LedgerState.ACTIVE] and store.runs() == []
    with store.audited("release", "console", "otto") as log:
        store.release(["cmov_1"])
        log.changes = [ChangeResult("release", "comp_1", "feat_1", "cmov_1", True)]
    assert store.owned() == [] and [(r.command, r.actor) for r in store.runs()] == [("release", "otto")]
    assert [c.override_id for c in store.run_changes(log.run_id)] == ["cmov_1"]


def test_runs_saving_the_companies_at_once_never_collide(store: Store) -> None:
    """Two full runs saving the same companies at the same moment both succeed (was an IntegrityError
    on PostgreSQL: each deleted the table and inserted ids the other had just written)."""
    import threading

    companies = [(f"comp_{i}", f"Company {i:03}", {"hubspot_company_id": str(5000 + i)}) for i in range(300)]
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def save() -> None:
        start.wait()
        for _ in range(5):
            try:
                store.save_companies(companies, every=True)
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                failures.append(exc)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(walk(lambda c: companies_page(store, text="", after=c))) == 300
    store.save_companies(companies[:10], every=True)
    assert len(walk(lambda c: companies_page(store, text="", after=c))) == 10
