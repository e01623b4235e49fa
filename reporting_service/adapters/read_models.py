"""MongoDB storage of the reporting read models and of the event log they are built from.

Every write is order-independent or counts the same whatever the order, so
replaying the event log (``rebuild-reports``) gives the same documents:

* ``snapshots``: one row per (business date, loan); a row replaces the held
  one only with a higher ``loan_version``. The date's ``revision`` is the sum
  of its rows' loan versions (it grows with every revised row, whatever the
  order) and ``rows_held`` their count.
* ``business_dates``: ``eod.date_closed`` figures and the two counters above.
  A date is closed once the event came and ``rows_held`` reached ``snapshot_rows``.
* ``disbursements``, ``collections``, ``installments``, ``installment_payments``:
  the facts of ``reporting_service.domain.facts``, keyed by loan, transaction
  and installment, so a redelivered event rewrites the same document.
* ``applications``: a loan's approval dates, each the earliest seen (``$min``),
  and its labels from the highest loan version.
* ``day_totals``: a closed date's totals (domain/totals) per currency, agent,
  branch and product, added up once when the date closes, then changed by
  each revised row (its new contribution less its old one). The date's
  ``totals_built`` marks it.
* ``meta``: ``flows``, a counter of the money events (a cache key part).
* ``event_log``: every event consumed, as received, numbered in arrival order
  (``counters``) for the replay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from reporting_service.domain import totals as day
from reporting_service.domain.facts import (
    ApplicationFact,
    CollectionFact,
    DisbursementFact,
    InstallmentDue,
    InstallmentPayment,
)
from shared.portfolio import ACTIVE, ArrearsBucket, LoanSnapshot

Session = AsyncClientSession | None

EVENT_LOG = "event_log"
# The event log's arrival counter; kept through a rebuild.
COUNTERS = "counters"
SNAPSHOTS = "snapshots"
BUSINESS_DATES = "business_dates"
DISBURSEMENTS = "disbursements"
COLLECTIONS = "collections"
INSTALLMENTS = "installments"
INSTALLMENT_PAYMENTS = "installment_payments"
BORROWERS = "borrowers"
# A closed date's totals per (currency, agent, branch, product): domain/totals.
DAY_TOTALS = "day_totals"
# One document per loan on its way through approval (ApplicationFact).
APPLICATIONS = "applications"
# Every currency seen (one document per code): the check of a request's currency.
CURRENCIES = "currencies"
META = "meta"
# What rebuild-reports drops and builds again; the event log stays.
READ_MODELS = (
    SNAPSHOTS,
    BUSINESS_DATES,
    DISBURSEMENTS,
    COLLECTIONS,
    INSTALLMENTS,
    INSTALLMENT_PAYMENTS,
    BORROWERS,
    APPLICATIONS,
    DAY_TOTALS,
    CURRENCIES,
    META,
)

READ_MODEL_INDEXES: dict[str, list[IndexModel]] = {
    EVENT_LOG: [IndexModel([("seq", ASCENDING)], name="arrival_order", unique=True)],
    SNAPSHOTS: [
        IndexModel(
            [("business_date", ASCENDING), ("agent_id", ASCENDING), ("currency", ASCENDING)],
            name="date_agent",
        ),
        IndexModel(
            [("business_date", ASCENDING), ("days_past_due", DESCENDING), ("loan_id", ASCENDING)],
            name="date_dpd",
        ),
        # The loans behind an agent's PAR figure, a page at a time.
        IndexModel(
            [("business_date", ASCENDING), ("agent_id", ASCENDING),
             ("days_past_due", DESCENDING), ("loan_id", ASCENDING)],
            name="date_agent_dpd",
        ),
    ],
    DAY_TOTALS: [IndexModel([("business_date", ASCENDING)], name="by_date")],
    DISBURSEMENTS: [IndexModel([("disbursement_date", ASCENDING)], name="by_date")],
    COLLECTIONS: [
        IndexModel([("value_date", ASCENDING)], name="by_value_date"),
        IndexModel([("loan_id", ASCENDING)], name="by_loan"),
    ],
    INSTALLMENTS: [
        IndexModel([("due_date", ASCENDING)], name="by_due_date"),
        IndexModel([("loan_id", ASCENDING), ("due_date", ASCENDING)], name="by_loan"),
    ],
    INSTALLMENT_PAYMENTS: [
        IndexModel([("value_date", ASCENDING)], name="by_value_date"),
        IndexModel([("due_date", ASCENDING)], name="by_due_date"),
        IndexModel([("transaction_id", ASCENDING)], name="by_transaction"),
    ],
}

# Fields compared by rebuild-reports and its test: everything but Mongo's own.
_SNAPSHOT_FIELDS = (
    "loan_id", "borrower_id", "agent_id", "branch_id", "product_id", "currency", "status",
    "outstanding_principal", "outstanding_interest", "outstanding_fees",
    "outstanding_penalties", "arrears_amount", "days_past_due", "installments_overdue",
)


def _day(value: str) -> date:
    return date.fromisoformat(value)


def _day_of(doc: dict[str, Any], name: str) -> date | None:
    value = doc.get(name)
    return _day(str(value)) if value else None


def _totals_id(key: day.TotalsKey) -> str:
    return "|".join((key.business_date.isoformat(), key.currency, key.agent_id,
                     key.branch_id, key.product_id))


def _totals_labels(key: day.TotalsKey) -> dict[str, str]:
    return {"business_date": key.business_date.isoformat(), "currency": key.currency,
            "agent_id": key.agent_id, "branch_id": key.branch_id,
            "product_id": key.product_id}


def _row_of(doc: dict[str, Any]) -> LoanSnapshot:
    return LoanSnapshot(
        business_date=_day(doc["business_date"]),
        bucket=ArrearsBucket(doc["bucket"]),
        **{name: doc[name] for name in _SNAPSHOT_FIELDS},
    )


def _jsonable(fact: object) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in asdict(fact).items():  # type: ignore[call-overload]
        out[key] = value.isoformat() if isinstance(value, date) else value
    return out


class ReadModels:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db

    # ------------------------------------------------------------------ event log
    async def log_event(
        self, event_id: str, event_type: str, occurred_at: datetime, body: dict[str, Any],
        session: Session,
    ) -> None:
        """Log an event under the next arrival number (the replay order)."""
        if await self._db[EVENT_LOG].find_one({"_id": event_id}, {"_id": 1}, session=session):
            return
        counter = await self._db[COUNTERS].find_one_and_update(
            {"_id": EVENT_LOG}, {"$inc": {"seq": 1}}, upsert=True,
            return_document=ReturnDocument.AFTER, session=session,
        )
        assert counter is not None  # upserted
        await self._db[EVENT_LOG].insert_one(
            {"_id": event_id, "seq": int(counter["seq"]), "type": event_type,
             "occurred_at": occurred_at, "body": body},
            session=session,
        )

    async def logged_events(self, batch: int = 1000) -> AsyncIterator[dict[str, Any]]:
        """Every logged event body, in the order they arrived."""
        cursor = self._db[EVENT_LOG].find({}, {"body": 1}, batch_size=batch)
        async for doc in cursor.sort("seq", ASCENDING):
            yield dict(doc["body"])

    async def drop_read_models(self) -> None:
        for name in READ_MODELS:
            await self._db[name].drop()

    async def dump(self, name: str) -> list[dict[str, Any]]:
        """A whole read model by _id (for the rebuild check)."""
        return [doc async for doc in self._db[name].find({}).sort("_id", ASCENDING)]

    # ------------------------------------------------------------------ snapshots
    async def upsert_snapshot(
        self, row: dict[str, Any], loan_version: int, session: Session, *,
        totals_built: bool = False,
    ) -> None:
        """Keep the row with the highest loan_version; count rows and versions per date.

        ``totals_built``: the date's totals are held, so the row changes them."""
        key = f"{row['business_date']}|{row['loan_id']}"
        held = await self._db[SNAPSHOTS].find_one({"_id": key}, session=session)
        old = -1 if held is None else int(held["loan_version"])
        if loan_version <= old:
            return
        await self._db[SNAPSHOTS].replace_one(
            {"_id": key}, {**row, "loan_version": loan_version}, upsert=True, session=session
        )
        await self._db[BUSINESS_DATES].update_one(
            {"_id": row["business_date"]},
            {"$inc": {
                "rows_held": 1 if held is None else 0,
                "revision": loan_version - max(old, 0),
            }},
            upsert=True,
            session=session,
        )
        if totals_built:
            was = None if held is None else _row_of(held)
            await self._revise_totals(was, _row_of(row), session)

    async def _revise_totals(
        self, old: LoanSnapshot | None, new: LoanSnapshot, session: Session
    ) -> None:
        if old is not None and day.key_of(old) != day.key_of(new):
            await self._inc_totals(day.key_of(old), day.change(old, None), session)
            old = None
        await self._inc_totals(day.key_of(new), day.change(old, new), session)

    async def _inc_totals(self, key: day.TotalsKey, sums: day.Sums, session: Session) -> None:
        # Every field, and no document once no active loan is left: the documents are then
        # those a recount would write, whatever the order the rows came in.
        if sums:
            await self._db[DAY_TOTALS].update_one(
                {"_id": _totals_id(key)},
                {"$set": _totals_labels(key), "$inc": {n: sums.get(n, 0) for n in day.FIELDS}},
                upsert=True, session=session,
            )
            await self._db[DAY_TOTALS].delete_one({"_id": _totals_id(key), "loans": 0},
                                                  session=session)

    async def totals_built(self, day_: str, session: Session) -> bool:
        doc = await self._db[BUSINESS_DATES].find_one(
            {"_id": day_}, {"totals_built": 1}, session=session
        )
        return bool(doc and doc.get("totals_built"))

    async def build_totals(self, day_: str, session: Session) -> None:
        """Add up a date's totals once, when it is closed (the event came, all rows held)."""
        doc = await self._db[BUSINESS_DATES].find_one({"_id": day_}, session=session)
        if (doc is None or doc.get("totals_built") or not doc.get("closed_event")
                or int(doc.get("rows_held", 0)) < int(doc.get("snapshot_rows", 0))):
            return
        cursor = self._db[SNAPSHOTS].find(
            {"business_date": day_, "status": ACTIVE}, {"loan_version": 0}, session=session
        )
        found = day.day_totals([_row_of(d) async for d in cursor])
        if found:
            await self._db[DAY_TOTALS].bulk_write(
                [UpdateOne({"_id": _totals_id(k)}, {"$set": {**_totals_labels(k), **sums}},
                           upsert=True) for k, sums in found.items()],
                session=session,
            )
        await self._db[BUSINESS_DATES].update_one(
            {"_id": day_}, {"$set": {"totals_built": True}}, session=session
        )

    async def build_missing_totals(self) -> int:
        """Totals of the closed dates held before they were kept (a database from an older
        version); started before the consumer, so no event races it."""
        built = 0
        async for doc in self._db[BUSINESS_DATES].find(
            {"closed_event": True, "totals_built": {"$ne": True}}, {"_id": 1}
        ):
            await self.build_totals(str(doc["_id"]), None)
            built += 1
        return built

    async def day_totals(
        self, days: Iterable[date], scope: dict[str, str]
    ) -> dict[date, dict[str, day.Sums]]:
        """Each date's totals in ``scope``, per currency (a date with none maps to {})."""
        wanted = [d.isoformat() for d in days]
        query: dict[str, Any] = {"business_date": {"$in": wanted}}
        query.update({k: v for k, v in scope.items() if v})
        parts: dict[str, list[tuple[str, dict[str, Any]]]] = {d: [] for d in wanted}
        async for doc in self._db[DAY_TOTALS].find(query, {"_id": 0}):
            parts[doc["business_date"]].append((str(doc["currency"]), doc))
        return {_day(d): day.by_currency(found) for d, found in parts.items()}

    async def par_loans(
        self, as_of: date, scope: dict[str, str], threshold: int, offset: int, size: int
    ) -> list[LoanSnapshot]:
        """A page of the active rows with DPD over ``threshold``, highest DPD first."""
        query: dict[str, Any] = {"business_date": as_of.isoformat(), "status": ACTIVE,
                                 "days_past_due": {"$gt": threshold}}
        query.update({k: v for k, v in scope.items() if v})
        cursor = self._db[SNAPSHOTS].find(query, {"loan_version": 0}).sort(
            [("days_past_due", DESCENDING), ("loan_id", ASCENDING)]
        ).skip(offset).limit(size)
        return [_row_of(doc) async for doc in cursor]

    async def close_date(self, day: str, figures: dict[str, Any], session: Session) -> None:
        await self._db[BUSINESS_DATES].update_one(
            {"_id": day},
            {
                "$set": {"closed_event": True, **figures},
                "$setOnInsert": {"rows_held": 0, "revision": 0},
            },
            upsert=True,
            session=session,
        )

    async def date_state(self, day: date) -> dict[str, Any] | None:
        return await self._db[BUSINESS_DATES].find_one({"_id": day.isoformat()})

    async def closed_dates(self, start: date | None = None, end: date | None = None) -> list[
        tuple[date, int]
    ]:
        """(date, revision) of every closed date in the range, oldest first."""
        query: dict[str, Any] = {"closed_event": True}
        bounds: dict[str, str] = {}
        if start is not None:
            bounds["$gte"] = start.isoformat()
        if end is not None:
            bounds["$lte"] = end.isoformat()
        if bounds:
            query["_id"] = bounds
        out: list[tuple[date, int]] = []
        async for doc in self._db[BUSINESS_DATES].find(query).sort("_id", ASCENDING):
            if int(doc.get("rows_held", 0)) >= int(doc.get("snapshot_rows", 0)):
                out.append((_day(doc["_id"]), int(doc.get("revision", 0))))
        return out

    async def snapshot_rows(
        self, days: Iterable[date], scope: dict[str, str]
    ) -> dict[date, list[LoanSnapshot]]:
        query: dict[str, Any] = {"business_date": {"$in": [d.isoformat() for d in days]}}
        query.update({k: v for k, v in scope.items() if v})
        out: dict[date, list[LoanSnapshot]] = {}
        async for doc in self._db[SNAPSHOTS].find(query, {"loan_version": 0}):
            row = _row_of(doc)
            out.setdefault(row.business_date, []).append(row)
        return out

    async def loan_numbers(self, day: date, loan_ids: list[str]) -> dict[str, str]:
        cursor = self._db[SNAPSHOTS].find(
            {"_id": {"$in": [f"{day.isoformat()}|{i}" for i in loan_ids]}},
            {"loan_id": 1, "loan_number": 1},
        )
        return {doc["loan_id"]: str(doc.get("loan_number") or "") async for doc in cursor}

    async def currencies(self) -> set[str]:
        """Every currency the read models have seen (snapshots and disbursements)."""
        return {str(doc["_id"]) async for doc in self._db[CURRENCIES].find({})}

    async def saw_currencies(self, codes: Iterable[str], session: Session) -> None:
        for code in sorted(set(codes)):
            if code:
                await self._db[CURRENCIES].update_one(
                    {"_id": code}, {"$setOnInsert": {"_id": code}}, upsert=True,
                    session=session,
                )

    # ------------------------------------------------------------------ facts
    async def bump_flows(self, session: Session) -> None:
        await self._db[META].update_one(
            {"_id": "flows"}, {"$inc": {"revision": 1}}, upsert=True, session=session
        )

    async def flows_revision(self) -> int:
        doc = await self._db[META].find_one({"_id": "flows"})
        return 0 if doc is None else int(doc.get("revision", 0))

    async def put_disbursement(
        self, fact: DisbursementFact, dues: list[InstallmentDue], session: Session
    ) -> None:
        # $set, not a replacement: a write-off seen first left its date on the document.
        doc = _jsonable(fact)
        for name in ("written_off_on", "written_off_amount"):
            doc.pop(name)
        await self._db[DISBURSEMENTS].update_one(
            {"_id": fact.loan_id}, {"$set": doc}, upsert=True, session=session
        )
        if dues:
            await self._db[INSTALLMENTS].bulk_write(
                [
                    UpdateOne(
                        {"_id": f"{d.loan_id}|{d.installment_number}"},
                        {"$set": {**_jsonable(d), "branch_id": fact.branch_id,
                                  "product_id": fact.product_id},
                         "$setOnInsert": {"cancelled": False}},
                        upsert=True,
                    )
                    for d in dues
                ],
                session=session,
            )

    async def cancel_dues_from(
        self, loan_id: str, day: date, session: Session, amount: int | None = None
    ) -> None:
        """A write-off takes the installments due on or after its date (and ``amount``)."""
        await self._db[INSTALLMENTS].update_many(
            {"loan_id": loan_id, "due_date": {"$gte": day.isoformat()}},
            {"$set": {"cancelled": True}},
            session=session,
        )
        written: dict[str, Any] = {"written_off_from": day.isoformat()}
        if amount is not None:
            written["written_off_amount"] = amount
        await self._db[DISBURSEMENTS].update_one(
            {"_id": loan_id}, {"$set": written}, upsert=True, session=session
        )

    async def written_off_from(self, loan_id: str, session: Session) -> date | None:
        doc = await self._db[DISBURSEMENTS].find_one(
            {"_id": loan_id}, {"written_off_from": 1}, session=session
        )
        value = None if doc is None else doc.get("written_off_from")
        return None if not value else _day(str(value))

    async def put_collection(
        self, fact: CollectionFact, parts: list[InstallmentPayment], session: Session
    ) -> None:
        """A repayment and its split over installments; a reversal seen first stays."""
        doc = _jsonable(fact)
        doc.pop("reversed")
        held = await self._db[COLLECTIONS].find_one_and_update(
            {"_id": fact.transaction_id},
            {"$set": doc, "$setOnInsert": {"reversed": False}},
            upsert=True,
            return_document=True,
            session=session,
        )
        reversed_ = bool(held and held.get("reversed"))
        if parts:
            await self._db[INSTALLMENT_PAYMENTS].bulk_write(
                [
                    UpdateOne(
                        {"_id": f"{fact.transaction_id}|{p.installment_number}"},
                        {"$set": {**_jsonable(p), "transaction_id": fact.transaction_id,
                                  "branch_id": fact.branch_id, "product_id": fact.product_id,
                                  "reversed": reversed_}},
                        upsert=True,
                    )
                    for p in parts
                ],
                session=session,
            )

    async def reverse_collection(self, transaction_id: str, session: Session) -> None:
        await self._db[COLLECTIONS].update_one(
            {"_id": transaction_id}, {"$set": {"reversed": True}}, upsert=True, session=session
        )
        await self._db[INSTALLMENT_PAYMENTS].update_many(
            {"transaction_id": transaction_id}, {"$set": {"reversed": True}}, session=session
        )

    async def put_borrower(self, borrower_id: str, fields: dict[str, Any], version: int,
                           session: Session) -> None:
        """The newest version of a borrower's agent, branch and status."""
        held = await self._db[BORROWERS].find_one({"_id": borrower_id}, {"version": 1},
                                                  session=session)
        if held is not None and int(held.get("version", 0)) > version:
            return
        await self._db[BORROWERS].update_one(
            {"_id": borrower_id}, {"$set": {**fields, "version": version}}, upsert=True,
            session=session,
        )

    async def put_application(
        self, loan_id: str, labels: dict[str, str], version: int, dates: dict[str, date],
        session: Session,
    ) -> None:
        """Each date the earliest seen; the labels of the highest loan version."""
        held = await self._db[APPLICATIONS].find_one({"_id": loan_id}, {"version": 1},
                                                     session=session)
        update: dict[str, Any] = {"$min": {k: v.isoformat() for k, v in dates.items()}}
        if held is None or int(held.get("version", 0)) <= version:
            update["$set"] = {**labels, "version": version}
        await self._db[APPLICATIONS].update_one({"_id": loan_id}, update, upsert=True,
                                                session=session)

    async def applications(self, as_of: date, scope: dict[str, str]) -> list[ApplicationFact]:
        """The loans submitted or approved on or before ``as_of`` and still in the pipeline."""
        day = as_of.isoformat()
        query: dict[str, Any] = {
            "$or": [{"submitted_on": {"$lte": day}}, {"approved_on": {"$lte": day}}],
            "left_on": {"$not": {"$lte": day}},
            **{k: v for k, v in scope.items() if v},
        }
        out: list[ApplicationFact] = []
        async for doc in self._db[APPLICATIONS].find(query):
            out.append(ApplicationFact(
                loan_id=str(doc["_id"]), agent_id=str(doc.get("agent_id") or ""),
                branch_id=str(doc.get("branch_id") or ""),
                product_id=str(doc.get("product_id") or ""),
                currency=str(doc.get("currency") or ""),
                submitted_on=_day_of(doc, "submitted_on"),
                approved_on=_day_of(doc, "approved_on"), left_on=_day_of(doc, "left_on"),
            ))
        return out

    async def disbursements(self, start: date, end: date, scope: dict[str, str]) -> list[
        DisbursementFact
    ]:
        query = _ranged("disbursement_date", start, end, scope)
        out: list[DisbursementFact] = []
        async for doc in self._db[DISBURSEMENTS].find(query, {"_id": 0}):
            doc["disbursement_date"] = _day(doc["disbursement_date"])
            cut = doc.pop("written_off_from", None)
            doc["written_off_on"] = _day(cut) if cut else None
            out.append(DisbursementFact(**doc))
        return out

    async def collections(self, start: date, end: date, scope: dict[str, str]) -> list[
        CollectionFact
    ]:
        query = _ranged("value_date", start, end, scope)
        # A reversal whose repayment was never seen has no amount: nothing to report.
        query["amount"] = {"$exists": True}
        out: list[CollectionFact] = []
        async for doc in self._db[COLLECTIONS].find(query, {"_id": 0}):
            doc["value_date"] = _day(doc["value_date"])
            out.append(CollectionFact(**doc))
        return out

    async def dues(self, start: date, end: date, scope: dict[str, str]) -> list[InstallmentDue]:
        query = _ranged("due_date", start, end, scope)
        query["cancelled"] = False
        out: list[InstallmentDue] = []
        async for doc in self._db[INSTALLMENTS].find(query, _NOT_FACT | {"cancelled": 0}):
            doc["due_date"] = _day(doc["due_date"])
            out.append(InstallmentDue(**doc))
        return out

    async def installment_payments(
        self, start: date, end: date, scope: dict[str, str]
    ) -> list[InstallmentPayment]:
        """Effective payments with a value date up to ``end`` that matter to the period:
        paid in it, or paid before it to an installment due in it."""
        base: dict[str, Any] = {"reversed": False, **{k: v for k, v in scope.items() if v}}
        query = {
            **base,
            "value_date": {"$lte": end.isoformat()},
            "$or": [
                {"value_date": {"$gte": start.isoformat()}},
                {"due_date": {"$gte": start.isoformat(), "$lte": end.isoformat()}},
            ],
        }
        out: list[InstallmentPayment] = []
        projection = _NOT_FACT | {"transaction_id": 0, "reversed": 0}
        async for doc in self._db[INSTALLMENT_PAYMENTS].find(query, projection):
            doc["due_date"] = _day(doc["due_date"])
            doc["value_date"] = _day(doc["value_date"])
            out.append(InstallmentPayment(**doc))
        return out


# Stored beside the installment facts for scoping; not fields of them.
_NOT_FACT = {"_id": 0, "branch_id": 0, "product_id": 0}


def _ranged(field: str, start: date, end: date, scope: dict[str, str]) -> dict[str, Any]:
    query: dict[str, Any] = {field: {"$gte": start.isoformat(), "$lte": end.isoformat()}}
    query.update({k: v for k, v in scope.items() if v})
    return query


__all__ = ["READ_MODELS", "READ_MODEL_INDEXES", "ReadModels"]
