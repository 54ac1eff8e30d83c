"""The deal snapshot's queries and its upkeep, on SQLite and PostgreSQL: only changed deals are
written, deals gone are removed, and a snapshot read with another query is not trusted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crmsync.connectors.base import ReadResult
from crmsync.domain import Company, CompanyId, Deal, Source
from crmsync.mapping.rules import Mappings
from crmsync.service.snapshot import Keeper, covers, digest
from crmsync.store.repository import Store
from crmsync.store.snapshot import DEALS, SnapshotStore, decode, encode
from tests.core.builders import deal, mapping, rule

T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)
MAPS = Mappings((mapping(rule()),))


def keep(snap: SnapshotStore, deals: list[Deal], now: datetime, *, companies: list[Company] | None = None,
         complete: bool = True, maps: Mappings = MAPS) -> None:  # fmt: skip
    """One reconcile's read of `deals` (full unless `companies`), kept in the snapshot."""
    keeper = Keeper(snap, maps, companies, now)
    keeper.page(deals)
    keeper.finish([ReadResult(Source.HUBSPOT, (), complete=complete, streamed=len(deals))])


def held(snap: SnapshotStore) -> dict[str, Deal]:
    """The snapshot's HubSpot deals by id."""
    return {d.id: d for page in snap.deals(Source.HUBSPOT) for d in page}


def test_a_deal_survives_the_round_trip(store: Store) -> None:
    """A deal written and read back is the same deal."""
    d = replace(deal("1", seats_purchased="50"), modified_at=T0, name="Acme — 50 seats")
    assert decode(Source.HUBSPOT, "1", encode(d)) == d
    snap = SnapshotStore(store.engine)
    keep(snap, [d], T0)
    assert held(snap) == {"1": d}


def test_a_second_read_writes_only_the_changed_deal(store: Store) -> None:
    """Of three deals read again, only the changed one's row is rewritten (its seen_at moves)."""
    snap = SnapshotStore(store.engine)
    deals = [deal(str(i), seats_purchased="10") for i in range(3)]
    keep(snap, deals, T0)
    keep(snap, [deals[0], deal("1", seats_purchased="99"), deals[2]], T0 + timedelta(hours=1))
    with store.engine.connect() as conn:
        seen = {r.deal_id: r.seen_at for r in conn.execute(select(DEALS.c.deal_id, DEALS.c.seen_at))}
    moved = {i for i, at in seen.items() if at.replace(tzinfo=UTC) > T0}
    assert moved == {"1"} and held(snap)["1"].properties["seats_purchased"] == "99"


def test_a_full_read_removes_deals_gone_and_a_partial_one_does_not(store: Store) -> None:
    """Deal 2 left the won stage: a complete full read removes it, a read cut short keeps it."""
    snap = SnapshotStore(store.engine)
    keep(snap, [deal("1"), deal("2")], T0)
    keep(snap, [deal("1")], T0, complete=False)
    assert set(held(snap)) == {"1", "2"}
    keep(snap, [deal("1")], T0)
    assert set(held(snap)) == {"1"}


def test_a_scoped_read_replaces_only_its_companys_deals(store: Store) -> None:
    """A read of company 5001's deals removes its deal that left, and leaves company 5002's alone."""
    snap = SnapshotStore(store.engine)
    keep(snap, [deal("1", company="5001"), deal("2", company="5001"), deal("3", company="5002")], T0)
    acme = Company(CompanyId("comp_acme"), "Acme", {"hubspot_company_id": "5001"})
    keep(snap, [deal("1", company="5001")], T0 + timedelta(minutes=5), companies=[acme])
    assert set(held(snap)) == {"1", "3"}
    assert covers(snap, MAPS).ok  # same query: the snapshot stays trusted
    assert snap.sources()[Source.HUBSPOT].full_read_at == T0


def test_the_snapshot_covers_only_what_it_was_read_with(store: Store) -> None:
    """Never read: not covered; read: covered; a mapping needing another property or stage: not covered."""
    snap = SnapshotStore(store.engine)
    assert not covers(snap, MAPS).ok
    keep(snap, [deal("1")], T0)
    assert covers(snap, MAPS).ok
    other_property = Mappings((mapping(rule(source_property="amount")),))
    other_stage = Mappings((mapping(rule(), stages=("closedwon", "contractsent")),))
    assert "properties amount" in covers(snap, other_property).reasons[0]
    assert "other stages" in covers(snap, other_stage).reasons[0]


def test_a_scoped_read_with_another_query_makes_the_snapshot_untrusted(store: Store) -> None:
    """A read of some companies under other mappings leaves a mixed snapshot: not trusted until a full read."""
    snap = SnapshotStore(store.engine)
    keep(snap, [deal("1")], T0)
    acme = Company(CompanyId("comp_acme"), "Acme", {"hubspot_company_id": "5001"})
    keep(snap, [deal("1")], T0, companies=[acme], maps=Mappings((mapping(rule(source_property="amount")),)))
    assert not covers(snap, MAPS).ok


def test_the_digest_sees_every_field() -> None:
    """Any change of company, stage, pipeline, dates, name or a property changes the digest."""
    base = replace(deal("1", seats_purchased="10"), modified_at=T0, name="n")
    variants = [replace(base, company_ref="5002"), replace(base, stage="x"), replace(base, pipeline="p"),
                replace(base, close_date=T0), replace(base, modified_at=T0 + timedelta(seconds=1)),
                replace(base, name="m"), replace(base, properties={"seats_purchased": "11"}),
                replace(base, properties={"seats": "10"})]  # fmt: skip
    assert all(digest(v) != digest(base) for v in variants) and digest(replace(base)) == digest(base)
