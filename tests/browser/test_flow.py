"""One loan's life in the web client, the way an institution lives it, in a real browser
against the six real processes: an admin sets up an agent and a product; the agent (on a
360 px phone) changes the first password, registers a borrower and applies; the admin who
submitted an application of their own is refused its approval, with the reason on screen; a
second admin approves and disburses; the agent collects from the collection sheet, where a
double tap posts once; the admin closes the day and finds the repayment in the reports and
their CSV. An agent never reaches an admin page.

With MF_SCREENSHOTS=1 it saves the main screens to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import datetime as dt
import random
import string
import time
import uuid
from typing import TYPE_CHECKING

from tests.browser.conftest import PHONE

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.api import Session
    from tests.browser.conftest import NewContext, PageLog, Screenshot, Web


def made_up_name(length: int = 8) -> str:
    return random.choice(string.ascii_uppercase) + "".join(
        random.choices("aeiou" + "bdgkmnrst", k=length - 1)
    )


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("[data-testid=login-submit]")


def go(page: Page, path: str) -> None:
    """Follow the client's own navigation (no reload): the session stays in memory."""
    page.evaluate(
        "p => { history.pushState({}, '', p); dispatchEvent(new PopStateEvent('popstate')); }", path
    )


def settled(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("loading")).to_have_count(0)


def admin_sets_up_agent_and_product(page: Page, screenshot: Screenshot) -> tuple[str, str, str]:
    from playwright.sync_api import expect

    agent_email = f"agent-{uuid.uuid4().hex[:8]}@flow.example.org"
    initial = f"Initial-{uuid.uuid4().hex[:10]}"
    go(page, "/admin/staff")
    page.get_by_test_id("new-staff").click()
    staff = page.get_by_test_id("staff-form")
    staff.locator("[name=full_name]").fill("Achieng Otieno")
    staff.locator("[name=role]").select_option("AGENT")
    staff.locator("[name=email]").fill(agent_email)
    staff.locator("[name=phone]").fill("+254712000111")
    staff.locator("[name=initial_password]").fill(initial)
    page.get_by_test_id("staff-form-submit").click()
    expect(page.locator(f'[data-testid=staff-row][data-email="{agent_email}"]')).to_be_visible()
    settled(page)
    screenshot(page, "admin-staff")

    code = f"FLOW-{uuid.uuid4().hex[:6].upper()}"
    go(page, "/admin/products")
    page.get_by_test_id("new-product").click()
    product = page.get_by_test_id("product-form")
    product.locator("[name=code]").fill(code)
    product.locator("[name=name]").fill("Market traders, monthly")
    product.locator("[name=currency]").fill("KES")
    product.locator("[name=frequency]").select_option("MONTHLY")
    product.locator("[name=principal_min]").fill("5,000")
    product.locator("[name=principal_max]").fill("200,000")
    product.locator("[name=installments_min]").fill("3")
    product.locator("[name=installments_max]").fill("12")
    product.locator("[name=annual_rate]").fill("24")
    product.locator("[name=max_active_loans_per_borrower]").fill("2")
    page.get_by_test_id("product-form-submit").click()
    expect(page.locator(f'[data-testid=product-row][data-code="{code}"]')).to_be_visible()
    screenshot(page, "admin-products")
    return agent_email, initial, code


def agent_applies(page: Page, email: str, initial: str, code: str, screenshot: Screenshot) -> str:
    """The agent's first login, a new borrower and an application; returns the loan's id."""
    from playwright.sync_api import expect

    log_in(page, email, initial)
    expect(page.get_by_test_id("forced-change")).to_be_visible()
    password = f"Own-{uuid.uuid4().hex[:12]}"
    form = page.get_by_test_id("password")
    form.locator("[name=old_password]").fill(initial)
    form.locator("[name=new_password]").fill(password)
    form.locator("[name=confirm]").fill(password)
    page.get_by_test_id("password-submit").click()
    # The change is done when the form is gone (the header shows on the form's page too).
    expect(page.get_by_test_id("forced-change")).to_have_count(0)
    expect(page.get_by_test_id("who")).to_contain_text("Achieng Otieno")
    # No admin link for an agent, and no admin page by typing its address.
    expect(page.get_by_role("link", name="Approvals")).to_have_count(0)
    page.goto("/admin/approvals")  # a full load: the refresh cookie restores the session
    expect(page.get_by_test_id("forbidden")).to_be_visible()

    go(page, "/borrowers/new")
    borrower = page.get_by_test_id("borrower-form")
    borrower.locator("[name=first_name]").fill("Wanjiru")
    borrower.locator("[name=last_name]").fill(made_up_name())
    borrower.locator("[name=date_of_birth]").fill("1985-07-21")
    borrower.locator("[name=gender]").select_option("FEMALE")
    borrower.locator("[name=phone]").fill("0722 456 789")
    borrower.locator('[name="current_address.city"]').fill("Kisumu")
    borrower.locator('[name="current_address.country"]').fill("KE")
    borrower.locator('[name="identity_documents[0].number"]').fill(
        f"ID{uuid.uuid4().hex[:8].upper()}"
    )
    page.get_by_test_id("borrower-form-submit").click()
    expect(page.get_by_test_id("borrower-name")).to_contain_text("Wanjiru")
    screenshot(page, "borrower-detail")

    page.get_by_test_id("new-loan").click()
    loan = page.get_by_test_id("loan-form")
    loan.locator("[name=product_id]").select_option(label=f"Market traders, monthly ({code})")
    loan.locator("[name=principal]").fill("60,000")
    loan.locator("[name=installments]").fill("6")
    loan.locator("[name=purpose]").fill("Stock for the stall")
    expect(page.get_by_test_id("preview-total")).to_contain_text("KES")
    expect(page.get_by_test_id("preview-rows").locator("tbody tr")).to_have_count(6)
    screenshot(page, "loan-application")
    page.get_by_test_id("loan-form-submit").click()
    expect(page.get_by_test_id("timeline")).to_be_visible()
    return page.url.rstrip("/").rsplit("/", 1)[1]


def own_submission_is_refused(
    web: Web, page: Page, admin: Session, borrower_id: str, product_id: str
) -> None:
    from playwright.sync_api import expect

    mine = web.api.call(
        "POST",
        "/api/v1/loans",
        admin,
        expect=201,
        json={
            "borrower_id": borrower_id,
            "product_id": product_id,
            "principal": {"amount_minor": 1_000_000, "currency": "KES"},
            "installments": 3,
        },
    )
    go(page, "/admin/approvals")
    row = page.locator(f'[data-testid=approval-row][data-loan-id="{mine["id"]}"]')
    expect(row.get_by_test_id("own-submission")).to_contain_text("another admin must approve")
    expect(row.get_by_test_id("approve")).to_be_disabled()


def wait_for_reports(web: Web, day: str) -> None:
    """The reports are built from the end of day's events: poll (with a deadline) until they
    know the date, so the browser part tests the screen rather than the projection delay."""
    deadline = time.monotonic() + 60
    while True:
        r = web.api.http.get(
            "/api/v1/reports/portfolio", params={"as_of": day}, headers=web.api.admin().headers
        )
        if r.status_code == 200:
            return
        assert time.monotonic() < deadline, f"reports never reached {day}: {r.text}"
        time.sleep(0.2)


def test_a_loan_from_application_to_reports(  # long: the whole story, in the order it happens
    web: Web, new_context: NewContext, page_log: PageLog, screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    admin = new_context().new_page()
    log_in(admin, web.admin_email, web.admin_password)
    expect(admin.get_by_test_id("who")).to_be_visible()
    agent_email, initial, code = admin_sets_up_agent_and_product(admin, screenshot)

    phone = new_context(viewport=PHONE).new_page()
    loan_id = agent_applies(phone, agent_email, initial, code, screenshot)
    loan = web.api.call("GET", f"/api/v1/loans/{loan_id}", web.api.admin())
    assert loan["status"] == "SUBMITTED"
    assert loan["principal"] == {"amount_minor": 6_000_000, "currency": "KES"}

    # The first admin is refused their own application, with the reason on screen.
    own_submission_is_refused(web, admin, web.api.admin(), loan["borrower_id"], loan["product_id"])
    screenshot(admin, "admin-approvals")

    # A second admin verifies the KYC, approves the agent's loan and disburses it.
    second = web.api.ready_staff("ADMIN")
    checker = new_context().new_page()
    log_in(checker, second.email, second.password)
    expect(checker.get_by_test_id("who")).to_be_visible()
    go(checker, "/admin/kyc")
    item = checker.locator(f'[data-testid=kyc-item][data-borrower-id="{loan["borrower_id"]}"]')
    item.get_by_test_id("kyc-form-submit").click()
    expect(item.get_by_test_id("kyc-done")).to_contain_text("Verified")
    go(checker, "/admin/approvals")
    row = checker.locator(f'[data-testid=approval-row][data-loan-id="{loan_id}"]')
    row.get_by_test_id("approve").click()
    expect(row).to_contain_text("Approved")

    go(checker, f"/loans/{loan_id}")
    first_due = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    checker.get_by_test_id("disburse").click()
    disburse = checker.get_by_test_id("disburse-form")
    disburse.locator("[name=first_repayment_date]").fill(first_due)
    checker.get_by_test_id("disburse-form-submit").click()
    expect(checker.locator(".badge", has_text="Active").first).to_be_visible()
    expect(checker.get_by_test_id("schedule").locator("tbody tr")).to_have_count(6)
    settled(checker)
    screenshot(checker, "loan-detail")

    # The agent collects the first installment from the sheet of its due date; a double tap
    # posts one repayment.
    go(phone, f"/?date={first_due}")
    number = loan["loan_number"]
    phone.get_by_test_id(f"collect-{number}").click()
    form = phone.get_by_test_id(f"repay-{number}")
    form.locator("[name=amount]").fill("10,000")
    screenshot(phone, "agent-home")
    phone.get_by_test_id(f"repay-{number}-submit").dblclick()
    expect(phone.get_by_test_id("receipt-amount")).to_contain_text("10,000.00")
    screenshot(phone, "receipt")
    payments = web.api.call(
        "GET", "/api/v1/payments", web.api.admin(), params={"loan_id": loan_id}
    )["payments"]
    assert [p["amount"]["amount_minor"] for p in payments] == [1_000_000]

    # The admin closes the day, then finds the repayment in the reports and their CSV.
    go(admin, "/admin/eod")
    admin.get_by_test_id("eod-form-submit").click()
    today = dt.date.today()
    expect(admin.get_by_test_id("eod-last-closed")).to_have_attribute("datetime", today.isoformat())
    screenshot(admin, "admin-eod")
    wait_for_reports(web, today.isoformat())
    go(
        admin,
        f"/reports?from={today.replace(day=1).isoformat()}&to={today.isoformat()}&currency=KES",
    )
    flows = admin.get_by_test_id("flows-table")
    expect(flows).to_contain_text("10,000.00")
    settled(admin)
    screenshot(admin, "reports")
    with admin.expect_download() as download:
        admin.get_by_test_id("csv-collections").click()
    path = download.value.path()
    text = path.read_text(encoding="utf-8")
    assert "10000" in text.replace(",", "").replace(".00", ""), text
    # Each new context's page load asks POST /auth/refresh with no cookie yet: a 401 the
    # browser logs (as in test_reports); nothing else may complain.
    assert [e for e in page_log.errors if "status of 401" not in e] == [], page_log.errors
