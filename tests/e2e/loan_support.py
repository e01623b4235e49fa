"""Helpers for the loan tests: real borrowers, products and loans through the services.

Everything goes through the running services over gRPC with a real token (or
through the gateway where a test says so), so scoping is what production does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import grpc

from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2, loan_pb2_grpc
from microfinance.user.v1 import user_pb2, user_pb2_grpc
from shared.runtime import service_identity
from tests.e2e.conftest import Login, Stack
from tests.integration.support import eventually


def md(login: Login) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {login.access_token}"),)


def usd(amount_minor: int) -> common_pb2.Money:
    return common_pb2.Money(amount_minor=amount_minor, currency="USD")


@dataclass
class Clients:
    loans: loan_pb2_grpc.LoanServiceStub
    products: loan_pb2_grpc.LoanProductServiceStub
    borrowers: user_pb2_grpc.BorrowerServiceStub
    # payment_service's own SERVICE token: the only caller ApplyRepayment and
    # ReverseRepayment accept.
    service: tuple[tuple[str, str], ...]


@asynccontextmanager
async def clients(stack: Stack) -> AsyncIterator[Clients]:
    """Direct gRPC stubs to loan_service and user_service (no gateway)."""
    token = await service_identity(stack.infra["payment"]).token()
    async with (
        grpc.aio.insecure_channel(stack.hosts["loan"].address) as loan_channel,
        grpc.aio.insecure_channel(stack.hosts["user"].address) as user_channel,
    ):
        yield Clients(
            loans=loan_pb2_grpc.LoanServiceStub(loan_channel),
            products=loan_pb2_grpc.LoanProductServiceStub(loan_channel),
            borrowers=user_pb2_grpc.BorrowerServiceStub(user_channel),
            service=(("authorization", f"Bearer {token}"),),
        )


async def make_borrower(
    c: Clients,
    agent: Login,
    admin: Login,
    *,
    first_name: str = "Amina",
    last_name: str = "Wanjiru",
    verified: bool = True,
) -> str:
    """An ACTIVE borrower of ``agent`` (KYC VERIFIED by the admin unless told otherwise)."""
    number = f"ID{uuid.uuid4().hex[:10].upper()}"
    created = await c.borrowers.CreateBorrower(
        user_pb2.CreateBorrowerRequest(
            borrower=user_pb2.Borrower(
                first_name=first_name,
                last_name=last_name,
                date_of_birth="1990-04-12",
                gender=user_pb2.FEMALE,
                nationality="KE",
                phone="+254712345678",
                identity_documents=[
                    user_pb2.IdentityDocument(
                        type=user_pb2.IdentityDocument.NATIONAL_ID, number=number
                    )
                ],
            )
        ),
        metadata=md(agent),
    )
    borrower_id: str = created.borrower.id
    if verified:
        await c.borrowers.SetKycStatus(
            user_pb2.SetKycStatusRequest(id=borrower_id, status=user_pb2.VERIFIED, note="checked"),
            metadata=md(admin),
        )
    return borrower_id


def product_message(code: str | None = None, **overrides: Any) -> loan_pb2.LoanProduct:
    """A weekly flat-rate USD product: 10,000-500,000 cents over 4-52 weeks at 24%."""
    fields: dict[str, Any] = {
        "code": code or f"P-{uuid.uuid4().hex[:8].upper()}",
        "name": "Group weekly",
        "currency": "USD",
        "principal_min": usd(10_000),
        "principal_max": usd(500_000),
        "installments_min": 4,
        "installments_max": 52,
        "frequency": loan_pb2.WEEKLY,
        "interest_method": loan_pb2.FLAT,
        "amortization": loan_pb2.EQUAL_INSTALLMENTS,
        "annual_rate": "24",
        "max_active_loans_per_borrower": 1,
    }
    fields.update(overrides)
    return loan_pb2.LoanProduct(**fields)


async def make_product(c: Clients, admin: Login, **overrides: Any) -> loan_pb2.LoanProduct:
    reply: loan_pb2.CreateProductResponse = await c.products.CreateProduct(
        loan_pb2.CreateProductRequest(product=product_message(**overrides)), metadata=md(admin)
    )
    return reply.product


async def submit(
    c: Clients,
    who: Login,
    borrower_id: str,
    product_id: str,
    principal: int = 100_000,
    installments: int = 12,
) -> loan_pb2.Loan:
    reply: loan_pb2.SubmitLoanResponse = await c.loans.SubmitLoan(
        loan_pb2.SubmitLoanRequest(
            borrower_id=borrower_id,
            product_id=product_id,
            principal=usd(principal),
            installments=installments,
            purpose="stock for the shop",
        ),
        metadata=md(who),
    )
    return reply.loan


async def active_loan(
    c: Clients,
    agent: Login,
    admin: Login,
    borrower_id: str,
    product_id: str,
    *,
    principal: int = 100_000,
    installments: int = 12,
    disbursed_on: date | None = None,
) -> loan_pb2.Loan:
    """Submitted by the agent, approved and disbursed by the admin."""
    loan = await submit(c, agent, borrower_id, product_id, principal, installments)
    await c.loans.ApproveLoan(loan_pb2.ApproveLoanRequest(id=loan.id), metadata=md(admin))
    reply: loan_pb2.DisburseLoanResponse = await c.loans.DisburseLoan(
        loan_pb2.DisburseLoanRequest(
            id=loan.id,
            disbursement_date=disbursed_on.isoformat() if disbursed_on else "",
        ),
        metadata=md(admin),
    )
    return reply.loan


async def pay(
    c: Clients,
    who: Login,
    loan_id: str,
    amount: int,
    on: date,
    payment_id: str | None = None,
) -> loan_pb2.ApplyRepaymentResponse:
    """A repayment as payment_service applies it: its SERVICE token, for ``who``."""
    reply: loan_pb2.ApplyRepaymentResponse = await c.loans.ApplyRepayment(
        loan_pb2.ApplyRepaymentRequest(
            loan_id=loan_id,
            payment_id=payment_id or f"PAY-{uuid.uuid4().hex[:12]}",
            amount=usd(amount),
            value_date=on.isoformat(),
            channel=common_pb2.CASH,
            on_behalf_of=who.staff_id,
        ),
        metadata=c.service,
    )
    return reply


async def reverse(
    c: Clients, who: Login, payment_id: str, reason: str, loan_id: str = ""
) -> loan_pb2.ReverseRepaymentResponse:
    """A reversal as payment_service completes it: its SERVICE token, for the admin ``who``."""
    reply: loan_pb2.ReverseRepaymentResponse = await c.loans.ReverseRepayment(
        loan_pb2.ReverseRepaymentRequest(
            payment_id=payment_id, reason=reason, loan_id=loan_id, on_behalf_of=who.staff_id
        ),
        metadata=c.service,
    )
    return reply


async def loan_events(stack: Stack, loan_id: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` events of loan ``loan_id`` as they were published, in arrival
    order: a loan's events leave its document once sent (its embedded outbox), so they
    are read where they arrived, reporting_service's event log (every ``loan.*``)."""
    log = stack.infra["reporting"].db["event_log"]

    async def arrived() -> list[dict[str, Any]]:
        cursor = log.find({"body.aggregate_id": loan_id}).sort("seq", 1)
        found = [doc["body"] async for doc in cursor]
        return found if len(found) >= count else []

    events: list[dict[str, Any]] = await eventually(arrived, what=f"{count} events of {loan_id}")
    return events
