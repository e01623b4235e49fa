"""MongoDB storage for end of day: the closed dates, the run and its lease, the snapshot rows.

* ``eod_state``: one document (``_id`` "eod"): the last closed date, the run in
  progress (its dates, who asked, when) and the lease on it (``owner``,
  ``lease_until``): only the holder works the run, so one replica closes a date.
  ``run.loan_writes`` counts the loan writes with new transactions committed while
  the run is open (``note_loan_write``, in their transactions); each batch commits
  only if it is still the count read before its loans were (``guard_batch``).
  ``rows_through``: the latest business date any snapshot row was written for,
  raised by every batch in its transaction (``guard_batch``), so a transaction that
  reads this document knows no row it could see is dated after it. A loan write
  reads the document once (``watch``): it counts itself only while a run is open,
  and reads the loan's rows only if some can exist from its date on. A document
  written before the field was kept has none: rows may then be of any date, until
  the next run's opening sets it from the rows themselves (``open_run``).
* ``eod_batches``: one document per committed batch with its figures, inserted in
  the batch's transaction (so they are exact across a kill, and concurrent batches
  never write one document); ``eod_dates``: one document per closed date, their
  sum with ``snapshot_rows`` and ``closed_at``.
* ``loan_snapshots``: one row per (business date, loan), ``_id`` "date|loan id".
  A row is inserted in the same transaction as the batch that computed it, so
  "the row exists" is what marks a loan done for a date: a rerun after a kill
  skips it, and a second writer's insert fails on the ``_id`` instead of
  charging twice. A batch looks its rows up by ``business_date`` and a range of
  ``loan_id`` (the ``date_loan`` index), not by a list of ids.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from loan_service.adapters.loan_repository import (
    LOAN_FIELDS,
    LOANS,
    VersionConflict,
    loan_from_doc,
    loan_update,
)
from loan_service.domain.lifecycle import LoanStatus
from loan_service.domain.loan import Loan
from shared.portfolio import ArrearsBucket, LoanSnapshot

STATE = "eod_state"
DATES = "eod_dates"
BATCHES = "eod_batches"
FIGURES = ("loans_processed", "penalties_charged", "installments_marked_overdue")
SNAPSHOTS = "loan_snapshots"
STATE_ID = "eod"
ROWS_THROUGH = "rows_through"

EOD_INDEXES: dict[str, list[IndexModel]] = {
    BATCHES: [IndexModel([("business_date", ASCENDING)], name="date")],
    SNAPSHOTS: [
        IndexModel([("business_date", ASCENDING), ("loan_id", ASCENDING)], name="date_loan"),
        IndexModel([("loan_id", ASCENDING), ("business_date", ASCENDING)], name="loan_date"),
    ],
}


@dataclass(frozen=True, slots=True)
class EodWatch:
    """What a loan write needs to know of end of day, read in its own transaction."""

    run_open: bool
    # No snapshot row is dated after this (None: no row at all). ``known`` False: the
    # state predates ``rows_through`` and rows may be of any date.
    rows_through: date | None = None
    known: bool = True

    def rows_from(self, since: date) -> bool:
        """Whether a snapshot row dated ``since`` or later can exist (in this snapshot)."""
        if self.run_open or not self.known:
            return True
        return self.rows_through is not None and since <= self.rows_through


class RowTaken(Exception):
    """A snapshot row of this batch was written meanwhile (another worker): re-read."""


class LeaseLost(Exception):
    """Another worker holds the end-of-day lease now: stop working the run."""


class LoansWritten(Exception):
    """A loan was written (new transactions) since the batch's loans were read: re-read."""


def row_id(day: date, loan_id: str) -> str:
    return f"{day.isoformat()}|{loan_id}"


def snapshot_to_doc(row: LoanSnapshot, loan_number: str, loan_version: int) -> dict[str, Any]:
    """The row as stored and as published in ``loan.snapshots`` (JSON values only):
    every field of ``LoanSnapshot`` in its order (as ``asdict`` gives them, without its
    deep copy), then ``loan_number`` and ``loan_version``."""
    return {
        "business_date": row.business_date.isoformat(),
        "loan_id": row.loan_id,
        "borrower_id": row.borrower_id,
        "agent_id": row.agent_id,
        "branch_id": row.branch_id,
        "product_id": row.product_id,
        "currency": row.currency,
        "status": row.status,
        "outstanding_principal": row.outstanding_principal,
        "outstanding_interest": row.outstanding_interest,
        "outstanding_fees": row.outstanding_fees,
        "outstanding_penalties": row.outstanding_penalties,
        "arrears_amount": row.arrears_amount,
        "days_past_due": row.days_past_due,
        "bucket": row.bucket.value,
        "installments_overdue": row.installments_overdue,
        "loan_number": loan_number,
        "loan_version": loan_version,
    }


def snapshot_from_doc(doc: dict[str, Any]) -> LoanSnapshot:
    fields = {k: v for k, v in doc.items() if k in LoanSnapshot.__dataclass_fields__}
    fields["business_date"] = date.fromisoformat(doc["business_date"])
    fields["bucket"] = ArrearsBucket(doc["bucket"])
    return LoanSnapshot(**fields)


def candidates_query(day: date) -> dict[str, Any]:
    """Loans that may be ACTIVE on ``day``: disbursed by then and not gone before it."""
    iso = day.isoformat()
    return {
        "disbursement_date": {"$lte": iso},
        "$or": [
            {"status": LoanStatus.ACTIVE.value},
            {"status": LoanStatus.CLOSED.value, "closed_date": {"$gte": iso}},
            {"status": LoanStatus.WRITTEN_OFF.value, "written_off_date": {"$gte": iso}},
        ],
    }


class EodRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._state = db[STATE]
        self._dates = db[DATES]
        self._batches = db[BATCHES]
        self._rows = db[SNAPSHOTS]
        self._loans = db[LOANS]

    # -- the state, the run and its lease ------------------------------------------------
    async def state(self, session: AsyncClientSession | None = None) -> dict[str, Any]:
        doc = await self._state.find_one({"_id": STATE_ID}, session=session)
        return doc or {"_id": STATE_ID, "last_closed": None, "run": None}

    async def open_run(self, last_closed: date | None, run: dict[str, Any]) -> bool:
        """Record ``run`` unless a run is open or the last closed date moved; False if so."""
        expected = last_closed.isoformat() if last_closed else None
        update: dict[str, Any] = {"$set": {"run": run, "lease_until": None, "failed_run": None}}
        doc = await self._state.find_one({"_id": STATE_ID})
        if doc is None:
            # Created meanwhile by another caller: the compare-and-set below decides.
            with contextlib.suppress(DuplicateKeyError):
                await self._state.insert_one(
                    {"_id": STATE_ID, "last_closed": None, "run": None, ROWS_THROUGH: None}
                )
        elif ROWS_THROUGH not in doc:
            # Kept since this version: set it from the rows (none are written with no run
            # open, and ``$max`` keeps any later date a batch may have set meanwhile).
            update["$max"] = {ROWS_THROUGH: await self._latest_row_date()}
        result = await self._state.update_one(
            {"_id": STATE_ID, "run": None, "last_closed": expected}, update
        )
        return result.matched_count == 1

    async def _latest_row_date(self) -> str | None:
        doc = await self._rows.find_one({}, {"business_date": 1}, sort=[("business_date", -1)])
        return str(doc["business_date"]) if doc else None

    async def take_lease(self, owner: str, now: datetime, until: datetime) -> dict[str, Any] | None:
        """The state with the lease taken (or renewed) by ``owner``; None if someone else
        holds a live one or there is no run."""
        doc: dict[str, Any] | None = await self._state.find_one_and_update(
            {
                "_id": STATE_ID,
                "run": {"$ne": None},
                "$or": [
                    {"owner": owner},
                    {"lease_until": {"$lt": now}},
                    {"lease_until": None},
                    {"lease_until": {"$exists": False}},
                ],
            },
            {"$set": {"owner": owner, "lease_until": until}},
            return_document=True,
        )
        return doc

    async def hold(
        self, owner: str, until: datetime, session: AsyncClientSession | None = None, **run: Any
    ) -> None:
        """Renew the lease (and set ``run.<name>`` fields); LeaseLost if it is not ours."""
        update: dict[str, Any] = {"lease_until": until}
        update.update({f"run.{name}": value for name, value in run.items()})
        result = await self._state.update_one(
            {"_id": STATE_ID, "owner": owner, "run": {"$ne": None}},
            {"$set": update},
            session=session,
        )
        if result.matched_count == 0:
            raise LeaseLost(owner)

    async def loan_writes(self) -> int:
        """``run.loan_writes`` now (0 with no run or none yet)."""
        doc = await self._state.find_one({"_id": STATE_ID}, {"run.loan_writes": 1})
        run = (doc or {}).get("run") or {}
        return int(run.get("loan_writes") or 0)

    async def watch(self, session: AsyncClientSession) -> EodWatch:
        """In a loan write's transaction, one read: whether a run is open (the write must
        then count itself: ``note_loan_write``) and up to which date snapshot rows exist.

        A row the transaction could see was committed with a ``guard_batch`` that raised
        ``rows_through`` to its date at least, in the same transaction, so the same
        snapshot shows that too: a loan whose value date is after it has no row to
        re-derive, without reading ``loan_snapshots``."""
        doc = await self._state.find_one(
            {"_id": STATE_ID}, {"run.target": 1, "last_closed": 1, ROWS_THROUGH: 1},
            session=session,
        )
        if doc is None:  # no run was ever opened: no rows
            return EodWatch(run_open=False)
        run_open = doc.get("run") is not None
        if ROWS_THROUGH not in doc:
            return EodWatch(run_open, known=False)
        dates = [d for d in (doc.get(ROWS_THROUGH), doc.get("last_closed")) if d]
        return EodWatch(run_open, date.fromisoformat(max(dates)) if dates else None)

    async def note_loan_write(self, session: AsyncClientSession) -> None:
        """In a loan write's transaction, when ``watch`` saw a run open: count it. Batches
        that read their loans before it then refuse to commit (``guard_batch``), and one
        committing meanwhile conflicts with it on this document, so either the batch reads
        the loan again or the write sees the batch's row and re-derives it."""
        await self._state.update_one(
            {"_id": STATE_ID, "run": {"$ne": None}},
            {"$inc": {"run.loan_writes": 1}},
            session=session,
        )

    async def guard_batch(
        self, owner: str, loan_writes: int, day: date, session: AsyncClientSession
    ) -> None:
        """In a batch's transaction (its rows dated ``day``): LeaseLost unless ``owner``
        holds the run, LoansWritten if a loan was written since ``loan_writes`` was read.
        It writes the state document (``run.batches``, and ``rows_through`` up to ``day``),
        so a loan write committing meanwhile conflicts with the batch."""
        expected: Any = loan_writes if loan_writes else {"$in": [0, None]}
        result = await self._state.update_one(
            {"_id": STATE_ID, "owner": owner, "run": {"$ne": None}, "run.loan_writes": expected},
            {"$inc": {"run.batches": 1}, "$max": {ROWS_THROUGH: day.isoformat()}},
            session=session,
        )
        if result.matched_count == 1:
            return
        doc = await self._state.find_one({"_id": STATE_ID}, {"owner": 1}, session=session)
        if doc is None or doc.get("owner") != owner:
            raise LeaseLost(owner)
        raise LoansWritten(f"a loan was written since write count {loan_writes}")

    async def check_owner(self, owner: str, session: AsyncClientSession) -> None:
        """LeaseLost unless ``owner`` holds the run (a read: concurrent batches don't conflict)."""
        doc = await self._state.find_one({"_id": STATE_ID}, {"owner": 1}, session=session)
        if doc is None or doc.get("owner") != owner:
            raise LeaseLost(owner)

    async def release(self, owner: str) -> None:
        await self._state.update_one(
            {"_id": STATE_ID, "owner": owner}, {"$set": {"lease_until": None}}
        )

    async def finish_run(self, owner: str, last_run: dict[str, Any]) -> None:
        await self._state.update_one(
            {"_id": STATE_ID, "owner": owner},
            {"$set": {"run": None, "last_run": last_run, "lease_until": None}},
        )

    async def record_failure(
        self, owner: str, message: str, at: datetime, give_up_after: int
    ) -> int:
        """Note the open run's failure (message, when, attempts so far); after
        ``give_up_after`` attempts the run is given up: moved to ``failed_run`` (a new run
        may then open). The attempts so far; 0 if ``owner`` no longer holds the run."""
        doc: dict[str, Any] | None = await self._state.find_one_and_update(
            {"_id": STATE_ID, "owner": owner, "run": {"$ne": None}},
            {"$set": {"run.last_error.message": message, "run.last_error.at": at},
             "$inc": {"run.last_error.attempts": 1}},
            return_document=True,
        )
        if doc is None:
            return 0
        attempts = int(doc["run"]["last_error"]["attempts"])
        if attempts >= give_up_after:
            await self._state.update_one(
                {"_id": STATE_ID, "owner": owner},
                {"$set": {"failed_run": {**doc["run"], "failed_at": at}, "run": None,
                          "lease_until": None}},
            )
        return attempts

    async def close_date(
        self,
        owner: str,
        day: date,
        previous: date | None,
        now: datetime,
        session: AsyncClientSession,
    ) -> dict[str, Any]:
        """Record ``day`` closed (after ``previous``); the date's figures, rows counted."""
        rows = await self._rows.count_documents({"business_date": day.isoformat()}, session=session)
        result = await self._state.update_one(
            {
                "_id": STATE_ID,
                "owner": owner,
                "last_closed": previous.isoformat() if previous else None,
            },
            {"$set": {"last_closed": day.isoformat()}},
            session=session,
        )
        if result.matched_count == 0:
            raise LeaseLost(owner)
        totals = await self._totals(day, session)
        doc = {"_id": day.isoformat(), **totals, "snapshot_rows": rows, "closed_at": now}
        await self._dates.replace_one({"_id": day.isoformat()}, doc, upsert=True, session=session)
        return doc

    async def _totals(self, day: date, session: AsyncClientSession | None = None) -> dict[str, Any]:
        """The date's figures summed over its committed batches."""
        totals: dict[str, Any] = {name: 0 for name in FIGURES}
        penalties: dict[str, int] = {}
        cursor = self._batches.find({"business_date": day.isoformat()}, session=session)
        async for doc in cursor:
            for name in FIGURES:
                totals[name] += int(doc.get(name, 0))
            for currency, amount in (doc.get("penalty_totals") or {}).items():
                penalties[currency] = penalties.get(currency, 0) + int(amount)
        totals["penalty_totals"] = penalties
        return totals

    async def date_figures(self, day: date) -> dict[str, Any] | None:
        """A closed date's stored figures; for a date being worked, the sum so far."""
        closed = await self._dates.find_one({"_id": day.isoformat()})
        if closed is not None:
            return closed
        return {"_id": day.isoformat(), **await self._totals(day), "closed_at": None}

    async def add_figures(
        self, day: date, figures: dict[str, Any], session: AsyncClientSession
    ) -> None:
        """One batch's figures: a document of its own, so concurrent batches never write
        the same document (their transactions would conflict)."""
        await self._batches.insert_one(
            {"_id": uuid.uuid4().hex, "business_date": day.isoformat(), **figures},
            session=session,
        )

    # -- the loans of a date -----------------------------------------------------------------
    async def count_candidates(self, day: date) -> int:
        return await self._loans.count_documents(candidates_query(day))

    async def candidates(self, day: date, size: int) -> AsyncIterator[list[Loan]]:
        """The date's candidate loans without a row yet, in id order, ``size`` at a time.

        One cursor over the whole date (one scan, not one query per batch)."""
        cursor = (
            self._loans.find(candidates_query(day), LOAN_FIELDS).sort("_id", 1).batch_size(size)
        )
        page: list[Loan] = []
        async for doc in cursor:
            page.append(loan_from_doc(doc))
            if len(page) >= size:
                todo = await self._without_row(day, page)
                page = []
                if todo:
                    yield todo
        todo = await self._without_row(day, page)
        if todo:
            yield todo

    async def _without_row(self, day: date, loans: list[Loan]) -> list[Loan]:
        if not loans:
            return []
        done = await self.done(day, [loan.id for loan in loans])
        return [loan for loan in loans if loan.id not in done]

    def _rows_of(
        self, day: date, loan_ids: Sequence[str], fields: dict[str, int],
        session: AsyncClientSession | None = None,
    ) -> Any:
        """A cursor over ``day``'s rows of ``loan_ids``: one point lookup for one loan, a
        ``loan_id`` range of the ``date_loan`` index for a batch (a long ``$in`` of ids is
        matched id by id, so it grows with the square of the batch on some servers)."""
        if len(loan_ids) == 1:
            query: dict[str, Any] = {"_id": row_id(day, loan_ids[0])}
        else:
            query = {
                "business_date": day.isoformat(),
                "loan_id": {"$gte": min(loan_ids), "$lte": max(loan_ids)},
            }
        return self._rows.find(query, fields, session=session)

    async def done(self, day: date, loan_ids: Sequence[str]) -> set[str]:
        if not loan_ids:
            return set()
        wanted = set(loan_ids)
        cursor = self._rows_of(day, loan_ids, {"loan_id": 1})
        return {str(d["loan_id"]) async for d in cursor if d["loan_id"] in wanted}

    async def reload(self, loan_ids: Sequence[str]) -> list[Loan]:
        docs = self._loans.find({"_id": {"$in": list(loan_ids)}}, LOAN_FIELDS).sort("_id", 1)
        return [loan_from_doc(d) async for d in docs]

    async def buckets(
        self, day: date, loan_ids: Sequence[str], session: AsyncClientSession | None = None
    ) -> dict[str, ArrearsBucket]:
        """Each loan's bucket in its row of ``day`` (loans without one are left out)."""
        if not loan_ids:
            return {}
        wanted = set(loan_ids)
        cursor = self._rows_of(day, loan_ids, {"loan_id": 1, "bucket": 1}, session)
        return {
            str(d["loan_id"]): ArrearsBucket(d["bucket"])
            async for d in cursor
            if d["loan_id"] in wanted
        }

    async def rows_of_loan(
        self, loan_id: str, since: date, session: AsyncClientSession | None = None
    ) -> list[LoanSnapshot]:
        cursor = self._rows.find(
            {"loan_id": loan_id, "business_date": {"$gte": since.isoformat()}}, session=session
        ).sort("business_date", 1)
        return [snapshot_from_doc(d) async for d in cursor]

    async def rows_of_date(self, day: date) -> list[dict[str, Any]]:
        cursor = self._rows.find({"business_date": day.isoformat()}).sort("loan_id", 1)
        return [d async for d in cursor]

    # -- one batch's writes (inside its transaction) ---------------------------------------------
    async def write_loans(
        self, changed: Sequence[tuple[Loan, int]], session: AsyncClientSession
    ) -> None:
        """Store the loans that got penalties, by compare-and-set on the version read. The
        others are not written: their rows are all that changes. Each is an update of the
        loan's fields (``loan_update``), not a replace: events of the loan waiting in its
        document (its embedded outbox) stay there."""
        if not changed:
            return
        ops = [
            UpdateOne({"_id": loan.id, "version": expected}, loan_update(loan))
            for loan, expected in changed
        ]
        result = await self._loans.bulk_write(ops, ordered=False, session=session)
        if result.matched_count != len(ops):
            raise VersionConflict(f"{len(ops) - result.matched_count} loan(s) changed")

    async def insert_rows(
        self, docs: Sequence[dict[str, Any]], session: AsyncClientSession
    ) -> None:
        if not docs:
            return
        try:
            await self._rows.insert_many(list(docs), ordered=False, session=session)
        except BulkWriteError as exc:
            raise RowTaken(str(exc)) from None

    async def upsert_rows(
        self, docs: Sequence[dict[str, Any]], session: AsyncClientSession
    ) -> None:
        if docs:
            await self._rows.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs], session=session
            )
