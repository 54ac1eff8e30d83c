"""The Salesforce connector reads closed-won Opportunities through simple-salesforce and the TLS emulator."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import certifi
import pytest

from crmsync.connectors.base import DealQuery
from crmsync.connectors.salesforce import FieldRejected, SalesforceCursor, walk_pages
from crmsync.connectors.salesforce_soql import render
from crmsync.domain import Source
from crmsync.errors import AuthError, ConfigError, RequestRejected, ServiceUnavailable
from crmsync.mapping.rules import DealFilter
from crmsync.settings import salesforce_settings
from tests.salesforce_fixtures import (
    ACME,
    GLOBEX,
    INITECH,
    EmulatorServer,
    RunningOrg,
    seed_accounts,
    seed_custom_fields,
)

T0 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
WON = DealFilter(stages=("Closed Won",))
PROPS = ("Amount", "Seats__c", "SSO_Addon__c", "Contract_End_Date__c", "Account.Name")
QUERY = DealQuery(filters=(WON,), properties=PROPS)
FULL_ENV = {
    "SALESFORCE_USERNAME": "integration@example.com",
    "SALESFORCE_PASSWORD": "hunter2-password",
    "SALESFORCE_SECURITY_TOKEN": "tok3n-secret",
    "SALESFORCE_CONSUMER_KEY": "3MVG9-consumer",
    "SALESFORCE_PRIVATE_KEY_FILE": "/etc/crmsync/sf.key",
    "SALESFORCE_ACCESS_TOKEN": "00D!access-secret",
    "SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com",
}


@pytest.fixture
def org(salesforce_server: EmulatorServer) -> Iterator[RunningOrg]:
    with salesforce_server.org() as running:
        seed_accounts(running.state)
        seed_custom_fields(running.state)
        running.state.clock = lambda: T0
        yield running


def won(count: int, **fields: Any) -> list[dict[str, Any]]:
    return [{"IsWon": True, "StageName": "Closed Won", "AccountId": ACME, **fields} for _ in range(count)]


# --- settings -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("names", "flow"),
    [
        (("SALESFORCE_ACCESS_TOKEN", "SALESFORCE_INSTANCE_URL"), "access token"),
        (("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"), "username-password"),
        (("SALESFORCE_USERNAME", "SALESFORCE_CONSUMER_KEY", "SALESFORCE_PRIVATE_KEY_FILE"), "JWT bearer"),
    ],
    ids=["token", "password", "jwt"],
)
def test_the_settings_pick_the_complete_flow(names: tuple[str, ...], flow: str) -> None:
    """The SALESFORCE_* variables of any one flow make complete settings, which say which flow it is."""
    settings = salesforce_settings({n: FULL_ENV[n] for n in names} | {"SALESFORCE_DOMAIN": "test"})
    assert (settings.flow(), settings.login_domain) == (flow, "test")


def test_missing_variables_are_named_for_every_flow() -> None:
    """Without a complete flow, ConfigError names the missing variables of each flow and no values."""
    with pytest.raises(ConfigError) as info:
        salesforce_settings({"SALESFORCE_USERNAME": "integration@example.com"}).flow()
    message = str(info.value)
    for name in (
        "SALESFORCE_ACCESS_TOKEN",
        "SALESFORCE_INSTANCE_URL",
        "SALESFORCE_PASSWORD",
        "SALESFORCE_SECURITY_TOKEN",
        "SALESFORCE_CONSUMER_KEY",
        "SALESFORCE_PRIVATE_KEY_FILE",
    ):
        assert name in message
    assert "integration@example.com" not in message


def test_settings_prefer_a_flow_that_can_log_in_again() -> None:
    """With every variable set, JWT bearer wins over the password and access-token flows."""
    assert salesforce_settings(FULL_ENV).flow() == "JWT bearer"


def test_settings_repr_hides_secrets_and_domain_urls_are_accepted() -> None:
    """repr() shows no password, token or access token; a My Domain URL becomes simple-salesforce's domain."""
    settings = salesforce_settings(FULL_ENV | {"SALESFORCE_DOMAIN": "https://acme.my.salesforce.com/"})
    for secret in ("hunter2-password", "tok3n-secret", "00D!access-secret"):
        assert secret not in repr(settings)
    assert settings.login_domain == "acme.my"


# --- reading --------------------------------------------------------------------------------------
def test_reads_more_than_2000_opportunities_across_pages(org: RunningOrg) -> None:
    """4,500 won opportunities arrive whole over three pages of at most 2,000; lost ones do not."""
    org.state.add_opportunities(won(4500))
    org.state.add_opportunities([{"IsWon": False, "StageName": "Closed Lost", "AccountId": ACME}] * 10)
    result = org.connector().read_deals(QUERY)
    assert (len(result.deals), len({d.id for d in result.deals}), result.complete, result.requests) == (
        4500,
        4500,
        True,
        3,
    )
    api_calls = [r for r in org.state.requests if r.path.startswith("/services/data/")]
    assert [r.path.split("/")[4] for r in api_calls] == ["queryAll", "queryAll", "queryAll"]
    assert {r.query_options for r in api_calls} == {"batchSize=2000"}


def test_deal_fields_and_property_rendering(org: RunningOrg) -> None:
    """A deal carries AccountId, stage, record type (when the files name record types), dates and
    properties rendered as text."""
    rt = org.state.add_record_type("New_Business")
    opp = org.state.add_opportunity(
        Name="Acme 2026",
        IsWon=True,
        StageName="Closed Won",
        AccountId=ACME,
        RecordTypeId=rt,
        CloseDate="2026-01-31",
        Amount=1200.5,
        Seats__c=50,
        SSO_Addon__c=True,
        Contract_End_Date__c="2027-01-31",
    )
    by_type = DealQuery(filters=(DealFilter(stages=("Closed Won",), record_types=("New_Business",)),), properties=PROPS)
    (deal,) = org.connector().read_deals(by_type).deals
    assert (deal.source, deal.id, deal.company_ref, deal.stage, deal.pipeline, deal.name) == (
        Source.SALESFORCE,
        opp,
        ACME,
        "Closed Won",
        "New_Business",
        "Acme 2026",
    )
    assert (deal.close_date, deal.modified_at) == (datetime(2026, 1, 31, tzinfo=UTC), T0)
    assert deal.properties == {
        "Amount": "1200.5",
        "Seats__c": "50",
        "SSO_Addon__c": "true",
        "Contract_End_Date__c": "2027-01-31",
        "Account.Name": "Acme",
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (Decimal("50.0"), "50"),
        (Decimal("12.50"), "12.5"),
        (3.0, "3"),
        (True, "true"),
        ("2027-01-31", "2027-01-31"),
        ("2026-01-31T10:00:00.000+0000", "2026-01-31T10:00:00+00:00"),
        ("Gold", "Gold"),
    ],
)
def test_render_values(value: object, text: str | None) -> None:
    """Numbers lose a trailing .0, booleans are lower-case, datetimes become ISO 8601."""
    assert render(value) == text


def test_won_then_lost_disappears_from_the_read(org: RunningOrg) -> None:
    """An opportunity moved from won to lost is no longer read."""
    keep, lose = org.state.add_opportunities(won(2))
    connector = org.connector()
    assert {d.id for d in connector.read_deals(QUERY).deals} == {keep, lose}
    org.state.update_opportunity(lose, StageName="Closed Lost", IsWon=False)
    assert {d.id for d in connector.read_deals(QUERY).deals} == {keep}


def test_stages_and_record_types_narrow_the_read(org: RunningOrg) -> None:
    """StageName IN and RecordType.DeveloperName IN narrow the won opportunities."""
    renewal, new = org.state.add_record_type("Renewal"), org.state.add_record_type("New_Business")
    a, _b, _c = org.state.add_opportunities(
        [
            {"IsWon": True, "StageName": "Closed Won", "RecordTypeId": renewal},
            {"IsWon": True, "StageName": "Closed Won", "RecordTypeId": new},
            {"IsWon": True, "StageName": "Signed", "RecordTypeId": renewal},
        ]
    )
    query = DealQuery(filters=(DealFilter(stages=("Closed Won",), record_types=("Renewal",)),), properties=())
    assert [d.id for d in org.connector().read_deals(query).deals] == [a]


def test_deleted_opportunity_appears_in_deleted_ids(org: RunningOrg) -> None:
    """A deleted won opportunity is seen through queryAll and reported in deleted_ids."""
    keep, gone = org.state.add_opportunities(won(2))
    org.state.delete_opportunity(gone)
    result = org.connector().read_deals(QUERY)
    assert ([d.id for d in result.deals], result.deleted_ids) == ([keep], {gone})


def test_a_quote_in_a_mapping_value_cannot_alter_the_query(org: RunningOrg) -> None:
    """A stage named `Closed Won' OR Name != '` is matched literally: it reads nothing, escaped."""
    org.state.add_opportunities(won(3))
    evil = DealQuery(filters=(DealFilter(stages=("Closed Won' OR Name != '",)),), properties=())
    assert org.connector().read_deals(evil).deals == ()
    assert "StageName IN ('Closed Won\\' OR Name != \\'')" in (org.state.requests[-1].soql or "")


def test_a_property_that_is_not_a_field_name_is_refused_before_any_request(org: RunningOrg) -> None:
    """A property like `Id FROM Account --` never reaches Salesforce."""
    with pytest.raises(RequestRejected, match="not a Salesforce field name"):
        org.connector().read_deals(DealQuery(filters=(WON,), properties=("Id FROM Account --",)))
    assert org.state.requests == []


def test_unknown_field_carries_salesforce_text(org: RunningOrg) -> None:
    """A mapped field Salesforce does not have fails with its INVALID_FIELD text and the field name."""
    with pytest.raises(FieldRejected) as info:
        org.connector().read_deals(DealQuery(filters=(WON,), properties=("Seats_Typo__c",)))
    assert info.value.field == "Seats_Typo__c" and info.value.error_code == "INVALID_FIELD"
    assert "No such column 'Seats_Typo__c' on entity 'Opportunity'" in str(info.value)
    assert "\n" not in str(info.value)


def test_read_deals_of_companies_is_scoped_and_chunked(org: RunningOrg) -> None:
    """Only the given Accounts' deals are read, in chunks of chunk_size Account Ids."""
    a, g, _i = (org.state.add_opportunity(**won(1, AccountId=acct)[0]) for acct in (ACME, GLOBEX, INITECH))
    connector = org.connector(chunk_size=1)
    result = connector.read_deals_of_companies(QUERY, [GLOBEX, ACME, ACME])
    assert ({d.id for d in result.deals}, result.requests) == ({a, g}, 2)
    assert connector.read_deals_of_companies(QUERY, []).deals == ()


# --- incremental ----------------------------------------------------------------------------------
def test_system_modstamp_ties_across_a_page_boundary_lose_nothing(org: RunningOrg) -> None:
    """2,500 records sharing one SystemModstamp, read in two runs split mid-tie, arrive once each."""
    ids = set(org.state.add_opportunities(won(2500)))
    org.state.request_limit = 1  # the first run stops after its first page
    connector = org.connector()
    first, cursor = connector.read_changed_since(QUERY, None)
    assert (len(first.deals), first.complete, cursor is not None and cursor.modstamp) == (2000, False, T0)
    org.state.request_limit = None
    second, cursor2 = connector.read_changed_since(QUERY, cursor)
    seen = [d.id for d in first.deals] + [d.id for d in second.deals]
    assert (len(seen), set(seen), second.complete) == (2500, ids, True)
    assert cursor2 == SalesforceCursor(T0, max(ids))
    assert connector.read_changed_since(QUERY, cursor2)[0].deals == ()


def test_incremental_read_reports_lost_and_deleted_as_deleted_ids(org: RunningOrg) -> None:
    """Changed since the cursor: still-won deals are read; lost or deleted ones are in deleted_ids."""
    stay, lose, gone, untouched = org.state.add_opportunities(won(4))
    connector = org.connector()
    _, cursor = connector.read_changed_since(QUERY, None)
    org.state.clock = lambda: datetime(2026, 2, 1, tzinfo=UTC)
    org.state.update_opportunity(stay, Seats__c=70)
    org.state.update_opportunity(lose, StageName="Closed Lost", IsWon=False)
    org.state.delete_opportunity(gone)
    result, cursor2 = connector.read_changed_since(QUERY, cursor)
    assert ([(d.id, d.properties["Seats__c"]) for d in result.deals], result.deleted_ids) == (
        [(stay, "70")],
        {lose, gone},
    )
    assert untouched not in result.deleted_ids and cursor2 and cursor2.modstamp == datetime(2026, 2, 1, tzinfo=UTC)
    assert SalesforceCursor.from_text(cursor2.to_text()) == cursor2


def test_walk_pages_refuses_a_repeated_next_records_url() -> None:
    """A nextRecordsUrl seen before is an error, not an endless loop."""
    page = {"done": False, "nextRecordsUrl": "/services/data/v59.0/query/01g-2000", "records": []}
    with pytest.raises(ServiceUnavailable, match="paging"):
        list(walk_pages(lambda: page, lambda url: page))


# --- auth and failures ----------------------------------------------------------------------------
@pytest.mark.parametrize("flow", ["token", "password", "jwt"])
def test_each_auth_flow_logs_in_and_reads(org: RunningOrg, flow: str) -> None:
    """Access token, username-password (SOAP) and JWT bearer each log in and read."""
    org.state.add_opportunities(won(3))
    connector = org.connector(flow)
    assert len(connector.read_deals(QUERY).deals) == 3
    logins = [r.path for r in org.state.requests if "/services/data/" not in r.path]
    expected = {
        "token": [],
        "password": ["/login.salesforce.com/services/Soap/u/59.0"],
        "jwt": ["/login.salesforce.com/services/oauth2/token"],
    }[flow]
    assert logins == expected


@pytest.mark.parametrize("flow", ["password", "jwt"])
def test_expired_session_logs_in_again_once(org: RunningOrg, flow: str) -> None:
    """After the session expires the connector logs in again once and the read completes."""
    org.state.add_opportunities(won(3))
    connector = org.connector(flow)
    connector.read_deals(QUERY)
    org.state.expire_sessions()
    assert len(connector.read_deals(QUERY).deals) == 3
    assert connector.logins == 2
    org.state.fail_next(401, times=2)
    with pytest.raises(AuthError, match="rejected right after a fresh login"):
        connector.read_deals(QUERY)
    assert connector.logins == 3


def test_expired_access_token_is_an_auth_error(org: RunningOrg) -> None:
    """The access-token flow cannot log in again: an expired token is an AuthError naming the variable."""
    connector = org.connector("token")
    org.state.expire_sessions()
    with pytest.raises(AuthError) as info:
        connector.read_deals(QUERY)
    assert info.value.setting == "SALESFORCE_ACCESS_TOKEN"


def test_request_limit_exceeded_ends_the_read_as_partial(org: RunningOrg) -> None:
    """REQUEST_LIMIT_EXCEEDED after two pages gives the 4,000 deals read so far, marked incomplete."""
    org.state.add_opportunities(won(4500))
    org.state.request_limit = 2
    result = org.connector().read_deals(QUERY)
    assert (len(result.deals), result.complete) == (4000, False)
    assert "REQUEST_LIMIT_EXCEEDED" in result.problem


def test_a_server_error_is_retried(org: RunningOrg) -> None:
    """A 503 is retried with backoff and the read completes."""
    org.state.add_opportunities(won(2))
    org.state.fail_next(503)
    result = org.connector().read_deals(QUERY)
    assert (len(result.deals), result.requests) == (2, 2)


@pytest.mark.parametrize("flow", ["password", "jwt"])
def test_login_failure_names_the_flow_and_variables_without_secrets(org: RunningOrg, flow: str) -> None:
    """A refused login is an AuthError naming the flow and variable names, never their values."""
    settings = org.settings(flow, password="wrong-password", consumer_key="wrong-consumer-key")
    with pytest.raises(AuthError) as info:
        org.connector(settings=settings).read_deals(QUERY)
    message = str(info.value)
    assert ("username-password login failed" if flow == "password" else "JWT bearer login failed") in message
    for name in ("SALESFORCE_USERNAME", "SALESFORCE_DOMAIN"):
        assert name in message
    for secret in ("wrong-password", org.state.security_token, "wrong-consumer-key", org.state.username):
        assert secret not in message
    assert "\n" not in message


def test_unreachable_instance_names_the_instance_url(org: RunningOrg) -> None:
    """A closed port is ServiceUnavailable naming SALESFORCE_INSTANCE_URL."""
    settings = org.settings("token", instance_url="https://127.0.0.1:9", timeout=2)
    with pytest.raises(ServiceUnavailable) as info:
        org.connector(settings=settings, retries=0).read_deals(QUERY)
    assert info.value.setting == "SALESFORCE_INSTANCE_URL"


@pytest.mark.parametrize("flow", ["token", "password"])
def test_a_silent_server_times_out_on_login_and_query(org: RunningOrg, flow: str) -> None:
    """Logins and queries both carry the timeout: a server that never answers is ServiceUnavailable."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        settings = org.settings(flow, instance_url=f"https://{address}", domain=f"{address}/login", timeout=0.2)
        with pytest.raises(ServiceUnavailable, match="timed out") as info:
            org.connector(settings=settings, retries=0).read_deals(QUERY)
    assert info.value.setting == ("SALESFORCE_INSTANCE_URL" if flow == "token" else "SALESFORCE_DOMAIN")


def test_ca_bundle_wins_over_requests_ca_bundle(org: RunningOrg, monkeypatch: pytest.MonkeyPatch) -> None:
    """SALESFORCE_CA_BUNDLE is used even when REQUESTS_CA_BUNDLE names another bundle; without it TLS fails."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    org.state.add_opportunities(won(1))
    assert len(org.connector().read_deals(QUERY).deals) == 1
    untrusting = org.connector(settings=org.settings("token", ca_bundle=None), retries=3, retry_wait=1.0)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="TLS verification failed") as info:
        untrusting.read_deals(QUERY)
    assert time.monotonic() - started < 0.9  # a verification failure is not retried
    assert "SALESFORCE_CA_BUNDLE" in str(info.value)


# --- orgs with and without Opportunity record types -----------------------------------------------
def test_an_org_without_record_types_syncs_and_no_query_names_record_type(org: RunningOrg) -> None:
    """In an org with no Opportunity record types, every read works and no query names RecordType."""
    both = set(org.state.add_opportunities(won(2)))
    connector = org.connector()
    assert {d.id for d in connector.read_deals(QUERY).deals} == both
    assert {d.id for d in connector.read_deals_of_companies(QUERY, [ACME]).deals} == both
    changed, _cursor = connector.read_changed_since(QUERY, None)
    assert len(changed.deals) == 2
    soql = [r.soql or "" for r in org.state.requests if r.soql]
    assert soql and not any("RecordType" in q for q in soql)


def test_an_org_without_record_types_refuses_record_type_like_salesforce(org: RunningOrg) -> None:
    """A file naming record_types: in an org without them fails as Salesforce does (INVALID_FIELD)."""
    org.state.add_opportunities(won(1))
    query = DealQuery(filters=(DealFilter(stages=("Closed Won",), record_types=("Renewal",)),), properties=())
    with pytest.raises(RequestRejected, match="Didn't understand relationship 'RecordType' in field path"):
        org.connector().read_deals(query)


def test_an_org_with_record_types_filters_incremental_reads_by_record_type(org: RunningOrg) -> None:
    """With record types, an incremental read reports an opportunity of another record type as gone."""
    renewal, new = org.state.add_record_type("Renewal"), org.state.add_record_type("New_Business")
    keep, other = org.state.add_opportunities(won(1, RecordTypeId=renewal) + won(1, RecordTypeId=new))
    query = DealQuery(filters=(DealFilter(stages=("Closed Won",), record_types=("Renewal",)),), properties=())
    changed, _ = org.connector().read_changed_since(query, None)
    assert ([d.id for d in changed.deals], set(changed.deleted_ids)) == ([keep], {other})


def test_deal_schema_reads_fields_stages_and_record_types_from_describe(org: RunningOrg) -> None:
    """describe gives field kinds, StageName's picklist values and the org's record types (no Master)."""
    from crmsync.mapping.crm_schema import FieldKind

    connector = org.connector()
    bare = connector.deal_schema()
    assert bare.record_types == ()
    kinds = {f.name: f.kind for f in bare.fields}
    assert (kinds["Seats__c"], kinds["Contract_End_Date__c"], kinds["StageName"]) == (
        FieldKind.NUMBER,
        FieldKind.DATE,
        FieldKind.CHOICE,
    )
    assert bare.field("seats__c") is not None and bare.field("RecordTypeId") is None
    assert "Closed Won" in {s.id for s in bare.stages}
    org.state.add_record_type("Renewal")
    fresh = org.connector().deal_schema()
    assert fresh.record_types == ("Renewal",) and fresh.field("RecordTypeId") is not None
    assert connector.deal_schema() is bare  # fetched once per connector (once per run)
