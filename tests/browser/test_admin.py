"""The admin screens in a real browser: staff, loan products, the approvals queue with its
maker-checker rule, KYC verification and the end of day; and an agent kept out of them.

Data the screens need is set up through the REST API (tests/browser/api.py); the browser
does what the admin does."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from tests.browser.api import Session, unique_email
from tests.browser.conftest import PHONE, NewContext, PageLog, Screenshot, Web

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page


def log_in(page: Page, email: str, password: str, then: str = "/") -> None:
    from playwright.sync_api import expect

    page.goto(f"/login?next={then}")
    page.get_by_test_id("login").locator("input[name=username]").fill(email)
    page.get_by_test_id("login").locator("input[name=password]").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("who")).to_be_visible()


def log_in_admin(page: Page, web: Web, then: str) -> None:
    log_in(page, web.admin_email, web.admin_password, then)
    page.wait_for_url(f"**{then}")


def reveal(page: Page, item: Locator) -> Locator:
    """Queues list oldest first, a page at a time: load more until ``item`` shows (other
    tests in the session add to the same queues)."""
    from playwright.sync_api import expect

    expect(page.locator(".paged > .loading")).to_have_count(0)
    more = page.get_by_role("button", name="Load more")
    for _ in range(50):
        if item.count() or not more.is_visible():
            break
        more.click()
        page.wait_for_function("() => !document.querySelector('.paged button:disabled')")
    return item


def field(form: Locator, name: str) -> Locator:
    return form.locator(f'[name="{name}"]')


def submit_loan(web: Web, by: Session, borrower_id: str, product: dict[str, Any]) -> Any:
    return web.api.call(
        "POST",
        "/api/v1/loans",
        by,
        expect=201,
        json={
            "borrower_id": borrower_id,
            "product_id": product["id"],
            "principal": {"amount_minor": 123_456, "currency": product["currency"]},
            "installments": product["installments_min"],
        },
    )


def test_admin_creates_an_agent_who_can_log_in(
    page: Page, web: Web, new_context: NewContext, page_log: PageLog, screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    log_in_admin(page, web, "/admin/staff")
    page.get_by_test_id("new-staff").click()
    staff_form = page.get_by_test_id("staff-form")
    email = unique_email("agent")
    password = f"Initial-{uuid.uuid4().hex[:12]}"
    field(staff_form, "full_name").fill("Zawadi Njeri")
    field(staff_form, "role").select_option("AGENT")
    field(staff_form, "phone").fill("not a phone")
    field(staff_form, "branch_id").fill("BR-07")
    field(staff_form, "email").fill(email)
    field(staff_form, "initial_password").fill(password)
    page.get_by_test_id("staff-form-submit").click()
    # The API's refusal lands next to the field it names, and nothing was created.
    expect(staff_form.get_by_test_id("error-phone")).not_to_be_empty()
    expect(field(staff_form, "phone")).to_have_attribute("aria-invalid", "true")
    expect(staff_form.get_by_test_id("error-email")).to_be_empty()

    field(staff_form, "phone").fill("+254711000222")
    page.get_by_test_id("staff-form-submit").click()
    row = page.locator(f'[data-testid="staff-row"][data-email="{email}"]')
    expect(row).to_contain_text("Zawadi Njeri")
    expect(row).to_contain_text("Agent")
    expect(row).to_contain_text("BR-07")
    expect(page.get_by_test_id("staff-form")).to_have_count(0)
    screenshot(page, "admin-staff")

    # The new agent logs in with the initial password and must choose their own.
    agent_page = new_context().new_page()
    log_in(agent_page, email, password)
    expect(agent_page.get_by_test_id("forced-change")).to_be_visible()
    assert [e for e in page_log.errors if e.startswith("uncaught")] == []


def test_admin_edits_deactivates_and_reactivates_staff(page: Page, web: Web) -> None:
    from playwright.sync_api import expect

    record, _ = web.api.create_staff("AGENT", full_name="Baraka Mutua")
    log_in_admin(page, web, "/admin/staff")
    row = page.locator(f'[data-testid="staff-row"][data-email="{record["email"]}"]')
    row.get_by_test_id("edit").click()
    edit = page.get_by_test_id("staff-edit-form")
    field(edit, "full_name").fill("Baraka M. Mutua")
    page.get_by_test_id("staff-edit-form-submit").click()
    expect(row).to_contain_text("Baraka M. Mutua")

    row.get_by_test_id("deactivate").click()
    page.get_by_test_id("deactivate-form-submit").click()
    # A reason is required: said next to the field before anything is sent.
    expect(page.get_by_test_id("deactivate-form").get_by_test_id("error-reason")).not_to_be_empty()
    field(page.get_by_test_id("deactivate-form"), "reason").fill("left the company")
    page.get_by_test_id("deactivate-form-submit").click()
    expect(row).to_have_count(0)  # the list shows active staff by default
    stored = web.api.call("GET", f"/api/v1/staff/{record['id']}", web.api.admin())
    assert (stored["full_name"], stored["active"]) == ("Baraka M. Mutua", False)
    assert stored["deactivation_reason"] == "left the company"

    filters = page.get_by_test_id("staff-filters")
    field(filters, "active").select_option("false")
    page.get_by_test_id("staff-filters-submit").click()
    expect(row).to_contain_text("left the company")
    row.get_by_test_id("reactivate").click()
    expect(row).to_have_count(0)  # gone from the deactivated list
    assert web.api.call("GET", f"/api/v1/staff/{record['id']}", web.api.admin())["active"]


def fill_product(form: Locator, code: str, rate: str) -> None:
    field(form, "code").fill(code)
    field(form, "name").fill("Weekly traders")
    field(form, "currency").fill("KES")
    field(form, "frequency").select_option("WEEKLY")
    field(form, "principal_min").fill("1,000.50")
    field(form, "principal_max").fill("250000")
    field(form, "installments_min").fill("4")
    field(form, "installments_max").fill("26")
    field(form, "interest_method").select_option("FLAT")
    field(form, "annual_rate").fill(rate)
    field(form, "fee.type").select_option("FIXED")
    field(form, "fee.fixed_amount").fill("150")
    field(form, "late_penalty.type").select_option("PERCENT")
    field(form, "late_penalty.percent").fill("2.5")
    field(form, "late_penalty.grace_days").fill("3")


def test_admin_creates_a_product_and_a_bad_rate_is_shown_at_the_rate_field(
    page: Page, web: Web, screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    log_in_admin(page, web, "/admin/products")
    page.get_by_test_id("new-product").click()
    product_form = page.get_by_test_id("product-form")
    # Only the inputs of the chosen charge type show.
    expect(field(product_form, "fee.fixed_amount")).to_be_hidden()
    code = f"WK-{uuid.uuid4().hex[:6].upper()}"
    fill_product(product_form, code, rate="24,5")
    expect(field(product_form, "fee.percent")).to_be_hidden()
    rate_error = product_form.get_by_test_id("error-annual_rate")

    page.get_by_test_id("product-form-submit").click()
    expect(rate_error).to_contain_text("24.5")  # says how to write it
    expect(field(product_form, "annual_rate")).to_have_attribute("aria-invalid", "true")

    # A well-formed rate the API refuses: its message, at the same field.
    field(product_form, "annual_rate").fill("1000")
    page.get_by_test_id("product-form-submit").click()
    expect(rate_error).to_contain_text("below 1000")
    expect(product_form.get_by_test_id("error-code")).to_be_empty()
    screenshot(page, "admin-product-form")

    field(product_form, "annual_rate").fill("24.5")
    page.get_by_test_id("product-form-submit").click()
    row = page.locator(f'[data-testid="product-row"][data-code="{code}"]')
    expect(row.get_by_test_id("product-rate")).to_have_text("24.5%")
    expect(row).to_contain_text("Active")

    listed = web.api.call("GET", "/api/v1/loan-products?page_size=100", web.api.admin())
    (product,) = [p for p in listed["products"] if p["code"] == code]
    assert product["principal_min"] == {"amount_minor": 100_050, "currency": "KES"}
    assert product["principal_max"]["amount_minor"] == 25_000_000
    assert product["fee"]["type"] == "FIXED"
    assert product["fee"]["fixed_amount"]["amount_minor"] == 15_000
    penalty = product["late_penalty"]
    assert (penalty["type"], penalty["percent"], penalty["grace_days"]) == ("PERCENT", "2.5", 3)

    # Edit sends only what changed, with If-Match; deactivate closes it to new loans.
    row.get_by_test_id("edit").click()
    field(page.get_by_test_id("product-form"), "installments_max").fill("30")
    page.get_by_test_id("product-form-submit").click()
    expect(row).to_contain_text("4\N{EN DASH}30 weekly")
    row.get_by_test_id("deactivate").click()
    expect(row).to_contain_text("Inactive")
    expect(row.get_by_test_id("activate")).to_be_visible()


def test_approvals_queue_keeps_maker_and_checker_apart(
    page: Page, web: Web, new_context: NewContext, screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    admin = web.api.admin()
    agent = web.api.ready_staff("AGENT")
    product = web.api.create_product()
    own = submit_loan(web, admin, web.api.create_borrower(agent)["id"], product)
    theirs = submit_loan(web, agent, web.api.create_borrower(agent)["id"], product)
    doomed = submit_loan(web, agent, web.api.create_borrower(agent)["id"], product)

    log_in_admin(page, web, "/admin/approvals")

    def row(loan: dict[str, Any]) -> Locator:
        return page.locator(f'[data-testid="approval-row"][data-loan-id="{loan["id"]}"]')

    own_row, their_row, doomed_row = row(own), row(theirs), reveal(page, row(doomed))
    expect(own_row.get_by_test_id("own-submission")).to_have_text(
        "You submitted this application; another admin must approve it."
    )
    expect(own_row.get_by_test_id("approve")).to_be_disabled()
    expect(own_row.get_by_test_id("submitted-by")).to_have_text("by you")
    expect(their_row.get_by_test_id("own-submission")).to_have_count(0)
    expect(their_row.get_by_test_id("principal")).to_contain_text("1,234.56")
    link = their_row.get_by_test_id("loan-link")
    expect(link).to_have_attribute("href", f"/loans/{theirs['id']}")
    screenshot(page, "admin-approvals")

    their_row.get_by_test_id("approve").click()
    expect(their_row.get_by_test_id("decision")).to_contain_text("Approved")
    assert web.api.call("GET", f"/api/v1/loans/{theirs['id']}", admin)["status"] == "APPROVED"

    doomed_row.get_by_test_id("reject").click()
    doomed_row.get_by_test_id("reject-form-submit").click()
    expect(doomed_row.get_by_test_id("error-reason")).not_to_be_empty()
    field(doomed_row, "reason").fill("income not verified")
    doomed_row.get_by_test_id("reject-form-submit").click()
    expect(doomed_row.get_by_test_id("decision")).to_contain_text("Rejected")
    rejected = web.api.call("GET", f"/api/v1/loans/{doomed['id']}", admin)
    assert (rejected["status"], rejected["rejection_reason"]) == ("REJECTED", "income not verified")

    # A second admin sees the first one's submission as approvable; if the first admin
    # tries anyway (another tab), the API's refusal shows next to the row.
    second = web.api.ready_staff("ADMIN")
    other = new_context().new_page()
    log_in(other, second.email, second.password, "/admin/approvals")
    second_view = reveal(
        other, other.locator(f'[data-testid="approval-row"][data-loan-id="{own["id"]}"]')
    )
    expect(second_view.get_by_test_id("own-submission")).to_have_count(0)
    expect(second_view.get_by_test_id("approve")).to_be_enabled()
    own_row.get_by_test_id("approve").evaluate("b => { b.disabled = false; b.click(); }")
    expect(own_row.locator(".action-error")).to_contain_text("maker-checker")
    second_view.get_by_test_id("approve").click()
    expect(second_view.get_by_test_id("decision")).to_contain_text("Approved")


def test_kyc_queue_verifies_and_rejects_with_a_note(page: Page, web: Web) -> None:
    from playwright.sync_api import expect

    agent = web.api.ready_staff("AGENT")
    good = web.api.create_borrower(agent)
    bad = web.api.create_borrower(agent)
    assert good["kyc_status"] == "PENDING"

    log_in_admin(page, web, "/admin/kyc")
    good_item = page.locator(f'[data-testid="kyc-item"][data-borrower-id="{good["id"]}"]')
    bad_item = reveal(
        page, page.locator(f'[data-testid="kyc-item"][data-borrower-id="{bad["id"]}"]')
    )
    number = good["identity_documents"][0]["number"]
    expect(good_item).to_contain_text(number)

    good_item.get_by_test_id("kyc-form-submit").click()
    expect(good_item.get_by_test_id("kyc-done")).to_contain_text("Verified")

    bad_item.get_by_test_id("kyc-reject").click()
    expect(bad_item.get_by_test_id("error-note")).not_to_be_empty()  # a reason is required
    field(bad_item, "note").fill("photo does not match")
    bad_item.get_by_test_id("kyc-reject").click()
    expect(bad_item.get_by_test_id("kyc-done")).to_contain_text("Rejected")

    admin = web.api.admin()
    assert web.api.call("GET", f"/api/v1/borrowers/{good['id']}", admin)["kyc_status"] == "VERIFIED"
    refused = web.api.call("GET", f"/api/v1/borrowers/{bad['id']}", admin)
    assert (refused["kyc_status"], refused["kyc_note"]) == ("REJECTED", "photo does not match")


def finished_end_of_day(web: Web, seconds: float = 90) -> Any:
    """GET /eod once no run is open (the page polls the same way while one is)."""
    deadline = time.monotonic() + seconds
    while True:
        status = web.api.call("GET", "/api/v1/eod", web.api.admin())
        if status["run"] is None:
            return status
        assert time.monotonic() < deadline, f"end of day still running: {status['run']}"
        time.sleep(0.2)


def test_admin_runs_the_end_of_day_and_sees_the_closed_date(
    page: Page, web: Web, screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    log_in_admin(page, web, "/admin/eod")
    run_form = page.get_by_test_id("eod-form")
    # Catch up: whatever other tests closed before, this closes every date up to today.
    field(run_form, "catch_up").check()
    page.get_by_test_id("eod-form-submit").click()
    # Started, or (when another test closed today already) nothing left to run.
    expect(page.get_by_test_id("eod-outcome")).to_contain_text(re.compile("started|already closed"))
    status = finished_end_of_day(web)
    assert status["last_closed_date"]
    closed = page.get_by_test_id("eod-last-closed")
    expect(closed).to_have_attribute("datetime", status["last_closed_date"])
    expect(page.get_by_test_id("eod-loans")).to_contain_text(
        str(status["last_closed"]["loans_processed"])
    )
    screenshot(page, "admin-eod")

    # Refusals show the API's message: a future date at the date field, an earlier date
    # (dates close in order) above the form.
    last = dt.date.fromisoformat(status["last_closed_date"])
    field(run_form, "catch_up").uncheck()
    field(run_form, "date").fill((last + dt.timedelta(days=3)).isoformat())
    page.get_by_test_id("eod-form-submit").click()
    expect(run_form.get_by_test_id("error-date")).to_contain_text("in the future")
    field(run_form, "date").fill((last - dt.timedelta(days=30)).isoformat())
    page.get_by_test_id("eod-form-submit").click()
    expect(run_form.locator(".form-error")).to_contain_text("dates close in order")
    expect(closed).to_have_attribute("datetime", status["last_closed_date"])


def test_an_agent_cannot_reach_admin_pages(
    new_context: NewContext, web: Web, screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    agent = web.api.ready_staff("AGENT")
    page = new_context(viewport=PHONE).new_page()
    log_in(page, agent.email, agent.password)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Loans")).to_be_attached()
    expect(nav.locator('a[href^="/admin"]')).to_have_count(0)

    page.goto("/admin/staff")  # typed into the address bar: a full page load
    expect(page.get_by_test_id("forbidden")).to_contain_text("Not allowed")
    expect(page.get_by_test_id("staff")).to_have_count(0)
    expect(nav.locator('a[href^="/admin"]')).to_have_count(0)
    screenshot(page, "agent-not-allowed")
