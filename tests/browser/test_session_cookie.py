"""The refresh cookie as the real client uses it: the session survives a reload, no token is
in web storage or readable by scripts, and logging out removes the cookie."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.conftest import PageLog, Web

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page


def test_the_session_lives_in_memory_and_the_httponly_cookie(
    context: BrowserContext, page: Page, web: Web, page_log: PageLog
) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("Email").fill(web.admin_email)
    page.get_by_label("Password").fill(web.admin_password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("who")).to_be_visible()

    cookies = {c["name"]: c for c in context.cookies()}
    refresh = cookies["mf_refresh"]
    assert refresh["httpOnly"] is True
    assert refresh["sameSite"] == "Strict"
    assert refresh["path"] == "/api/v1/auth"
    stored = page.evaluate("() => [localStorage.length, sessionStorage.length, document.cookie]")
    assert stored == [0, 0, ""]

    # A reload loses the in-memory access token; the cookie brings the session back.
    page.reload()
    expect(page.get_by_test_id("who")).to_be_visible()
    assert {c["name"]: c for c in context.cookies()}["mf_refresh"]["value"] != refresh["value"]

    page.get_by_test_id("logout").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert "mf_refresh" not in {c["name"] for c in context.cookies()}
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert page_log.blocked == []


def test_an_ended_session_returns_to_login_with_a_message(
    page: Page, web: Web, page_log: PageLog
) -> None:
    """Sessions ended elsewhere (here: "log out everywhere" from another device) fail the
    quiet refresh; the next action lands on the login screen saying why, and logging in again
    returns to the page the user was on."""
    from playwright.sync_api import expect

    agent = web.api.ready_staff("AGENT")
    page.goto("/login")
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(agent.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("who")).to_be_visible()
    # Let home finish its own calls first: one of them would otherwise meet the ended
    # session and leave for the login page before the click below.
    expect(page.get_by_test_id("loading")).to_have_count(0)

    web.api.call("POST", "/api/v1/auth/logout", agent, expect=204, json={"all_sessions": True})
    page.get_by_role("link", name="Loans").click()
    expect(page.get_by_test_id("flash")).to_contain_text("session has expired")
    assert "/login?next=" in page.url

    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(agent.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("who")).to_be_visible()
    assert page.url.endswith("/loans")
