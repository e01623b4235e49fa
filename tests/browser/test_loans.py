"""Loans in the browser: the application form's live preview, maker-checker on the loan
page, approval and disbursement by another admin, the schedule, and a reversal.

Setup goes through the REST API (tests/browser/api.py); the browser does what the person
does. Each user has their own browser context (their own refresh cookie)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from tests.browser.api import Session

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import NewContext, PageLog, Screenshot, Web

# The product from tests/e2e/test_gateway_loans.py: USD 500.00 to 10,000.00, 3 to 24
# monthly installments, 18% declining balance, 2% upfront fee.
MIN_PRINCIPAL = 50_000
MAX_PRINCIPAL = 1_000_000


@dataclass
class People:
    admin: Session  # the first admin
    other_admin: Session
    agent: Session
    agent_name: str
    product: dict[str, Any]
    borrower: dict[str, Any]


def shown(amount_minor: int) -> str:
    """How a USD amount's digits read on the page ("2,448.12"), whatever the locale's symbol."""
    return f"{amount_minor // 100:,}.{amount_minor % 100:02d}"


@pytest.fixture(scope="module")
def people(web: Web) -> People:
    api = web.api
    admin = api.admin()
    other_admin = api.ready_staff("ADMIN")
    agent = api.ready_staff("AGENT")
    me = api.call("GET", "/api/v1/me", agent)["staff"]
    product = api.create_product(
        name=f"Shop stock {uuid.uuid4().hex[:4]}", max_active_loans_per_borrower=20
    )
    borrower = api.create_borrower(agent, first_name="Neema", last_name="Achieng")
    # Disbursement needs KYC VERIFIED, an admin's decision.
    api.call("POST", f"/api/v1/borrowers/{borrower['id']}/kyc", admin,
             json={"status": "VERIFIED", "note": "documents seen"})  # fmt: skip
    return People(admin, other_admin, agent, me["full_name"], product, borrower)


def open_as(page: Page, who: Session, path: str) -> None:
    """Log in on the login page and land on ``path`` (the login screen's ?next=)."""
    page.goto(f"/login?next={quote(path)}")
    page.get_by_test_id("login").locator("input[name=username]").fill(who.email)
    page.get_by_test_id("login").locator("input[name=password]").fill(who.password)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("who").wait_for()
    page.wait_for_url(re.compile(re.escape(path.split("?")[0]) + r"(\?.*)?$"))


def submit_loan(web: Web, who: Session, people: People, **body: Any) -> dict[str, Any]:
    payload = {
        "borrower_id": people.borrower["id"],
        "product_id": people.product["id"],
        "principal": {"amount_minor": 300_000, "currency": "USD"},
        "installments": 6,
        **body,
    }
    return dict(web.api.call("POST", "/api/v1/loans", who, expect=201, json=payload))


def preview_total(web: Web, who: Session, people: People, minor: int, count: int) -> int:
    body = {"principal": {"amount_minor": minor, "currency": "USD"}, "installments": count}
    result = web.api.call(
        "POST", f"/api/v1/loan-products/{people.product['id']}/preview", who, json=body
    )
    return int(result["totals"]["total_repayable"]["amount_minor"])


def preview_rows(page: Page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=preview-rows] tbody tr').length === n",
        arg=count,
    )


def test_agent_applies_seeing_the_preview_follow_the_terms(
    web: Web, page: Page, people: People, screenshot: Screenshot, page_log: PageLog
) -> None:
    open_as(page, people.agent, f"/loans/new?borrower={people.borrower['id']}")
    form = page.get_by_test_id("loan-form")
    assert "Neema Achieng" in page.get_by_test_id("borrower-chosen").inner_text()
    form.locator("select[name=product_id]").select_option(people.product["id"])
    assert shown(MIN_PRINCIPAL) in page.get_by_test_id("principal-bounds").inner_text()
    assert shown(MAX_PRINCIPAL) in page.get_by_test_id("principal-bounds").inner_text()
    assert "3 to 24 monthly" in page.get_by_test_id("installments-bounds").inner_text()

    principal = form.locator("input[name=principal]")
    installments = form.locator("input[name=installments]")
    principal.fill("1,200.50")
    installments.fill("6")
    preview_rows(page, 6)
    total = page.get_by_test_id("preview-total")
    expected = preview_total(web, people.agent, people, 120_050, 6)
    assert shown(expected) in total.inner_text()

    installments.fill("12")  # more installments: more rows, more interest
    preview_rows(page, 12)
    longer = preview_total(web, people.agent, people, 120_050, 12)
    assert longer != expected
    page.wait_for_function(
        "t => document.querySelector('[data-testid=preview-total]').textContent.includes(t)",
        arg=shown(longer),
    )
    principal.fill("2400")  # a larger principal: the same rows, a larger total
    bigger = preview_total(web, people.agent, people, 240_000, 12)
    page.wait_for_function(
        "t => document.querySelector('[data-testid=preview-total]').textContent.includes(t)",
        arg=shown(bigger),
    )
    screenshot(page, "loan-application")

    # Out of the product's range: the API's refusal sits under the principal field.
    principal.fill("20,000")
    page.get_by_test_id("loan-form-submit").click()
    error = page.get_by_test_id("error-principal")
    error.wait_for()
    assert "between" in error.inner_text()
    assert page.locator("input[name=principal][aria-invalid=true]").count() == 1

    principal.fill("2,400.00")
    form.locator("input[name=purpose]").fill("Stock for the shop")
    page.get_by_test_id("loan-form-submit").click()
    page.wait_for_url(re.compile(r"/loans/[A-Za-z0-9_-]+$"))
    assert page.get_by_test_id("loan-status").inner_text() == "Submitted"
    assert "(you)" in page.get_by_test_id("timeline-submitted").inner_text()
    # An agent withdraws; only admins decide.
    assert page.get_by_test_id("withdraw").is_visible()
    assert page.get_by_test_id("approve").count() == 0
    loan_id = page.url.rsplit("/", 1)[1]
    loan = web.api.call("GET", f"/api/v1/loans/{loan_id}", people.agent)
    assert loan["principal"] == {"amount_minor": 240_000, "currency": "USD"}
    assert loan["installments"] == 12
    assert loan["purpose"] == "Stock for the shop"
    assert not [e for e in page_log.errors if e.startswith("uncaught")]


def test_the_submitter_cannot_approve_and_the_reason_is_shown(
    web: Web, page: Page, people: People
) -> None:
    loan = submit_loan(web, people.other_admin, people)
    open_as(page, people.other_admin, f"/loans/{loan['id']}")
    approve = page.get_by_test_id("approve")
    assert approve.is_disabled()
    assert page.get_by_test_id("approve-blocked").inner_text() == (
        "You submitted this application; another admin must approve it."
    )
    # The API refuses it too: forced past the disabled button, its reason shows beside it.
    approve.evaluate("button => { button.disabled = false; }")
    approve.click()
    refusal = page.locator(".action-error").first
    refusal.wait_for()
    assert "maker-checker" in refusal.inner_text()
    assert web.api.call("GET", f"/api/v1/loans/{loan['id']}", people.admin)["status"] == "SUBMITTED"


def test_another_admin_approves_and_disburses_and_the_schedule_shows_its_rows(
    web: Web, new_context: NewContext, people: People, screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    loan = submit_loan(web, people.agent, people, installments=4)
    page = new_context().new_page()
    open_as(page, people.admin, f"/loans/{loan['id']}")
    assert people.agent_name in page.get_by_test_id("timeline-submitted").inner_text()

    # Someone else acts first: the stale page's approval is a 409 that says to reload.
    web.api.call("POST", f"/api/v1/loans/{loan['id']}/approve", people.other_admin, json={})
    page.get_by_test_id("approve").click()
    page.get_by_test_id("reload").wait_for()
    assert "Reload the page" in page.get_by_test_id("conflict").inner_text()
    page.get_by_test_id("reload").click()
    page.get_by_test_id("disburse").wait_for()
    assert page.get_by_test_id("loan-status").inner_text() == "Approved"
    assert page.get_by_test_id("timeline-approved").is_visible()

    first_due = (datetime.now(UTC).date() + timedelta(days=20)).isoformat()
    page.get_by_test_id("disburse").click()
    panel = page.get_by_test_id("disburse-form")
    panel.locator("input[name=first_repayment_date]").fill(first_due)
    page.get_by_test_id("disburse-form-submit").click()
    page.get_by_test_id("summary-outstanding").wait_for()
    assert page.get_by_test_id("loan-status").inner_text() == "Active"
    assert page.get_by_test_id("timeline-disbursed").is_visible()

    schedule = web.api.call("GET", f"/api/v1/loans/{loan['id']}/schedule", people.admin)
    assert len(schedule["rows"]) == 4
    assert schedule["rows"][0]["due_date"] == first_due
    rows = page.get_by_test_id("schedule").locator("tbody tr")
    # The schedule, transactions and payoff load after the page: wait for each, with expect.
    expect(rows).to_have_count(4)
    for i, row in enumerate(schedule["rows"]):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == str(row["number"])
        assert shown(row["total_due"]["amount_minor"]) in cells.nth(6).inner_text()
        assert cells.nth(8).inner_text().strip().startswith("Pending")
    outstanding = page.get_by_test_id("summary-outstanding").inner_text()
    assert shown(schedule["totals"]["total_repayable"]["amount_minor"]) in outstanding
    expect(page.get_by_test_id("transactions")).to_contain_text("Disbursement")
    expect(page.get_by_test_id("payoff-total")).to_be_visible()
    screenshot(page, "loan-detail")


def test_an_admin_reverses_a_payment_with_a_reason(web: Web, page: Page, people: People) -> None:
    loan = submit_loan(web, people.agent, people)
    api = web.api
    api.call("POST", f"/api/v1/loans/{loan['id']}/approve", people.other_admin, json={})
    api.call("POST", f"/api/v1/loans/{loan['id']}/disburse", people.other_admin, json={})
    paid = api.call(
        "POST", "/api/v1/payments", people.agent, expect=201,
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={"loan_id": loan["id"], "amount": {"amount_minor": 12_345, "currency": "USD"},
              "channel": "CASH"},
    )  # fmt: skip
    open_as(page, people.admin, f"/loans/{loan['id']}")
    page.get_by_test_id("transactions").get_by_test_id("reverse").click()
    form = page.get_by_test_id("reverse-form")
    page.get_by_test_id("reverse-form-submit").click()  # no reason: refused here, inline
    assert form.get_by_test_id("error-reason").inner_text() != ""
    form.locator("textarea[name=reason]").fill("Posted to the wrong loan")
    page.get_by_test_id("reverse-form-submit").click()
    page.get_by_test_id("transactions").get_by_text("Reversed").first.wait_for()
    assert page.get_by_test_id("transactions").get_by_test_id("reverse").count() == 0
    payment = api.call("GET", f"/api/v1/payments/{paid['id']}", people.admin)
    assert payment["status"] == "REVERSED"


def test_the_list_filters_by_status_and_links_to_the_loan(
    web: Web, page: Page, people: People
) -> None:
    loan = submit_loan(web, people.agent, people, installments=3)
    open_as(page, people.agent, "/loans?status=SUBMITTED")
    link = page.get_by_test_id("loans").get_by_text(loan["loan_number"])
    link.wait_for()
    statuses = page.get_by_test_id("loans").locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert statuses
    assert set(statuses) == {"Submitted"}
    # A text search cannot be combined with a DPD range: said next to the field.
    filters = page.get_by_test_id("loan-filters")
    filters.locator("input[name=q]").fill("Neema")
    filters.locator("input[name=dpd_min]").fill("5")
    page.get_by_test_id("loan-filters-submit").click()
    assert "cannot be combined" in filters.get_by_test_id("error-dpd_min").inner_text()
    filters.locator("input[name=dpd_min]").fill("")
    link.click()
    page.wait_for_url(f"**/loans/{loan['id']}")
    assert page.get_by_test_id("loan-status").inner_text() == "Submitted"


def test_an_agent_withdraws_their_pending_application_with_a_reason(
    web: Web, page: Page, people: People
) -> None:
    loan = submit_loan(web, people.agent, people, installments=3)
    open_as(page, people.agent, f"/loans/{loan['id']}")
    page.get_by_test_id("withdraw").click()
    page.get_by_test_id("withdraw-form").locator("textarea[name=reason]").fill("Not needed now")
    page.get_by_test_id("withdraw-form-submit").click()
    page.get_by_test_id("timeline-withdrawn").wait_for()
    assert "Not needed now" in page.get_by_test_id("timeline-withdrawn").inner_text()
    assert page.get_by_test_id("loan-status").inner_text() == "Withdrawn"
    assert page.get_by_test_id("withdraw").count() == 0
    assert web.api.call("GET", f"/api/v1/loans/{loan['id']}", people.agent)["status"] == (
        "WITHDRAWN"
    )


def test_the_application_and_the_loan_fit_a_360px_phone(
    web: Web, new_context: NewContext, people: People
) -> None:
    from tests.browser.conftest import PHONE

    page = new_context(viewport=PHONE).new_page()
    open_as(page, people.agent, f"/loans/new?borrower={people.borrower['id']}")
    page.locator("select[name=product_id]").select_option(people.product["id"])
    page.locator("input[name=principal]").fill("1000")
    page.locator("input[name=installments]").fill("24")
    preview_rows(page, 24)
    # Wide tables scroll inside their card; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    heights = page.locator("main button, main input, main select").evaluate_all(
        "els => els.filter(e => e.type !== 'hidden').map(e => e.getBoundingClientRect().height)"
    )
    assert heights
    assert min(heights) >= 44
    loan = submit_loan(web, people.agent, people)
    page = new_context(viewport=PHONE).new_page()
    open_as(page, people.agent, f"/loans/{loan['id']}")
    page.get_by_test_id("schedule").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
