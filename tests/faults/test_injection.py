"""Each fault mode of the sandbox's injector, through the real client libraries, and the client
behaviour it checks: retried, reported, never duplicated, and bounded in time."""

from __future__ import annotations

import time

import pytest

from crmsync.domain import CompanyId, FeatureId, OverrideValue, ValueType
from crmsync.errors import RateLimited, ServiceUnavailable
from crmsync.sandbox.faults import Faults, Mode
from crmsync.schematic.transport import OutcomeUnknown
from tests.e2e.conftest import Harness
from tests.faults import clients
from tests.faults.clients import HUBSPOT_QUERY, SALESFORCE_QUERY

OVERRIDES = "/company-overrides"
SEARCH = "/crm/v3/objects/deals/search"
SEATS = OverrideValue(ValueType.NUMERIC, value_numeric=7)


def created(h: Harness) -> int:
    """How many overrides the Schematic emulator holds."""
    return len(h.sb.schematic.override_records())


def create(h: Harness, **kwargs: float) -> None:
    """One override create through the Schematic client."""
    with clients.schematic(h, **kwargs) as client:
        client.create_override(CompanyId("comp_acme"), FeatureId("feat_seats"), SEATS, "note tok-1")


def test_draws_are_seeded_and_respect_probability_and_times() -> None:
    """The same seed fires the same requests; `times` bounds the fires; probability 0 never fires."""

    def fired(seed: int) -> list[int]:
        faults = Faults("schematic", seed)
        faults.add(Mode.ERROR_BEFORE, probability=0.3)
        faults.add(Mode.GARBLE, path="/never", probability=0.0)
        return [n for n in range(200) if faults.pick("GET", "/features") is not None]

    assert fired(7) == fired(7) and fired(7) != fired(8) and 30 < len(fired(7)) < 90
    limited = Faults("hubspot")
    limited.add(Mode.HANG, method="POST", path="/crm/*/search", times=2)
    assert [limited.pick("POST", SEARCH) is not None for _ in range(3)] == [True, True, False]
    assert limited.pick("GET", SEARCH) is None and limited.injected[Mode.HANG] == 2


def test_a_5xx_before_the_commit_writes_nothing(harness: Harness) -> None:
    """error_before on a create: the client learns the outcome is unknown; nothing was created."""
    before = created(harness)
    harness.sb.faults.schematic.add(Mode.ERROR_BEFORE, method="POST", path=OVERRIDES, times=1)
    with pytest.raises(OutcomeUnknown):
        create(harness)
    assert created(harness) == before


def test_a_5xx_after_the_commit_wrote(harness: Harness) -> None:
    """error_after on a create: the client cannot tell, but the emulator did create it."""
    before = created(harness)
    harness.sb.faults.schematic.add(Mode.ERROR_AFTER, method="POST", path=OVERRIDES, times=1, status=502)
    with pytest.raises(OutcomeUnknown, match="502"):
        create(harness)
    assert created(harness) == before + 1


def test_a_reset_before_the_commit_writes_nothing_and_after_it_wrote(harness: Harness) -> None:
    """reset_before leaves no override, reset_after leaves one; both are an unknown outcome to the client."""
    before = created(harness)
    harness.sb.faults.schematic.add(Mode.RESET_BEFORE, method="POST", path=OVERRIDES, times=1)
    with pytest.raises(OutcomeUnknown):
        create(harness)
    assert created(harness) == before
    harness.sb.faults.schematic.add(Mode.RESET_AFTER, method="POST", path=OVERRIDES, times=1)
    with pytest.raises(OutcomeUnknown):
        create(harness)
    assert created(harness) == before + 1


def test_resets_and_5xx_on_reads_are_retried(harness: Harness) -> None:
    """A GET that is reset or answered 503 is sent again and the read completes."""
    harness.sb.faults.schematic.add(Mode.RESET_BEFORE, method="GET", path="/features", times=1)
    harness.sb.faults.schematic.add(Mode.ERROR_BEFORE, method="GET", path="/features", times=1)
    with clients.schematic(harness) as client:
        assert len(client.list_features()) == 4
    assert harness.sb.faults.schematic.injected == {Mode.RESET_BEFORE: 1, Mode.ERROR_BEFORE: 1}


def test_an_unreadable_answer_to_a_read_is_retried(harness: Harness) -> None:
    """A 200 whose body is not JSON, on a GET, is retried like a 5xx (it used to end the run)."""
    harness.sb.faults.schematic.add(Mode.GARBLE, method="GET", path="/features", times=2)
    with clients.schematic(harness) as client:
        assert len(client.list_features()) == 4


def test_an_unreadable_answer_to_a_create_is_an_unknown_outcome_never_resent(harness: Harness) -> None:
    """A 200 with an HTML body on a POST: created once, reported as unknown, not sent again."""
    before = created(harness)
    harness.sb.faults.schematic.add(Mode.GARBLE, method="POST", path=OVERRIDES, times=1)
    with pytest.raises(OutcomeUnknown, match="not JSON"):
        create(harness)
    assert created(harness) == before + 1
    assert sum(1 for r in harness.sb.schematic.requests if r.method == "POST") == 1


@pytest.mark.parametrize("retry_after", ["1", "0.5", "0.05"])
def test_schematic_waits_a_fractional_or_integer_retry_after(harness: Harness, retry_after: str) -> None:
    """429 with Retry-After 1, 0.5 or 0.05 is waited out (at least that long) and the read completes."""
    harness.sb.faults.schematic.add(Mode.RATE_LIMIT, method="GET", path="/features", times=1, retry_after=retry_after)
    started = time.monotonic()
    with clients.schematic(harness, deadline=5.0) as client:
        assert len(client.list_features()) == 4
    assert time.monotonic() - started >= float(retry_after)


@pytest.mark.parametrize("retry_after", ["0.5", "0.05"])
def test_hubspot_waits_a_fractional_retry_after(harness: Harness, retry_after: str) -> None:
    """A fractional Retry-After on a HubSpot search is a wait, not "cannot reach HubSpot"."""
    harness.sb.faults.hubspot.add(Mode.RATE_LIMIT, path=SEARCH, times=2, retry_after=retry_after)
    connector = clients.hubspot(harness, deadline=5.0)
    started = time.monotonic()
    assert connector.read_deals(HUBSPOT_QUERY).deals
    assert time.monotonic() - started >= 2 * float(retry_after)
    connector.close()


def test_a_huge_retry_after_is_capped(harness: Harness) -> None:
    """Retry-After: 600 is waited only `retry_after_max` (0.2 s) by both clients (not ten minutes)."""
    harness.sb.faults.hubspot.add(Mode.RATE_LIMIT, path=SEARCH, times=1, retry_after="600")
    harness.sb.faults.schematic.add(Mode.RATE_LIMIT, method="GET", path="/features", times=1, retry_after="600")
    started = time.monotonic()
    connector = clients.hubspot(harness, deadline=10.0, retry_after_max=0.2)
    assert connector.read_deals(HUBSPOT_QUERY).deals
    connector.close()
    with clients.schematic(harness, deadline=10.0, retry_after_max=0.2) as client:
        assert len(client.list_features()) == 4
    assert time.monotonic() - started < 9.0  # capped; uncapped this would take 20 minutes


def test_a_retry_after_past_the_deadline_ends_the_call_rate_limited(harness: Harness) -> None:
    """When the capped wait would pass the call's deadline, the call ends at once as RateLimited."""
    harness.sb.faults.schematic.add(Mode.RATE_LIMIT, method="GET", path="/features", retry_after="5")
    with clients.schematic(harness, deadline=1.0) as client, pytest.raises(RateLimited):
        client.list_features()


def test_latency_under_the_timeout_is_only_slow(harness: Harness) -> None:
    """An answer 0.3 s late within a 1 s timeout is simply received, on every emulator."""
    for faults in harness.sb.faults.all():
        faults.add(Mode.LATENCY, seconds=0.3, times=1)
    with clients.schematic(harness) as client:
        assert len(client.list_features()) == 4
    connector = clients.hubspot(harness)
    assert connector.read_deals(HUBSPOT_QUERY).deals
    connector.close()
    assert clients.salesforce(harness).read_deals(SALESFORCE_QUERY).deals
    assert all(f.injected[Mode.LATENCY] == 1 for f in harness.sb.faults.all())


def test_a_late_answer_to_a_create_is_an_unknown_outcome_and_it_was_created(harness: Harness) -> None:
    """latency past the timeout on a POST: the create happened, the client cannot know (no re-send)."""
    before = created(harness)
    harness.sb.faults.schematic.add(Mode.LATENCY, method="POST", path=OVERRIDES, times=1, seconds=1.5)
    with pytest.raises(OutcomeUnknown):
        create(harness, timeout=0.3, deadline=1.0)
    assert created(harness) == before + 1


@pytest.mark.parametrize("emulator", ["schematic", "hubspot", "salesforce"])
def test_a_hung_server_fails_within_the_deadline(harness: Harness, emulator: str) -> None:
    """A server that accepts and never answers fails the call in about its deadline (here 1.5 s),
    not timeout times attempts (Schematic 58 s, HubSpot 213 s before)."""
    getattr(harness.sb.faults, emulator).add(Mode.HANG, seconds=30)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        if emulator == "schematic":
            with clients.schematic(harness, deadline=1.5, timeout=10.0) as client:
                client.list_features()
        elif emulator == "hubspot":
            clients.hubspot(harness, deadline=1.5).read_deals(HUBSPOT_QUERY)
        else:
            clients.salesforce(harness, deadline=1.5).read_deals(SALESFORCE_QUERY)
    assert time.monotonic() - started < 5.0


@pytest.mark.parametrize("emulator", ["hubspot", "salesforce"])
def test_crm_5xx_and_resets_are_retried(harness: Harness, emulator: str) -> None:
    """One 503 and one reset on a CRM read are retried by its SDK configuration; the read completes."""
    faults = getattr(harness.sb.faults, emulator)
    faults.add(Mode.ERROR_BEFORE, method="*", path="/", times=1)
    faults.add(Mode.RESET_BEFORE, method="*", path="/", times=1)
    if emulator == "hubspot":
        assert clients.hubspot(harness, deadline=5.0).read_deals(HUBSPOT_QUERY).deals
    else:
        assert clients.salesforce(harness, deadline=5.0).read_deals(SALESFORCE_QUERY).deals
    assert faults.injected == {Mode.ERROR_BEFORE: 1, Mode.RESET_BEFORE: 1}


def test_a_hubspot_unreadable_answer_is_one_line_not_a_crash(harness: Harness) -> None:
    """A 200 HTML page on HubSpot's search is a ServiceError (the run reports it), not a traceback."""
    harness.sb.faults.hubspot.add(Mode.GARBLE, path=SEARCH)
    with pytest.raises(ServiceUnavailable):
        clients.hubspot(harness).read_deals(HUBSPOT_QUERY)


def test_a_hubspot_unreadable_answer_once_is_retried(harness: Harness) -> None:
    """One 200 HTML page on a HubSpot search is sent again, like a 5xx, and the read completes."""
    harness.sb.faults.hubspot.add(Mode.GARBLE, path=SEARCH, times=1)
    connector = clients.hubspot(harness)
    assert connector.read_deals(HUBSPOT_QUERY).deals
    connector.close()
