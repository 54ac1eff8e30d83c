"""The Salesforce emulator answers simple-salesforce, unchanged, over TLS on loopback."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from crmsync.sandbox.salesforce import SalesforceState
from crmsync.sandbox.salesforce_auth import write_jwt_key_pair
from tests.salesforce_fixtures import ACME, GLOBEX, EmulatorServer, RunningOrg, seed_accounts

T0 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


@pytest.fixture
def org(salesforce_server: EmulatorServer) -> Iterator[RunningOrg]:
    with salesforce_server.org() as running:
        seed_accounts(running.state)
        yield running


def errors(exc: SalesforceError) -> Any:
    """The JSON error list of a simple-salesforce error (typed as bytes upstream)."""
    return exc.content


def names(records: list[dict[str, object]]) -> list[object]:
    return [r["Name"] for r in records]


def test_certificate_names_loopback_and_localhost(org: RunningOrg) -> None:
    """The server certificate verifies against the sandbox CA for 127.0.0.1 and localhost."""
    context = ssl.create_default_context(cafile=str(org.tls.ca_bundle))
    port = int(org.url.rsplit(":", 1)[1])
    for host in ("127.0.0.1", "localhost"):
        with context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=host):
            pass


def test_query_pages_through_next_records_url(org: RunningOrg) -> None:
    """2,500 rows come as a page of 2,000 and one of 500, linked by nextRecordsUrl."""
    org.state.add_opportunities({"IsWon": True, "AccountId": ACME} for _ in range(2500))
    sf = org.salesforce()
    first = sf.query("SELECT Id FROM Opportunity")
    assert (first["totalSize"], first["done"], len(first["records"])) == (2500, False, 2000)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert (second["done"], len(second["records"]), "nextRecordsUrl" in second) == (True, 500, False)
    assert len({r["Id"] for r in sf.query_all_iter("SELECT Id FROM Opportunity")}) == 2500


@pytest.mark.parametrize(("asked", "served"), [("300", 300), ("50", 200), ("5000", 2000)], ids=["300", "min", "max"])
def test_batch_size_header_is_honoured_within_bounds(org: RunningOrg, asked: str, served: int) -> None:
    """Sforce-Query-Options batchSize is honoured, clamped to 200-2,000."""
    org.state.add_opportunities({"IsWon": True} for _ in range(2100))
    page = org.salesforce().query("SELECT Id FROM Opportunity", headers={"Sforce-Query-Options": f"batchSize={asked}"})
    assert len(page["records"]) == served


def test_records_carry_attributes_and_nested_relationships(org: RunningOrg) -> None:
    """Records have attributes; Account.Name nests under Account, which is null without an AccountId."""
    rt = org.state.add_record_type("Renewal")
    org.state.add_opportunity(Name="With", AccountId=ACME, RecordTypeId=rt, Amount=1200)
    org.state.add_opportunity(Name="Without")
    soql = "SELECT Name, Amount, Account.Name, RecordType.DeveloperName FROM Opportunity ORDER BY Name"
    with_acct, without = org.salesforce().query(soql)["records"]
    assert with_acct["attributes"]["type"] == "Opportunity"
    assert with_acct["attributes"]["url"].startswith("/services/data/v59.0/sobjects/Opportunity/006")
    assert with_acct["Account"] == {
        "attributes": {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{ACME}"},
        "Name": "Acme",
    }
    assert with_acct["RecordType"]["DeveloperName"] == "Renewal"
    assert with_acct["Amount"] == 1200.0
    assert without["Account"] is None and without["Amount"] is None


def test_query_all_includes_deleted_rows_and_query_does_not(org: RunningOrg) -> None:
    """queryAll shows IsDeleted rows; query hides them."""
    _, gone = org.state.add_opportunities([{"Name": "keep"}, {"Name": "gone"}])
    org.state.delete_opportunity(gone)
    sf = org.salesforce()
    assert names(sf.query("SELECT Name FROM Opportunity")["records"]) == ["keep"]
    both = sf.query("SELECT Name, IsDeleted FROM Opportunity ORDER BY Name", include_deleted=True)["records"]
    assert [(r["Name"], r["IsDeleted"]) for r in both] == [("gone", True), ("keep", False)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Name = 'o''brien'", None),
        ("Name = 'O\\'Brien'", ["O'Brien"]),
        ("Name = 'back\\\\slash'", ["Back\\slash"]),
        ("Name = 'acme won'", ["Acme won"]),
        ("Name != 'Acme won'", ["Back\\slash", "Globex lost", "O'Brien"]),
        ("Amount > 100 AND Amount <= 500", ["Globex lost"]),
        ("Amount >= 1000", ["Acme won"]),
        ("Amount < 100", []),
        ("Amount = null", ["Back\\slash", "O'Brien"]),
        ("IsWon = true", ["Acme won", "O'Brien"]),
        ("NOT IsWon = true", ["Back\\slash", "Globex lost"]),
        ("StageName IN ('closed won', 'Nope')", ["Acme won", "O'Brien"]),
        ("StageName NOT IN ('Closed Won')", ["Back\\slash", "Globex lost"]),
        ("Name LIKE 'Ac%'", ["Acme won"]),
        ("Name LIKE '%\\_%'", []),
        ("Name LIKE 'Gl_bex%'", ["Globex lost"]),
        ("CloseDate = 2026-01-31", ["Acme won"]),
        ("CloseDate < 2026-01-31", ["Globex lost"]),
        ("SystemModstamp > 2026-01-31T10:00:00Z", ["Globex lost"]),
        ("SystemModstamp = 2026-01-31T10:00:00.000Z", ["Acme won", "Back\\slash", "O'Brien"]),
        ("SystemModstamp = 2026-01-31T11:00:00+0100", ["Acme won", "Back\\slash", "O'Brien"]),
        ("SystemModstamp < 2026-01-31T10:00:00.001+00:00", ["Acme won", "Back\\slash", "O'Brien"]),
        ("(IsWon = true AND Amount > 5) OR (AccountId = '001000000000002AAA')", ["Acme won", "Globex lost"]),
        ("Account.Name = 'Globex' OR (NOT (Amount != null))", ["Back\\slash", "Globex lost", "O'Brien"]),
        ("Seats__c IN (10, 20)", ["Acme won"]),
    ],
)
def test_where_clauses(org: RunningOrg, where: str, expected: list[str] | None) -> None:
    """The WHERE subset crmsync uses filters as Salesforce does."""
    state = org.state
    state.clock = lambda: T0
    state.add_opportunity(
        Name="Acme won",
        StageName="Closed Won",
        IsWon=True,
        Amount=1200,
        AccountId=ACME,
        CloseDate="2026-01-31",
        Seats__c=10,
    )
    state.add_opportunity(
        Name="Globex lost",
        StageName="Closed Lost",
        IsClosed=True,
        Amount=300,
        AccountId=GLOBEX,
        CloseDate=date(2026, 1, 2),
        SystemModstamp=datetime(2026, 2, 1, tzinfo=UTC),
    )
    state.add_opportunity(Name="O'Brien", StageName="Closed Won", IsWon=True, CloseDate="2026-03-01")
    state.add_opportunity(Name="Back\\slash", CloseDate="2026-03-01")
    sf = org.salesforce()
    soql = f"SELECT Name FROM Opportunity WHERE {where} ORDER BY Name"
    if expected is None:
        with pytest.raises(SalesforceMalformedRequest) as info:
            sf.query(soql)
        assert errors(info.value)[0]["errorCode"] == "MALFORMED_QUERY"
    else:
        assert names(sf.query(soql)["records"]) == expected


def test_order_by_several_fields_directions_and_limit(org: RunningOrg) -> None:
    """ORDER BY applies keys left to right with ASC/DESC and NULLS; LIMIT cuts the result."""
    for name, amount in (("b", 1), ("a", 1), ("c", 2), ("d", None)):
        org.state.add_opportunity(Name=name, Amount=amount)
    sf = org.salesforce()
    assert names(sf.query("SELECT Name FROM Opportunity ORDER BY Amount DESC, Name ASC")["records"]) == [
        "c",
        "a",
        "b",
        "d",
    ]
    assert names(
        sf.query("SELECT Name FROM Opportunity ORDER BY Amount ASC NULLS LAST, Name DESC LIMIT 3")["records"]
    ) == ["b", "a", "c"]


def test_unknown_field_is_invalid_field(org: RunningOrg) -> None:
    """An unknown column answers 400 INVALID_FIELD with Salesforce's wording and position."""
    with pytest.raises(SalesforceMalformedRequest) as info:
        org.salesforce().query("SELECT Id, Foo__c FROM Opportunity")
    (error,) = errors(info.value)
    assert error["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Foo__c' on entity 'Opportunity'" in error["message"]
    assert "ERROR at Row:1:Column:12" in error["message"]


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Opportunity WHERE IsWon = true AND Name = 'a' OR Name = 'b'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE Name = 'open", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE", "MALFORMED_QUERY"),
        ("SELECT Id, Name, name FROM Opportunity", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE Amount = '5'", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE SystemModstamp > 2026-01-01", "INVALID_FIELD"),
        ("SELECT Acount.Name FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunityy", "INVALID_TYPE"),
    ],
    ids=[
        "and-or-unparenthesised",
        "unterminated",
        "empty-where",
        "duplicate",
        "quoted-number",
        "date-for-datetime",
        "bad-relationship",
        "bad-entity",
    ],
)
def test_bad_queries_answer_salesforce_error_codes(org: RunningOrg, soql: str, code: str) -> None:
    """Malformed or ill-typed queries answer 400 with Salesforce's error code."""
    with pytest.raises(SalesforceMalformedRequest) as info:
        org.salesforce().query(soql)
    assert errors(info.value)[0]["errorCode"] == code


def test_unknown_and_expired_sessions_answer_401(org: RunningOrg) -> None:
    """A made-up token, or one issued before expire_sessions(), answers 401 INVALID_SESSION_ID."""
    with pytest.raises(SalesforceExpiredSession) as info:
        org.salesforce(token="00D000000000001!made-up").query("SELECT Id FROM Opportunity")
    assert errors(info.value) == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    sf = org.salesforce()
    sf.query("SELECT Id FROM Opportunity")
    org.state.expire_sessions()
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Opportunity")


def test_request_limit_and_usage_header(org: RunningOrg) -> None:
    """Sforce-Limit-Info counts API calls; past request_limit the answer is 403 REQUEST_LIMIT_EXCEEDED."""
    org.state.request_limit = 2
    sf = org.salesforce()
    sf.query("SELECT Id FROM Opportunity")
    assert (sf.api_usage["api-usage"].used, sf.api_usage["api-usage"].total) == (1, 2)
    sf.query("SELECT Id FROM Opportunity")
    with pytest.raises(SalesforceRefusedRequest) as info:
        sf.query("SELECT Id FROM Opportunity")
    assert errors(info.value) == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def test_fail_next_injects_failures_and_the_log_records_them(org: RunningOrg) -> None:
    """fail_next(status, times) answers that many API calls with the status; the log shows each call."""
    org.state.fail_next(503, times=2)
    sf = org.salesforce()
    for _ in range(2):
        with pytest.raises(Exception, match="503"):
            sf.query("SELECT Id FROM Opportunity")
    assert sf.query("SELECT Id FROM Opportunity")["totalSize"] == 0
    assert [r.status for r in org.state.requests] == [503, 503, 200]
    assert org.state.requests[-1].soql == "SELECT Id FROM Opportunity"


def test_soap_login_with_password_and_security_token(org: RunningOrg) -> None:
    """The SOAP login returns a session id and a serverUrl pointing back at the emulator."""
    state = org.state
    sf = Salesforce(
        username=state.username,
        password=state.password,
        security_token=state.security_token,
        domain=org.domain,
        session=org.session(),
    )
    assert f"https://{sf.sf_instance}" == org.url
    assert state.token_valid(sf.session_id)
    assert org.state.requests[0].path == "/login.salesforce.com/services/Soap/u/59.0"
    with pytest.raises(SalesforceAuthenticationFailed) as info:
        Salesforce(
            username=state.username,
            password="wrong",
            security_token=state.security_token,
            domain=org.domain,
            session=org.session(),
        )
    assert info.value.code == "INVALID_LOGIN"


def test_jwt_bearer_login(org: RunningOrg) -> None:
    """A JWT signed with the configured key, iss = consumer key and sub = username, logs in."""
    state = org.state
    sf = Salesforce(
        username=state.username,
        consumer_key=state.consumer_key,
        privatekey_file=str(org.jwt_key_file),
        domain=org.domain,
        session=org.session(),
    )
    assert f"https://{sf.sf_instance}" == org.url
    assert sf.query("SELECT Id FROM Opportunity")["totalSize"] == 0
    with pytest.raises(SalesforceAuthenticationFailed) as info:
        Salesforce(
            username=state.username,
            consumer_key="someone-else",
            privatekey_file=str(org.jwt_key_file),
            domain=org.domain,
            session=org.session(),
        )
    assert info.value.code == "invalid_client_id"


@pytest.mark.parametrize("claim", ["aud", "sub", "key"])
def test_jwt_with_a_wrong_claim_or_key_is_refused(org: RunningOrg, tmp_path: Path, claim: str) -> None:
    """A wrong audience, subject or signing key answers 400 invalid_grant."""
    state = org.state
    claims = {
        "iss": state.consumer_key,
        "sub": state.username,
        "aud": f"https://{org.domain}.salesforce.com",
        "exp": int(time.time()) + 180,
    }
    key = org.jwt_key_file.read_bytes()
    if claim == "aud":
        claims["aud"] = "https://login.salesforce.com"
    elif claim == "sub":
        claims["sub"] = "intruder@example.com"
    else:
        key = write_jwt_key_pair(tmp_path)[0].read_bytes()
    assertion = jwt.encode(claims, key, algorithm="RS256")
    data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    response = org.session().post(f"https://{org.domain}.salesforce.com/services/oauth2/token", data=data)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_update_bumps_system_modstamp_unless_given(org: RunningOrg) -> None:
    """update_opportunity moves SystemModstamp to the clock unless the caller sets it."""
    state = org.state
    state.clock = lambda: T0
    opp = state.add_opportunity(Name="x")
    state.clock = lambda: datetime(2026, 2, 1, 12, 0, 0, 123456, tzinfo=UTC)
    state.update_opportunity(opp, Amount=5)
    assert state.opportunity(opp)["SystemModstamp"] == datetime(2026, 2, 1, 12, 0, 0, 123000, tzinfo=UTC)
    record = org.salesforce().query("SELECT SystemModstamp FROM Opportunity")["records"][0]
    assert record["SystemModstamp"] == "2026-02-01T12:00:00.123+0000"
    state.update_opportunity(opp, Amount=6, SystemModstamp=T0)
    assert state.opportunity(opp)["SystemModstamp"] == T0


def test_seed_format_loads_accounts_record_types_and_custom_fields() -> None:
    """from_seed reads credentials, custom field types, record types, accounts and opportunities."""
    state = SalesforceState.from_seed(
        {
            "credentials": {"username": "u@example.com", "consumer_key": "ck"},
            "custom_fields": {"Seats__c": "double", "Contract_End_Date__c": "date"},
            "record_types": [{"Id": "012000000000009AAA", "DeveloperName": "New_Business"}],
            "accounts": [{"Id": ACME, "Name": "Acme"}],
            "opportunities": [
                {
                    "Name": "Acme 2026",
                    "IsWon": True,
                    "StageName": "Closed Won",
                    "AccountId": ACME,
                    "RecordTypeId": "012000000000009AAA",
                    "Seats__c": 50,
                    "Contract_End_Date__c": "2027-01-31",
                    "SystemModstamp": "2026-02-01T10:00:00Z",
                }
            ],
        }
    )
    (opp_id,) = [r["Id"] for r in state.rows("Opportunity")]
    row = state.opportunity(opp_id)
    assert (state.username, state.consumer_key, len(opp_id), opp_id[:3]) == ("u@example.com", "ck", 18, "006")
    assert (row["Seats__c"], row["Contract_End_Date__c"]) == (50.0, date(2027, 1, 31))
    assert row["SystemModstamp"] == datetime(2026, 2, 1, 10, tzinfo=UTC)


def test_bulk_seeding_keeps_every_opportunity() -> None:
    """5,000 opportunities seeded in one call get 5,000 distinct Ids (speed: a benchmark's business)."""
    state = SalesforceState()
    ids = state.add_opportunities({"IsWon": True, "Seats__c": i, "AccountId": ACME} for i in range(5000))
    assert len(set(ids)) == 5000


def test_session_trusting_only_the_environment_bundle_is_refused(org: RunningOrg) -> None:
    """A client that does not trust the sandbox CA fails TLS verification: the server really is TLS."""
    with requests.Session() as session, pytest.raises(requests.exceptions.SSLError):
        session.get(f"{org.url}/services/data/v59.0/limits", timeout=5, verify=True)


def test_an_org_without_record_types_has_no_record_type_relationship(org: RunningOrg) -> None:
    """Until a record type exists, RecordType.DeveloperName and RecordTypeId fail as in Salesforce."""
    org.state.add_opportunity(Name="Plain", AccountId=ACME)
    client = org.salesforce()
    with pytest.raises(SalesforceMalformedRequest) as caught:
        client.query("SELECT Id, RecordType.DeveloperName FROM Opportunity")
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "Didn't understand relationship 'RecordType' in field path" in caught.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest, match="No such column 'RecordTypeId'"):
        client.query("SELECT Id, RecordTypeId FROM Opportunity")
    org.state.add_record_type("Renewal")
    assert client.query("SELECT Id, RecordType.DeveloperName FROM Opportunity")["totalSize"] == 1


def test_describe_lists_fields_stage_values_and_record_types(org: RunningOrg) -> None:
    """sobjects/Opportunity/describe: typed fields, StageName's picklist, Master plus the org's types."""
    org.state.add_opportunity(Name="Odd stage", StageName="Signed")
    client = org.salesforce()
    bare = client.Opportunity.describe()
    names = {f["name"]: f for f in bare["fields"]}
    assert "RecordTypeId" not in names and names["StageName"]["type"] == "picklist"
    assert {"Closed Won", "Signed"} <= {p["value"] for p in names["StageName"]["picklistValues"]}
    assert [(r["developerName"], r["master"]) for r in bare["recordTypeInfos"]] == [("Master", True)]
    org.state.add_record_type("Renewal")
    typed = client.Opportunity.describe()
    assert [r["developerName"] for r in typed["recordTypeInfos"]] == ["Master", "Renewal"]
    assert {f["name"]: f for f in typed["fields"]}["RecordTypeId"]["relationshipName"] == "RecordType"
