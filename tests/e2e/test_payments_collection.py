"""The collection sheet and the cash summary against a hand-built portfolio.

Product: weekly, 52% a year flat (1% a week), no penalty. Every loan is 1,000.00
USD over 4 weeks: installments of 260.00 (250.00 principal + 10.00 interest),
due 7, 14, 21 and 28 days after disbursement. T is today.

| loan | borrower | disbursed | payments (value date) | left on T: arrears / due T | DPD |
|---|---|---|---|---|---|
| L1 | Amina | T-14 | 200.00 CASH + 100.00 MOBILE (T) | 0 / 220.00 | 0 |
| L2 | Baraka | T-7 | 50.00 CASH (T), reversed; 100,000.00 refused | 0 / 260.00 | 0 |
| L3 | Chebet | T-21 | 100.00 CASH (T-1) | 420.00 / 260.00 | 14 |
| L4 | Daudi | T-7 | 260.00 CASH by the admin (T) | nothing due | 0 |
| L5 | another agent's borrower | T-7 | none | (not on this sheet) | |

Sheet rows (most overdue first, then by name) and, per row, expected = due + collected:
L3 680.00 + 0, L1 220.00 + 300.00, L2 260.00 + 0, L4 0 + 260.00.
Expected 1,720.00, collected 560.00, rate 560/1720 = 32.558...% -> "32.56".

Cash summary of the agent for T (what they posted): CASH 2 posted 250.00, 1 reversed
50.00, net 200.00; MOBILE_MONEY 1 posted 100.00; 1 rejected; net 300.00 USD. L4's
payment was posted by the admin: on the sheet (the agent's loan), not in their cash.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import clients
from tests.e2e.payment_support import TODAY, loan_for, portfolio, post

pytestmark = pytest.mark.e2e

T = TODAY.isoformat()
YESTERDAY = (TODAY - timedelta(days=1)).isoformat()


def usd(minor: int) -> dict[str, object]:
    return {"amount_minor": minor, "currency": "USD"}


async def test_collection_sheet_and_cash_summary(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        l1 = await loan_for(c, p, first_name="Amina", last_name="Kamau", days_ago=14)
        l2 = await loan_for(c, p, first_name="Baraka", last_name="Kamau", days_ago=7)
        l3 = await loan_for(c, p, first_name="Chebet", last_name="Kamau", days_ago=21)
        l4 = await loan_for(c, p, first_name="Daudi", last_name="Kamau", days_ago=7)
        other = await portfolio(stack, c, admin)
        await loan_for(c, other, first_name="Esther", last_name="Njeri", days_ago=7)

        agent = p.agent
        assert (await post(stack, agent, l1.id, 20_000)).status_code == 201
        assert (await post(stack, agent, l1.id, 10_000, channel="MOBILE_MONEY")).status_code == 201
        wrong = await post(stack, agent, l2.id, 5_000)
        assert wrong.status_code == 201
        reversed_ = await stack.client.post(
            f"/api/v1/payments/{wrong.json()['id']}/reverse",
            json={"reason": "wrong borrower"},
            headers=admin.headers,
        )
        assert reversed_.status_code == 200
        assert (await post(stack, agent, l2.id, 10_000_000)).status_code == 409
        assert (await post(stack, agent, l3.id, 10_000, value_date=YESTERDAY)).status_code == 201
        assert (await post(stack, admin, l4.id, 26_000)).status_code == 201

        r = await stack.client.get(
            "/api/v1/collection-sheet", params={"date": T}, headers=agent.headers
        )
        assert r.status_code == 200, r.text
        sheet = r.json()
        assert (sheet["agent_id"], sheet["date"]) == (agent.staff_id, T)
        rows = [
            (
                row["loan_number"],
                row["borrower_name"],
                row["oldest_due_date"],
                row["arrears_amount"]["amount_minor"],
                row["amount_due"]["amount_minor"],
                row["total_due"]["amount_minor"],
                row["days_past_due"],
                row["collected_amount"]["amount_minor"],
            )
            for row in sheet["rows"]
        ]
        days = {n: (TODAY - timedelta(days=n)).isoformat() for n in (0, 14)}
        assert rows == [
            (l3.loan_number, "Chebet Kamau", days[14], 42_000, 26_000, 68_000, 14, 0),
            (l1.loan_number, "Amina Kamau", days[0], 0, 22_000, 22_000, 0, 30_000),
            (l2.loan_number, "Baraka Kamau", days[0], 0, 26_000, 26_000, 0, 0),
            (l4.loan_number, "Daudi Kamau", "", 0, 0, 0, 0, 26_000),
        ]
        assert {row["phone"] for row in sheet["rows"]} == {"+254712345678"}
        assert sheet["totals"] == [
            {
                "currency": "USD",
                "expected": usd(172_000),
                "collected": usd(56_000),
                "collection_rate": "32.56",
                "loan_count": 4,
            }
        ]

        # The admin sees the same sheet for this agent, and must say which agent.
        as_admin = await stack.client.get(
            "/api/v1/collection-sheet",
            params={"date": T, "agent": agent.staff_id},
            headers=admin.headers,
        )
        assert as_admin.json() == sheet
        no_agent = await stack.client.get("/api/v1/collection-sheet", headers=admin.headers)
        assert no_agent.status_code == 422
        foreign = await stack.client.get(
            "/api/v1/collection-sheet",
            params={"agent": other.agent.staff_id},
            headers=agent.headers,
        )
        assert foreign.status_code == 403
        default_day = await stack.client.get("/api/v1/collection-sheet", headers=agent.headers)
        assert default_day.json()["totals"] == sheet["totals"]

        exported = await stack.client.get(
            "/api/v1/collection-sheet",
            params={"date": T},
            headers={**agent.headers, "Accept": "text/csv"},
        )
        assert exported.headers["content-type"].startswith("text/csv")
        assert "attachment" in exported.headers["content-disposition"]
        assert exported.content.startswith("\ufeff".encode())  # UTF-8 BOM for spreadsheets
        lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert lines[0][:10] == [
            "borrower_name",
            "phone",
            "loan_number",
            "oldest_due_date",
            "days_past_due",
            "currency",
            "amount_due",
            "arrears_amount",
            "total_due",
            "collected_amount",
        ]
        assert lines[1][:10] == [
            "Chebet Kamau", "+254712345678", l3.loan_number, days[14], "14", "USD",
            "260.00", "420.00", "680.00", "0.00",
        ]  # fmt: skip
        assert lines[-1] == ["TOTAL", "USD", "4", "1720.00", "560.00", "32.56"]
        by_param = await stack.client.get(
            "/api/v1/collection-sheet", params={"date": T, "format": "csv"}, headers=agent.headers
        )
        assert by_param.text == exported.text

        cash = await stack.client.get(
            "/api/v1/cash-summary", params={"date": T}, headers=agent.headers
        )
        assert cash.status_code == 200, cash.text
        assert cash.json() == {
            "agent_id": agent.staff_id,
            "date": T,
            "channels": [
                {
                    "channel": "CASH",
                    "posted_amount": usd(25_000),
                    "posted_count": 2,
                    "reversed_amount": usd(5_000),
                    "reversed_count": 1,
                    "net_amount": usd(20_000),
                },
                {
                    "channel": "MOBILE_MONEY",
                    "posted_amount": usd(10_000),
                    "posted_count": 1,
                    "reversed_amount": usd(0),
                    "reversed_count": 0,
                    "net_amount": usd(10_000),
                },
            ],
            "net_totals": [usd(30_000)],
            "rejected_count": 1,
            "pending_count": 0,
        }
        yesterday = await stack.client.get(
            "/api/v1/cash-summary",
            params={"date": YESTERDAY, "agent": agent.staff_id},
            headers=admin.headers,
        )
        assert yesterday.json()["net_totals"] == [usd(10_000)]
        assert [ch["channel"] for ch in yesterday.json()["channels"]] == ["CASH"]
        admins_own = await stack.client.get(
            "/api/v1/cash-summary",
            params={"date": T, "agent": admin.staff_id},
            headers=admin.headers,
        )
        assert admins_own.json()["net_totals"][0]["amount_minor"] >= 26_000
        foreign_cash = await stack.client.get(
            "/api/v1/cash-summary",
            params={"agent": other.agent.staff_id},
            headers=agent.headers,
        )
        assert foreign_cash.status_code == 403


async def test_empty_sheet_for_a_new_agent(stack: Stack, admin: Login) -> None:
    agent = await stack.ready_staff(admin)
    r = await stack.client.get("/api/v1/collection-sheet", headers=agent.headers)
    assert r.status_code == 200
    assert (r.json()["rows"], r.json()["totals"]) == ([], [])
    cash = await stack.client.get("/api/v1/cash-summary", headers=agent.headers)
    assert cash.json()["channels"] == []
    assert cash.json()["net_totals"] == []
    bad = await stack.client.get(
        "/api/v1/collection-sheet", params={"date": "2026-13-01"}, headers=agent.headers
    )
    assert bad.status_code == 422
    # An admin naming an agent id that cannot be one is told which parameter is wrong
    # (it would otherwise echo into the CSV's file name).
    odd = await stack.client.get(
        "/api/v1/collection-sheet",
        params={"agent": 'ł"x', "format": "csv"},
        headers=admin.headers,
    )
    assert odd.status_code == 422, odd.text
    assert [f["field"] for f in odd.json()["error"]["fields"]] == ["agent"]


async def test_a_past_days_sheet_keeps_a_payment_reversed_later(stack: Stack, admin: Login) -> None:
    """Yesterday's sheet, read after today's reversal of yesterday's payment: the loan was
    still paid as of yesterday, so the payment stays collected and the expected total holds."""
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        # Disbursed 8 days ago: the first 260.00 fell due yesterday.
        loan = await loan_for(c, p, first_name="Fumo", last_name="Kamau", days_ago=8)
        paid = await post(stack, p.agent, loan.id, 26_000, value_date=YESTERDAY)
        assert paid.status_code == 201, paid.text
        bounced = await stack.client.post(
            f"/api/v1/payments/{paid.json()['id']}/reverse",
            json={"reason": "bounced"},
            headers=admin.headers,
        )
        assert bounced.status_code == 200, bounced.text

        r = await stack.client.get(
            "/api/v1/collection-sheet", params={"date": YESTERDAY}, headers=p.agent.headers
        )
        assert r.status_code == 200, r.text
        sheet = r.json()
        rows = [
            (row["loan_number"], row["total_due"]["amount_minor"],
             row["collected_amount"]["amount_minor"])
            for row in sheet["rows"]
        ]
        assert rows == [(loan.loan_number, 0, 26_000)]
        assert sheet["totals"][0]["expected"] == usd(26_000)
        # Today the reversal counts: the installment is owed again and nothing is collected.
        today = await stack.client.get(
            "/api/v1/collection-sheet", params={"date": T}, headers=p.agent.headers
        )
        (row,) = today.json()["rows"]
        assert (row["arrears_amount"]["amount_minor"], row["collected_amount"]["amount_minor"]) == (
            26_000, 0)
