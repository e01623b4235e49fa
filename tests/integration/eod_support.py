"""End-of-day test support: a small portfolio written straight into a loan database,
an ``EndOfDay`` over a real MongoDB, and what a closed run leaves behind to compare.

Loans are built by the domain (``ledger.disburse``, ``ledger.apply_repayment``)
and stored by the real repository, so every loan is one loan_service would hold.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from loan_service.adapters.eod_repository import EodRepository
from loan_service.adapters.loan_repository import LoanRepository, loan_to_doc
from loan_service.domain import ledger
from loan_service.domain.lifecycle import LoanStatus
from loan_service.domain.loan import Loan, LoanProduct, facts_of
from loan_service.domain.products import (
    Amortization,
    ChargeType,
    InterestMethod,
    PenaltyTerms,
    ProductTerms,
    RepaymentFrequency,
)
from loan_service.eod_service import EndOfDay, EodOptions
from shared.events import Outbox
from shared.mongo import MongoClient, run_in_transaction

TERMS = ProductTerms(
    currency="USD",
    principal_min=10_000,
    principal_max=500_000,
    installments_min=1,
    installments_max=52,
    frequency=RepaymentFrequency.WEEKLY,
    interest_method=InterestMethod.FLAT,
    amortization=Amortization.EQUAL_INSTALLMENTS,
    annual_rate=Decimal(24),
    late_penalty=PenaltyTerms(ChargeType.PERCENT, percent=Decimal(5), grace_days=3),
)
PAYOFF = -1  # a repayment of whatever closes the loan that day
PRODUCT = LoanProduct(id="p-eod", code="EOD", name="Weekly", description="", terms=TERMS)


def fixed_clock(today: date) -> datetime:
    return datetime(today.year, today.month, today.day, 12, tzinfo=UTC)


def make_loan(index: int, disbursed: date, payments: list[tuple[date, int]], today: date) -> Loan:
    """Loan ``index``: 100,000 over 8 weeks from ``disbursed``, with these repayments."""
    done = ledger.disburse(
        TERMS, 100_000, 8, disbursement_date=disbursed, business_date=disbursed, actor="admin"
    )
    txns: tuple[ledger.Transaction, ...] = (done.transaction,)
    state = ledger.replay(TERMS, done.schedule, txns, today)
    for k, (on, amount) in enumerate(payments):
        if amount == PAYOFF:
            amount = ledger.quote_payoff(TERMS, done.schedule, txns, on).total
        paid = ledger.apply_repayment(
            TERMS,
            done.schedule,
            txns,
            payment_id=f"pay-{index}-{k}",
            amount=amount,
            value_date=on,
            business_date=on,
            actor="agent",
            txn_id=f"R{index:03d}{k:02d}",
            created_at=fixed_clock(on),
        )
        txns, state = paid.transactions, paid.state
    status = LoanStatus.CLOSED if state.closed else LoanStatus.ACTIVE
    return Loan(
        id=f"loan-{index:04d}",
        loan_number=f"LN-2026-{index:06d}",
        borrower_id=f"b-{index}",
        borrower_name=f"Borrower {index}",
        agent_id=f"agent-{index % 3}",
        branch_id="BR-01",
        product_id=PRODUCT.id,
        product=PRODUCT,
        status=status,
        principal=100_000,
        installments=8,
        purpose="",
        note="",
        submitted_date=disbursed,
        submitted_by="agent",
        submitted_at=fixed_clock(disbursed),
        disbursement_date=disbursed,
        schedule=done.schedule,
        transactions=txns,
        closed_date=state.closed_date if state.closed else None,
        facts=facts_of(state),
        updated_by="agent",
        updated_at=fixed_clock(today),
    )


def portfolio(today: date, count: int = 24) -> list[Loan]:
    """Loans disbursed 30-40 days before ``today``: some pay every week, some half, some
    never; some start paying late; one pays off early."""
    loans = []
    for i in range(count):
        start = today - timedelta(days=30 + i % 10)
        weeks = [start + timedelta(days=7 * k) for k in range(1, 6)]
        kind = i % 4
        if kind == 0:  # on time
            payments = [(d, 13_500) for d in weeks if d < today]
        elif kind == 1:  # half of each installment
            payments = [(d, 6_000) for d in weeks if d < today]
        elif kind == 2:  # never
            payments = []
        else:  # two weeks late, then catching up
            payments = [
                (d + timedelta(days=14), 20_000)
                for d in weeks[:2]
                if d + timedelta(days=14) < today
            ]
        if i == 5:
            payments = [(start + timedelta(days=3), PAYOFF)]  # paid off early
        loans.append(make_loan(i, start, payments, today))
    return loans


async def seed(db: AsyncDatabase[dict[str, Any]], loans: list[Loan]) -> None:
    await db["loans"].insert_many([loan_to_doc(loan) for loan in loans])


def end_of_day(
    client: MongoClient, db: AsyncDatabase[dict[str, Any]], today: date, **options: Any
) -> tuple[EndOfDay, Outbox]:
    outbox = Outbox(db, producer="loan_service")

    async def in_transaction(body: Any) -> Any:
        return await run_in_transaction(client, body)

    eod = EndOfDay(
        EodRepository(db),
        in_transaction,
        outbox,
        clock=lambda: fixed_clock(today),
        options=EodOptions(**{"batch_size": 5, "concurrency": 2, **options}),
    )
    return eod, outbox


def repository(db: AsyncDatabase[dict[str, Any]]) -> LoanRepository:
    return LoanRepository(db)


async def outcome(db: AsyncDatabase[dict[str, Any]]) -> dict[str, Any]:
    """What end of day leaves: every loan's transactions and every snapshot row, with
    the fields that differ between two clean runs (creation times) left out."""
    loans = {}
    async for doc in db["loans"].find({}).sort("_id", 1):
        loans[doc["_id"]] = [
            {k: v for k, v in t.items() if k != "created_at"} for t in doc["transactions"]
        ]
    rows = [
        {k: v for k, v in row.items()} async for row in db["loan_snapshots"].find({}).sort("_id", 1)
    ]
    dates = [
        {k: v for k, v in d.items() if k != "closed_at"}
        async for d in db["eod_dates"].find({}).sort("_id", 1)
    ]
    state = await db["eod_state"].find_one({"_id": "eod"})
    return {
        "loans": loans,
        "rows": rows,
        "dates": dates,
        "last_closed": state["last_closed"] if state else None,
    }


async def events_of(db: AsyncDatabase[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e async for e in db["outbox"].find({"type": kind}).sort("order", 1)]
