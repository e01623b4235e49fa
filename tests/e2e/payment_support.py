"""Helpers for the payment tests: a loan ready to take repayments, and posting through
the gateway."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from microfinance.loan.v1 import loan_pb2
from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import Clients, active_loan, make_borrower, make_product, md

TODAY = date.today()


@dataclass
class Portfolio:
    agent: Login
    admin: Login
    product: loan_pb2.LoanProduct


async def portfolio(stack: Stack, c: Clients, admin: Login, **product: Any) -> Portfolio:
    """A fresh agent and a weekly product: 52% a year flat, so 1% interest a week.

    A 100,000-cent loan over 4 weeks repays 4 x 26,000 (25,000 principal + 1,000
    interest), due 7, 14, 21 and 28 days after disbursement.
    """
    agent = await stack.ready_staff(admin)
    fields: dict[str, Any] = {"annual_rate": "52", "installments_min": 4, **product}
    return Portfolio(agent, admin, await make_product(c, admin, **fields))


async def loan_for(
    c: Clients,
    p: Portfolio,
    *,
    first_name: str = "Amina",
    last_name: str = "Wanjiru",
    principal: int = 100_000,
    installments: int = 4,
    days_ago: int = 0,
) -> loan_pb2.Loan:
    borrower = await make_borrower(c, p.agent, p.admin, first_name=first_name, last_name=last_name)
    return await active_loan(
        c,
        p.agent,
        p.admin,
        borrower,
        p.product.id,
        principal=principal,
        installments=installments,
        disbursed_on=TODAY - timedelta(days=days_ago),
    )


def body(loan_id: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "loan_id": loan_id,
        "amount": {"amount_minor": amount, "currency": extra.pop("currency", "USD")},
        "channel": extra.pop("channel", "CASH"),
        **extra,
    }


async def post(
    stack: Stack,
    who: Login,
    loan_id: str,
    amount: int,
    *,
    key: str | None = None,
    client: httpx.AsyncClient | None = None,
    **extra: Any,
) -> httpx.Response:
    return await (client or stack.client).post(
        "/api/v1/payments",
        json=body(loan_id, amount, **extra),
        headers={**who.headers, "Idempotency-Key": key or f"k-{uuid.uuid4().hex}"},
    )


async def loan_state(c: Clients, admin: Login, loan_id: str) -> loan_pb2.Loan:
    reply: loan_pb2.GetLoanResponse = await c.loans.GetLoan(
        loan_pb2.GetLoanRequest(id=loan_id), metadata=md(admin)
    )
    return reply.loan


async def loan_transactions(c: Clients, admin: Login, loan_id: str) -> list[loan_pb2.Transaction]:
    from microfinance.common.v1 import common_pb2

    reply = await c.loans.ListTransactions(
        loan_pb2.ListTransactionsRequest(
            loan_id=loan_id, page=common_pb2.PageRequest(page_size=500)
        ),
        metadata=md(admin),
    )
    return list(reply.transactions)
