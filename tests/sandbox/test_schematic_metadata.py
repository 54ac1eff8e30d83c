"""Schematic metadata held between reconciles: features and plan entitlements for a bounded age,
a lookup's company answer once; through httpx against the Schematic emulator, and the pure cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync.domain import Company, CompanyId, Feature, FeatureId, OverrideValue, ValueType
from crmsync.errors import RequestRejected
from crmsync.sandbox import Sandbox
from crmsync.schematic.client import SchematicClient
from crmsync.schematic.metadata import LOOKUP_AGE, LOOKUPS_HELD, MetadataCache
from crmsync.schematic.transport import Transport


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    """The sample sandbox (each test counts the calls it makes)."""
    with Sandbox() as sandbox:
        yield sandbox


def _client(sb: Sandbox, max_age: float) -> SchematicClient:
    return SchematicClient(Transport(sb.schematic_url, sb.schematic.api_key, timeout=5), metadata_max_age=max_age)


def _calls(sb: Sandbox, path: str) -> int:
    return sum(1 for r in sb.schematic.requests if r.path == path)


def test_features_and_plan_entitlements_are_read_once_within_the_bound(sb: Sandbox) -> None:
    """With a bound, a second list of features and of a plan's entitlements makes no call."""
    with _client(sb, 300) as client:
        first, plan = client.features(), client.plan_entitlements("plvr_starter")
        assert client.features() == first and client.plan_entitlements("plvr_starter") == plan
    assert _calls(sb, "/features") == 1 and _calls(sb, "/plan-entitlements") == 1


def test_without_a_bound_every_list_reads_schematic(sb: Sandbox) -> None:
    """metadata_max_age 0 (a bare client's default) keeps nothing: a feature added is seen at once."""
    with _client(sb, 0) as client:
        before = len(client.features())
        sb.schematic.add_feature("Audit log", "boolean", "audit-log")
        assert len(client.features()) == before + 1
    assert _calls(sb, "/features") == 2


def test_a_rejected_write_forgets_the_metadata_held(sb: Sandbox) -> None:
    """A write Schematic rejects (here: a feature it does not know) makes the next list read afresh."""
    with _client(sb, 300) as client:
        client.features()
        value = OverrideValue(ValueType.BOOLEAN, value_bool=True)
        with pytest.raises(RequestRejected):
            client.create_override(CompanyId("comp_hooli"), FeatureId("feat_gone"), value, "note")
        client.features()
    assert _calls(sb, "/features") == 2


def test_a_lookups_company_is_not_read_again_by_the_read_that_follows(sb: Sandbox) -> None:
    """The company a lookup answered is handed once to the next read of it; the read after that calls."""
    with _client(sb, 300) as client:
        company = client.lookup_company({"hubspot_company_id": "5001"})
        assert company is not None
        assert client.list_companies({company.id}) == [company]
        assert client.list_companies({company.id}) == [company]
    assert _calls(sb, "/companies") == 1


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_older_than_the_bound_is_read_again() -> None:
    """Features held longer than max_age are read again; younger ones are not."""
    clock, reads = _Clock(), []
    cache = MetadataCache(60, clock)

    def read() -> list[Feature]:
        reads.append(clock.now)
        return [Feature(FeatureId("feat_a"), "A", "boolean", None)]

    cache.features(read)
    clock.now = 59
    cache.features(read)
    clock.now = 61
    cache.features(read)
    assert reads == [0, 61]


def test_a_lookup_answer_stands_in_only_while_young_and_for_every_id() -> None:
    """take_companies answers only when every id was looked up moments ago, else None (read them)."""
    clock = _Clock()
    cache = MetadataCache(300, clock)
    hooli = Company(CompanyId("comp_hooli"), "Hooli", {"hubspot_id": "1"})
    cache.looked_up(hooli)
    assert cache.take_companies({CompanyId("comp_hooli"), CompanyId("comp_other")}) is None
    clock.now = LOOKUP_AGE + 1
    assert cache.take_companies({CompanyId("comp_hooli")}) is None


def test_list_features_always_asks_schematic(sb: Sandbox) -> None:
    """A health probe's list_features reads Schematic even while features are held for plans."""
    with _client(sb, 300) as client:
        client.features()
        client.list_features()
    assert _calls(sb, "/features") == 2


def test_lookups_never_read_after_do_not_pile_up() -> None:
    """Months of lookups whose company no read takes keep at most LOOKUPS_HELD companies, the newest."""
    clock = _Clock()
    cache = MetadataCache(300, clock)
    for n in range(LOOKUPS_HELD * 4):
        cache.looked_up(Company(CompanyId(f"comp_{n}"), f"C{n}", {"hubspot_id": str(n)}))
    assert cache.lookups_held == LOOKUPS_HELD
    assert cache.take_companies({CompanyId("comp_0")}) is None  # the oldest went first
    newest = CompanyId(f"comp_{LOOKUPS_HELD * 4 - 1}")
    assert [c.id for c in cache.take_companies({newest}) or []] == [newest]


def test_lookups_too_old_to_stand_in_are_dropped() -> None:
    """A lookup older than LOOKUP_AGE is let go at the next lookup, not held until its company is read."""
    clock = _Clock()
    cache = MetadataCache(300, clock)
    for n in range(10):
        cache.looked_up(Company(CompanyId(f"comp_{n}"), f"C{n}", {}))
    clock.now = LOOKUP_AGE + 1
    cache.looked_up(Company(CompanyId("comp_new"), "New", {}))
    assert cache.lookups_held == 1


def test_an_id_asked_twice_is_one_company() -> None:
    """A request naming the same company twice is answered from the lookup, once, without an error."""
    cache = MetadataCache(300, _Clock())
    hooli = Company(CompanyId("comp_hooli"), "Hooli", {"hubspot_id": "1"})
    cache.looked_up(hooli)
    assert cache.take_companies([CompanyId("comp_hooli"), CompanyId("comp_hooli")]) == [hooli]
    assert cache.take_companies([CompanyId("comp_hooli")]) is None  # handed out once
