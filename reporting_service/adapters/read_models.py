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
  ``totals_built`` marks it. Each also holds the money to date (``cum_*``,
  domain/flows_totals), changed by every fact dated on or before it.
* ``day_borrowers``: a closed date's distinct borrowers per mask of labels
  (domain/totals), built with its totals, changed by each revised row.
* ``day_flows``: each day's money per labels (domain/flows_totals), changed
  by each fact written (its flows after the write less those before).
* ``meta``: ``flows``, a counter of the money events (a cache key part);
  ``totals``, the version the totals are built like.
* ``event_log``: every event consumed, as received, numbered in arrival order
  (``counters``) for the replay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from pymongo import (
    ASCENDING,
    DESCENDING,
    DeleteOne,
    IndexModel,
    InsertOne,
    ReplaceOne,
    ReturnDocument,
    UpdateOne,
)
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from reporting_service.domain import flows_totals as flow
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
# A closed date's totals per (currency, agent, branch, product): domain/totals, and its
# money to date (domain/flows_totals, CUM_FIELDS).
DAY_TOTALS = "day_totals"
# A closed date's distinct borrowers per mask and labels (domain/totals: MASKS).
DAY_BORROWERS = "day_borrowers"
# Each day's money per (currency, agent, branch, product): domain/flows_totals.
DAY_FLOWS = "day_flows"
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
    DAY_BORROWERS,
    DAY_FLOWS,
    CURRENCIES,
    META,
)
# The day flows' sums that may be below 0 (a loan leaving the pipeline takes 1 off its day).
_SIGNED = frozenset({"pending", "approved"})
# What the totals are built like; a database with older ones gets them again at start.
TOTALS_VERSION = 2

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
        # A borrower's other loans on a date (distinct borrowers of a revised row).
        IndexModel([("business_date", ASCENDING), ("borrower_id", ASCENDING)],
                   name="date_borrower"),
    ],
    DAY_TOTALS: [IndexModel([("business_date", ASCENDING)], name="by_date")],
    DAY_BORROWERS: [IndexModel([("business_date", ASCENDING), ("mask", ASCENDING)],
                               name="by_date_mask")],
    DAY_FLOWS: [IndexModel([("day", ASCENDING)], name="by_day")],
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
        IndexModel([("loan_id", ASCENDING)], name="by_loan"),
    ],
}

# Fields compared by rebuild-reports and its test: everything but Mongo's own.
_SNAPSHOT_FIELDS = (
    "loan_id", "borrower_id", "agent_id", "branch_id", "product_id", "currency", "status",
    "outstanding_principal", "outstanding_interest", "outstanding_fees",
    "outstanding_penalties", "arrears_amount", "days_past_due", "installments_overdue",
)


@dataclass(frozen=True, slots=True)
class Repayment:
    """A ``loan.repayment_applied`` to project (``put_facts``)."""

    fact: CollectionFact
    parts: tuple[InstallmentPayment, ...]

    @property
    def transaction_id(self) -> str:
        return self.fact.transaction_id


@dataclass(frozen=True, slots=True)
class Reversal:
    """A ``loan.repayment_reversed`` to project (``put_facts``)."""

    transaction_id: str


@dataclass(frozen=True, slots=True)
class ApplicationStep:
    """A loan's step towards disbursement (``put_application``'s arguments)."""

    loan_id: str
    labels: dict[str, str]
    version: int
    dates: dict[str, date]


@dataclass(frozen=True, slots=True)
class BorrowerUpdate:
    """A ``borrower.*`` event's fields (``put_borrower``'s arguments)."""

    borrower_id: str
    fields: dict[str, Any]
    version: int


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


def _by_id(item: tuple[day.TotalsKey, Any]) -> str:
    return _totals_id(item[0])


def _borrowers_id(key: day.BorrowerKey) -> str:
    return "|".join((key.business_date.isoformat(), key.mask, key.currency, key.agent_id,
                     key.branch_id, key.product_id))


def _borrowers_labels(key: day.BorrowerKey) -> dict[str, str]:
    return {"business_date": key.business_date.isoformat(), "mask": key.mask,
            "currency": key.currency, "agent_id": key.agent_id, "branch_id": key.branch_id,
            "product_id": key.product_id}


def _labels(doc: dict[str, Any]) -> tuple[str, str, str, str]:
    """currency, agent, branch, product of a stored document."""
    return (str(doc.get("currency") or ""), str(doc.get("agent_id") or ""),
            str(doc.get("branch_id") or ""), str(doc.get("product_id") or ""))


def _flows_id(key: flow.FlowKey) -> str:
    return "|".join((key.day.isoformat(), key.currency, key.agent_id, key.branch_id,
                     key.product_id))


def _labels_of(key: flow.FlowKey) -> dict[str, str]:
    return {"currency": key.currency, "agent_id": key.agent_id, "branch_id": key.branch_id,
            "product_id": key.product_id}


def _flows_doc(key: flow.FlowKey, sums: dict[str, int]) -> dict[str, Any]:
    """A day's flows document as the incremental writes leave it (no zero entries)."""
    doc: dict[str, Any] = {"_id": _flows_id(key), "day": key.day.isoformat(),
                           **_labels_of(key), **dict.fromkeys(flow.DAY_FIELDS, 0)}
    for name, value in sums.items():
        prefix, _, entry = name.partition(".")
        if entry:
            if value:
                doc.setdefault(prefix, {})[entry] = value
        else:
            doc[name] = value
    return doc


# The flows of each stored fact (domain/flows_totals), from its document.
def _disbursement_flows(doc: dict[str, Any]) -> flow.Flows:
    if not doc.get("disbursement_date"):
        return {}  # a write-off seen before its disbursement
    cut = doc.get("written_off_from")
    currency, agent, branch, product = _labels(doc)
    return flow.disbursement_flows(DisbursementFact(
        loan_id=str(doc["_id"]), borrower_id=str(doc.get("borrower_id") or ""),
        agent_id=agent, branch_id=branch, product_id=product, currency=currency,
        disbursement_date=_day(doc["disbursement_date"]), principal=int(doc.get("principal", 0)),
        written_off_on=_day(cut) if cut else None,
        written_off_amount=int(doc.get("written_off_amount", 0)),
    ))


def _collection_flows(doc: dict[str, Any]) -> flow.Flows:
    if "amount" not in doc:
        return {}  # a reversal seen before its repayment
    currency, agent, branch, product = _labels(doc)
    return flow.collection_flows(CollectionFact(
        transaction_id=str(doc["_id"]), loan_id=str(doc.get("loan_id") or ""),
        agent_id=agent, branch_id=branch, product_id=product, currency=currency,
        value_date=_day(doc["value_date"]), amount=int(doc["amount"]),
        recovery=int(doc.get("recovery", 0)), reversed=bool(doc.get("reversed")),
    ))


def _due_flows(doc: dict[str, Any]) -> flow.Flows:
    if not doc.get("due_date"):
        return {}
    currency, agent, branch, product = _labels(doc)
    return flow.due_flows(
        InstallmentDue(str(doc.get("loan_id") or ""), agent, currency,
                       int(doc.get("installment_number", 0)), _day(doc["due_date"]),
                       int(doc.get("amount", 0))),
        branch, product, bool(doc.get("cancelled")),
    )


def _payment_flows(doc: dict[str, Any], cut: date | None) -> flow.Flows:
    """``cut``: the loan's write-off date (it took the installments due from it)."""
    currency, agent, branch, product = _labels(doc)
    due = _day(doc["due_date"])
    return flow.payment_flows(
        InstallmentPayment(str(doc.get("loan_id") or ""), agent, currency,
                           int(doc.get("installment_number", 0)), due,
                           _day(doc["value_date"]), int(doc.get("amount", 0))),
        branch, product, bool(doc.get("reversed")), cut is not None and due >= cut,
    )


def _application_flows(doc: dict[str, Any]) -> flow.Flows:
    currency, agent, branch, product = _labels(doc)
    return flow.application_flows(ApplicationFact(
        str(doc["_id"]), agent, branch, product, currency,
        _day_of(doc, "submitted_on"), _day_of(doc, "approved_on"), _day_of(doc, "left_on"),
    ))


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

    async def log_events(
        self, entries: Sequence[tuple[str, str, datetime, dict[str, Any]]], session: Session,
    ) -> None:
        """``log_event`` of each (id, type, occurred_at, body) in order, in three round
        trips: the ids held, the arrival numbers reserved at once, one insert."""
        if not entries:
            return
        held = {str(d["_id"]) async for d in self._db[EVENT_LOG].find(
            {"_id": {"$in": sorted({e[0] for e in entries})}}, {"_id": 1}, session=session)}
        fresh = []
        for entry in entries:
            if entry[0] not in held:
                held.add(entry[0])
                fresh.append(entry)
        if not fresh:
            return
        counter = await self._db[COUNTERS].find_one_and_update(
            {"_id": EVENT_LOG}, {"$inc": {"seq": len(fresh)}}, upsert=True,
            return_document=ReturnDocument.AFTER, session=session,
        )
        assert counter is not None  # upserted
        first = int(counter["seq"]) - len(fresh) + 1
        await self._db[EVENT_LOG].insert_many(
            [{"_id": event_id, "seq": first + i, "type": event_type, "occurred_at": at,
              "body": body} for i, (event_id, event_type, at, body) in enumerate(fresh)],
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
    async def upsert_snapshots(
        self, rows: Sequence[tuple[dict[str, Any], int]], session: Session
    ) -> None:
        """``upsert_snapshot`` of each (row, loan version) in order, of dates whose totals
        are not built, in three round trips: the rows held read at once, the kept ones
        written in one bulk write, each date's counters in another."""
        if not rows:
            return
        keys = [f"{row['business_date']}|{row['loan_id']}" for row, _ in rows]
        versions = {str(d["_id"]): int(d["loan_version"]) async for d in self._db[
            SNAPSHOTS].find({"_id": {"$in": sorted(set(keys))}}, {"loan_version": 1},
                            session=session)}
        kept: dict[str, dict[str, Any]] = {}
        counts: dict[str, dict[str, int]] = {}
        for key, (row, version) in zip(keys, rows, strict=True):
            old = versions.get(key, -1)
            if version <= old:
                continue
            kept[key] = {**row, "loan_version": version}
            versions[key] = version
            into = counts.setdefault(str(row["business_date"]), {"rows_held": 0, "revision": 0})
            into["rows_held"] += 1 if old == -1 else 0
            into["revision"] += version - max(old, 0)
        if kept:
            await self._db[SNAPSHOTS].bulk_write(
                [ReplaceOne({"_id": key}, doc, upsert=True) for key, doc in kept.items()],
                session=session,
            )
            await self._db[BUSINESS_DATES].bulk_write(
                [UpdateOne({"_id": d}, {"$inc": inc}, upsert=True)
                 for d, inc in sorted(counts.items())],
                session=session,
            )

    async def totals_built_of(self, days: Iterable[str], session: Session) -> set[str]:
        """Those of ``days`` whose totals are built (one read)."""
        return {str(d["_id"]) async for d in self._db[BUSINESS_DATES].find(
            {"_id": {"$in": sorted(set(days))}, "totals_built": True}, {"_id": 1},
            session=session)}

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
        await self._revise_borrowers(old, new, session)
        if old is not None and day.key_of(old) != day.key_of(new):
            await self._inc_totals(day.key_of(old), day.change(old, None), session)
            old = None
        await self._inc_totals(day.key_of(new), day.change(old, new), session)

    async def _revise_borrowers(
        self, old: LoanSnapshot | None, new: LoanSnapshot, session: Session
    ) -> None:
        async def others(borrower_id: str) -> list[LoanSnapshot]:
            cursor = self._db[SNAPSHOTS].find(
                {"business_date": new.business_date.isoformat(), "borrower_id": borrower_id,
                 "loan_id": {"$ne": new.loan_id}},
                {"loan_version": 0}, session=session,
            )
            return [_row_of(d) async for d in cursor]

        if old is not None and old.borrower_id != new.borrower_id:
            changes = [day.borrower_change(await others(old.borrower_id), old, None),
                       day.borrower_change(await others(new.borrower_id), None, new)]
        else:
            changes = [day.borrower_change(await others(new.borrower_id), old, new)]
        for change in changes:
            for key, delta in sorted(change.items()):
                await self._db[DAY_BORROWERS].update_one(
                    {"_id": _borrowers_id(key)},
                    {"$set": _borrowers_labels(key), "$inc": {"borrowers": delta}},
                    upsert=True, session=session,
                )
                await self._db[DAY_BORROWERS].delete_one(
                    {"_id": _borrowers_id(key), "borrowers": 0}, session=session)

    async def _inc_totals(self, key: day.TotalsKey, sums: day.Sums, session: Session) -> None:
        # Every field, and no document once every sum is 0: the documents are then those a
        # recount would write, whatever the order the rows and facts came in.
        if sums:
            await self._db[DAY_TOTALS].update_one(
                {"_id": _totals_id(key)},
                {"$set": _totals_labels(key),
                 "$inc": {n: sums.get(n, 0) for n in (*day.FIELDS, *flow.CUM_FIELDS)}},
                upsert=True, session=session,
            )
            await self._db[DAY_TOTALS].delete_one(
                {"_id": _totals_id(key), **dict.fromkeys((*day.FIELDS, *flow.CUM_FIELDS), 0)},
                session=session)

    async def build_totals(self, day_: str, session: Session) -> None:
        """Add up a date's totals once, when it is closed (the event came, all rows held):
        its active rows, its distinct borrowers, and its money to date (the previous built
        date's, plus the days since)."""
        doc = await self._db[BUSINESS_DATES].find_one({"_id": day_}, session=session)
        if (doc is None or doc.get("totals_built") or not doc.get("closed_event")
                or int(doc.get("rows_held", 0)) < int(doc.get("snapshot_rows", 0))):
            return
        cursor = self._db[SNAPSHOTS].find(
            {"business_date": day_, "status": ACTIVE}, {"loan_version": 0}, session=session
        )
        rows = [_row_of(d) async for d in cursor]
        found = day.day_totals(rows)
        for key, sums in (await self._to_date(_day(day_), session)).items():
            found.setdefault(key, dict.fromkeys(day.FIELDS, 0)).update(sums)
        width = (*day.FIELDS, *flow.CUM_FIELDS)
        if found:
            await self._db[DAY_TOTALS].bulk_write(
                [UpdateOne({"_id": _totals_id(k)},
                           {"$set": {**_totals_labels(k),
                                     **{n: sums.get(n, 0) for n in width}}},
                           upsert=True) for k, sums in sorted(found.items(), key=_by_id)],
                session=session,
            )
        counts = day.borrower_counts(rows)
        if counts:
            await self._db[DAY_BORROWERS].bulk_write(
                [UpdateOne({"_id": _borrowers_id(k)},
                           {"$set": {**_borrowers_labels(k), "borrowers": n}}, upsert=True)
                 for k, n in sorted(counts.items())],
                session=session,
            )
        await self._db[BUSINESS_DATES].update_one(
            {"_id": day_}, {"$set": {"totals_built": True}}, session=session
        )

    async def _to_date(self, on: date, session: Session) -> dict[day.TotalsKey, day.Sums]:
        """The money to date of ``on`` per labels (CUM_FIELDS; none all 0): the latest
        built date before it, plus the days after that one up to ``on``."""
        before = await self._db[BUSINESS_DATES].find_one(
            {"_id": {"$lt": on.isoformat()}, "totals_built": True}, {"_id": 1},
            sort=[("_id", DESCENDING)], session=session,
        )
        out: dict[day.TotalsKey, day.Sums] = {}

        def add(labels: tuple[str, str, str, str], values: dict[str, int]) -> None:
            key = day.TotalsKey(on, *labels)
            into = out.setdefault(key, dict.fromkeys(flow.CUM_FIELDS, 0))
            for name, value in values.items():
                into[name] += value

        days: dict[str, Any] = {"$lte": on.isoformat()}
        if before is not None:
            days["$gt"] = str(before["_id"])
            async for doc in self._db[DAY_TOTALS].find({"business_date": before["_id"]},
                                                       session=session):
                add(_labels(doc), {n: int(doc.get(n, 0)) for n in flow.CUM_FIELDS})
        async for doc in self._db[DAY_FLOWS].find({"day": days}, session=session):
            add(_labels(doc), {f"cum_{n}": int(doc.get(n, 0)) for n in flow.CUMULATIVE})
        return {k: s for k, s in out.items() if any(s.values())}

    # ------------------------------------------------------------------ day flows
    async def _tracked(
        self, flows: Callable[[], Awaitable[flow.Flows]], write: Callable[[], Awaitable[Any]],
        session: Session,
    ) -> None:
        """Run ``write``; the days change by the facts' flows after it less before it."""
        old = await flows()
        await write()
        await self._apply_flows(flow.diff(old, await flows()), session)

    async def _apply_flows(self, delta: flow.Flows, session: Session) -> None:
        """Add ``delta`` to its days (one bulk write), and its money to date to every built
        date from them (one read, one bulk write).

        The documents stay those a recount would write (``upgrade_totals``): no zero
        entry, no document whose sums are all 0. So ``delta`` may be one fact's change or
        the sum of many (``put_facts``): the documents come out the same."""
        if not delta:
            return
        keys = sorted(delta)
        await self._db[DAY_FLOWS].bulk_write(
            [UpdateOne({"_id": _flows_id(k)},
                       {"$set": {"day": k.day.isoformat(), **_labels_of(k)},
                        "$inc": {**dict.fromkeys(flow.DAY_FIELDS, 0), **delta[k]}},
                       upsert=True) for k in keys],
            session=session,
        )
        if any(v < 0 or n in _SIGNED for sums in delta.values() for n, v in sums.items()):
            # Only a decrease, or a sum that may be below 0 (a loan leaving the pipeline
            # on a day takes 1 off it), can leave a zero: none is left behind.
            await self._drop_zeros([_flows_id(k) for k in keys], session)
        cums = {key: cum for key in keys if (cum := {
            f"cum_{n}": delta[key][n] for n in flow.CUMULATIVE if delta[key].get(n)})}
        if cums:
            first = min(cums).day.isoformat()
            built = [str(d["_id"]) async for d in self._db[BUSINESS_DATES].find(
                {"_id": {"$gte": first}, "totals_built": True}, {"_id": 1}, session=session)]
            if built:
                await self._inc_to_date(cums, built, session)

    async def _drop_zeros(self, ids: list[str], session: Session) -> None:
        ops: list[Any] = []
        async for held in self._db[DAY_FLOWS].find({"_id": {"$in": ids}}, session=session):
            unset: dict[str, str] = {}
            left = False
            for prefix in (flow.PAID, flow.PAID_CANCELLED):
                name = prefix[:-1]
                entries = held.get(name)
                if entries is None:
                    continue
                gone = [k for k, v in entries.items() if not v]
                if len(gone) == len(entries):
                    unset[name] = ""
                else:
                    left = True
                    unset.update({f"{prefix}{k}": "" for k in gone})
            if not left and not any(held.get(n) for n in flow.DAY_FIELDS):
                ops.append(DeleteOne({"_id": held["_id"]}))
            elif unset:
                ops.append(UpdateOne({"_id": held["_id"]}, {"$unset": unset}))
        if ops:
            await self._db[DAY_FLOWS].bulk_write(ops, session=session)

    async def _inc_to_date(
        self, cums: dict[flow.FlowKey, day.Sums], built: list[str], session: Session
    ) -> None:
        """Add each key's ``cum`` to the totals of its labels on the ``built`` dates from its
        day: an increment for the documents held, an insert for the others, a delete for
        those left with every sum 0 (a recount writes none)."""
        incs: dict[str, tuple[day.TotalsKey, day.Sums]] = {}
        for key, cum in cums.items():
            for on in built:
                if on >= key.day.isoformat():
                    to = day.TotalsKey(_day(on), key.currency, key.agent_id, key.branch_id,
                                       key.product_id)
                    into = incs.setdefault(_totals_id(to), (to, {}))[1]
                    for name, value in cum.items():
                        into[name] = into.get(name, 0) + value
        ids = sorted(i for i, (_, sums) in incs.items() if any(sums.values()))
        if not ids:
            return
        width = (*day.FIELDS, *flow.CUM_FIELDS)
        held = {str(d["_id"]): d async for d in self._db[DAY_TOTALS].find(
            {"_id": {"$in": ids}}, session=session)}
        ops: list[Any] = []
        for i in ids:
            to, cum = incs[i]
            doc = held.get(i)
            if doc is None:
                ops.append(InsertOne({"_id": i, **_totals_labels(to),
                                      **{n: cum.get(n, 0) for n in width}}))
            elif all(int(doc.get(n, 0)) + cum.get(n, 0) == 0 for n in width):
                ops.append(DeleteOne({"_id": i}))
            else:
                ops.append(UpdateOne({"_id": i}, {"$inc": {n: v for n, v in cum.items() if v}}))
        await self._db[DAY_TOTALS].bulk_write(ops, session=session)

    async def _disbursement_flows(
        self, loan_id: str, session: Session, *, payments: bool = False
    ) -> flow.Flows:
        """A loan's disbursement and installments (and ``payments`` to them)."""
        doc = await self._db[DISBURSEMENTS].find_one({"_id": loan_id}, session=session)
        out: flow.Flows = {} if doc is None else _disbursement_flows(doc)
        if doc is not None:
            # Its installments are written with it, never before (its payments may be).
            async for due in self._db[INSTALLMENTS].find({"loan_id": loan_id},
                                                         session=session):
                flow.add(out, _due_flows(due))
        if payments:
            cut = _day_of(doc or {}, "written_off_from")
            async for part in self._db[INSTALLMENT_PAYMENTS].find({"loan_id": loan_id},
                                                                  session=session):
                flow.add(out, _payment_flows(part, cut))
        return out

    async def _collection_flows(self, transaction_id: str, session: Session) -> flow.Flows:
        doc = await self._db[COLLECTIONS].find_one({"_id": transaction_id}, session=session)
        if doc is None:
            return {}  # its parts are written after it, never before
        out = _collection_flows(doc)
        cuts: dict[str, date | None] = {}
        async for part in self._db[INSTALLMENT_PAYMENTS].find(
            {"transaction_id": transaction_id}, session=session
        ):
            loan = str(part.get("loan_id") or "")
            if loan not in cuts:
                cuts[loan] = await self.written_off_from(loan, session)
            flow.add(out, _payment_flows(part, cuts[loan]))
        return out

    async def _application_flows(self, loan_id: str, session: Session) -> flow.Flows:
        doc = await self._db[APPLICATIONS].find_one({"_id": loan_id}, session=session)
        return {} if doc is None else _application_flows(doc)

    async def upgrade_totals(self) -> bool:
        """Build the day flows and every closed date's totals again when they are from an
        older version (or none: a database from before them); started before the
        consumer, so no event races it. True when it did."""
        held = await self._db[META].find_one({"_id": "totals"})
        if held is not None and int(held.get("version", 0)) >= TOTALS_VERSION:
            return False
        for name in (DAY_FLOWS, DAY_TOTALS, DAY_BORROWERS):
            await self._db[name].delete_many({})
        await self._db[BUSINESS_DATES].update_many({}, {"$unset": {"totals_built": ""}})
        days: flow.Flows = {}
        cuts: dict[str, date | None] = {}
        for name, of in ((DISBURSEMENTS, _disbursement_flows), (COLLECTIONS, _collection_flows),
                         (INSTALLMENTS, _due_flows), (APPLICATIONS, _application_flows)):
            async for doc in self._db[name].find({}):
                flow.add(days, of(doc))
                if name == DISBURSEMENTS:
                    cuts[str(doc["_id"])] = _day_of(doc, "written_off_from")
        async for doc in self._db[INSTALLMENT_PAYMENTS].find({}):
            flow.add(days, _payment_flows(doc, cuts.get(str(doc.get("loan_id") or ""))))
        docs = [_flows_doc(key, sums) for key, sums in sorted(days.items()) if any(sums.values())]
        for i in range(0, len(docs), 1000):
            await self._db[DAY_FLOWS].insert_many(docs[i:i + 1000])
        async for doc in self._db[BUSINESS_DATES].find({"closed_event": True}, {"_id": 1}).sort(
            "_id", ASCENDING
        ):
            await self.build_totals(str(doc["_id"]), None)
        await self.mark_totals_current()
        return True

    async def mark_totals_current(self) -> None:
        await self._db[META].update_one(
            {"_id": "totals"}, {"$set": {"version": TOTALS_VERSION}}, upsert=True)

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

    async def totals_of(
        self, as_of: date, scope: dict[str, str]
    ) -> list[tuple[tuple[str, str, str, str], dict[str, int]]]:
        """A closed date's totals documents in ``scope``: (currency, agent, branch, product)
        and the sums."""
        query: dict[str, Any] = {"business_date": as_of.isoformat(),
                                 **{k: v for k, v in scope.items() if v}}
        width = (*day.FIELDS, *flow.CUM_FIELDS)
        return [(_labels(doc), {n: int(doc.get(n, 0)) for n in width})
                async for doc in self._db[DAY_TOTALS].find(query)]

    async def borrowers_of(
        self, as_of: date, scope: dict[str, str], by: Iterable[str | None]
    ) -> dict[tuple[str | None, str, str], int]:
        """Distinct borrowers of a closed date in ``scope``, for each label of ``by`` (None:
        the scope's total): (label, its value or "", currency) -> borrowers."""
        labels = [k for k in ("agent_id", "branch_id", "product_id") if scope.get(k)]
        out: dict[tuple[str | None, str, str], int] = {}
        for label in by:
            query: dict[str, Any] = {
                "business_date": as_of.isoformat(),
                "mask": day.mask_of([*labels, *([label] if label else [])]),
                **{k: v for k, v in scope.items() if v},
            }
            async for doc in self._db[DAY_BORROWERS].find(query):
                value = str(doc.get(label) or "") if label else ""
                out[(label, value, str(doc["currency"]))] = int(doc["borrowers"])
        return out

    async def flows_between(
        self, start: date, end: date, scope: dict[str, str]
    ) -> list[tuple[flow.FlowKey, dict[str, Any]]]:
        """The day flows from ``start`` to ``end`` in ``scope``."""
        query = _ranged("day", start, end, scope)
        out = []
        async for doc in self._db[DAY_FLOWS].find(query, {"_id": 0}):
            sums: dict[str, Any] = {n: int(doc.get(n, 0)) for n in flow.DAY_FIELDS}
            for prefix in (flow.PAID, flow.PAID_CANCELLED):
                for paid_on, amount in (doc.get(prefix[:-1]) or {}).items():
                    sums[prefix + paid_on] = int(amount)
            out.append((flow.FlowKey(_day(doc["day"]), *_labels(doc)), sums))
        return out

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
        seen = sorted({code for code in codes if code})
        if seen:
            await self._db[CURRENCIES].bulk_write(
                [UpdateOne({"_id": code}, {"$setOnInsert": {"_id": code}}, upsert=True)
                 for code in seen],
                session=session,
            )

    # ------------------------------------------------------------------ facts
    async def bump_flows(self, session: Session, by: int = 1) -> None:
        await self._db[META].update_one(
            {"_id": "flows"}, {"$inc": {"revision": by}}, upsert=True, session=session
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

        async def flows() -> flow.Flows:
            return await self._disbursement_flows(fact.loan_id, session)

        async def write() -> None:
            await self._db[DISBURSEMENTS].update_one(
                {"_id": fact.loan_id}, {"$set": doc}, upsert=True, session=session
            )
            await self._put_dues(fact, dues, session)

        await self._tracked(flows, write, session)

    async def _put_dues(
        self, fact: DisbursementFact, dues: list[InstallmentDue], session: Session
    ) -> None:
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
        written: dict[str, Any] = {"written_off_from": day.isoformat()}
        if amount is not None:
            written["written_off_amount"] = amount

        async def flows() -> flow.Flows:
            # The payments too: those to the installments taken are no longer paid before.
            return await self._disbursement_flows(loan_id, session, payments=True)

        async def write() -> None:
            await self._db[INSTALLMENTS].update_many(
                {"loan_id": loan_id, "due_date": {"$gte": day.isoformat()}},
                {"$set": {"cancelled": True}},
                session=session,
            )
            await self._db[DISBURSEMENTS].update_one(
                {"_id": loan_id}, {"$set": written}, upsert=True, session=session
            )

        await self._tracked(flows, write, session)

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

        async def flows() -> flow.Flows:
            return await self._collection_flows(fact.transaction_id, session)

        await self._tracked(flows, lambda: self._put_collection(fact, parts, session), session)

    async def _put_collection(
        self, fact: CollectionFact, parts: list[InstallmentPayment], session: Session
    ) -> None:
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
        async def flows() -> flow.Flows:
            return await self._collection_flows(transaction_id, session)

        async def write() -> None:
            await self._db[COLLECTIONS].update_one(
                {"_id": transaction_id}, {"$set": {"reversed": True}}, upsert=True,
                session=session,
            )
            await self._db[INSTALLMENT_PAYMENTS].update_many(
                {"transaction_id": transaction_id}, {"$set": {"reversed": True}},
                session=session,
            )

        await self._tracked(flows, write, session)

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

        async def flows() -> flow.Flows:
            return await self._application_flows(loan_id, session)

        await self._tracked(
            flows,
            lambda: self._db[APPLICATIONS].update_one({"_id": loan_id}, update, upsert=True,
                                                      session=session),
            session,
        )

    # ------------------------------------------------------------------ many at once
    async def put_facts(
        self, money: Sequence[Repayment | Reversal], steps: Sequence[ApplicationStep],
        session: Session,
    ) -> None:
        """``put_collection``, ``reverse_collection`` and ``put_application`` of each, in
        order, with a few round trips for them all: the documents they touch read once
        (``$in``), each changed in memory as those calls change it, written back with one
        bulk write per collection, and the day flows changed by the sum of their changes.
        The documents come out as the calls one by one leave them."""
        delta: flow.Flows = {}
        if money:
            await self._put_money(money, delta, session)
        if steps:
            await self._put_steps(steps, delta, session)
        await self._apply_flows(
            {k: c for k, s in delta.items() if (c := {n: v for n, v in s.items() if v})},
            session)

    async def _put_money(
        self, money: Sequence[Repayment | Reversal], delta: flow.Flows, session: Session
    ) -> None:
        txs = sorted({step.transaction_id for step in money})
        held = {str(d["_id"]): d async for d in self._db[COLLECTIONS].find(
            {"_id": {"$in": txs}}, session=session)}
        parts: dict[str, dict[str, dict[str, Any]]] = {tx: {} for tx in txs}
        async for doc in self._db[INSTALLMENT_PAYMENTS].find(
            {"transaction_id": {"$in": txs}}, session=session
        ):
            parts[str(doc["transaction_id"])][str(doc["_id"])] = doc
        loans = {str(p.get("loan_id") or "") for by_id in parts.values() for p in by_id.values()}
        loans.update(p.loan_id for step in money if isinstance(step, Repayment)
                     for p in step.parts)
        cuts: dict[str, date | None] = dict.fromkeys(loans)
        async for doc in self._db[DISBURSEMENTS].find(
            {"_id": {"$in": sorted(loans)}}, {"written_off_from": 1}, session=session
        ):
            cut = doc.get("written_off_from")
            cuts[str(doc["_id"])] = _day(str(cut)) if cut else None

        def flows_of(tx: str) -> flow.Flows:  # _collection_flows, in memory
            doc = held.get(tx)
            if doc is None:
                return {}
            out = _collection_flows(doc)
            for part in parts[tx].values():
                flow.add(out, _payment_flows(part, cuts[str(part.get("loan_id") or "")]))
            return out

        written: set[tuple[str, str]] = set()
        for step in money:
            tx = step.transaction_id
            before = flows_of(tx)
            doc = dict(held.get(tx) or {"_id": tx})
            if isinstance(step, Repayment):
                # find_one_and_update: $set the fact, $setOnInsert reversed.
                doc.setdefault("reversed", False)
                fact = _jsonable(step.fact)
                fact.pop("reversed")
                doc.update(fact)
                for p in step.parts:
                    part_id = f"{tx}|{p.installment_number}"
                    parts[tx][part_id] = {
                        **parts[tx].get(part_id, {"_id": part_id}), **_jsonable(p),
                        "transaction_id": tx, "branch_id": step.fact.branch_id,
                        "product_id": step.fact.product_id, "reversed": bool(doc["reversed"]),
                    }
                    written.add((tx, part_id))
            else:
                doc["reversed"] = True
                for part_id, part in parts[tx].items():
                    parts[tx][part_id] = {**part, "reversed": True}
                    written.add((tx, part_id))
            held[tx] = doc
            flow.add(delta, flow.diff(before, flows_of(tx)))
        await self._db[COLLECTIONS].bulk_write(
            [ReplaceOne({"_id": tx}, held[tx], upsert=True) for tx in txs], session=session)
        if written:
            await self._db[INSTALLMENT_PAYMENTS].bulk_write(
                [ReplaceOne({"_id": part_id}, parts[tx][part_id], upsert=True)
                 for tx, part_id in sorted(written)],
                session=session,
            )

    async def _put_steps(
        self, steps: Sequence[ApplicationStep], delta: flow.Flows, session: Session
    ) -> None:
        ids = sorted({s.loan_id for s in steps})
        held = {str(d["_id"]): d async for d in self._db[APPLICATIONS].find(
            {"_id": {"$in": ids}}, session=session)}
        for step in steps:
            was = held.get(step.loan_id)
            doc = dict(was or {"_id": step.loan_id})
            for name, on in step.dates.items():  # $min
                text, kept = on.isoformat(), doc.get(name)
                if name not in doc or (isinstance(kept, str) and text < kept):
                    doc[name] = text
            if was is None or int(was.get("version", 0)) <= step.version:
                doc.update({**step.labels, "version": step.version})
            held[step.loan_id] = doc
            flow.add(delta, flow.diff({} if was is None else _application_flows(was),
                                      _application_flows(doc)))
        await self._db[APPLICATIONS].bulk_write(
            [ReplaceOne({"_id": i}, held[i], upsert=True) for i in ids], session=session)

    async def put_borrowers(self, updates: Sequence[BorrowerUpdate], session: Session) -> None:
        """``put_borrower`` of each, in order: one read, one bulk write."""
        if not updates:
            return
        ids = sorted({u.borrower_id for u in updates})
        versions = {str(d["_id"]): int(d.get("version", 0)) async for d in self._db[
            BORROWERS].find({"_id": {"$in": ids}}, {"version": 1}, session=session)}
        sets: dict[str, dict[str, Any]] = {}
        for u in updates:
            held = versions.get(u.borrower_id)
            if held is not None and held > u.version:
                continue
            sets.setdefault(u.borrower_id, {}).update({**u.fields, "version": u.version})
            versions[u.borrower_id] = u.version
        if sets:
            await self._db[BORROWERS].bulk_write(
                [UpdateOne({"_id": i}, {"$set": s}, upsert=True) for i, s in sorted(sets.items())],
                session=session,
            )

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


__all__ = [
    "READ_MODELS",
    "READ_MODEL_INDEXES",
    "ApplicationStep",
    "BorrowerUpdate",
    "ReadModels",
    "Repayment",
    "Reversal",
]
