"""MongoDB storage: payments, reversal records and the receipt counter.

Idempotency is the unique index on (posted_by, idempotency_key): the insert
either wins or fails with a duplicate key, never check-then-insert. An
external reference is held per channel by a partial unique index on
``reference_hold``, a copy of the reference that a REJECTED payment drops so
the same mobile-money transaction can be posted again correctly. Receipt
numbers come from a per-year counter, a block at a time (``ReceiptNumbers``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from payment_service.domain.collection import CashGroup, Collected
from payment_service.domain.payment import (
    Allocation,
    Channel,
    InstallmentSplit,
    LoanFacts,
    LoanOwner,
    Payment,
    PaymentStatus,
    PosterRole,
    Reversal,
    ReversalRequest,
)
from shared.allocation import allocation_totals, share_parts
from shared.errors import FieldViolation, NotFound
from shared.money import Money
from shared.mongo import duplicate_key_index
from shared.paging import Page

PAYMENTS = "payments"
REVERSALS = "reversals"
COUNTERS = "counters"
# Each loan's current agent and branch, from loan_service's loan.reassigned /
# loan.borrower_updated events: payments are scoped by them.
LOAN_OWNERS = "loan_owners"

# Set on a payment by follow_loan (the time of the move): a settle expects it absent
# (NOT_MOVED) and, when a move came first, re-reads the payment to keep the moved owner.
OWNER_MOVED = "owner_as_of"
NOT_MOVED: dict[str, Any] = {OWNER_MOVED: {"$exists": False}}

KEY_INDEX = "poster_idempotency_key_unique"
REFERENCE_INDEX = "channel_reference_unique"

PAYMENT_INDEXES: dict[str, list[IndexModel]] = {
    PAYMENTS: [
        IndexModel(
            [("posted_by", ASCENDING), ("idempotency_key", ASCENDING)],
            unique=True,
            name=KEY_INDEX,
        ),
        IndexModel(
            [("channel", ASCENDING), ("reference_hold", ASCENDING)],
            unique=True,
            partialFilterExpression={"reference_hold": {"$type": "string"}},
            name=REFERENCE_INDEX,
        ),
        IndexModel(
            [("receipt_number", ASCENDING)],
            unique=True,
            partialFilterExpression={"receipt_number": {"$type": "string"}},
            name="receipt_number_unique",
        ),
        # Outstanding work (PENDING payments, requested reversals) for the recovery loop.
        IndexModel([("lease_until", ASCENDING)], sparse=True, name="lease_until"),
        IndexModel([("loan_id", ASCENDING), ("value_date", DESCENDING)], name="by_loan"),
        IndexModel([("borrower_id", ASCENDING), ("value_date", DESCENDING)], name="by_borrower"),
        IndexModel([("agent_id", ASCENDING), ("value_date", DESCENDING)], name="by_agent"),
        IndexModel([("posted_by", ASCENDING), ("value_date", DESCENDING)], name="by_poster"),
        IndexModel([("value_date", DESCENDING), ("created_at", DESCENDING)], name="by_date"),
    ],
    REVERSALS: [
        IndexModel([("payment_id", ASCENDING)], unique=True, name="payment_unique"),
        IndexModel([("reversed_at", ASCENDING)], name="by_time"),
    ],
}

SORTABLE = {
    "value_date": "value_date",
    "posted_at": "posted_at",
    "receipt_number": "receipt_number",
    "created_at": "created_at",
}
DEFAULT_SORT = [("value_date", -1), ("created_at", -1)]


class IdempotencyKeyTaken(Exception):
    """The (poster, key) pair already has a payment."""


class ReferenceTaken(Exception):
    def __init__(self, existing_id: str | None) -> None:
        super().__init__("external reference already used")
        self.existing_id = existing_id


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    loan_id: str = ""
    borrower_id: str = ""
    agent_id: str = ""
    channel: Channel | None = None
    status: PaymentStatus | None = None
    from_date: date | None = None
    to_date: date | None = None
    # Agents: only payments on their loans or posted by them.
    visible_to_agent: str = ""


# ------------------------------------------------------------------ mapping


def exact_sum(amounts: list[Any]) -> int:
    """Amounts are added here, not with Mongo's $sum: an int64 $sum that overflows fails
    the whole aggregation (or turns into an inexact double), and one day's payments of one
    agent are few."""
    return sum(int(a) for a in amounts)


def _allocation_doc(allocation: Allocation) -> dict[str, Any]:
    return {
        **allocation_totals(allocation),
        "installments": [
            {"n": s.installment_number, **share_parts(s)} for s in allocation.installments
        ],
    }


def _allocation(doc: dict[str, Any] | None) -> Allocation | None:
    if not doc:
        return None
    return Allocation(
        penalty=int(doc.get("penalty", 0)),
        fee=int(doc.get("fee", 0)),
        interest=int(doc.get("interest", 0)),
        principal=int(doc.get("principal", 0)),
        recovery=int(doc.get("recovery", 0)),
        interest_waived=int(doc.get("interest_waived", 0)),
        installments=tuple(
            InstallmentSplit(
                installment_number=int(s["n"]),
                penalty=int(s.get("penalty", 0)),
                fee=int(s.get("fee", 0)),
                interest=int(s.get("interest", 0)),
                principal=int(s.get("principal", 0)),
            )
            for s in doc.get("installments", [])
        ),
    )


def to_doc(p: Payment) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": p.id,
        "idempotency_key": p.idempotency_key,
        "fingerprint": p.fingerprint,
        "loan_id": p.loan_id,
        "amount_minor": p.amount.amount_minor,
        "currency": p.amount.currency,
        "value_date": p.value_date.isoformat(),
        "channel": p.channel.value,
        "external_reference": p.external_reference,
        "note": p.note,
        "status": p.status.value,
        "posted_by": p.posted_by,
        "poster_role": p.poster_role.value,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "updated_by": p.updated_by,
        "version": p.version,
        "loan_number": p.loan.loan_number,
        "borrower_id": p.loan.borrower_id,
        "borrower_name": p.loan.borrower_name,
        "agent_id": p.loan.agent_id,
        "branch_id": p.loan.branch_id,
        "receipt_number": p.receipt_number or None,
        "allocation": _allocation_doc(p.allocation) if p.allocation else None,
        "loan_transaction_id": p.loan_transaction_id,
        "recovery": p.recovery,
        "loan_closed": p.loan_closed,
        "rejection_reason": p.rejection_reason,
        "rejection_code": p.rejection_code,
        "rejection_fields": [
            {"field": v.field, "description": v.description} for v in p.rejection_fields
        ],
        "posted_at": p.posted_at,
        "reversal": (
            {
                "id": p.reversal.id,
                "reason": p.reversal.reason,
                "reversed_by": p.reversal.reversed_by,
                "reversed_at": p.reversal.reversed_at,
                "loan_transaction_id": p.reversal.loan_transaction_id,
            }
            if p.reversal
            else None
        ),
        "reversal_request": (
            {
                "reason": p.reversal_request.reason,
                "requested_by": p.reversal_request.requested_by,
                "requested_at": p.reversal_request.requested_at,
            }
            if p.reversal_request
            else None
        ),
        "attempts": p.attempts,
        "last_error": p.last_error,
    }
    # Only present while they mean something: both fields are indexed sparsely.
    if p.lease_until is not None:
        doc["lease_until"] = p.lease_until
    if p.external_reference and p.status is not PaymentStatus.REJECTED:
        doc["reference_hold"] = p.external_reference
    return doc


def from_doc(doc: dict[str, Any]) -> Payment:
    rev = doc.get("reversal")
    req = doc.get("reversal_request")
    return Payment(
        id=doc["_id"],
        idempotency_key=doc["idempotency_key"],
        fingerprint=doc["fingerprint"],
        loan_id=doc["loan_id"],
        amount=Money(int(doc["amount_minor"]), doc["currency"]),
        value_date=date.fromisoformat(doc["value_date"]),
        channel=Channel(doc["channel"]),
        status=PaymentStatus(doc["status"]),
        posted_by=doc["posted_by"],
        poster_role=PosterRole(doc.get("poster_role", "ADMIN")),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        external_reference=doc.get("external_reference", ""),
        note=doc.get("note", ""),
        updated_by=doc.get("updated_by", ""),
        version=int(doc.get("version", 1)),
        loan=LoanFacts(
            loan_number=doc.get("loan_number", ""),
            borrower_id=doc.get("borrower_id", ""),
            borrower_name=doc.get("borrower_name", ""),
            agent_id=doc.get("agent_id", ""),
            branch_id=doc.get("branch_id", ""),
        ),
        receipt_number=doc.get("receipt_number") or "",
        allocation=_allocation(doc.get("allocation")),
        loan_transaction_id=doc.get("loan_transaction_id", ""),
        recovery=bool(doc.get("recovery", False)),
        loan_closed=bool(doc.get("loan_closed", False)),
        rejection_reason=doc.get("rejection_reason", ""),
        rejection_code=doc.get("rejection_code", ""),
        rejection_fields=tuple(
            FieldViolation(str(v["field"]), str(v["description"]))
            for v in doc.get("rejection_fields") or ()
        ),
        posted_at=doc.get("posted_at"),
        reversal=(
            Reversal(
                id=rev.get("id", ""),
                reason=rev["reason"],
                reversed_by=rev["reversed_by"],
                reversed_at=rev["reversed_at"],
                loan_transaction_id=rev.get("loan_transaction_id", ""),
            )
            if rev
            else None
        ),
        reversal_request=(
            ReversalRequest(
                reason=req["reason"],
                requested_by=req["requested_by"],
                requested_at=req["requested_at"],
            )
            if req
            else None
        ),
        lease_until=doc.get("lease_until"),
        attempts=int(doc.get("attempts", 0)),
        last_error=doc.get("last_error", ""),
    )


def _changes(p: Payment) -> tuple[dict[str, Any], dict[str, Any]]:
    """$set and $unset for replacing a stored payment's mutable state with ``p``."""
    doc = to_doc(p)
    doc.pop("_id")
    unset = {name: "" for name in ("lease_until", "reference_hold") if name not in doc}
    return doc, unset


class ReceiptNumbers:
    """Receipt sequences per year, reserved from the shared counter a block at a time.

    One ``$inc`` of ``block`` on ``counters/receipt-<year>`` reserves the numbers
    ``seq - block + 1 .. seq`` for this process alone; they are handed out here,
    in order, under a lock. So numbers are unique per year (every process gets
    disjoint blocks) and increase within a process, but not across processes,
    and a block's unused numbers are never handed out (after a restart, say):
    receipts are unique, not gap-free. A new year starts from its own counter.

    Outside any transaction on purpose: a counter inside every posting
    transaction would make concurrent postings conflict with each other.
    """

    def __init__(self, counters: AsyncCollection[dict[str, Any]], block: int = 100) -> None:
        if block < 1:
            raise ValueError("a receipt block holds at least one number")
        self._counters = counters
        self._block = block
        self._lock = asyncio.Lock()
        # year -> (next number to hand out, last number of the reserved block)
        self._reserved: dict[int, tuple[int, int]] = {}

    async def _reserve(self, year: int) -> int:
        """The last number of a new block for ``year``, taken with one ``$inc``."""
        for _ in range(5):
            try:
                doc = await self._counters.find_one_and_update(
                    {"_id": f"receipt-{year}"},
                    {"$inc": {"seq": self._block}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                doc = None
            # Two processes taking a year's first block at once: one upsert creates the
            # counter, the other's may fail (or find nothing); the counter is there now.
            if doc is not None:
                return int(doc["seq"])
        raise RuntimeError(f"could not reserve receipt numbers for {year}")

    async def next(self, year: int) -> int:
        async with self._lock:
            nxt, last = self._reserved.get(year, (1, 0))
            if nxt > last:
                last = await self._reserve(year)
                nxt = last - self._block + 1
            # Only the current year's block (and a late posting's) is worth keeping.
            self._reserved = {y: r for y, r in self._reserved.items() if y >= year - 1}
            self._reserved[year] = (nxt + 1, last)
            return nxt


class PaymentRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, receipt_block: int = 100) -> None:
        self._payments = db[PAYMENTS]
        self._reversals = db[REVERSALS]
        self._owners = db[LOAN_OWNERS]
        self._receipts = ReceiptNumbers(db[COUNTERS], receipt_block)

    # -- writes ---------------------------------------------------------------------
    async def insert(self, payment: Payment) -> None:
        """Record a new payment; the unique indexes decide every race."""
        try:
            await self._payments.insert_one(to_doc(payment))
        except DuplicateKeyError as exc:
            if duplicate_key_index(exc) == REFERENCE_INDEX:
                held = {
                    "channel": payment.channel.value,
                    "reference_hold": payment.external_reference,
                }
                holder = await self._payments.find_one(held, {"_id": 1})
                raise ReferenceTaken(str(holder["_id"]) if holder else None) from exc
            raise IdempotencyKeyTaken() from exc

    async def replace_if(
        self,
        payment: Payment,
        expect: dict[str, Any],
        session: AsyncClientSession | None = None,
        *,
        also: dict[str, Any] | None = None,
    ) -> bool:
        """Store ``payment`` if the stored one still matches ``expect`` (compare-and-set).

        ``also``: more update operators for the same write (the payment's events, staged
        by ``EmbeddedOutbox.stage``: ``$push`` and ``$min``, on fields ``to_doc`` never has).
        """
        doc, unset = _changes(payment)
        update: dict[str, Any] = {**(also or {}), "$set": doc}
        if unset:
            update["$unset"] = unset
        result = await self._payments.update_one(
            {"_id": payment.id, **expect}, update, session=session
        )
        return result.matched_count == 1

    async def record_attempt(
        self, payment_id: str, error: str, retry_at: datetime, expect_status: PaymentStatus
    ) -> Payment | None:
        """Note a failed drive and when to try again (only if nothing settled it meanwhile).

        Returns the payment as stored now, or None when something settled it meanwhile.
        """
        doc = await self._payments.find_one_and_update(
            {"_id": payment_id, "status": expect_status.value, "lease_until": {"$exists": True}},
            {"$set": {"lease_until": retry_at, "last_error": error[:500]}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        return from_doc(doc) if doc else None

    async def claim(self, payment: Payment, lease_until: datetime) -> Payment | None:
        """Take the lease on one due payment; None when another worker got it first."""
        doc = await self._payments.find_one_and_update(
            {"_id": payment.id, "lease_until": payment.lease_until},
            {"$set": {"lease_until": lease_until}},
            return_document=ReturnDocument.AFTER,
        )
        return from_doc(doc) if doc else None

    async def due_for_recovery(self, now: datetime, limit: int) -> list[Payment]:
        cursor = (
            self._payments.find({"lease_until": {"$lte": now}})
            .sort([("lease_until", ASCENDING)])
            .limit(limit)
        )
        return [from_doc(d) async for d in cursor]

    async def recovery_backlog(self, now: datetime) -> tuple[int, int, int]:
        """Outstanding work (a lease is held): PENDING payments, requested reversals, and
        of both those whose lease ran out by ``now`` (``due_for_recovery``'s next pick)."""
        outstanding = {"lease_until": {"$exists": True}}
        pending = PaymentStatus.PENDING.value
        payments, reversals, due = await asyncio.gather(
            self._payments.count_documents({**outstanding, "status": pending}),
            self._payments.count_documents({**outstanding, "status": {"$ne": pending}}),
            self._payments.count_documents({"lease_until": {"$lte": now}}),
        )
        return payments, reversals, due

    async def next_receipt_sequence(self, year: int) -> int:
        """The next receipt sequence of ``year`` (see ``ReceiptNumbers``)."""
        return await self._receipts.next(year)

    async def insert_reversal(
        self, payment: Payment, session: AsyncClientSession | None = None
    ) -> None:
        rev = payment.reversal
        assert rev is not None
        await self._reversals.insert_one(
            {
                "_id": rev.id,
                "payment_id": payment.id,
                "receipt_number": payment.receipt_number,
                "loan_id": payment.loan_id,
                "amount_minor": payment.amount.amount_minor,
                "currency": payment.amount.currency,
                "reason": rev.reason,
                "reversed_by": rev.reversed_by,
                "reversed_at": rev.reversed_at,
                "loan_transaction_id": rev.loan_transaction_id,
            },
            session=session,
        )

    async def follow_loan(
        self,
        loan_id: str,
        owner: LoanOwner,
        session: AsyncClientSession,
    ) -> int:
        """Record the loan's new owner and move its payments to them; returns how many moved.

        An event older than the owner already recorded (a late redelivery) changes nothing.
        Each moved payment is marked (``OWNER_MOVED``), so a settle of a PENDING one
        whose loan facts were fetched before the move notices it without a read.
        """
        known = await self._owners.find_one({"_id": loan_id}, session=session)
        if known is not None and known["as_of"] > owner.as_of:
            return 0
        await self._owners.replace_one(
            {"_id": loan_id},
            {"agent_id": owner.agent_id, "branch_id": owner.branch_id, "as_of": owner.as_of},
            upsert=True,
            session=session,
        )
        result = await self._payments.update_many(
            {"loan_id": loan_id},
            {
                "$set": {
                    "agent_id": owner.agent_id,
                    "branch_id": owner.branch_id,
                    OWNER_MOVED: owner.as_of,
                }
            },
            session=session,
        )
        return result.modified_count

    async def loan_owner(
        self, loan_id: str, session: AsyncClientSession | None = None
    ) -> LoanOwner | None:
        doc = await self._owners.find_one({"_id": loan_id}, session=session)
        if doc is None:
            return None
        return LoanOwner(doc["agent_id"], doc.get("branch_id", ""), doc["as_of"])

    # -- reads ----------------------------------------------------------------------
    async def get(
        self, payment_id: str, session: AsyncClientSession | None = None
    ) -> Payment:
        doc = await self._payments.find_one({"_id": payment_id}, session=session)
        if doc is None:
            raise NotFound(f"payment {payment_id} not found")
        return from_doc(doc)

    async def by_key(self, posted_by: str, key: str) -> Payment | None:
        doc = await self._payments.find_one({"posted_by": posted_by, "idempotency_key": key})
        return from_doc(doc) if doc else None

    async def reversal_of(self, payment_id: str) -> dict[str, Any] | None:
        return await self._reversals.find_one({"payment_id": payment_id})

    @staticmethod
    def _query(f: PaymentFilter) -> dict[str, Any]:
        query: dict[str, Any] = {}
        for name in ("loan_id", "borrower_id", "agent_id"):
            value = getattr(f, name)
            if value:
                query[name] = value
        if f.channel is not None:
            query["channel"] = f.channel.value
        if f.status is not None:
            query["status"] = f.status.value
        if f.from_date or f.to_date:
            span: dict[str, str] = {}
            if f.from_date:
                span["$gte"] = f.from_date.isoformat()
            if f.to_date:
                span["$lte"] = f.to_date.isoformat()
            query["value_date"] = span
        if f.visible_to_agent:
            query["$or"] = [{"agent_id": f.visible_to_agent}, {"posted_by": f.visible_to_agent}]
        return query

    async def list_payments(self, f: PaymentFilter, page: Page) -> tuple[list[Payment], int]:
        query = self._query(f)
        total = await self._payments.count_documents(query)
        cursor = self._payments.find(query).sort(page.sort).skip(page.offset).limit(page.size)
        return [from_doc(d) async for d in cursor], total

    async def collected_on(
        self, agent_id: str, on: date, day_ends: datetime | None = None
    ) -> list[Collected]:
        """Payments with value date ``on`` on the agent's loans, summed per loan.

        POSTED ones, and REVERSED ones whose reversal came after ``day_ends`` (the end of
        that business day): the loan's replay as of ``on`` still counts those as paid, so
        the day's sheet must show them as collected, or its expected total would shrink.
        """
        kept: list[dict[str, Any]] = [{"status": PaymentStatus.POSTED.value}]
        if day_ends is not None:
            kept.append(
                {
                    "status": PaymentStatus.REVERSED.value,
                    "reversal.reversed_at": {"$gte": day_ends},
                }
            )
        pipeline: list[dict[str, Any]] = [
            {
                "$match": {
                    "agent_id": agent_id,
                    "value_date": on.isoformat(),
                    "$or": kept,
                }
            },
            {
                "$group": {
                    "_id": "$loan_id",
                    "amounts": {"$push": "$amount_minor"},
                    "count": {"$sum": 1},
                    "currency": {"$first": "$currency"},
                    "loan_number": {"$first": "$loan_number"},
                    "borrower_id": {"$first": "$borrower_id"},
                    "borrower_name": {"$first": "$borrower_name"},
                }
            },
        ]
        cursor = await self._payments.aggregate(pipeline)
        return [
            Collected(
                loan_id=str(d["_id"]),
                loan_number=d.get("loan_number") or "",
                borrower_id=d.get("borrower_id") or "",
                borrower_name=d.get("borrower_name") or "",
                amount=Money(exact_sum(d["amounts"]), d["currency"]),
                count=int(d["count"]),
            )
            async for d in cursor
        ]

    async def cash_groups(self, posted_by: str, on: date) -> list[CashGroup]:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"posted_by": posted_by, "value_date": on.isoformat()}},
            {
                "$group": {
                    "_id": {"channel": "$channel", "currency": "$currency", "status": "$status"},
                    "count": {"$sum": 1},
                    "amounts": {"$push": "$amount_minor"},
                }
            },
        ]
        cursor = await self._payments.aggregate(pipeline)
        return [
            CashGroup(
                channel=Channel(d["_id"]["channel"]),
                currency=d["_id"]["currency"],
                status=PaymentStatus(d["_id"]["status"]),
                count=int(d["count"]),
                amount_minor=exact_sum(d["amounts"]),
            )
            async for d in cursor
        ]
