"""The loans search index (Elasticsearch): mapping, documents, queries, backlog.

Search is a secondary index rebuilt from MongoDB. ``LoanSearchIndexer`` (in
loan_service/consumers.py) consumes the service's own ``loan.*`` events and
indexes the loan's *current* document from MongoDB (not the event payload), so
a redelivered or late event can only ever write the latest state. When
Elasticsearch is down the loan id goes to ``search_backlog`` in the same
transaction as the processed-event marker, and ``SearchBacklogSweeper`` indexes
it once Elasticsearch answers again: writes never wait for search, and nothing
is forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from elasticsearch import AsyncElasticsearch, NotFoundError
from pymongo import ASCENDING, DeleteOne, IndexModel, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from loan_service.adapters.loan_repository import (
    LOAN_FIELDS,
    LOANS,
    loan_from_doc,
    loan_parties,
)
from loan_service.domain.lifecycle import LoanStatus
from loan_service.domain.loan import Loan
from shared.clock import utcnow
from shared.lease import Lease
from shared.search import (
    IndexMappingRegistry,
    SearchUnavailable,
    VersionedIndex,
    check_query_length,
    check_window,
    search_errors,
)

log = logging.getLogger(__name__)

LOANS_INDEX = "loans"
BACKLOG = "search_backlog"
# Background work one replica at a time does (shared/lease.py).
LEASES = "leases"

_SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "analysis": {
        "analyzer": {
            # Names are matched without case or accents: "Nyambura" finds "Nyámbura".
            "folded": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding"],
            }
        }
    },
}
_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "loan_number": {"type": "keyword"},
        "borrower_id": {"type": "keyword"},
        "borrower_name": {
            "type": "text",
            "analyzer": "folded",
            "fields": {"raw": {"type": "keyword"}},
        },
        "agent_id": {"type": "keyword"},
        "branch_id": {"type": "keyword"},
        "product_id": {"type": "keyword"},
        "product_code": {"type": "keyword"},
        "status": {"type": "keyword"},
        "currency": {"type": "keyword"},
        "principal": {"type": "long"},
        "outstanding_principal": {"type": "long"},
        "total_outstanding": {"type": "long"},
        "days_past_due": {"type": "integer"},
        "submitted_date": {"type": "date", "format": "yyyy-MM-dd"},
        "disbursement_date": {"type": "date", "format": "yyyy-MM-dd"},
        "indexed_on": {"type": "date", "format": "yyyy-MM-dd"},
        "version": {"type": "long"},
    },
}

ES_INDICES = IndexMappingRegistry().add(LOANS_INDEX, mappings=_MAPPINGS, settings=_SETTINGS)

BACKLOG_INDEXES: dict[str, list[IndexModel]] = {
    BACKLOG: [IndexModel([("since", ASCENDING)], name="since")]
}


def loan_labels(loan: Loan) -> dict[str, Any]:
    """Who and what a loan is for, and its amount: alike in its search document and its events."""
    return {
        **loan_parties(loan),
        "product_code": loan.product.code,
        "status": loan.status.value,
        "currency": loan.currency,
        "principal": loan.principal,
    }


def search_document(loan: Loan, business_date: date) -> dict[str, Any]:
    """The indexed form of a loan. DPD is as of ``business_date`` (refreshed on each write)."""
    if loan.status is LoanStatus.ACTIVE:
        dpd = loan.facts.days_past_due_on(business_date)
    elif loan.status is LoanStatus.WRITTEN_OFF:
        dpd = loan.facts.days_past_due
    else:
        dpd = 0
    return {
        **loan_labels(loan),
        "outstanding_principal": loan.facts.outstanding_principal if loan.disbursed else 0,
        "total_outstanding": loan.facts.total_outstanding if loan.disbursed else 0,
        "days_past_due": dpd,
        "submitted_date": loan.submitted_date.isoformat(),
        "disbursement_date": loan.disbursement_date.isoformat() if loan.disbursement_date else None,
        "indexed_on": business_date.isoformat(),
        "version": loan.version,
    }


class LoanSearch(VersionedIndex):
    """Queries and writes the loans index of one prefix (documents versioned by the loan's)."""

    def __init__(self, es: AsyncElasticsearch, prefix: str) -> None:
        super().__init__(es, prefix, LOANS_INDEX, ES_INDICES, kind="loan")

    async def put(self, loans: Iterable[Loan], today: date, *, refresh: bool = False) -> int:
        """Index loans; one the index holds in a newer version is left alone."""
        documents = [(loan.id, search_document(loan, today), loan.version) for loan in loans]
        if not documents:
            return 0
        await self.ensure_index()
        return await self.put_versioned(documents, refresh=refresh)

    async def search(
        self,
        *,
        q: str,
        status: LoanStatus | None,
        agent_id: str | None,
        offset: int,
        size: int,
    ) -> tuple[list[str], int]:
        """Loan ids, best match first, and the total number of matches."""
        text = " ".join(q.split())
        check_query_length(text)
        check_window(offset, size)
        filters: list[dict[str, Any]] = []
        if agent_id is not None:
            filters.append({"term": {"agent_id": agent_id}})
        if status is not None:
            filters.append({"term": {"status": status.value}})
        query: dict[str, Any] = {"bool": {"filter": filters}}
        if text:
            upper = text.upper()
            query["bool"]["should"] = [
                {"term": {"loan_number": {"value": upper, "boost": 20}}},
                {"prefix": {"loan_number": {"value": upper, "boost": 5}}},
                {"term": {"status": {"value": upper.replace(" ", "_"), "boost": 2}}},
                {"match": {"borrower_name": {"query": text, "operator": "and", "boost": 3}}},
                {
                    "match": {
                        "borrower_name": {
                            "query": text,
                            "fuzziness": "AUTO",
                            "prefix_length": 1,
                            "operator": "and",
                        }
                    }
                },
            ]
            query["bool"]["minimum_should_match"] = 1
        sort: list[Any] = [{"submitted_date": "desc"}, {"loan_number": "asc"}]
        if text:
            sort.insert(0, {"_score": "desc"})
        async with search_errors("loan search"):
            try:
                reply = await self.es.search(
                    index=self.index,
                    query=query,
                    sort=sort,
                    from_=offset,
                    size=size,
                    source=False,
                    track_total_hits=True,
                )
            except NotFoundError:
                return [], 0  # nothing indexed yet
        hits = reply["hits"]
        total = hits["total"]["value"] if isinstance(hits["total"], dict) else hits["total"]
        return [str(h["_id"]) for h in hits["hits"]], int(total)


class SearchBacklog:
    """Loan ids waiting to be indexed because Elasticsearch was down."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db[BACKLOG]

    async def add(self, loan_id: str, session: AsyncClientSession | None = None) -> None:
        await self.add_many([loan_id], session)

    async def add_many(
        self, loan_ids: Iterable[str], session: AsyncClientSession | None = None
    ) -> None:
        """Park loans (each once; one already parked keeps its ``since``), in one write.
        Each parking counts in ``parked``, so a sweep that took a loan before it was
        parked again does not remove it (``done``)."""
        ids = list(dict.fromkeys(loan_ids))
        if len(ids) == 1:
            await self.collection.update_one(
                {"_id": ids[0]},
                {"$setOnInsert": {"since": utcnow()}, "$inc": {"parked": 1}},
                upsert=True,
                session=session,
            )
        elif ids:
            since = utcnow()
            await self.collection.bulk_write(
                [
                    UpdateOne(
                        {"_id": i},
                        {"$setOnInsert": {"since": since}, "$inc": {"parked": 1}},
                        upsert=True,
                    )
                    for i in ids
                ],
                ordered=False,
                session=session,
            )

    async def take(self, limit: int) -> list[str]:
        return list(await self.take_marked(limit))

    async def take_marked(self, limit: int) -> dict[str, int | None]:
        """The oldest parked loans, each with its parking count (for ``done``)."""
        cursor = self.collection.find({}, {"parked": 1}).sort("since", 1).limit(limit)
        return {str(d["_id"]): d.get("parked") async for d in cursor}

    async def done(
        self, loan_ids: list[str], marks: Mapping[str, int | None] | None = None
    ) -> None:
        """Unpark loans; with ``marks`` (from ``take_marked``) only those not parked again
        since (by a writer on another replica while they were being indexed)."""
        if not loan_ids:
            return
        if marks is None:
            await self.collection.delete_many({"_id": {"$in": loan_ids}})
            return
        await self.collection.bulk_write(
            [DeleteOne({"_id": i, "parked": marks.get(i)}) for i in loan_ids], ordered=False
        )

    async def size(self) -> int:
        return await self.collection.count_documents({})


Today = Callable[[], date]


async def index_loans(
    search: LoanSearch,
    db: AsyncDatabase[dict[str, Any]],
    loan_ids: list[str],
    today: date,
    *,
    refresh: bool = False,
) -> int:
    cursor = db[LOANS].find({"_id": {"$in": loan_ids}}, LOAN_FIELDS)
    loans = [loan_from_doc(d) async for d in cursor]
    return await search.put(loans, today, refresh=refresh)


class SearchBacklogSweeper:
    """Indexes backlogged loans once Elasticsearch is reachable again; one replica at a
    time (the one holding the ``search-backlog`` lease), so two do not index the same
    loans side by side."""

    def __init__(
        self,
        search: LoanSearch,
        db: AsyncDatabase[dict[str, Any]],
        today: Today,
        *,
        interval: float = 5.0,
        batch: int = 500,
        lease_seconds: float = 30.0,
    ) -> None:
        self.search = search
        self.db = db
        self.backlog = SearchBacklog(db)
        self.lease = Lease(db[LEASES], "search-backlog", seconds=lease_seconds)
        self._today = today
        self.interval = interval
        self.batch = batch
        self.indexed = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="loan-search-backlog")

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.lease.release()

    async def sweep(self) -> int:
        """Index one batch of backlogged loans; returns how many were indexed."""
        marks = await self.backlog.take_marked(self.batch)
        if not marks:
            return 0
        ids = list(marks)
        count = await index_loans(self.search, self.db, ids, self._today())
        await self.backlog.done(ids, marks)
        return count

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while await self.lease.hold() and (count := await self.sweep()):
                    self.indexed += count
            except SearchUnavailable:
                pass  # still down; try on the next tick
            except Exception:
                log.exception("loan search backlog sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)
