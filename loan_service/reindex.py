"""Rebuild the loan search index from MongoDB (`microfinance reindex loans`).

MongoDB is the truth and the index a copy of it. In place (the default) every
loan is written with its version as the external version, so it can run while
the service is up: whatever the indexer writes meanwhile is never set back.
``recreate`` drops the index first (for a mapping change Elasticsearch cannot
apply in place); search answers from a partial index until it is done. Either
way the days past due in the index are refreshed to today, and the backlog of
loans left unindexed during an Elasticsearch outage is cleared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from elasticsearch import AsyncElasticsearch

from loan_service.adapters.loan_repository import LOANS, LoanRepository, loan_from_doc
from loan_service.adapters.search import LOANS_INDEX, LoanSearch, SearchBacklog
from loan_service.domain.loan import Loan
from shared.clock import business_date, utcnow
from shared.config import Settings
from shared.mongo import Database, create_mongo_client
from shared.runtime import database_name
from shared.search import create_es_client, delete_indices

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ReindexResult:
    index: str
    total: int
    indexed: int


async def reindex_loans(
    db: Database,
    es: AsyncElasticsearch,
    prefix: str,
    *,
    today: date | None = None,
    recreate: bool = False,
    batch_size: int = 500,
    on_total: Callable[[int], None] | None = None,
    on_progress: Progress | None = None,
) -> ReindexResult:
    """Index every loan; ``on_progress`` gets the count done after each batch."""
    day = today or utcnow().date()
    search = LoanSearch(es, prefix)
    if recreate:
        await delete_indices(es, prefix, [LOANS_INDEX])
    await search.ensure_index()
    backlog = SearchBacklog(db)
    waiting = await backlog.take(1_000_000)
    total = await db[LOANS].count_documents({})
    if on_total is not None:
        on_total(total)
    done = indexed = 0
    batch: list[Loan] = []
    async for doc in LoanRepository(db).all_docs(batch_size):
        batch.append(loan_from_doc(doc))
        if len(batch) >= batch_size:
            indexed += await search.put(batch, day)
            done += len(batch)
            if on_progress is not None:
                on_progress(len(batch))
            batch = []
    if batch:
        indexed += await search.put(batch, day)
        done += len(batch)
        if on_progress is not None:
            on_progress(len(batch))
    await search.refresh()
    # Only what was waiting before the scan started: later entries may be newer.
    await backlog.done(waiting)
    return ReindexResult(index=search.index, total=max(total, done), indexed=indexed)


async def reindex_from_settings(
    settings: Settings,
    *,
    recreate: bool = False,
    on_total: Callable[[int], None] | None = None,
    on_progress: Progress | None = None,
) -> ReindexResult:
    mongo = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-reindex")
    es = create_es_client(settings.es_url_or_default(), request_timeout=30.0)
    try:
        return await reindex_loans(
            mongo[database_name(settings, "loan")],
            es,
            settings.es_index_prefix,
            today=business_date(utcnow(), settings.business_tz()),
            recreate=recreate,
            on_total=on_total,
            on_progress=on_progress,
        )
    finally:
        await es.close()
        await mongo.close()
