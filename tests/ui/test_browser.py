"""The console in a real browser: Debian's Chromium driven by Playwright, against the console served
over the sample sandbox. Each flow checks what a person sees, runs axe-core on every page (no serious
or critical violation), fails on anything the CSP refused, and writes a screenshot of each page to
.ci/screenshots/ (kept by CI, ignored by git); with UPDATE_SCREENSHOTS=1 to tests/ui/screenshots/,
the ones the README shows (scripts/console-screenshots regenerates them).

Without /usr/bin/chromium these tests skip (install it with `apt-get install -y chromium`), except
under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from crmsync.sandbox.serve import serve_app
from tests.ui.conftest import OPERATOR_TOKEN, PROXY, TOKENS, VIEW_TOKEN, World

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]  # fmt: skip
SHOTS = (
    Path(__file__).parent / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(__file__).parents[2] / ".ci" / "screenshots"
)

if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (CI must run the browser tests)")
    pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium", allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe  # noqa: E402 - only once Chromium is known to exist
from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


class Visit:
    """A page of a browser context that fails on CSP refusals and checks each page it shows."""

    def __init__(self, page: Page, *, scripts: bool = True) -> None:
        self.page, self.scripts = page, scripts  # axe needs JavaScript: without it, pages are checked elsewhere
        page.set_default_timeout(15_000)
        self.refused: list[str] = []
        page.on("console", lambda m: self.refused.append(m.text) if "Content Security Policy" in m.text else None)

    def check(self, name: str) -> None:
        """No CSP refusal, no serious/critical axe violation; a full-page screenshot as NAME.png."""
        assert not self.refused, self.refused
        if self.scripts:
            results = Axe().run(self.page)
            bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
            assert not bad, results.generate_report()
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:
    """A fresh browser context (no cookies), JavaScript on."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield Visit(context.new_page())
    context.close()


def log_in(v: Visit, base: str, token: str, name: str) -> None:
    """Fill in and send the login form."""
    v.page.goto(f"{base}/")
    assert v.page.url.endswith("/ui/login?next=/")
    v.check("login")
    v.page.fill("#name", name)
    v.page.fill("#token", token)
    v.page.click("button[type=submit]")


def test_log_in_with_a_token_and_see_every_page(visit: Visit, token_base: str) -> None:
    """A viewer logs in and reads Overview, Runs, a run, Problems and Owned overrides."""
    log_in(visit, token_base, VIEW_TOKEN, "vera")
    page = visit.page
    assert "Logged in as vera (viewer)" in page.inner_text("main") and "Sync status" in (
        page.text_content("main") or ""
    )
    visit.check("overview")
    page.click("nav >> text=Runs")
    assert "alice" in page.inner_text("table")
    visit.check("runs")
    page.click("table >> text=#1 apply")
    assert "Initiated by" in page.inner_text("main")
    visit.check("run")
    for nav, name in (("Problems", "problems"), ("Owned overrides", "owned")):
        page.click(f"nav >> text={nav}")
        visit.check(name)


def test_log_in_through_the_sso_proxy(browser: Browser, world: World) -> None:
    """With the proxy's header (from a trusted address) the console knows olga, an operator, without a form."""
    context = browser.new_context(extra_http_headers={"X-Forwarded-User": "olga"})
    v = Visit(context.new_page())
    v.page.goto(f"{world.serve(PROXY)}/")
    assert "olga" in v.page.inner_text("header") and "operator" in v.page.inner_text("header")
    context.close()


def test_find_a_company_and_follow_a_deal_to_its_rule_and_crm(visit: Visit, token_base: str) -> None:
    """Search Acme, open it: each deal links to HubSpot or Salesforce and names its rule's file:line."""
    log_in(visit, token_base, VIEW_TOKEN, "vera")
    page = visit.page
    page.click("nav >> text=Companies")
    page.fill("#q", "acme")
    page.click("form[role=search] button")
    visit.check("companies")
    page.click("table >> text=Acme Corp")
    visit.check("company")
    deal = page.locator("a", has_text="Acme — 30 seats").first
    assert deal.get_attribute("href") == "https://app.hubspot.com/contacts/62515/record/0-3/1002"
    row = page.locator("tr", has=deal)
    assert "hubspot.yaml:10" in row.inner_text() and "closedwon" in row.inner_text()


def test_a_company_page_shows_what_the_customer_can_actually_use(visit: Visit, token_base: str) -> None:
    """Acme's Starter plan gives 20 seats, its override 50: the override grants the 50 Acme can use; its
    API-call override expires at the end of 2027, after which the plan's 10000 a month is left."""
    log_in(visit, token_base, VIEW_TOKEN, "vera")
    visit.page.goto(f"{token_base}/companies/comp_acme")
    table = visit.page.locator("table.effective")
    seats = [
        c.strip()
        for c in table.locator("tr", has=visit.page.locator("th", has_text="Seats")).locator("td").all_inner_texts()
    ]
    assert seats[0] == "20 (Starter)" and seats[3] == "50" and seats[4] == "override"
    calls = table.locator("tr", has=visit.page.locator("th", has_text="API calls")).inner_text()
    assert "2027-12-31 23:59Z, then 10000 /current_month" in calls
    visit.page.locator("#effective").scroll_into_view_if_needed()
    visit.check("company-effective")


def test_paste_a_mapping_with_a_typo_and_see_it_located(visit: Visit, token_base: str) -> None:
    """The editor shows the misspelt key under its line, with file:line:col."""
    log_in(visit, token_base, VIEW_TOKEN, "vera")
    page = visit.page
    page.click("nav >> text=Mappings")
    visit.check("mappings")
    text = page.input_value("#text").replace("    type: numeric\n    from: seats", "    typ: numeric\n    from: seats")
    page.fill("#text", text)
    page.click("text=Check this file")
    problem = page.locator(".problem").first
    assert "hubspot.yaml:" in problem.inner_text() and "typ" in problem.inner_text()
    visit.check("mappings-check")


def test_paste_a_valid_edit_and_see_its_preview_with_effective_entitlements(visit: Visit, token_base: str) -> None:
    """Dropping the SSO rule: the preview lists Umbrella's SSO delete, on from its override → off from the
    Starter plan, says how old its deals are, and lists what changes anyway on its own."""
    log_in(visit, token_base, VIEW_TOKEN, "vera")
    page = visit.page
    page.click("nav >> text=Mappings")
    sso = '  - feature: SSO\n    type: boolean\n    value: true\n    when:\n      sso_addon: ["true", "yes"]\n'
    text = page.input_value("#text")
    assert sso in text
    page.fill("#text", text.replace(sso, ""))
    page.click("text=Check this file")
    assert "deals from the deal snapshot, last read: hubspot" in page.inner_text("p.age")
    edit = page.locator("table.changes.edit tbody tr", has_text="Umbrella")
    cells = edit.locator("td").all_inner_texts()
    assert cells[0] == "delete" and cells[2] == "SSO" and cells[3].strip() == "on → none"
    assert cells[4].startswith("on from override cmov_") and cells[4].strip().endswith("→ off from plan Starter")
    assert page.locator("table.changes.pending caption").inner_text().startswith("What would change anyway")
    page.locator("#preview").scroll_into_view_if_needed()
    visit.check("mappings-preview")


def test_as_a_viewer_every_action_is_refused(visit: Visit, token_base: str) -> None:
    """A viewer opening an action gets the 403 page."""
    log_in(visit, token_base, VIEW_TOKEN, "vera")
    answer = visit.page.goto(f"{token_base}/actions/reconcile?company=comp_acme")
    assert answer is not None and answer.status == 403 and "Only an operator" in visit.page.inner_text("main")
    visit.check("forbidden")


def test_a_cross_site_form_is_refused(visit: Visit, token_base: str) -> None:
    """A form on another site posting to the console, sent by a logged-in operator's browser, gets 403."""
    log_in(visit, token_base, OPERATOR_TOKEN, "otto")

    async def evil(_request: Request) -> HTMLResponse:
        return HTMLResponse(f'<form method="post" action="{token_base}/actions/release">'
                            '<input name="override" value="cmov_x"><button>Win a prize</button></form>')  # fmt: skip

    with serve_app(Starlette(routes=[Route("/", evil)]), hostname="localhost") as site:
        visit.page.goto(f"{site.url}/")
        with visit.page.expect_navigation():
            visit.page.click("text=Win a prize")
        assert "Refused: a cross-site request" in visit.page.content()


def test_an_operator_acts_without_javascript_and_sees_their_name_on_the_run(browser: Browser, tmp_path: Path) -> None:
    """With JavaScript off: adopt the Globex conflict (confirm, then POST), land on Runs, see otto's run."""
    from tests.ui.conftest import make_world

    for world in make_world(tmp_path):
        base = world.serve(TOKENS)
        context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
        v = Visit(context.new_page(), scripts=False)
        log_in(v, base, OPERATOR_TOKEN, "otto")
        page = v.page
        page.click("nav >> text=Problems")
        page.click("text=Adopt…")
        confirm = page.url
        assert "Adopt?" in page.inner_text("h1") and "otto" in page.inner_text("main")
        page.click("button.act")
        assert "Adopted 1 override(s)" in page.inner_text("main")
        page.click("table >> text=adopt")
        run = page.url
        assert "otto" in page.inner_text("main") and "console" in page.inner_text("main")
        context.close()
        checked = browser.new_context(viewport={"width": 1280, "height": 800})  # axe (JavaScript) on both pages
        a = Visit(checked.new_page())
        log_in(a, base, OPERATOR_TOKEN, "otto")
        for url, name in ((confirm, "confirm"), (run, "run-adopt")):
            a.page.goto(url)
            a.check(name)
        checked.close()


def test_as_an_operator_approve_withheld_changes_and_see_the_actor_in_the_run(browser: Browser, tmp_path: Path) -> None:
    """Every HubSpot deal lost: the apply's deletes are withheld; otto approves them from Problems (confirm,
    then POST) and lands on the approve run, initiated by otto."""
    from tests.e2e.conftest import Harness
    from tests.ui.conftest import make_world

    for world in make_world(tmp_path):
        lost = {"closedwon": "closedlost", "ent_won": "ent_lost"}
        for deal_id, deal in list(world.sb.hubspot.deals.items()):
            if deal.properties.get("dealstage", "") in lost:
                world.sb.hubspot.update_deal(deal_id, dealstage=lost[deal.properties["dealstage"]])
        Harness(world.sb, world.settings()).apply()
        base = world.serve(TOKENS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        v = Visit(context.new_page())
        log_in(v, base, OPERATOR_TOKEN, "otto")
        page = v.page
        page.click("nav >> text=Problems")
        assert "hubspot returned no deals" in page.inner_text("#withheld + ul")
        v.check("problems-withheld")
        page.click("text=Approve withheld changes…")
        assert "Approve withheld changes?" in page.inner_text("h1") and "hubspot returned no deals" in page.inner_text(
            "main"
        )
        v.check("confirm-approve")
        page.click("button.act")
        assert "/ui/runs/" in page.url and "Approved by otto" in page.inner_text("main")
        facts = page.inner_text("main")
        assert "otto" in facts and "approve" in facts
        v.check("run-approve")
        context.close()
