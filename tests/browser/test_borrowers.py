"""The borrower screens in a real browser: an agent registers a borrower through the form
(the API's refusals land next to the fields they name), finds them again by typing part of
the name with a typo, opens the detail page and edits a field; an edit that lost a race says
so; an admin reassigns and blacklists from the detail page, which an agent never sees."""

from __future__ import annotations

import random
import string
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.api import Session
    from tests.browser.conftest import NewContext, PageLog, Screenshot, Web


def made_up_name(length: int = 9) -> str:
    """A surname no other test uses, letters only (names refuse digits)."""
    return random.choice(string.ascii_uppercase) + "".join(
        random.choices("aeiou" + "bdgkmnrst", k=length - 1)
    )


def misspelt(name: str) -> str:
    """One letter changed in the middle: a typo the fuzzy search must forgive."""
    i = len(name) // 2
    return name[:i] + ("x" if name[i] != "x" else "z") + name[i + 1 :]


def log_in(page: Page, who: Session, then: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"/login?next={then}")
    page.fill("input[name=username]", who.email)
    page.fill("input[name=password]", who.password)
    page.click("[data-testid=login-submit]")
    expect(page.get_by_test_id("who")).to_be_visible()


def field_error(page: Page, name: str) -> Any:
    return page.locator(f'[data-testid="borrower-form"] [data-testid="error-{name}"]')


def wait_until_searchable(web: Web, who: Session, text: str, borrower_id: str) -> None:
    """The search index is fed by events: poll the API (with a deadline) until it has the
    borrower, so the browser part tests the screen rather than the indexing delay."""
    deadline = time.monotonic() + 20
    while True:
        found = web.api.call("GET", "/api/v1/borrowers", who, params={"q": text})
        if any(b["id"] == borrower_id for b in found["borrowers"]):
            return
        assert time.monotonic() < deadline, f"{text!r} never found {borrower_id}"
        time.sleep(0.2)


def test_agent_registers_finds_and_edits_a_borrower(  # long: one user's story, step by step
    web: Web, page: Page, page_log: PageLog, screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    agent = web.api.ready_staff("AGENT")
    taken = web.api.create_borrower(agent)["identity_documents"][0]["number"]
    first, last = "Wanjiku", made_up_name()
    number = f"B{uuid.uuid4().hex[:9].upper()}"

    log_in(page, agent, "/borrowers")
    expect(page.get_by_test_id("borrower-table")).to_be_visible()
    page.get_by_test_id("new-borrower").click()
    form = page.get_by_test_id("borrower-form")
    expect(form).to_be_visible()
    form.locator("[name=first_name]").fill(first)
    form.locator("[name=last_name]").fill(last)
    form.locator("[name=date_of_birth]").fill("1988-03-14")
    form.locator("[name=gender]").select_option("FEMALE")
    form.locator("[name=phone]").fill("12345")
    form.locator('[name="current_address.city"]').fill("Nairobi")
    form.locator('[name="current_address.country"]').fill("ke")
    form.locator('[name="identity_documents[0].number"]').fill(number)
    form.locator('[name="employment.monthly_income"]').fill("45,000.50")
    form.locator('[name="employment.monthly_income.currency"]').fill("KES")

    # 1. The service refuses the phone: its words appear under the phone field.
    page.get_by_test_id("borrower-form-submit").click()
    expect(field_error(page, "phone")).to_contain_text("phone number")
    expect(form.locator("[name=phone]")).to_have_attribute("aria-invalid", "true")
    expect(field_error(page, "first_name")).to_be_empty()
    screenshot(page, "borrower-form-errors")

    # 2. No identity document at all: the list's error shows where the documents are.
    form.locator("[name=phone]").fill("0712 345 678")
    page.get_by_test_id("remove-document-0").click()
    expect(form.locator('[name="identity_documents[0].number"]')).to_have_count(0)
    page.get_by_test_id("borrower-form-submit").click()
    expect(field_error(page, "identity_documents")).to_contain_text("at least 1")
    expect(field_error(page, "phone")).to_be_empty()

    # 3. A document another borrower holds: marked at its number, with a link to the holder.
    page.get_by_test_id("add-document").click()
    page.get_by_test_id("add-document").click()
    form.locator('[name="identity_documents[0].number"]').fill(number)
    form.locator('[name="identity_documents[1].type"]').select_option("NATIONAL_ID")
    form.locator('[name="identity_documents[1].number"]').fill(taken)
    page.get_by_test_id("borrower-form-submit").click()
    expect(field_error(page, "identity_documents[1].number")).to_contain_text("already exists")
    expect(field_error(page, "identity_documents[0].number")).to_be_empty()
    expect(page.get_by_test_id("duplicate-link")).to_be_visible()

    # 4. Without the duplicate it registers, and the detail page shows what was typed.
    page.get_by_test_id("remove-document-1").click()
    page.get_by_test_id("borrower-form-submit").click()
    expect(page.get_by_test_id("borrower-name")).to_have_text(f"{first} {last}")
    detail = page.get_by_test_id("borrower-detail")
    expect(detail.get_by_test_id("kyc-status")).to_have_text("Pending")
    expect(detail.get_by_test_id("borrower-phone")).to_have_text("+254712345678")
    expect(detail.get_by_test_id("monthly-income")).to_contain_text("45,000.50")
    expect(detail.get_by_test_id("monthly-income")).to_contain_text("KES")
    expect(detail.get_by_test_id("borrower-documents")).to_contain_text(number)
    expect(detail.get_by_test_id("new-loan")).to_have_attribute(
        "href", f"/loans/new?borrower={page.url.rsplit('/', 1)[1]}"
    )
    expect(detail.get_by_test_id("admin-actions")).to_have_count(0)
    borrower_id = page.url.rsplit("/", 1)[1]

    # 5. Typing part of the name with a typo finds them.
    wait_until_searchable(web, agent, last, borrower_id)
    page.get_by_role("link", name="Borrowers", exact=True).click()
    page.get_by_test_id("borrower-search").fill(misspelt(last))
    hit = page.get_by_test_id("borrower-table").get_by_role("link", name=f"{first} {last}")
    expect(hit).to_be_visible()
    expect(page).to_have_url(f"{web.base_url}/borrowers?q={misspelt(last)}")
    screenshot(page, "borrowers-search")
    hit.click()
    expect(page.get_by_test_id("borrower-name")).to_have_text(f"{first} {last}")

    # 6. An edit sends only the changed field, guarded by the version it read.
    page.get_by_test_id("edit-borrower").click()
    form = page.get_by_test_id("borrower-form")
    form.locator('[name="current_address.city"]').fill("Mombasa")
    with page.expect_request(lambda r: r.method == "PATCH") as sent:
        page.get_by_test_id("borrower-form-submit").click()
    assert sent.value.post_data_json == {"current_address": {"city": "Mombasa"}}
    assert sent.value.headers["if-match"] == '"1"'
    expect(page.get_by_test_id("borrower-detail")).to_contain_text("Mombasa")
    history = page.get_by_test_id("borrower-history")
    expect(history).to_contain_text("current_address.city")
    # Newest first: the edit, then the registration (empty -> Nairobi).
    expect(history.locator(".changes li", has_text="current_address.city").first).to_have_text(
        "current_address.city: Nairobi → Mombasa"
    )
    screenshot(page, "borrower-detail")
    assert page_log.blocked == []
    assert [e for e in page_log.errors if "uncaught" in e] == []


def test_an_edit_that_lost_a_race_says_to_reload(web: Web, page: Page) -> None:
    from playwright.sync_api import expect

    agent = web.api.ready_staff("AGENT")
    borrower = web.api.create_borrower(agent)
    log_in(page, agent, f"/borrowers/{borrower['id']}/edit")
    form = page.get_by_test_id("borrower-form")
    expect(form.locator("[name=first_name]")).to_have_value(borrower["first_name"])
    # Someone else saves first.
    web.api.call(
        "PATCH", f"/api/v1/borrowers/{borrower['id']}", agent, json={"notes": "called today"}
    )
    form.locator("[name=middle_name]").fill("Njeri")
    form.get_by_test_id("borrower-form-submit").click()
    expect(page.get_by_test_id("version-conflict")).to_contain_text("Someone else changed")
    page.get_by_test_id("reload").click()
    expect(page.get_by_test_id("borrower-form").locator("[name=notes]")).to_have_value(
        "called today"
    )


def test_admin_reassigns_and_blacklists_from_the_detail_page(
    web: Web, new_context: NewContext
) -> None:
    from playwright.sync_api import expect

    first_agent = web.api.ready_staff("AGENT")
    second_agent = web.api.ready_staff("AGENT")
    second = web.api.call("GET", f"/api/v1/staff/{second_agent.staff_id}", web.api.admin())
    borrower = web.api.create_borrower(first_agent)
    admin = web.api.admin()
    page = new_context().new_page()
    log_in(page, admin, f"/borrowers/{borrower['id']}")
    actions = page.get_by_test_id("admin-actions")

    # A blacklisting needs a reason: the API's refusal sits at the reason field.
    actions.get_by_test_id("blacklist-submit").click()
    expect(actions.get_by_test_id("blacklist").get_by_test_id("error-reason")).not_to_be_empty()

    actions.get_by_test_id("reassign").locator("[name=agent_id]").select_option(second["id"])
    actions.get_by_test_id("reassign-submit").click()
    expect(page.get_by_test_id("borrower-agent")).to_have_text(second["full_name"])

    blacklist = page.get_by_test_id("blacklist")
    blacklist.locator("[name=reason]").fill("fraudulent documents")
    blacklist.get_by_test_id("blacklist-submit").click()
    expect(page.get_by_test_id("account-status")).to_have_text("Blacklisted")
    expect(page.get_by_test_id("inactive-reason")).to_contain_text("fraudulent documents")
    expect(page.get_by_test_id("borrower-history")).to_contain_text("Reassigned")
    assert web.api.call("GET", f"/api/v1/borrowers/{borrower['id']}", second_agent)[
        "account_status"
    ] == "BLACKLISTED"


STALE_FETCH = """stale => {
  // Holds back the search for `stale` so that its answer comes after the newer one's.
  const original = window.fetch;
  window.__staleSettled = false;
  window.fetch = (url, init) => {
    if (!String(url).includes(`q=${stale}`)) return original(url, init);
    return new Promise((resolve) => setTimeout(resolve, 1500))
      .then(() => original(url, init))
      .finally(() => { window.__staleSettled = true; });
  };
}"""


def test_a_slow_older_search_does_not_replace_a_newer_one(web: Web, page: Page) -> None:
    from playwright.sync_api import expect

    agent = web.api.ready_staff("AGENT")
    older = web.api.create_borrower(agent, last_name=made_up_name())
    newer = web.api.create_borrower(agent, last_name=made_up_name())
    for borrower in (older, newer):
        wait_until_searchable(web, agent, borrower["last_name"], borrower["id"])
    log_in(page, agent, "/borrowers")
    expect(page.get_by_test_id("borrower-table")).to_be_visible()
    page.evaluate(STALE_FETCH, older["last_name"])

    search = page.get_by_test_id("borrower-search")
    search.fill(older["last_name"])
    page.wait_for_function(f"() => location.search === '?q={older['last_name']}'")
    search.fill(newer["last_name"])
    table = page.get_by_test_id("borrower-table")
    expect(table.get_by_test_id("borrower-link").first).to_have_text(
        f"{newer['first_name']} {newer['last_name']}"
    )
    page.wait_for_function("() => window.__staleSettled")
    expect(table.get_by_test_id("borrower-link").first).to_have_text(
        f"{newer['first_name']} {newer['last_name']}"
    )
    expect(table).not_to_contain_text(older["last_name"])
