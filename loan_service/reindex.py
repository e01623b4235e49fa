"""Rebuild the loan search index from MongoDB (`microfinance reindex loans`).

The shared steps (and why it is safe while the service is up) are in shared/reindex.py;
``recreate`` drops the index first, and search answers from a partial index until done.
Either way each loan's stored figures (outstanding principal, total outstanding, days past
due, arrears start, next due date) are recomputed by replay as of today and written back
where they changed, so a loan stored under an older definition of a figure (before
``total_outstanding`` counted interest not yet due) is brought up to date without waiting
for its next write; the index gets the same figures. The backlog of loans left unindexed
during an Elasticsearch outage is cleared.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from elasticsearch import AsyncElasticsearch

from loan_service.adapters.loan_repository import LoanRepository
from loan_service.adapters.search import LOANS_INDEX, LoanSearch, SearchBacklog
from loan_service.domain.loan import Loan, with_facts
from shared.clock import business_date, utcnow
from shared.config import Settings
from shared.mongo import Database
from shared.reindex import ReindexOptions, ReindexResult, rebuild_index, with_stores


async def reindex_loans(
    db: Database,
    es: AsyncElasticsearch,
    prefix: str,
    options: ReindexOptions | None = None,
    *,
    today: date | None = None,
) -> ReindexResult:
    day = today or utcnow().date()
    search = LoanSearch(es, prefix)
    repo = LoanRepository(db)
    backlog = SearchBacklog(db)
    waiting = await backlog.take_marked(1_000_000)

    async def put(loans: Sequence[Loan]) -> int:
        fresh = [with_facts(loan, day) for loan in loans]
        for old, new in zip(loans, fresh, strict=True):
            if new.facts != old.facts:
                await repo.store_facts(new)
        return await search.put(fresh, day)

    result = await rebuild_index(
        search, LOANS_INDEX, repo.batches, put, repo.count, options or ReindexOptions()
    )
    # Only what was waiting before the scan started: later entries may be newer.
    await backlog.done(list(waiting), waiting)
    return result


async def reindex_from_settings(settings: Settings, options: ReindexOptions) -> ReindexResult:
    today = business_date(utcnow(), settings.business_tz())
    return await with_stores(
        settings,
        "loan",
        lambda db, es: reindex_loans(db, es, settings.es_index_prefix, options, today=today),
    )
