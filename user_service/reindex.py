"""Rebuild the borrower search index from MongoDB (`microfinance reindex borrowers`).

The shared steps (and why it is safe while the service is up) are in shared/reindex.py;
``recreate`` drops the index first, and search answers from a partial index until done.
"""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch

from shared.config import Settings
from shared.mongo import Database
from shared.reindex import Progress, ReindexResult, rebuild_index, with_stores
from user_service.adapters.borrower_repository import BorrowerRepository
from user_service.adapters.borrower_search import INDEX, BorrowerSearch


async def reindex_borrowers(
    db: Database,
    es: AsyncElasticsearch,
    prefix: str,
    *,
    recreate: bool = False,
    batch_size: int = 500,
    on_total: Progress | None = None,
    on_progress: Progress | None = None,
) -> ReindexResult:
    """Index every borrower; ``on_progress`` gets the count done after each batch."""
    repo = BorrowerRepository(db)
    search = BorrowerSearch(es, prefix)
    return await rebuild_index(
        search,
        INDEX,
        repo.batches(batch_size),
        search.put_many,
        es=es,
        prefix=prefix,
        count=repo.count,
        recreate=recreate,
        on_total=on_total,
        on_progress=on_progress,
    )


async def reindex_from_settings(
    settings: Settings,
    *,
    recreate: bool = False,
    on_total: Progress | None = None,
    on_progress: Progress | None = None,
) -> ReindexResult:
    async def run(db: Database, es: AsyncElasticsearch) -> ReindexResult:
        return await reindex_borrowers(
            db,
            es,
            settings.es_index_prefix,
            recreate=recreate,
            on_total=on_total,
            on_progress=on_progress,
        )

    return await with_stores(settings, "user", run)
