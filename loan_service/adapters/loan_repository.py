"""MongoDB storage for loans: one document per loan, written by compare-and-set.

* ``loans``: the loan, its product snapshot, frozen schedule and transaction
  list, plus a few derived figures (``LoanFacts``) for lists and filters.
  Every write sets the loan's fields where ``version`` still has the value
  that was read; a concurrent writer makes it a ``VersionConflict`` (the
  use case re-reads and retries, or answers ABORTED).
  ``payment_ids`` lists the payment ids of its repayments and recoveries (left
  out while there are none); a unique (multikey, sparse) index on it makes the
  loan write itself refuse a payment id that another loan already holds
  (``PaymentTaken``), so ApplyRepayment is idempotent under concurrency across
  loans too, with no write of its own. (Until issue 15 a ``loan_payments``
  document per payment id did this, inserted in the loan write's transaction;
  the ``payment_ids`` migration fills the field in on loans stored before.)
  The loan's own events wait in the document until the relay has published them
  (an embedded outbox: ``outbox``, ``outbox_next``; see ``shared.events.EmbeddedOutbox``),
  pushed by the same write as the change they tell of. Every write here therefore sets
  the loan's fields (``loan_update``) and never replaces the whole document, and the
  reads leave those two fields out (``LOAN_FIELDS``).
* ``loan_counters``: per-year sequences for loan numbers (atomic ``$inc``).
* ``borrower_guards``: touched by every submission in its transaction, so two
  concurrent submissions for one borrower conflict and the active-loan limit
  is checked against committed data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from loan_service.adapters.product_repository import product_from_doc, product_to_doc
from loan_service.domain.ledger import Transaction, TransactionType
from loan_service.domain.lifecycle import LoanStatus
from loan_service.domain.loan import NO_ARREARS, Loan, LoanFacts
from loan_service.domain.products import RepaymentFrequency
from loan_service.domain.schedule import Schedule, ScheduleRow
from shared.clock import utcnow
from shared.errors import Conflict, NotFound
from shared.events.outbox import EMBEDDED_FIELD, NEXT_FIELD
from shared.paging import Page

LOANS = "loans"
# Written no more (issue 15: the loans' payment_ids index does its work); read only for ids
# a replica of the version before recorded there (payment_loan).
LEGACY_PAYMENTS = "loan_payments"
COUNTERS = "loan_counters"
GUARDS = "borrower_guards"
# The newest borrower version whose agent, branch and name the loans follow.
BORROWER_VERSIONS = "borrower_versions"

LOAN_INDEXES: dict[str, list[IndexModel]] = {
    LOANS: [
        IndexModel([("loan_number", ASCENDING)], unique=True, name="loan_number_unique"),
        IndexModel(
            [("borrower_id", ASCENDING), ("product_id", ASCENDING), ("status", ASCENDING)],
            name="borrower_product_status",
        ),
        IndexModel([("submitted_at", DESCENDING)], name="submitted"),
        IndexModel([("agent_id", ASCENDING), ("submitted_at", DESCENDING)], name="agent_submitted"),
        IndexModel(
            [("agent_id", ASCENDING), ("status", ASCENDING), ("arrears_since", ASCENDING)],
            name="agent_status_arrears",
        ),
        IndexModel([("status", ASCENDING), ("arrears_since", ASCENDING)], name="status_arrears"),
        IndexModel([("disbursement_date", ASCENDING)], name="disbursement_date"),
        # One loan per payment id: a write adding an id another loan holds is refused.
        IndexModel(
            [("payment_ids", ASCENDING)], unique=True, sparse=True, name="payment_ids_unique"
        ),
    ],
}
PAYMENT_IDS_INDEX = "payment_ids_unique"
# What a read of a loan fetches: everything but its embedded outbox (the relay's).
LOAN_FIELDS: dict[str, Any] = {EMBEDDED_FIELD: 0, NEXT_FIELD: 0}
# The transactions whose payment id belongs to the loan for good (a reversal keeps it).
_PAID = frozenset({TransactionType.REPAYMENT, TransactionType.RECOVERY})


def payment_ids(transactions: Sequence[Transaction]) -> list[str]:
    """The payment ids a loan holds, sorted (the unique ``payment_ids`` index)."""
    return sorted({t.payment_id for t in transactions if t.type in _PAID and t.payment_id})

# API order_by names -> stored fields. days_past_due sorts by arrears_since, reversed.
SORTABLE = {
    "submitted_at": "submitted_at",
    "disbursement_date": "disbursement_date",
    "loan_number": "loan_number",
    "days_past_due": "arrears_since",
}
DEFAULT_SORT: list[tuple[str, int]] = [("submitted_at", -1)]


def loan_sort(page_sort: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """A later oldest unpaid due date means fewer days past due: flip that key."""
    return [(f, -d if f == "arrears_since" else d) for f, d in page_sort]


class VersionConflict(Exception):
    """The loan changed since it was read; re-read and try again."""


class PaymentTaken(Exception):
    """A payment id was recorded concurrently; re-read to see by whom."""


def _payment_taken(exc: DuplicateKeyError) -> bool:
    """Whether the duplicate is a payment id (the other unique index is the loan number)."""
    details = exc.details or {}
    pattern = details.get("keyPattern") or {}
    return "payment_ids" in pattern or PAYMENT_IDS_INDEX in str(details.get("errmsg", exc))


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def schedule_to_doc(schedule: Schedule) -> dict[str, Any]:
    """A plain, JSON/BSON-friendly form (dates as ISO strings)."""
    return {
        "currency": schedule.currency,
        "principal": schedule.principal,
        "frequency": schedule.frequency.value,
        "disbursement_date": schedule.disbursement_date.isoformat(),
        "rows": [
            {
                "number": row.number,
                "due_date": row.due_date.isoformat(),
                "principal": row.principal,
                "interest": row.interest,
                "fee": row.fee,
                "penalty": row.penalty,
                "outstanding_principal_after": row.outstanding_principal_after,
            }
            for row in schedule.rows
        ],
        "total_interest": schedule.total_interest,
        "total_fees": schedule.total_fees,
        "total_repayable": schedule.total_repayable,
        "upfront_fee": schedule.upfront_fee,
        "net_disbursed": schedule.net_disbursed,
        "effective_apr": schedule.effective_apr,
    }

def schedule_from_doc(data: dict[str, Any]) -> Schedule:
    return Schedule(
        currency=data["currency"],
        principal=int(data["principal"]),
        frequency=RepaymentFrequency(data["frequency"]),
        disbursement_date=date.fromisoformat(data["disbursement_date"]),
        rows=tuple(
            ScheduleRow(
                int(row["number"]),
                date.fromisoformat(row["due_date"]),
                int(row["principal"]),
                int(row["interest"]),
                int(row.get("fee", 0)),
                int(row.get("penalty", 0)),
                int(row["outstanding_principal_after"]),
            )
            for row in data["rows"]
        ),
        total_interest=int(data["total_interest"]),
        total_fees=int(data.get("total_fees", 0)),
        total_repayable=int(data["total_repayable"]),
        upfront_fee=int(data["upfront_fee"]),
        net_disbursed=int(data["net_disbursed"]),
        effective_apr=str(data["effective_apr"]),
    )


def transaction_to_doc(txn: Transaction) -> dict[str, Any]:
    return {
        "id": txn.id,
        "type": txn.type.value,
        "value_date": txn.value_date.isoformat(),
        "amount": txn.amount,
        "sequence": txn.sequence,
        "payment_id": txn.payment_id,
        "reverses": txn.reverses,
        "installment_number": txn.installment_number,
        "penalty_amount": txn.penalty_amount,
        "interest_amount": txn.interest_amount,
        "reason": txn.reason,
        "actor": txn.actor,
        "channel": txn.channel,
        "created_at": txn.created_at,
    }

def transaction_from_doc(data: Mapping[str, Any]) -> Transaction:
    return Transaction(
        id=str(data["id"]),
        type=TransactionType(data["type"]),
        value_date=date.fromisoformat(data["value_date"]),
        amount=int(data["amount"]),
        sequence=int(data["sequence"]),
        payment_id=str(data.get("payment_id", "")),
        reverses=str(data.get("reverses", "")),
        installment_number=int(data.get("installment_number", 0)),
        penalty_amount=int(data.get("penalty_amount", 0)),
        interest_amount=int(data.get("interest_amount", 0)),
        reason=str(data.get("reason", "")),
        actor=str(data.get("actor", "")),
        channel=str(data.get("channel", "")),
        created_at=data.get("created_at"),
    )


def loan_parties(loan: Loan) -> dict[str, str]:
    """The loan's number, whose it is (borrower, agent, branch) and its product's id: alike
    in its stored document, its search document and its events."""
    return {
        "loan_number": loan.loan_number,
        "borrower_id": loan.borrower_id,
        "borrower_name": loan.borrower_name,
        "agent_id": loan.agent_id,
        "branch_id": loan.branch_id,
        "product_id": loan.product_id,
    }


def loan_to_doc(loan: Loan) -> dict[str, Any]:
    facts = loan.facts
    doc: dict[str, Any] = {
        "_id": loan.id,
        **loan_parties(loan),
        "product": product_to_doc(loan.product),
        "status": loan.status.value,
        "currency": loan.currency,
        "principal": loan.principal,
        "installments": loan.installments,
        "purpose": loan.purpose,
        "note": loan.note,
        "submitted_date": loan.submitted_date.isoformat(),
        "submitted_by": loan.submitted_by,
        "submitted_at": loan.submitted_at,
        "approved_by": loan.approved_by,
        "approved_at": loan.approved_at,
        "approval_note": loan.approval_note,
        "rejected_by": loan.rejected_by,
        "rejected_at": loan.rejected_at,
        "rejection_reason": loan.rejection_reason,
        "withdrawn_by": loan.withdrawn_by,
        "withdrawn_at": loan.withdrawn_at,
        "withdrawal_reason": loan.withdrawal_reason,
        "disbursed_by": loan.disbursed_by,
        "disbursed_at": loan.disbursed_at,
        "disbursement_note": loan.disbursement_note,
        "disbursement_date": _iso(loan.disbursement_date),
        "schedule": schedule_to_doc(loan.schedule) if loan.schedule is not None else None,
        "transactions": [transaction_to_doc(t) for t in loan.transactions],
        "closed_date": _iso(loan.closed_date),
        "written_off_by": loan.written_off_by,
        "written_off_at": loan.written_off_at,
        "write_off_reason": loan.write_off_reason,
        "written_off_date": _iso(loan.written_off_date),
        "as_of": _iso(facts.as_of),
        "outstanding_principal": facts.outstanding_principal,
        "total_outstanding": facts.total_outstanding,
        "days_past_due": facts.days_past_due,
        "arrears_since": facts.arrears_since,
        "next_due_date": _iso(facts.next_due_date),
        "updated_by": loan.updated_by,
        "updated_at": loan.updated_at,
        "version": loan.version,
    }
    held = payment_ids(loan.transactions)
    if held:  # left out, not [], while there are none: [] is a key of the unique index too
        doc["payment_ids"] = held
    return doc


def loan_update(loan: Loan) -> dict[str, Any]:
    """The update that stores ``loan`` over its document: ``$set`` of every field
    (``$unset`` of ``payment_ids`` while there are none), leaving the embedded outbox
    (``outbox``, ``outbox_next``) alone, which a whole-document replace would drop."""
    fields = loan_to_doc(loan)
    del fields["_id"]
    update: dict[str, Any] = {"$set": fields}
    if "payment_ids" not in fields:
        update["$unset"] = {"payment_ids": ""}
    return update


def loan_from_doc(doc: dict[str, Any]) -> Loan:
    schedule = doc.get("schedule")
    return Loan(
        id=str(doc["_id"]),
        loan_number=doc["loan_number"],
        borrower_id=doc["borrower_id"],
        borrower_name=doc.get("borrower_name", ""),
        agent_id=doc.get("agent_id", ""),
        branch_id=doc.get("branch_id", ""),
        product_id=doc["product_id"],
        product=product_from_doc(doc["product"]),
        status=LoanStatus(doc["status"]),
        principal=int(doc["principal"]),
        installments=int(doc["installments"]),
        purpose=doc.get("purpose", ""),
        note=doc.get("note", ""),
        submitted_date=date.fromisoformat(doc["submitted_date"]),
        submitted_by=doc.get("submitted_by", ""),
        submitted_at=doc.get("submitted_at"),
        approved_by=doc.get("approved_by", ""),
        approved_at=doc.get("approved_at"),
        approval_note=doc.get("approval_note", ""),
        rejected_by=doc.get("rejected_by", ""),
        rejected_at=doc.get("rejected_at"),
        rejection_reason=doc.get("rejection_reason", ""),
        withdrawn_by=doc.get("withdrawn_by", ""),
        withdrawn_at=doc.get("withdrawn_at"),
        withdrawal_reason=doc.get("withdrawal_reason", ""),
        disbursed_by=doc.get("disbursed_by", ""),
        disbursed_at=doc.get("disbursed_at"),
        disbursement_note=doc.get("disbursement_note", ""),
        disbursement_date=_date(doc.get("disbursement_date")),
        schedule=schedule_from_doc(schedule) if schedule else None,
        transactions=tuple(transaction_from_doc(t) for t in doc.get("transactions") or ()),
        closed_date=_date(doc.get("closed_date")),
        written_off_by=doc.get("written_off_by", ""),
        written_off_at=doc.get("written_off_at"),
        write_off_reason=doc.get("write_off_reason", ""),
        written_off_date=_date(doc.get("written_off_date")),
        facts=LoanFacts(
            as_of=_date(doc.get("as_of")),
            outstanding_principal=int(doc.get("outstanding_principal", 0)),
            total_outstanding=int(doc.get("total_outstanding", 0)),
            days_past_due=int(doc.get("days_past_due", 0)),
            arrears_since=int(doc.get("arrears_since", NO_ARREARS)),
            next_due_date=_date(doc.get("next_due_date")),
        ),
        updated_by=doc.get("updated_by", ""),
        updated_at=doc.get("updated_at"),
        version=int(doc.get("version", 1)),
    )


@dataclass(frozen=True, slots=True)
class LoanFilter:
    """ListLoans filters; ``agent_id`` is forced to the caller for agents."""

    business_date: date
    status: LoanStatus | None = None
    agent_id: str | None = None
    borrower_id: str | None = None
    product_id: str | None = None
    branch_id: str | None = None
    disbursed_from: date | None = None
    disbursed_to: date | None = None
    dpd_min: int | None = None
    dpd_max: int | None = None

    def query(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        for name in ("agent_id", "borrower_id", "product_id", "branch_id"):
            value = getattr(self, name)
            if value:
                query[name] = value
        if self.status is not None:
            query["status"] = self.status.value
        if self.disbursed_from is not None or self.disbursed_to is not None:
            between: dict[str, str] = {}
            if self.disbursed_from is not None:
                between["$gte"] = self.disbursed_from.isoformat()
            if self.disbursed_to is not None:
                between["$lte"] = self.disbursed_to.isoformat()
            query["disbursement_date"] = between
        if self.dpd_min is not None or self.dpd_max is not None:
            # DPD on the business date = today - oldest unsettled due date; ACTIVE loans only.
            if self.status not in (None, LoanStatus.ACTIVE):
                return {"_id": {"$in": []}}
            query["status"] = LoanStatus.ACTIVE.value
            today = self.business_date.toordinal()
            since: dict[str, int] = {}
            if self.dpd_min is not None and self.dpd_min > 0:
                since["$lte"] = today - self.dpd_min
            if self.dpd_max is not None:
                since["$gte"] = today - self.dpd_max
            if since:
                query["arrears_since"] = since
        return query


class LoanRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._loans = db[LOANS]
        self._legacy_payments = db[LEGACY_PAYMENTS]
        self._counters = db[COUNTERS]
        self._guards = db[GUARDS]
        self._borrower_versions = db[BORROWER_VERSIONS]

    # -- loans ---------------------------------------------------------------------
    async def insert(
        self,
        loan: Loan,
        session: AsyncClientSession | None = None,
        *,
        also: Mapping[str, Any] | None = None,
    ) -> None:
        """Insert ``loan``; ``also``: more fields of the new document (its first events,
        ``Staged.fields``)."""
        await self._loans.insert_one({**loan_to_doc(loan), **(also or {})}, session=session)

    async def get(self, loan_id: str, session: AsyncClientSession | None = None) -> Loan:
        doc = await self._loans.find_one({"_id": loan_id}, LOAN_FIELDS, session=session)
        if doc is None:
            raise NotFound(f"loan {loan_id} not found")
        return loan_from_doc(doc)

    async def find_doc(
        self, loan_id: str, session: AsyncClientSession | None = None
    ) -> dict[str, Any] | None:
        return await self._loans.find_one({"_id": loan_id}, LOAN_FIELDS, session=session)

    async def get_many(self, loan_ids: Sequence[str]) -> dict[str, Loan]:
        if not loan_ids:
            return {}
        cursor = self._loans.find({"_id": {"$in": list(loan_ids)}}, LOAN_FIELDS)
        return {str(d["_id"]): loan_from_doc(d) async for d in cursor}

    async def update(
        self,
        loan: Loan,
        expected_version: int,
        session: AsyncClientSession | None = None,
        *,
        also: Mapping[str, Any] | None = None,
    ) -> None:
        """Store ``loan`` if the stored version is still ``expected_version``;
        PaymentTaken if it adds a payment id that another loan holds.

        One ``update_one`` setting the loan's fields (``loan_update``), never a replace:
        the document's embedded outbox is left as it is. ``also``: more update operators
        for the same write (the loan's events, ``EmbeddedOutbox.stage``: ``$push`` onto
        ``outbox`` and ``$min`` of ``outbox_next``, fields ``loan_to_doc`` never has)."""
        update = {**(also or {}), **loan_update(loan)}
        try:
            result = await self._loans.update_one(
                {"_id": loan.id, "version": expected_version}, update, session=session
            )
        except DuplicateKeyError as exc:
            if _payment_taken(exc):
                raise PaymentTaken(loan.id) from exc
            raise
        if result.matched_count == 0:
            raise VersionConflict(loan.id)

    async def store_facts(self, loan: Loan) -> bool:
        """Store ``loan``'s derived figures alone if its version has not moved.

        The figures follow from the stored transactions, so the version stays: a writer
        that moved it on stored figures of its own. False when that happened.
        """
        doc = loan_to_doc(loan)
        names = (
            "as_of",
            "outstanding_principal",
            "total_outstanding",
            "days_past_due",
            "arrears_since",
            "next_due_date",
        )
        result = await self._loans.update_one(
            {"_id": loan.id, "version": loan.version}, {"$set": {n: doc[n] for n in names}}
        )
        return result.matched_count == 1

    async def page(self, flt: LoanFilter, page: Page) -> tuple[list[Loan], int]:
        query = flt.query()
        total = await self._loans.count_documents(query)
        cursor = (
            self._loans.find(query, LOAN_FIELDS)
            .sort(loan_sort(page.sort))
            .skip(page.offset)
            .limit(page.size)
        )
        return [loan_from_doc(d) async for d in cursor], total

    @staticmethod
    def _due_query(agent_id: str, on: date, changed_since: datetime | None) -> dict[str, Any]:
        """Loans that may have an installment unsettled and due on or before ``on``.

        ``arrears_since`` only changes when a loan is written, so for a past date
        the loans written since that day are candidates too (``changed_since``):
        a repayment after the date may have settled what was due on it.
        """
        query: dict[str, Any] = {
            "agent_id": agent_id,
            "status": LoanStatus.ACTIVE.value,
            "arrears_since": {"$lte": on.toordinal()},
        }
        if changed_since is None:
            return query
        return {
            "agent_id": agent_id,
            "$or": [
                {"status": LoanStatus.ACTIVE.value, "arrears_since": {"$lte": on.toordinal()}},
                {
                    "status": {
                        "$in": [
                            LoanStatus.ACTIVE.value,
                            LoanStatus.CLOSED.value,
                            LoanStatus.WRITTEN_OFF.value,
                        ]
                    },
                    "disbursement_date": {"$lte": on.isoformat()},
                    "updated_at": {"$gte": changed_since},
                },
            ],
        }

    async def due(
        self,
        agent_id: str,
        on: date,
        after: tuple[str, str] | None,
        limit: int,
        changed_since: datetime | None = None,
    ) -> list[Loan]:
        """Candidates for the collection sheet, by (borrower name, loan number).

        Keyset paging: ``after`` is the last (borrower name, loan number) already
        returned, so loans settled or added between pages shift nothing.
        """
        query = self._due_query(agent_id, on, changed_since)
        if after is not None:
            name, number = after
            query = {
                "$and": [
                    query,
                    {
                        "$or": [
                            {"borrower_name": {"$gt": name}},
                            {"borrower_name": name, "loan_number": {"$gt": number}},
                        ]
                    },
                ]
            }
        cursor = (
            self._loans.find(query, LOAN_FIELDS)
            .sort([("borrower_name", 1), ("loan_number", 1)])
            .limit(limit)
        )
        return [loan_from_doc(d) async for d in cursor]

    async def count_due(
        self, agent_id: str, on: date, changed_since: datetime | None = None
    ) -> int:
        return await self._loans.count_documents(self._due_query(agent_id, on, changed_since))

    async def count_open(
        self,
        borrower_id: str,
        product_id: str,
        statuses: Sequence[LoanStatus],
        session: AsyncClientSession | None = None,
    ) -> int:
        return await self._loans.count_documents(
            {
                "borrower_id": borrower_id,
                "product_id": product_id,
                "status": {"$in": [s.value for s in statuses]},
            },
            session=session,
        )

    async def count(self) -> int:
        return await self._loans.count_documents({})

    async def batches(self, size: int = 500) -> AsyncIterator[list[Loan]]:
        """Every loan, in id order, ``size`` at a time (for a reindex)."""
        batch: list[Loan] = []
        async for doc in self._loans.find({}, LOAN_FIELDS).sort("_id", 1).batch_size(size):
            batch.append(loan_from_doc(doc))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    async def claim_borrower_version(
        self, borrower_id: str, version: int, session: AsyncClientSession | None = None
    ) -> bool:
        """Record ``version`` as the newest borrower version followed; False if a newer
        (or the same) one was already followed, so a late or redelivered event is ignored."""
        known = await self._borrower_versions.find_one({"_id": borrower_id}, session=session)
        if known is not None and int(known["version"]) >= version:
            return False
        await self._borrower_versions.replace_one(
            {"_id": borrower_id}, {"version": version}, upsert=True, session=session
        )
        return True

    async def follow_borrower(
        self,
        borrower_id: str,
        *,
        agent_id: str,
        branch_id: str,
        full_name: str,
        session: AsyncClientSession | None = None,
    ) -> list[tuple[str, bool]]:
        """Copy a borrower's agent, branch and name onto their loans.

        Returns ``(loan id, agent changed)`` for every loan that changed.
        """
        wanted: dict[str, Any] = {"agent_id": agent_id}
        if branch_id:
            wanted["branch_id"] = branch_id
        if full_name:
            wanted["borrower_name"] = full_name
        query = {
            "borrower_id": borrower_id,
            "$or": [{name: {"$ne": value}} for name, value in wanted.items()],
        }
        found = [
            (str(d["_id"]), d.get("agent_id") != agent_id)
            async for d in self._loans.find(query, {"_id": 1, "agent_id": 1}, session=session)
        ]
        if found:
            await self._loans.update_many(
                {"_id": {"$in": [loan_id for loan_id, _ in found]}},
                {"$set": {**wanted, "updated_at": utcnow()}, "$inc": {"version": 1}},
                session=session,
            )
        return found

    # -- payments --------------------------------------------------------------------
    async def payment_loan(self, payment_id: str) -> str | None:
        """The loan a payment id was applied to, if any (the ``payment_ids`` index).

        Then ``loan_payments``, where a replica of the version before recorded it: while
        versions are mixed, a loan it wrote after the migration may lack the field."""
        doc = await self._loans.find_one({"payment_ids": payment_id}, {"_id": 1})
        if doc is not None:
            return str(doc["_id"])
        legacy = await self._legacy_payments.find_one({"_id": payment_id}, {"loan_id": 1})
        return str(legacy["loan_id"]) if legacy else None

    async def fill_payment_ids(self) -> int:
        """Migration: ``payment_ids`` on every loan stored before it was kept; how many.

        Safe to re-run and alongside writers: a loan is only set where its version is
        still the one read (a writer since stored the field itself)."""
        filled = 0
        query = {"payment_ids": {"$exists": False}}
        async for doc in self._loans.find(query, {"transactions": 1, "version": 1}):
            held = payment_ids([transaction_from_doc(t) for t in doc.get("transactions") or []])
            if not held:
                continue
            result = await self._loans.update_one(
                {"_id": doc["_id"], "version": doc["version"]}, {"$set": {"payment_ids": held}}
            )
            filled += result.modified_count
        return filled

    # -- numbers and guards -------------------------------------------------------------
    async def next_sequence(self, key: str) -> int:
        """Atomic per-key counter: concurrent callers never get the same number.

        Numbers are never reused; a submission that fails after taking one
        leaves a gap, which is harmless.
        """
        for _ in range(10):
            try:
                doc = await self._counters.find_one_and_update(
                    {"_id": key},
                    {"$inc": {"seq": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                # Two first-ever upserts raced; the loser retries as an update.
                continue
            if doc is not None:
                return int(doc["seq"])
            # Some servers answer a racing first upsert with no document: ask again.
        raise Conflict(f"could not allocate a number for {key}; retry")

    async def touch_borrower(self, borrower_id: str, session: AsyncClientSession) -> None:
        """Concurrent submissions for one borrower write here and so conflict."""
        await self._guards.update_one(
            {"_id": borrower_id}, {"$inc": {"writes": 1}}, upsert=True, session=session
        )
