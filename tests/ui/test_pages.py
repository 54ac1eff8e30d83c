"""The console's pages over a real state database (the sample after a real apply and plan), served by
uvicorn and read with httpx: every page, the login, sessions, roles, headers and the CSV export."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from crmsync.cli.demo import sample_mappings
from crmsync.web.console.auth import SESSION_COOKIE
from tests.ui.conftest import OPERATOR_TOKEN, PROXY, VIEW_TOKEN, World, login

PAGES = ["/", "/runs", "/runs/1", "/companies", "/companies?q=acme", "/companies/comp_acme", "/problems", "/owned",
         "/owned?company=acme", "/mappings", "/mappings?edit=salesforce.yaml"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_every_page_answers_a_viewer_with_the_security_headers(viewer: httpx.Client, path: str) -> None:
    """Each page renders for a viewer, with a CSP without inline script, DENY framing and a referrer policy."""
    page = viewer.get(path)
    assert page.status_code == 200, page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "same-origin"
    assert page.headers["cache-control"] == "no-store" and "<script" not in page.text and "style=" not in page.text


def test_the_runs_show_who_started_them(viewer: httpx.Client) -> None:
    """alice's apply and plan are listed as initiated by alice; the actor filter keeps only hers."""
    assert viewer.get("/runs").text.count(">alice<") == 2
    assert ">alice<" not in viewer.get("/runs", params={"actor": "bob"}).text
    run = viewer.get("/runs/1").text
    assert "Initiated by</dt><dd>alice" in run and "Done" in run


def test_someone_not_logged_in_is_sent_to_the_login_form(token_base: str) -> None:
    """A GET goes to the login form (keeping where it was going); a POST is refused."""
    with httpx.Client(base_url=token_base, follow_redirects=False) as anonymous:
        page = anonymous.get("/problems", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].endswith("/login?next=/problems")
        assert anonymous.post("/actions/release", data={"override": "x"}).status_code == 401
        assert anonymous.get("/static/console.css").status_code == 200


def test_a_token_login_sets_a_signed_httponly_lax_cookie_and_never_shows_the_token(token_base: str) -> None:
    """The session cookie is HttpOnly, SameSite=Lax, scoped to /ui, expiring; no page shows a token."""
    with httpx.Client(base_url=token_base, follow_redirects=False) as client:
        answer = client.post("/login", data={"token": OPERATOR_TOKEN, "name": "otto", "next": "/owned"})
        assert answer.status_code == 303 and answer.headers["location"].endswith("/ui/owned")
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/ui" in cookie and "max-age=43200" in cookie
        assert "secure" not in cookie  # plain http on loopback; behind https it is Secure
        for path in PAGES:
            text = client.get(path).text
            assert OPERATOR_TOKEN not in text and VIEW_TOKEN not in text


def test_a_wrong_token_is_refused_and_a_tampered_cookie_is_ignored(token_base: str) -> None:
    """401 for a wrong token; a cookie whose signature does not match is no session."""
    with httpx.Client(base_url=token_base, follow_redirects=False) as client:
        assert client.post("/login", data={"token": "guess"}).status_code == 401
    with login(token_base, VIEW_TOKEN, "vera") as client:
        name, value = SESSION_COOKIE, client.cookies[SESSION_COOKIE]
    payload, _, signature = value.partition(".")
    for forged in (value[:-2] + ("AA" if not value.endswith("AA") else "BB"), f"{payload}x.{signature}"):
        with httpx.Client(base_url=token_base, follow_redirects=False) as client:
            assert client.get("/", headers={"cookie": f"{name}={forged}"}).status_code == 303
    with httpx.Client(base_url=token_base, follow_redirects=False) as client:
        assert client.get("/", headers={"cookie": f"{name}={value}"}).status_code == 200  # the real one works


def test_logging_out_ends_the_session(viewer: httpx.Client) -> None:
    """POST /logout removes the cookie: the next page asks for a login again."""
    assert viewer.get("/logout").status_code == 200  # a confirm page; GET never logs out
    assert viewer.get("/").status_code == 200
    assert viewer.post("/logout").status_code == 303
    assert viewer.get("/").status_code == 303


@pytest.mark.parametrize("path", ["/actions/adopt?company=comp_globex&feature=feat_seats",
                                  "/actions/release?override=x", "/actions/reconcile?company=comp_acme"])  # fmt: skip
def test_a_viewer_is_refused_every_action(viewer: httpx.Client, path: str) -> None:
    """403 on the confirm page and on the POST itself."""
    assert viewer.get(path).status_code == 403
    kind, _, query = path.removeprefix("/actions/").partition("?")
    form = dict(part.split("=") for part in query.split("&"))
    refused = viewer.post(f"/actions/{kind}", data=form)
    assert refused.status_code == 403 and "Only an operator" in refused.text


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"sec-fetch-site": "cross-site"}, True),
        ({"sec-fetch-site": "same-site"}, True),
        ({"origin": "https://evil.example"}, True),
        ({"origin": "null"}, True),
        ({"sec-fetch-site": "same-origin"}, False),
        ({}, False),  # no browser headers: not a browser
    ],
    ids=["cross-site", "same-site", "foreign-origin", "null-origin", "same-origin", "non-browser"],
)
def test_a_cross_site_post_is_refused(operator: httpx.Client, headers: dict[str, str], refused: bool) -> None:
    """Sec-Fetch-Site (or else Origin) must say the form came from the console itself."""
    answer = operator.post("/mappings/download", data={"name": "x.yaml", "text": "a: 1"}, headers=headers)
    assert (answer.status_code == 403) is refused
    if refused:
        assert "cross-site" in answer.text


def test_the_sso_header_is_believed_from_a_trusted_proxy_only(world: World) -> None:
    """From a trusted address the header names the actor (operators by name); from another it is ignored."""
    trusted = world.serve(PROXY)
    with httpx.Client(base_url=trusted) as client:
        page = client.get("/", headers={"X-Forwarded-User": "olga"})
        assert page.status_code == 200 and "olga" in page.text and "operator" in page.text
        assert (
            client.get("/actions/reconcile?company=comp_acme", headers={"X-Forwarded-User": "vic"}).status_code == 403
        )
    untrusted = world.serve({**PROXY, "CRMSYNC_UI_TRUSTED_PROXIES": "10.9.9.9/32"})
    with httpx.Client(base_url=untrusted) as client:
        assert client.get("/", headers={"X-Forwarded-User": "olga"}).status_code == 403


def test_without_a_login_only_the_person_on_loopback_gets_in(world: World) -> None:
    """No UI variables: the console serves the local person (CRMSYNC_ACTOR) as an operator."""
    with httpx.Client(base_url=world.serve({})) as client:
        page = client.get("/")
        assert page.status_code == 200 and "alice" in page.text and "operator" in page.text


def test_the_company_page_links_each_deal_to_its_crm(viewer: httpx.Client) -> None:
    """HubSpot deals link to the portal's deal page; each contribution names its rule's file:line."""
    page = viewer.get("/companies/comp_acme").text
    assert "https://app.hubspot.com/contacts/62515/record/0-3/1001" in page
    assert "hubspot.yaml:10" in page and "/lightning/r/Opportunity/006000000000101AAA/view" in page


def test_problems_show_the_conflict_and_the_pending_company(viewer: httpx.Client) -> None:
    """The manual Globex override is a conflict; Stark's key without a company is pending."""
    page = viewer.get("/problems").text
    assert "Globex" in page and "hubspot_company_id=5006" in page
    assert "operators may adopt" in page  # a viewer sees no Adopt link


def test_problems_name_a_deal_errors_rule_file_relative_not_by_its_install_path(viewer: httpx.Client) -> None:
    """A deal error's rule is `hubspot.yaml:10` (relative to the mappings folder): the sample's folder,
    an absolute path inside the installed package, is not shown."""
    page = viewer.get("/problems").text
    assert "(rule hubspot.yaml:10, feature &#39;seats&#39;)" in page
    assert str(sample_mappings()) not in page


def test_the_ledger_csv_has_every_owned_override(viewer: httpx.Client) -> None:
    """An attachment with a header row and one row per ledger row, filters kept."""
    answer = viewer.get("/owned.csv")
    assert answer.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:3] == ["override_id", "company_id", "company"] and len(rows) > 5
    acme = list(csv.reader(io.StringIO(viewer.get("/owned.csv", params={"company": "acme"}).text)))
    assert 1 < len(acme) < len(rows) and all(r[1] == "comp_acme" for r in acme[1:])


def test_a_name_cannot_forge_what_a_page_shows(viewer: httpx.Client, world: World) -> None:
    """A company name with a bidi override and a newline is shown with them escaped, never raw."""
    world.data.store.save_companies([("comp_evil", "Evil\u202eCorp\nline", {})], every=False)
    page = viewer.get("/companies", params={"q": "evil"}).text
    assert "Evil\\u202eCorp\\nline" in page and "\u202e" not in page


def test_no_page_shows_a_secret(viewer: httpx.Client, world: World) -> None:
    """Neither the API keys and tokens crmsync runs with nor the console's tokens appear on any page."""
    secrets = [v for k, v in world.env.items() if k.endswith(("_KEY", "_TOKEN", "_SECRET")) and len(v) >= 8]
    assert secrets  # the sandbox's Schematic key and HubSpot token at least
    for path in PAGES:
        page = viewer.get(path).text
        assert not [s for s in [*secrets, VIEW_TOKEN, OPERATOR_TOKEN] if s in page], path


@pytest.mark.parametrize(
    "path", ["/runs?before=²", "/runs?before=" + "9" * 5000, "/owned?after=²", "/runs/" + "9" * 40]
)
def test_a_malformed_page_cursor_or_run_id_is_a_page_not_a_server_error(viewer: httpx.Client, path: str) -> None:
    """A cursor '²' (a digit to isdigit(), not to int()), a 5,000-digit cursor or a run id past the
    database's integer answers a page (the first page, or 'no such run'), never a 500."""
    assert viewer.get(path).status_code in (200, 404)
