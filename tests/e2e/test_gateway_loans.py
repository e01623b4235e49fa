"""Loan products and loans through the HTTP gateway: the REST shapes, roles, 422s, search."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import (
    Clients,
    active_loan,
    clients,
    make_borrower,
    make_product,
    pay,
    submit,
)
from tests.integration.support import eventually

pytestmark = pytest.mark.e2e

TODAY = datetime.now(UTC).date()


def money(amount: int) -> dict[str, Any]:
    return {"amount_minor": amount, "currency": "USD"}


def product_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": f"gw-{uuid.uuid4().hex[:8]}",
        "name": "Monthly business",
        "currency": "USD",
        "principal_min": money(50_000),
        "principal_max": money(1_000_000),
        "installments_min": 3,
        "installments_max": 24,
        "frequency": "MONTHLY",
        "interest_method": "DECLINING_BALANCE",
        "amortization": "EQUAL_INSTALLMENTS",
        "annual_rate": "18",
        "fee": {"type": "PERCENT", "percent": "2"},
        "late_penalty": {"type": "FIXED", "fixed_amount": money(500), "grace_days": 3},
        "max_active_loans_per_borrower": 3,
    }
    body.update(overrides)
    return body


def fields(response: httpx.Response) -> list[str]:
    return [f["field"] for f in response.json()["error"]["fields"]]


@pytest.fixture(scope="module")
async def c(stack: Stack) -> AsyncIterator[Clients]:
    async with clients(stack) as stubs:
        yield stubs


@pytest.fixture(scope="module")
async def boss(stack: Stack) -> Login:
    return await stack.admin_login()


@pytest.fixture(scope="module")
async def agent(stack: Stack, boss: Login) -> Login:
    return await stack.ready_staff(boss)


@pytest.fixture(scope="module")
async def product(stack: Stack, boss: Login) -> dict[str, Any]:
    r = await stack.client.post("/api/v1/loan-products", json=product_body(), headers=boss.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_products_over_http(stack: Stack, boss: Login, agent: Login) -> None:
    http = stack.client
    body = product_body()
    r = await http.post("/api/v1/loan-products", json=body, headers=agent.headers)
    assert r.status_code == 403
    r = await http.post("/api/v1/loan-products", json=body, headers=boss.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["Location"] == f"/api/v1/loan-products/{created['id']}"
    assert created["code"] == body["code"].upper()
    assert created["fee"] == {"type": "PERCENT", "fixed_amount": None, "percent": "2"}
    assert created["late_penalty"]["fixed_amount"] == money(500)
    assert created["frequency"] == "MONTHLY"
    r = await http.post("/api/v1/loan-products", json=body, headers=boss.headers)
    assert r.status_code == 409
    assert r.json()["error"]["existing_id"] == created["id"]

    # Agents read products.
    r = await http.get(f"/api/v1/loan-products/{created['id']}", headers=agent.headers)
    assert r.status_code == 200
    assert r.headers["ETag"] == '"1"'
    r = await http.get(
        "/api/v1/loan-products", params={"active": "true", "currency": "USD"}, headers=agent.headers
    )
    assert created["id"] in {p["id"] for p in r.json()["products"]}

    r = await http.patch(
        f"/api/v1/loan-products/{created['id']}",
        json={"annual_rate": "20.5", "late_penalty": None},
        headers={**boss.headers, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["annual_rate"] == "20.5"
    assert r.json()["late_penalty"] is None
    assert r.json()["version"] == 2
    r = await http.patch(
        f"/api/v1/loan-products/{created['id']}",
        json={"name": "late"},
        headers={**boss.headers, "If-Match": '"1"'},
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "ABORTED"
    r = await http.patch(
        f"/api/v1/loan-products/{created['id']}",
        json={"principal_max": money(10)},
        headers=boss.headers,
    )
    assert r.status_code == 422
    assert "principal_max" in fields(r)

    r = await http.post(
        f"/api/v1/loan-products/{created['id']}/deactivate",
        json={"reason": "retired"},
        headers=boss.headers,
    )
    assert r.status_code == 200
    assert r.json()["active"] is False
    r = await http.post(f"/api/v1/loan-products/{created['id']}/deactivate", headers=boss.headers)
    assert r.status_code == 409
    r = await http.post(f"/api/v1/loan-products/{created['id']}/activate", headers=boss.headers)
    assert r.json()["active"] is True


async def test_bad_product_and_preview_input_is_a_422_naming_the_field(
    stack: Stack, boss: Login, agent: Login, product: dict[str, Any]
) -> None:
    http = stack.client
    cases: list[tuple[dict[str, Any], str]] = [
        (product_body(annual_rate="24%"), "annual_rate"),
        (product_body(installments_min="3"), "installments_min"),
        (product_body(frequency="DAILY"), "frequency"),
        (
            product_body(principal_min={"amount_minor": 1.5, "currency": "USD"}),
            "principal_min.amount_minor",
        ),
        (product_body(colour="red"), "colour"),
        (product_body(fee={"type": "FIXED", "fixed_amount": money(60_000)}), "fee.fixed_amount"),
    ]
    for body, field in cases:
        r = await http.post("/api/v1/loan-products", json=body, headers=boss.headers)
        assert r.status_code == 422, (field, r.text)
        assert field in fields(r), (field, r.json())
    preview = f"/api/v1/loan-products/{product['id']}/preview"
    r = await http.post(
        preview,
        json={"principal": money(100_000), "installments": 6, "disbursement_date": "2026-01-31"},
        headers=agent.headers,
    )
    assert r.status_code == 200, r.text
    schedule = r.json()
    # Monthly from Jan 31: clamped to month ends, always counted from the anchor.
    assert [row["due_date"] for row in schedule["rows"][:3]] == [
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
    ]
    assert schedule["totals"]["upfront_fee"] == money(2_000)
    assert schedule["totals"]["net_disbursed"] == money(98_000)
    assert sum(row["principal_due"]["amount_minor"] for row in schedule["rows"]) == 100_000
    r = await http.post(
        preview,
        json={"principal": money(100_000), "installments": 6, "disbursement_date": "31/01/2026"},
        headers=agent.headers,
    )
    assert r.status_code == 422
    assert fields(r) == ["disbursement_date"]
    r = await http.post(
        preview, json={"principal": money(10), "installments": 6}, headers=agent.headers
    )
    assert r.status_code == 422
    assert fields(r) == ["principal"]


async def test_loan_lifecycle_over_http(
    stack: Stack, c: Clients, boss: Login, agent: Login, product: dict[str, Any]
) -> None:
    http = stack.client
    borrower = await make_borrower(c, agent, boss, first_name="Wambui", last_name="Kariuki")
    r = await http.post(
        "/api/v1/loans",
        json={
            "borrower_id": borrower,
            "product_id": product["id"],
            "principal": money(300_000),
            "installments": 6,
            "purpose": "a second sewing machine",
        },
        headers=agent.headers,
    )
    assert r.status_code == 201, r.text
    loan = r.json()
    loan_id = loan["id"]
    assert r.headers["Location"] == f"/api/v1/loans/{loan_id}"
    assert loan["status"] == "SUBMITTED"
    assert loan["summary"] is None
    assert loan["product"]["annual_rate"] == "18"

    r = await http.post(f"/api/v1/loans/{loan_id}/approve", headers=agent.headers)
    assert r.status_code == 403
    r = await http.post(f"/api/v1/loans/{loan_id}/disburse", headers=boss.headers)
    assert r.status_code == 409
    assert "loan is SUBMITTED" in r.json()["error"]["message"]
    r = await http.post(
        f"/api/v1/loans/{loan_id}/approve", json={"note": "fine"}, headers=boss.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "APPROVED"
    assert r.headers["ETag"] == f'"{r.json()["version"]}"'

    disbursed_on = TODAY - timedelta(days=45)
    r = await http.post(
        f"/api/v1/loans/{loan_id}/disburse",
        json={"disbursement_date": disbursed_on.isoformat()},
        headers=boss.headers,
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["upfront_fee"] == money(6_000)
    assert done["net_disbursed"] == money(294_000)
    assert done["loan"]["status"] == "ACTIVE"
    assert len(done["schedule"]) == 6

    r = await http.get(f"/api/v1/loans/{loan_id}", headers=agent.headers)
    summary = r.json()["summary"]
    assert summary["days_past_due"] > 0
    assert summary["installments_overdue"] == 1
    r = await http.get(f"/api/v1/loans/{loan_id}/schedule", headers=agent.headers)
    assert r.json()["rows"][0]["status"] == "OVERDUE"
    r = await http.get(
        f"/api/v1/loans/{loan_id}/payoff-quote",
        params={"date": TODAY.isoformat()},
        headers=agent.headers,
    )
    assert r.status_code == 200
    quote = r.json()
    assert quote["principal"] == money(300_000)
    assert quote["total"]["amount_minor"] > 300_000
    r = await http.get(
        f"/api/v1/loans/{loan_id}/payoff-quote", params={"date": "tomorrow"}, headers=agent.headers
    )
    assert r.status_code == 422
    assert fields(r) == ["date"]

    await pay(c, agent, loan_id, 20_000, TODAY)
    r = await http.get(f"/api/v1/loans/{loan_id}/transactions", headers=agent.headers)
    ledger = r.json()["transactions"]
    assert [t["type"] for t in ledger] == ["DISBURSEMENT", "REPAYMENT"]
    assert ledger[1]["allocation"]["total"] == money(20_000)

    r = await http.get("/api/v1/loans/due", headers=agent.headers)
    assert loan_id in {row["loan_id"] for row in r.json()["loans"]}
    r = await http.get(
        "/api/v1/loans",
        params={"status": "ACTIVE", "borrower_id": borrower, "dpd_min": 1},
        headers=agent.headers,
    )
    assert [x["id"] for x in r.json()["loans"]] == [loan_id]

    r = await http.post(
        f"/api/v1/loans/{loan_id}/waive",
        json={"installment_number": 1, "reason": "goodwill"},
        headers=boss.headers,
    )
    assert r.status_code == 422
    r = await http.post(
        f"/api/v1/loans/{loan_id}/write-off", json={"reason": "fled"}, headers=agent.headers
    )
    assert r.status_code == 403
    r = await http.post(
        f"/api/v1/loans/{loan_id}/write-off", json={"reason": "fled"}, headers=boss.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["loan"]["status"] == "WRITTEN_OFF"
    assert r.json()["written_off_amount"]["amount_minor"] > 0
    r = await http.post(
        f"/api/v1/loans/{loan_id}/withdraw", json={"reason": "too late"}, headers=agent.headers
    )
    assert r.status_code == 409
    assert "loan is WRITTEN_OFF" in r.json()["error"]["message"]


async def test_loan_input_errors_and_scoping_over_http(
    stack: Stack, c: Clients, boss: Login, agent: Login, product: dict[str, Any]
) -> None:
    http = stack.client
    r = await http.post(
        "/api/v1/loans",
        json={
            "borrower_id": "b",
            "product_id": product["id"],
            "principal": money(1),
            "installments": "6",
        },
        headers=agent.headers,
    )
    assert r.status_code == 422
    assert fields(r) == ["installments"]
    r = await http.post(
        "/api/v1/loans",
        json={"product_id": product["id"], "principal": money(100_000), "installments": 6},
        headers=agent.headers,
    )
    assert r.status_code == 422
    assert fields(r) == ["borrower_id"]
    r = await http.get("/api/v1/loans", params={"q": "Wambui", "dpd_min": 3}, headers=agent.headers)
    assert r.status_code == 422
    assert fields(r) == ["dpd_min"]
    r = await http.get("/api/v1/loans", params={"status": "LOST"}, headers=agent.headers)
    assert r.status_code == 422
    assert fields(r) == ["status"]
    r = await http.get("/api/v1/loans", params={"order_by": "borrower"}, headers=agent.headers)
    assert r.status_code == 422
    assert fields(r) == ["order_by"]
    r = await http.get("/api/v1/loans/does-not-exist", headers=agent.headers)
    assert r.status_code == 404

    stranger = await stack.ready_staff(boss)
    borrower = await make_borrower(c, agent, boss, first_name="Subira")
    r = await http.post(
        "/api/v1/loans",
        json={
            "borrower_id": borrower,
            "product_id": product["id"],
            "principal": money(100_000),
            "installments": 6,
        },
        headers=agent.headers,
    )
    loan_id = r.json()["id"]
    for path in ("", "/schedule", "/transactions"):
        r = await http.get(f"/api/v1/loans/{loan_id}{path}", headers=stranger.headers)
        assert r.status_code == 404, path
    r = await http.get("/api/v1/loans", params={"borrower_id": borrower}, headers=stranger.headers)
    assert r.json()["loans"] == []
    r = await http.post(
        f"/api/v1/loans/{loan_id}/withdraw", json={"reason": "no"}, headers=stranger.headers
    )
    assert r.status_code == 404
    r = await http.post(
        f"/api/v1/loans/{loan_id}/withdraw", json={"reason": "not now"}, headers=agent.headers
    )
    assert r.status_code == 200
    assert r.json()["withdrawal_reason"] == "not now"


async def test_search_within_the_callers_scope(
    stack: Stack, c: Clients, boss: Login, agent: Login, product: dict[str, Any]
) -> None:
    http = stack.client
    surname = "Nyamb" + "".join(random.choices(string.ascii_lowercase, k=6)) + "a"
    borrower = await make_borrower(c, agent, boss, first_name="Josephine", last_name=surname)
    r = await http.post(
        "/api/v1/loans",
        json={
            "borrower_id": borrower,
            "product_id": product["id"],
            "principal": money(100_000),
            "installments": 6,
        },
        headers=agent.headers,
    )
    loan = r.json()

    async def found(q: str, who: Login, **params: Any) -> list[str]:
        reply = await http.get("/api/v1/loans", params={"q": q, **params}, headers=who.headers)
        assert reply.status_code == 200, reply.text
        return [x["id"] for x in reply.json()["loans"]]

    async def indexed() -> bool:
        return loan["id"] in await found(loan["loan_number"], agent)

    await eventually(indexed, within=20, what="the loan in the search index")
    # A typo in the name, lower case, and the status as a filter.
    assert loan["id"] in await found(f"josephine {surname[:-1]}e", agent)
    assert loan["id"] in await found(surname.lower(), boss, status="SUBMITTED")
    assert loan["id"] not in await found(surname, agent, status="ACTIVE")
    # Another agent never sees it.
    stranger = await stack.ready_staff(boss)
    assert await found(loan["loan_number"], stranger) == []
    # Decisions reach the index through the loan.* events.
    r = await http.post(f"/api/v1/loans/{loan['id']}/approve", headers=boss.headers)
    assert r.status_code == 200

    async def approved() -> bool:
        return loan["id"] in await found(surname, boss, status="APPROVED")

    await eventually(approved, within=20, what="the approval in the search index")


async def test_list_filters_over_http(stack: Stack, c: Clients, boss: Login) -> None:
    """status, agent, borrower, disbursed range and DPD range, alone and combined."""
    http = stack.client
    first, second = await stack.ready_staff(boss), await stack.ready_staff(boss)
    product = await make_product(c, boss, max_active_loans_per_borrower=10)  # weekly
    mine = await make_borrower(c, first, boss, first_name="Rehema")
    theirs = await make_borrower(c, second, boss, first_name="Baraka")
    # Weekly: first due 7 days after disbursement, so 30 days ago means 23 days past due.
    old = await active_loan(
        c, first, boss, mine, product.id, disbursed_on=TODAY - timedelta(days=30)
    )
    new = await active_loan(
        c, first, boss, mine, product.id, disbursed_on=TODAY - timedelta(days=3)
    )
    pending = await submit(c, first, mine, product.id)
    other = await active_loan(
        c, second, boss, theirs, product.id, disbursed_on=TODAY - timedelta(days=30)
    )

    async def ids(who: Login, **params: Any) -> list[str]:
        r = await http.get("/api/v1/loans", params=params, headers=who.headers)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["loans"]]

    a = first.staff_id
    assert set(await ids(boss, agent_id=a)) == {old.id, new.id, pending.id}
    assert await ids(boss, agent_id=a, status="SUBMITTED") == [pending.id]
    assert set(await ids(boss, agent_id=a, status="ACTIVE")) == {old.id, new.id}
    assert await ids(boss, borrower_id=theirs) == [other.id]
    # Disbursed range, inclusive at both ends; open at either end.
    day = (TODAY - timedelta(days=30)).isoformat()
    assert await ids(boss, agent_id=a, disbursed_from=day, disbursed_to=day) == [old.id]
    since = (TODAY - timedelta(days=5)).isoformat()
    assert await ids(boss, agent_id=a, disbursed_from=since) == [new.id]
    until = (TODAY - timedelta(days=10)).isoformat()
    assert await ids(boss, agent_id=a, disbursed_to=until) == [old.id]
    # DPD range (ACTIVE loans only).
    assert await ids(boss, agent_id=a, dpd_min=1) == [old.id]
    assert await ids(boss, agent_id=a, dpd_max=0) == [new.id]
    assert await ids(boss, agent_id=a, dpd_min=23, dpd_max=23) == [old.id]
    assert await ids(boss, agent_id=a, dpd_min=24) == []
    assert await ids(boss, agent_id=a, dpd_min=20, dpd_max=30, disbursed_to=until) == [old.id]
    assert await ids(boss, agent_id=a, order_by="days_past_due desc", status="ACTIVE") == [
        old.id,
        new.id,
    ]
    # An agent's filters never reach past their own loans.
    assert await ids(first, agent_id=second.staff_id) == await ids(first)
    assert other.id not in await ids(first, borrower_id=theirs, agent_id=second.staff_id)
    assert await ids(second, dpd_min=1) == [other.id]
    # Inverted ranges are 422s naming the field.
    r = await http.get("/api/v1/loans", params={"dpd_min": 5, "dpd_max": 2}, headers=boss.headers)
    assert r.status_code == 422
    assert fields(r) == ["dpd_max"]
    r = await http.get(
        "/api/v1/loans",
        params={"disbursed_from": since, "disbursed_to": until},
        headers=boss.headers,
    )
    assert r.status_code == 422
    assert fields(r) == ["disbursed_to"]


async def test_reject_waive_and_collection_sheet_pages_over_http(
    stack: Stack, c: Clients, boss: Login, product: dict[str, Any]
) -> None:
    http = stack.client
    agent = await stack.ready_staff(boss)
    borrower = await make_borrower(c, agent, boss, first_name="Mwajuma")
    r = await http.post(
        "/api/v1/loans",
        json={
            "borrower_id": borrower,
            "product_id": product["id"],
            "principal": money(100_000),
            "installments": 6,
        },
        headers=agent.headers,
    )
    loan_id = r.json()["id"]
    r = await http.post(f"/api/v1/loans/{loan_id}/reject", json={}, headers=boss.headers)
    assert r.status_code == 422
    assert fields(r) == ["reason"]
    r = await http.post(
        f"/api/v1/loans/{loan_id}/reject", json={"reason": "no business plan"}, headers=boss.headers
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["rejection_reason"]) == ("REJECTED", "no business plan")
    r = await http.post(
        f"/api/v1/loans/{loan_id}/reject", json={"reason": "again"}, headers=boss.headers
    )
    assert r.status_code == 409
    assert "loan is REJECTED" in r.json()["error"]["message"]

    # Two overdue weekly loans: the sheet pages one at a time, full pages, then no token.
    weekly = await make_product(c, boss, max_active_loans_per_borrower=10)
    start = TODAY - timedelta(days=16)
    loans = [
        await active_loan(c, agent, boss, borrower, weekly.id, disbursed_on=start) for _ in range(2)
    ]
    seen: list[str] = []
    token = ""
    for expected_more in (True, False):
        r = await http.get(
            "/api/v1/loans/due",
            params={"page_size": 1, "page_token": token},
            headers=agent.headers,
        )
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["loans"]) == 1
        assert bool(page["page"]["next_page_token"]) is expected_more
        seen.extend(row["loan_id"] for row in page["loans"])
        token = page["page"]["next_page_token"]
    assert sorted(seen) == sorted(loan.id for loan in loans)
    r = await http.get("/api/v1/loans/due", params={"page_token": "junk"}, headers=agent.headers)
    assert r.status_code == 422
    assert fields(r) == ["page_token"]

    # A waiver over HTTP: interest of the first (overdue) installment.
    r = await http.post(
        f"/api/v1/loans/{loans[0].id}/waive",
        json={"installment_number": 1, "interest_amount": money(100), "reason": "flood"},
        headers=boss.headers,
    )
    assert r.status_code == 200, r.text
    waived = r.json()
    assert waived["transaction"]["type"] == "WAIVER"
    assert waived["transaction"]["installment_number"] == 1
    assert waived["loan"]["summary"]["total_waived"] == money(100)
    r = await http.post(
        f"/api/v1/loans/{loans[0].id}/waive",
        json={"installment_number": 1, "interest_amount": money(100), "reason": "flood"},
        headers=agent.headers,
    )
    assert r.status_code == 403
