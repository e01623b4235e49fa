"""Bulk seeding of payment_service's own data, run by the CLI without a server (`demo-data`).

A demo repayment was applied to its loan by loan_service's seeding (through the ledger,
as ``ApplyRepayment`` would); here it gets the record payment_service keeps of every real
one: a POSTED ``Payment`` with the loan's allocation, the loan transaction it became and a
receipt number from the same yearly counter posting takes numbers from, so the payment
list, the receipts, the cash summary and the collection sheet's "collected" show it like
any payment an agent posted. Written in bulk with the repository's own document code, and
optionally with the ``payment.posted`` outbox events posting would have recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from payment_service.adapters.payment_repository import COUNTERS, PAYMENTS, to_doc
from payment_service.domain.payment import (
    Allocation,
    Applied,
    Channel,
    LoanFacts,
    Payment,
    PaymentStatus,
    PosterRole,
    RawPaymentRequest,
    fingerprint,
    receipt_number,
)
from payment_service.service import posted_payload
from shared.events import Outbox
from shared.money import Money

PRODUCER = "payment_service"


@dataclass(frozen=True, slots=True)
class SeededPayment:
    """One repayment loan_service's seeding applied (its payment id is the loan's)."""

    id: str
    loan_id: str
    amount: Money
    value_date: date
    channel: Channel
    # The agent who collected it.
    posted_by: str
    # When it was posted (the moment of its value date's business).
    at: datetime
    allocation: Allocation
    loan_transaction_id: str
    recovery: bool
    loan_closed: bool
    loan: LoanFacts


def posted(item: SeededPayment, receipt: str) -> Payment:
    """The POSTED payment a posting of ``item`` would have left."""
    request = RawPaymentRequest(
        idempotency_key=item.id, loan_id=item.loan_id, amount_minor=item.amount.amount_minor,
        currency=item.amount.currency, value_date=item.value_date.isoformat(),
        channel=item.channel.value,
    )
    pending = Payment(
        id=item.id, idempotency_key=item.id, fingerprint=fingerprint(request),
        loan_id=item.loan_id, amount=item.amount, value_date=item.value_date,
        channel=item.channel, status=PaymentStatus.PENDING, posted_by=item.posted_by,
        poster_role=PosterRole.AGENT, created_at=item.at, updated_at=item.at,
        updated_by=item.posted_by, loan=item.loan,
    )
    applied = Applied(item.allocation, item.loan_transaction_id, item.recovery,
                      item.loan_closed, item.loan)
    return pending.posted(applied, receipt, item.at, item.posted_by)


async def reserve_receipts(db: AsyncDatabase[dict[str, Any]], year: int, count: int) -> int:
    """The first of ``count`` receipt sequences of ``year``, taken at once from the counter
    posting uses (so later postings never reuse one)."""
    doc = await db[COUNTERS].find_one_and_update(
        {"_id": f"receipt-{year}"}, {"$inc": {"seq": count}}, upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert doc is not None
    return int(doc["seq"]) - count + 1


async def write_payments(
    db: AsyncDatabase[dict[str, Any]], items: Sequence[SeededPayment], *, events: bool
) -> int:
    """Insert the POSTED payments (receipt numbers by posting time within each year) and
    (``events``) their ``payment.posted`` events; returns the number of events."""
    if not items:
        return 0
    ordered = sorted(items, key=lambda p: (p.at, p.id))
    years: dict[int, int] = {}
    for item in ordered:
        years[item.at.year] = years.get(item.at.year, 0) + 1
    next_of = {y: await reserve_receipts(db, y, n) for y, n in sorted(years.items())}
    payments = []
    for item in ordered:
        year = item.at.year
        payments.append(posted(item, receipt_number(year, next_of[year])))
        next_of[year] += 1
    await db[PAYMENTS].insert_many([to_doc(p) for p in payments], ordered=False)
    if not events:
        return 0
    outbox = Outbox(db, producer=PRODUCER)
    await outbox.add(None, [outbox.new_event("payment.posted", p.id, posted_payload(p))
                            for p in payments])
    return len(payments)


__all__ = ["SeededPayment", "posted", "reserve_receipts", "write_payments"]
