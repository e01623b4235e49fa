"""The REST helpers the browser tests set up their data with (tests/browser/api.py)."""

from __future__ import annotations

from tests.browser.conftest import Web


def test_the_helpers_make_an_agent_a_product_and_a_borrower(web: Web) -> None:
    api = web.api
    record, initial = api.create_staff("AGENT")
    first = api.login(record["email"], initial)
    assert first.must_change_password is True

    agent = api.ready_staff("AGENT")
    assert agent.must_change_password is False
    me = api.call("GET", "/api/v1/me", agent)
    assert me["staff"]["role"] == "AGENT"

    product = api.create_product(name="Browser product")
    assert product["name"] == "Browser product"
    borrower = api.create_borrower(agent, first_name="Zawadi")
    assert borrower["first_name"] == "Zawadi"
    assert api.call("GET", f"/api/v1/borrowers/{borrower['id']}", agent)["id"] == borrower["id"]
