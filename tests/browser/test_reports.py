"""The reports screen (/reports) in a real browser, on a demo portfolio.

`microfinance demo-data` builds the portfolio (two agents, KES and USD loans, repayments,
every past date closed by the end of day). Demo data goes only into an empty deployment, so
this module runs a stack of its own rather than the session's shared one (whose loans other
tests create in any order). The admin's figures match the API's JSON, the charts draw, a
CSV arrives with its header row, a date that is not closed is refused at its picker, and an
agent sees their own portfolio only.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.browser.api import Api, Session
from tests.browser.conftest import (
    DEFAULT_TIMEOUT_MS,
    PHONE,
    PageLog,
    Screenshot,
    Web,
    block_external,
)
from tests.up_stack import ADMIN_EMAIL, ADMIN_PASSWORD, PY, SERVING, UpProcess, up_env

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Response

DEMO_PASSWORD = "demo-password"  # demo-data's default for its logins
AGENT_EMAIL = "agent001@demo.example.org"
AGING_HEADER = (
    "as_of,currency,bucket,min_days,max_days,loan_count,outstanding_principal,"
    "arrears_amount,percent"
)
# True once the canvas holds a drawn pixel (Chart.js draws after its script has loaded).
DRAWN = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width || !canvas.height) return false;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) return true;
  return false;
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """Six processes of this module's own, seeded with demo data and closed up to
    yesterday; yields once reporting has projected the last closed date."""
    workdir = tmp_path_factory.mktemp("reports-up")
    env = up_env(workdir / "data")
    env["MF_LOGIN_RATE_LIMIT_PER_MINUTE"] = "10000"
    up = UpProcess.start(workdir, "--stop-timeout", "20", env=env)
    try:
        up.read_until(SERVING, 240)
        # The CLI outside `up` reaches the embedded stand-ins through their URLs.
        cli_env = {
            **env,
            "MF_MONGO_URL": f"mongodb://127.0.0.1:{env['MF_EMBEDDED_MONGO_PORT']}/?directConnection=true",
            "MF_ES_URL": f"http://127.0.0.1:{env['MF_EMBEDDED_ES_PORT']}",
        }
        seed = subprocess.run(
            [PY, "-m", "microfinance_cli", "demo-data", "--borrowers", "16", "--loans", "20",
             "--days", "35", "--agents", "2", "--no-search"],
            env=cli_env, cwd=workdir, capture_output=True, text=True, timeout=300, check=False,
        )
        assert seed.returncode == 0, seed.stdout + seed.stderr
        api = Api(up.gateway_url, ADMIN_EMAIL, ADMIN_PASSWORD)
        try:
            _wait_for_reports(api)
            yield Web(up.gateway_url, ADMIN_EMAIL, ADMIN_PASSWORD, api)
        finally:
            api.close()
        up.interrupt(timeout=60)
    finally:
        up.stop()


def _wait_for_reports(api: Api) -> None:
    """Reporting builds its read models from the end of day's events: poll until its
    latest closed date is the one loan_service closed last."""
    admin = api.admin()
    closed = api.call("GET", "/api/v1/eod", admin)["last_closed_date"]
    assert closed, "demo-data closed no date"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        r = api.http.get("/api/v1/reports/portfolio", headers=admin.headers)
        if r.status_code == 200 and r.json()["summaries"][0]["as_of_date"] == closed:
            return
        time.sleep(0.5)
    raise AssertionError(f"reports never reached {closed}: {r.status_code} {r.text}")


@pytest.fixture
def failed() -> list[str]:
    """The requests answered 4xx or 5xx in this test, "401 /api/v1/...": the page's console
    names only the status."""
    return []


@pytest.fixture
def open_reports(
    browser: Browser, demo: Web, page_log: PageLog, failed: list[str]
) -> Iterator[Any]:
    """open_reports(email, password, path="/reports", **context_options) -> Page, logged in
    through the login screen and showing the reports' first figures."""
    made: list[BrowserContext] = []

    def open_(email: str, password: str, path: str = "/reports", **options: Any) -> Page:
        context = browser.new_context(base_url=demo.base_url, locale="en-US", **options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        block_external(context, demo, page_log)
        context.on("page", page_log.watch)
        made.append(context)
        page = context.new_page()

        def on_response(response: Response) -> None:
            if response.status >= 400:
                failed.append(f"{response.status} {urlsplit(response.url).path}")

        page.on("response", on_response)
        page.goto(f"/login?next={path}")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_test_id("login-submit").click()
        page.get_by_test_id("summary").wait_for()
        return page

    yield open_
    for context in made:
        context.close()


def amount(value: dict[str, Any]) -> str:
    """A Money of a 2-digit currency as the page writes it in en-US: "KES 1,234.50"."""
    units, cents = divmod(int(value["amount_minor"]), 100)
    return f"{value['currency']} {units:,}.{cents:02d}"


def tile(page: Page, name: str) -> str:
    text = page.get_by_test_id(f"stat-{name}").locator(".value").inner_text()
    return " ".join(text.split())  # the no-break space and a phone's line break alike


def summary_of(api: Api, session: Session, currency: str, **params: str) -> dict[str, Any]:
    body = api.call("GET", "/api/v1/reports/portfolio", session, params=params)
    return next(s for s in body["summaries"] if s["currency"] == currency)


def test_admin_sees_the_figures_charts_and_a_csv(
    open_reports: Any, demo: Web, page_log: PageLog, failed: list[str], screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    api, admin = demo.api, demo.api.admin()
    closed = api.call("GET", "/api/v1/eod", admin)["last_closed_date"]
    page = open_reports(ADMIN_EMAIL, ADMIN_PASSWORD)

    # The as-of picker starts on the last closed date; the figures are the API's.
    as_of = page.get_by_label("As of")
    expect(as_of).to_have_value(closed)
    kes = summary_of(api, admin, "KES", as_of=closed)
    expect(page.get_by_test_id("stat-active-loans").locator(".value")).to_have_text(
        str(kes["active_loans"])
    )
    assert tile(page, "outstanding") == amount(kes["outstanding_principal"])
    assert tile(page, "collected") == amount(kes["collected_amount"])
    par30 = next(p for p in kes["par"] if p["threshold_days"] == 30)
    assert tile(page, "par30") == f"{par30['percent']}%"

    # The loans behind PAR1, each linking to its loan page.
    page.get_by_test_id("par-threshold").select_option("1")
    at_risk = api.call(
        "GET", "/api/v1/reports/par/loans", admin,
        params={"threshold": "1", "as_of": closed, "currency": "KES", "page_size": 25},
    )["loans"]
    links = page.get_by_test_id("par-loans-table").locator("tbody tr td:first-child a")
    expect(links).to_have_count(len(at_risk))
    if at_risk:
        expect(links.first).to_have_attribute("href", f"/loans/{at_risk[0]['loan_id']}")
        expect(links.first).to_have_text(at_risk[0]["loan_number"])

    # Two currencies: one at a time, never added up. USD shows USD's own figures.
    currency = page.get_by_label("Currency")
    expect(currency).to_be_visible()
    currency.select_option("USD")  # applies at once
    usd = summary_of(api, admin, "USD", as_of=closed)
    expect(page.get_by_test_id("stat-outstanding")).to_contain_text(
        amount(usd["outstanding_principal"]).split(" ", 1)[1]
    )
    assert tile(page, "outstanding") == amount(usd["outstanding_principal"])
    assert "currency=USD" in page.url

    # Every chart draws on its canvas, the admin's per-agent bars included.
    for chart in ("par30", "outstanding", "aging", "flows", "agents"):
        page.wait_for_function(DRAWN, arg=f"[data-testid=chart-{chart}]")
    agents = api.call(
        "GET", "/api/v1/reports/agents", admin, params={"as_of": closed, "currency": "USD"}
    )["rows"]
    expect(page.get_by_test_id("agents-table").locator("tbody tr")).to_have_count(len(agents))
    screenshot(page, "reports-admin")

    # A CSV download arrives, named for its date, with the report's header row.
    with page.expect_download() as info:
        page.get_by_test_id("csv-aging").click()
    download = info.value
    assert download.suggested_filename == f"aging-{closed}.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == AGING_HEADER
    assert all(line.split(",")[1] == "USD" for line in lines[1:]), "the file is the shown currency"
    # An admin narrows every report to one agent: the figures are that agent's.
    agent = agents[0]
    page.get_by_label("Agent", exact=True).select_option(agent["agent_id"])  # applies at once
    expect(page.get_by_test_id("agents-table").locator("tbody tr")).to_have_count(1)
    theirs = summary_of(api, admin, "USD", as_of=closed, agent_id=agent["agent_id"])
    expect(page.get_by_test_id("stat-active-loans").locator(".value")).to_have_text(
        str(theirs["active_loans"])
    )
    assert tile(page, "outstanding") == amount(theirs["outstanding_principal"])
    assert f"agent_id={agent['agent_id']}" in page.url

    assert page_log.blocked == []
    # The one refusal: the page load's quiet refresh, before any login cookie existed.
    assert failed == ["401 /api/v1/auth/refresh"]
    assert [e for e in page_log.errors if "status of 401" not in e] == []


def test_a_date_not_closed_is_refused_at_its_picker(open_reports: Any, demo: Web) -> None:
    from playwright.sync_api import expect

    closed = demo.api.call("GET", "/api/v1/eod", demo.api.admin())["last_closed_date"]
    page = open_reports(ADMIN_EMAIL, ADMIN_PASSWORD)
    # The day after the last closed one (today) has not been closed.
    day_after = (dt.date.fromisoformat(closed) + dt.timedelta(days=1)).isoformat()
    page.get_by_label("As of").fill(day_after)
    # ... and a range that ends before it starts: both pickers say what is wrong.
    page.get_by_label("From").fill(day_after)
    page.get_by_test_id("report-filters-submit").click()
    expect(page.get_by_test_id("error-as_of")).to_have_text(
        f"{day_after} is not a closed business date"
    )
    expect(page.get_by_label("As of")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("error-from")).to_contain_text(f"{day_after} is after to")
    expect(page.get_by_test_id("summary")).to_have_count(0)

    # Back on the closed date, the figures return and the errors go.
    page.get_by_label("As of").fill(closed)
    page.get_by_label("From").fill(closed)
    page.get_by_test_id("report-filters-submit").click()
    expect(page.get_by_test_id("summary")).to_be_visible()
    expect(page.get_by_test_id("error-as_of")).to_have_text("")
    assert f"as_of={closed}" in page.url


def test_an_agent_sees_only_their_portfolio(
    open_reports: Any, demo: Web, screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    api, admin = demo.api, demo.api.admin()
    agent = api.login(AGENT_EMAIL, DEMO_PASSWORD)
    me = api.call("GET", "/api/v1/me", agent)["staff"]
    closed = api.call("GET", "/api/v1/eod", admin)["last_closed_date"]
    everyone = summary_of(api, admin, "KES", as_of=closed)
    mine = summary_of(api, agent, "KES", as_of=closed)
    assert mine["active_loans"] < everyone["active_loans"], "the demo agent holds part of it"
    others = [
        s["id"]
        for s in api.call("GET", "/api/v1/staff", admin, params={"role": "AGENT"})["staff"]
        if s["id"] != me["id"]
    ]

    # Another agent's id in the address changes nothing: the API scopes by the token.
    elsewhere = f"/reports?agent_id={others[0]}"
    page = open_reports(AGENT_EMAIL, DEMO_PASSWORD, elsewhere, viewport=PHONE)
    expect(page.get_by_role("heading", name="My portfolio")).to_be_visible()
    expect(page.get_by_test_id("stat-active-loans").locator(".value")).to_have_text(
        str(mine["active_loans"])
    )
    assert tile(page, "outstanding") == amount(mine["outstanding_principal"])
    expect(page.get_by_label("Agent")).to_have_count(0)

    rows = page.get_by_test_id("agents-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").first).to_have_text(me["full_name"])
    efficiency = page.get_by_test_id("efficiency-table").locator("tbody tr")
    expect(efficiency.first.locator("td").first).to_have_text(me["full_name"])
    assert efficiency.count() == 1
    expect(page.get_by_test_id("chart-agents")).to_have_count(0)
    page.wait_for_function(DRAWN, arg="[data-testid=chart-aging]")
    # A phone shows it all without sideways scrolling of the page (tables scroll inside).
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "reports-agent-phone")
